"""Alerts on dips: evaluate the rules (analysis.alert_rules) against the store, keep one alert per
dip, publish it on the site's alerts topic (QoS 1, via ingest or `kiosk-central alerts check`),
optionally POST it to a webhook, and acknowledge it with a comment.

`realtime_hook(db, site_ids, now, prefix)` is the ingest after-commit hook: it checks the dip rule
(kind "realtime") for the sites whose answers just changed, from the daily rollups that the same
commit brought up to date (two indexed queries, a few rows per site and question), and returns the
(topic, payload) pairs ingest publishes, under ingest's topic prefix. `check(db, now)` is `alerts check`: the dip rule, and
the trend rule when asked. A new alert is handed to the workflow (server_sync.workflow: its
owner, due date, and notices queued for the webhooks and the owner's mail, delivered by
`kiosk-central notify run`); ingest never waits on a receiver. Nothing here may stop ingest.

An alert keeps its `message` (English: the MQTT payload, webhooks) and its facts, `detail`
(DETAIL_VERSION), from which every reader's text is made in their language
(server_sync.report.alert_text).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import weakref
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.analysis import queries
from server_sync.analysis.alert_rules import Dip, DipRule, TrendRule, site_dip, trend_breach
from server_sync.analysis.metrics import Tally
from server_sync.analysis.stats import kept
from server_sync.analysis.queries import HOURLY_STATS, json_object, tally_of
from server_sync.central.dialect import in_list, writer_transaction
from server_sync.central.rollups import site_timezones
from server_sync.exc import CentralConfigError
from server_sync.notify.http_post import hide_address, post_json, redacted
from server_sync.protocol import alerts_topic, encode_alert, iso_ms, reads_alert_text
from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.report.alert_text import alert_text

log = logging.getLogger(__name__)
COLUMNS = ("id", "site_id", "question_id", "kind", "raised_at", "last_seen_at", "window_from", "window_to", "n",
           "negative", "value", "baseline", "p_value", "message", "published_at", "webhook_status", "acked_at",
           "ack_comment", "detail")
DETAIL_VERSION = 1        # the shape of `alert.detail` (server_sync.report.alert_text reads it)


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0) if dt.tzinfo else dt.replace(microsecond=0)


def _aware(v) -> datetime:
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v


def raise_or_extend(db: Database, candidate: dict, now: datetime, cooldown_min: int, *,
                    any_question: bool = False) -> dict | None:
    """Store `candidate` as a new alert unless the same site/question/kind fired within the
    cooldown, and was not closed longer ago than that (then that alert's last_seen_at moves on):
    returns the new alert or None.
    `any_question`: an alert of the same site and kind on another question is the same dip."""
    now_n = _naive(now)
    with writer_transaction(db, f"alert:{candidate['site_id']}"):
        p = db.param
        question = "" if any_question else f" AND question_id = {p}"
        # The same alert when `now` lies within the cooldown of its span on either side: checks
        # need not come in time order (ingest workers commit side by side, a check re-run over
        # past days), and one that comes late never moves the span back nor makes a second alert.
        # A closed alert takes the dip in only within the cooldown after its closing (the window
        # still holds the days it was closed for); a dip that goes on past that is a new alert,
        # with an owner and notices: it went on hidden in the closed one, nobody told (a review).
        cooldown = timedelta(minutes=cooldown_min)
        row = db.execute_sql(
            f"SELECT id FROM alert WHERE site_id = {p}{question} AND kind = {p} AND last_seen_at >= {p}"
            f" AND raised_at <= {p} AND (closed_at IS NULL OR closed_at >= {p}) ORDER BY id DESC LIMIT 1",
            [candidate["site_id"]] + ([] if any_question else [candidate["question_id"]])
            + [candidate["kind"], now_n - cooldown, now_n + cooldown, now_n - cooldown]).fetchone()
        if row:
            db.execute_sql(f"UPDATE alert SET last_seen_at = {p}, window_to = {p} WHERE id = {p} AND last_seen_at < {p}",
                           (now_n, _naive(candidate["window_to"]), row[0], now_n))
            return None
        if isinstance(candidate.get("detail"), dict):     # the wording read only for a new alert
            detail = dict(candidate["detail"], question_text=_wording(db, candidate["question_id"]))
            candidate = dict(candidate, detail=json.dumps(detail, ensure_ascii=False, sort_keys=True))
        values = dict(candidate, raised_at=now_n, last_seen_at=now_n, window_from=_naive(candidate["window_from"]),
                      window_to=_naive(candidate["window_to"]))
        cols = [c for c in COLUMNS if c in values and c != "id"]
        # Its own id from the INSERT, not the highest read back (right here only under the lock).
        new_id = db.execute_sql(f"INSERT INTO alert ({', '.join(cols)}) VALUES ({', '.join([p] * len(cols))})"
                                " RETURNING id", [values[c] for c in cols]).fetchall()[0][0]
        _after_raise(db, int(new_id), now)
    return get(db, int(new_id))


def _after_raise(db: Database, alert_id: int, now: datetime) -> None:
    """The workflow's hook on a new alert (owner, due date, queued notices: server_sync.workflow),
    in the alert's transaction but in a savepoint of its own: a failure there is logged and
    rolled back alone, never losing the alert or stopping ingest."""
    from server_sync.workflow.alerts import on_raised
    try:
        with db.atomic():
            on_raised(db, get(db, alert_id), now)
    except Exception:       # noqa: BLE001 - nothing here may stop ingest
        log.exception("alert %s stored, but its owner and notices were not set", alert_id)


def _by_zone(db: Database, site_ids: Iterable[str]) -> dict[str, tuple[ZoneInfo, list[str]]]:
    zones = site_timezones(db, site_ids)
    by_zone: dict[str, tuple[ZoneInfo, list[str]]] = {}
    for site, tz in sorted(zones.items()):
        by_zone.setdefault(str(tz), (tz, []))[1].append(site)
    return by_zone


def _english(detail: dict) -> str:
    """The alert's `message`: its facts in the report's English catalogue (report.alert_text), the
    text of a webhook, of the kiosks' staff screen and of a reader whose language has no catalogue;
    the question by its id, the wording added later being each reader's."""
    return alert_text({"detail": detail}, "en")


def _metric_key(scale: str) -> str:
    """The report catalogue's key of a scale's headline metric."""
    return "nps" if scale == "nps11" else "happy_index"


def _wording(db: Database, question_id: str) -> dict[str, str]:
    """The question's wording per language (as the report names it, queries.question: the
    centre's newest definition, never a version only a kiosk's answer brought in), {} when the
    centre has none; kept in the alert's detail so a reader sees the question asked when it was
    raised."""
    named = queries.question(db, question_id)
    wording = named["text"] if named and isinstance(named["text"], dict) else {}
    return {str(k): v for k, v in wording.items() if isinstance(v, str) and v.strip()}


def _dip_detail(question: str, scale: str, dip: Dip) -> dict:
    """The facts the dip rule found, as `alert.detail` holds them (DETAIL_VERSION; the question's
    wording is added when the alert is stored). The figures as computed, not rounded as the stored
    columns are: rounded again to the one decimal a reader sees, 51.9499 kept as 51.95 read 52.0 on
    the web beside the message's 51.9; unrounded, a reader's decimal is the message's. (The columns
    keep `stats.KEPT_DIGITS`, `stats.kept`, as every figure of a report does.)"""
    c = dip.complaint
    return {"v": DETAIL_VERSION, "rule": "dip", "question": question,
            "metric": _metric_key(scale), "days": dip.days, "questions": dip.questions,
            "value": dip.value, "baseline": dip.baseline, "drop": dip.drop, "n": dip.n, "p_value": dip.p_value,
            "complaint": None if c is None else {"reason": c.reason, "count": c.count, "mentions": c.mentions,
                                                 "usual_share": c.usual_share}}


def check_dip(db: Database, site_ids: Iterable[str], now: datetime, rule: DipRule = DipRule()) -> list[dict]:
    """The dip rule (alert_rules.site_dip) for `site_ids` at `now`, per site and customer
    question, from rollup_daily and rollup_reason_daily: the last `window_days` site-local days
    against the `baseline_days` before them. New alerts only (a firing dip already alerted is
    extended)."""
    sites = sorted(set(site_ids))
    if not sites:
        return []
    raised = []
    p = db.param
    for tz, zone_sites in _by_zone(db, sites).values():
        today = now.astimezone(tz).date()
        window_first = today - timedelta(days=rule.window_days - 1)
        first = window_first - timedelta(days=rule.baseline_days)
        where, params = in_list(db, "site_id", zone_sites)
        # One row per site, question, scale and day: the primary key's order, a few dozen rows each.
        rows = db.execute_sql(
            f"SELECT site_id, question_id, scale, local_date, n, sum_v, sum_v2, top2, negative FROM rollup_daily"
            f" WHERE {where} AND audience = 'customer' AND local_date >= {p} AND local_date <= {p}",
            params + [first.isoformat(), today.isoformat()]).fetchall()
        tallies: dict[tuple[str, str, str], dict[str, Tally]] = defaultdict(dict)
        for site, question, scale, day, *stats in rows:
            tallies[(site, question, scale)][day] = tally_of(scale, stats)
        # The follow-up reasons cited at each site over the same days by negative answers (the
        # complaints), all customer questions together: the baseline's, and each window's (a dip
        # makes one complaint dominate). Not praise: where happy customers are asked why too, a
        # dip's fewer happy answers would raise every complaint's share of all the mentions.
        reasons: dict[str, tuple[Counter, list[Counter]]] = defaultdict(
            lambda: (Counter(), [Counter() for _ in range(rule.window_days)]))
        for site, day, reason, n in db.execute_sql(
                f"SELECT site_id, CASE WHEN local_date < {p} THEN NULL ELSE local_date END AS day, reason,"
                f" SUM(negative)"
                f" FROM rollup_reason_daily WHERE {where} AND audience = 'customer' AND local_date >= {p}"
                f" AND local_date <= {p} GROUP BY site_id, day, reason",     # the baseline's days as one
                [window_first.isoformat()] + params + [first.isoformat(), today.isoformat()]):
            if day is None:
                reasons[site][0][reason] += int(n)
                continue
            for k in range((today - date.fromisoformat(str(day))).days, rule.window_days):   # the windows
                reasons[site][1][k][reason] += int(n)                                        # reaching it
        # Per site: each (question, scale) series' baseline days and windows (a question asked on
        # two scales is two series, never one).
        series: dict[str, dict[tuple[str, str], tuple[list[Tally], list[Tally]]]] = defaultdict(dict)
        for (site, question, scale), by_day in sorted(tallies.items()):
            windows, total = [], Tally(scale)
            for back in range(rule.window_days):          # today, then one day further back each
                total = total + by_day.get((today - timedelta(days=back)).isoformat(), Tally(scale))
                windows.append(total)
            series[site][(question, scale)] = (
                [t for d, t in sorted(by_day.items()) if d < window_first.isoformat()], windows)
        found: dict[str, tuple[str, str, Dip]] = {}
        for site, questions in sorted(series.items()):
            # One dip of a site is one alert, whichever of its questions shows it: the clearest
            # of each question alone and of all of them together (alert_rules.site_dip).
            hit = site_dip(questions, rule, reasons[site])
            if hit is not None:
                (question, scale), dip = hit
                found[site] = (question, scale, dip)
        for site, (question, scale, dip) in sorted(found.items()):
            detail = _dip_detail(question, scale, dip)
            window_from = datetime.combine(today - timedelta(days=dip.days - 1), datetime.min.time(), tz)
            alert = raise_or_extend(db, {
                "site_id": site, "question_id": question, "kind": "realtime", "window_from": window_from,
                "window_to": now, "n": dip.n, "negative": dip.negative, "value": kept(dip.value),
                "baseline": kept(dip.baseline), "p_value": dip.p_value, "message": _english(detail),
                "detail": detail},
                # A window reaching back over earlier days still sees the dip those days held:
                # the same dip, however long ago the alert was last extended within them.
                now, rule.cooldown_min + (dip.days - 1) * 24 * 60, any_question=True)
            if alert:
                raised.append(alert)
    return raised


def check_trend(db: Database, now: datetime, rule: TrendRule = TrendRule(),
                site_ids: Iterable[str] | None = None) -> list[dict]:
    """Today so far against the previous `baseline_days` days over the same local hours, per site
    and question (one query per time zone, on the hourly rollup)."""
    if site_ids is None:
        site_ids = [r[0] for r in db.execute_sql("SELECT id FROM site")]
    zones = site_timezones(db, site_ids)
    by_zone: dict[str, list[str]] = defaultdict(list)
    for site, tz in zones.items():
        by_zone[str(tz)].append(site)
    raised = []
    p = db.param
    for zone, sites in sorted(by_zone.items()):
        local = now.astimezone(zones[sites[0]])
        today = local.date().isoformat()
        first = (local.date() - timedelta(days=rule.baseline_days)).isoformat()
        rows = db.execute_sql(
            f"SELECT site_id, question_id, scale, CASE WHEN local_date = {p} THEN 1 ELSE 0 END AS today, {HOURLY_STATS}"
            f" FROM rollup_hourly WHERE site_id IN ({', '.join([p] * len(sites))}) AND audience = 'customer'"
            f" AND local_date >= {p} AND local_date <= {p} AND local_hour <= {p}"
            f" GROUP BY site_id, question_id, scale, today",     # by the alias: one parameter, one expression
            [today] + sorted(sites) + [first, today, local.hour]).fetchall()
        tallies: dict[tuple[str, str, str], dict[int, Tally]] = defaultdict(dict)
        for site, question, scale, is_today, *stats in rows:
            tallies[(site, question, scale)][int(is_today)] = tally_of(scale, stats)
        for (site, question, scale), t in sorted(tallies.items()):
            base, cur = t.get(0, Tally(scale)), t.get(1, Tally(scale))
            test = trend_breach(base, cur, rule)
            if test is None:
                continue
            detail = {"v": DETAIL_VERSION, "rule": "trend", "question": question, "metric": _metric_key(scale),
                      "drop": -test.diff, "baseline_days": rule.baseline_days, "n": cur.n, "p_value": test.p_value}
            alert = raise_or_extend(db, {
                "site_id": site, "question_id": question, "kind": "trend",
                "window_from": datetime.fromisoformat(today), "window_to": _naive(now), "n": cur.n,
                "negative": cur.negative, "value": kept(test.diff), "baseline": None,
                "p_value": test.p_value, "message": _english(detail), "detail": detail},
                now, rule.cooldown_min)
            if alert:
                raised.append(alert)
    return raised


def get(db: Database, alert_id: int) -> dict | None:
    row = db.execute_sql(f"SELECT {', '.join(COLUMNS)} FROM alert WHERE id = {db.param}", (alert_id,)).fetchone()
    return _as_dict(row) if row else None


def _as_dict(row) -> dict:
    d = dict(zip(COLUMNS, row))
    for k in ("raised_at", "last_seen_at", "window_from", "window_to", "published_at", "acked_at"):
        if d[k] is not None and not isinstance(d[k], str):
            d[k] = d[k].isoformat(sep=" ")
    # The facts behind the message; None for an alert raised before they were kept (or one
    # unreadable): its readers show the stored message (report.alert_text).
    d["detail"] = json_object(d["detail"])
    return d


def list_alerts(db: Database, *, open_only: bool = False, site: str | None = None, limit: int = 200,
                sites: Iterable[str] | None = None) -> list[dict]:
    """Alerts newest first; `site` or `sites` (an empty list: none) narrow them."""
    clauses, params = [], []
    if open_only:
        clauses.append("acked_at IS NULL")
    if site:
        clauses.append(f"site_id = {db.param}")
        params.append(site)
    if sites is not None:
        sites = sorted(sites)
        if not sites:
            return []
        clauses.append(f"site_id IN ({', '.join([db.param] * len(sites))})")
        params += sites
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = db.execute_sql(f"SELECT {', '.join(COLUMNS)} FROM alert{where} ORDER BY id DESC LIMIT {int(limit)}", params)
    return [_as_dict(r) for r in rows]


def acknowledge(db: Database, alert_id: int, comment: str, now: datetime) -> dict:
    comment = (comment or "").strip()
    if not comment:
        raise CentralConfigError("--comment must say what was done (it is kept with the alert)")
    with db.atomic():
        if get(db, alert_id) is None:
            raise CentralConfigError(f"no alert with id {alert_id}")
        db.execute_sql(f"UPDATE alert SET acked_at = {db.param}, ack_comment = {db.param} WHERE id = {db.param}",
                       (_naive(now), comment[:2000], alert_id))
    return get(db, alert_id)


def wording(alert: dict) -> dict[str, str] | None:
    """The alert as the staff read it on a kiosk, in each language (the centre's own wording,
    server_sync.report.alert_text); None when that is only the English `message` again."""
    texts = {lang: _cut(alert_text(alert, lang), 1000) for lang in LANGUAGES}
    message = str(alert.get("message") or "")
    return None if all(text in ("", message) for text in texts.values()) else {k: v for k, v in texts.items() if v}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def sites_reading_wording(db: Database, site_ids: Iterable[str]) -> set[str]:
    """The sites whose every active kiosk reads an alert's `text` (protocol.reads_alert_text, by
    the software version of its last status). A kiosk not heard from yet counts as older."""
    sites = sorted(set(site_ids))
    if not sites:
        return set()
    where, params = in_list(db, "k.site_id", sites)
    rows = db.execute_sql(f"SELECT k.site_id, st.version FROM kiosk k LEFT JOIN kiosk_status st ON st.kiosk_id = k.id"
                          f" WHERE k.active = {db.param} AND {where}", [True, *params]).fetchall()
    versions: dict[str, list] = defaultdict(list)
    for site, version in rows:
        versions[site].append(version)
    return {site for site, vs in versions.items() if all(reads_alert_text(v) for v in vs)}


def payload(alert: dict, prefix: str = "", *, worded: bool = False) -> tuple[str, bytes]:
    """The (topic, payload) of an alert on the site's alerts topic (schema of protocol.encode_alert);
    with `worded`, its `text` in every language too (only for a site whose kiosks all read it)."""
    return alerts_topic(alert["site_id"], prefix), encode_alert(
        id=f"alert-{alert['id']}", site_id=alert["site_id"], raised_at=iso_ms(_aware(alert["raised_at"])),
        kind=alert["kind"], message=alert["message"], text=wording(alert) if worded else None)


def mark(db: Database, alert_ids: Iterable[int], now: datetime, webhook: dict[int, str] | None = None,
         *, published: bool = True) -> None:
    """Store each alert's webhook status and, when `published`, that it was published now
    (`published_at`): said only of what was handed to the broker, never of alerts kept back
    (`alerts check --no-publish`) or that a broker away never took."""
    p = db.param
    with db.atomic():
        for i in alert_ids:
            if published:
                db.execute_sql(f"UPDATE alert SET published_at = {p}, webhook_status = {p} WHERE id = {p}",
                               (_naive(now), (webhook or {}).get(i), i))
            else:
                db.execute_sql(f"UPDATE alert SET webhook_status = {p} WHERE id = {p}", ((webhook or {}).get(i), i))


def mark_published(db: Database, alert_ids: Iterable[int], now: datetime) -> None:
    """The alerts' messages were taken by the broker (its PUBACK) now."""
    p = db.param
    with db.atomic():
        for i in alert_ids:
            db.execute_sql(f"UPDATE alert SET published_at = {p} WHERE id = {p}", (_naive(now), i))


def post_webhook(url: str, alert: dict, timeout_s: float = 5.0) -> str:
    """POST the alert as JSON (the whole exchange within `timeout_s`); returns "200" etc. or
    "error: …" (the address redacted in it and in the log). Never raises."""
    # The receiver's JSON stays what it was: the facts behind `message` are the store's own.
    body = json.dumps({"type": "kundpuls.alert", **{k: v for k, v in alert.items() if k != "detail"}},
                      default=str).encode("utf-8")
    try:
        return str(post_json(url, body, {}, timeout_s))
    except urllib.error.HTTPError as e:
        log.warning("alert webhook %s answered %s for alert %s", redacted(url), e.code, alert.get("id"))
        return f"error: HTTP {e.code}"
    except (urllib.error.URLError, OSError, ValueError) as e:
        error = hide_address(str(getattr(e, "reason", e)), url)
        log.warning("alert webhook %s failed for alert %s: %s", redacted(url), alert.get("id"), error)
        return f"error: {error}"


def deliver(db: Database, alerts: list[dict], now: datetime, *, prefix: str = "",
            webhook_url: str | None = None, timeout_s: float = 5.0, published: bool = True) -> list[tuple[str, bytes]]:
    """Webhook each alert (if configured), mark them published (`published`: the caller hands
    what this returns to a publisher that will send it, as the ingest does; else it marks them
    itself once the broker took them, mark_published), return what to publish."""
    statuses = {a["id"]: post_webhook(webhook_url, a, timeout_s) for a in alerts} if webhook_url else {}
    mark(db, [a["id"] for a in alerts], now, statuses, published=published)
    worded = sites_reading_wording(db, {a["site_id"] for a in alerts})
    return [payload(a, prefix, worded=a["site_id"] in worded) for a in alerts]


def check(db: Database, now: datetime, site_ids: Iterable[str] | None = None, *, trend: bool = False) -> list[dict]:
    """The dip rule for `site_ids` (default: every site) and, with `trend`, the trend rule for the
    sites without an open dip alert (one dip, one alert): the new alerts, stored, not delivered."""
    sites = sorted(site_ids) if site_ids is not None else [r[0] for r in db.execute_sql("SELECT id FROM site")]
    raised = check_dip(db, sites, now)
    if trend and sites:
        where, params = in_list(db, "site_id", sites)
        open_dips = {r[0] for r in db.execute_sql(
            f"SELECT DISTINCT site_id FROM alert WHERE {where} AND kind = 'realtime' AND last_seen_at >= {db.param}",
            params + [_naive(now) - timedelta(minutes=DipRule().cooldown_min)])}
        raised += check_trend(db, now, site_ids=[s for s in sites if s not in open_dips])
    return raised


HOOK_INTERVAL_S = 60       # a site's dip rule runs at most once a minute per ingestor


_hook_checked: "weakref.WeakKeyDictionary[Database, dict[str, datetime]]" = weakref.WeakKeyDictionary()


def due_sites(checked: dict[str, datetime], site_ids: Iterable[str], now: datetime,
              interval_s: float = HOOK_INTERVAL_S) -> list[str]:
    """The sites not checked within `interval_s` before `now` (marked checked now): a busy site's
    kiosks commit every few seconds, and a window of a day moves little in a minute."""
    due = [s for s in sorted(set(site_ids))
           if s not in checked or not 0 <= (now - checked[s]).total_seconds() < interval_s]
    for s in due:
        checked[s] = now
    return due


def realtime_hook(db: Database, site_ids: set[str], now: datetime, prefix: str = "") -> list[tuple[str, bytes]]:
    """Ingest's after-commit hook: the dip rule for the sites just written to (each at most once
    a minute in this process); new alerts on the alerts topics under ingest's `prefix`."""
    sites = due_sites(_hook_checked.setdefault(db, {}), site_ids, now)
    raised = check_dip(db, sites, now)
    if not raised:
        return []
    # Webhooks and mail are queued by the workflow (notify queue), never POSTed from ingest.
    return deliver(db, raised, now, prefix=prefix)
