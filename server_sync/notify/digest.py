"""The weekly digest: one mail per person with an e-mail address, for the sites they may see
(server_sync.web.scope.visible_sites, the one access rule), in their language (sv, nb, en), with a
plain-text and an HTML part: each question's score with its 95 % interval and the change against
the week before, the top three reasons, open and overdue alerts, overdue actions, and the actions
that completed in the week with their verdict.

The figures are the chain report's (analysis.chain_report.build for the person's sites and the
week), never computed again here. `send` first closes the actions whose after-window is complete
(so the week's verdicts are in), then queues one mail per person and week (`digest_sent`: a timer
that fires twice sends once). Queues only; `kiosk-central notify run` delivers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, TypeVar

from peewee import Database

from server_sync.analysis import chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.central import registry
from server_sync.central.registry import site_zones
from server_sync.exc import CentralConfigError
from server_sync.notify import queue
from server_sync.report.alert_text import alert_text
from server_sync.report.collation import sorted_names
from server_sync.report.figures import figure, interval
from server_sync.report.html import question_html, question_text
from server_sync.report.i18n import reason_labels
from server_sync.report.i18n import t as report_text
from server_sync.web import render
from server_sync.web.people import User
from server_sync.web.scope import scope_of
from server_sync.workflow import actions as workflow_actions
from server_sync.workflow import alerts as workflow_alerts
from server_sync.workflow.notices import site_name, web_url
from server_sync.workflow.people import with_email

T = TypeVar("T")

DAYS = 7
SHOWN = 20          # items a list of the digest shows; the rest are counted, the web app lists them
TOP_REASONS = 3


@dataclass(frozen=True)
class Digest:
    user: str
    to: str
    language: str
    period: str                     # the ISO week, e.g. 2026-W48
    sites: tuple[str, ...]
    subject: str
    text: str
    html: str
    figures: dict[str, Any]

    def as_dict(self, bodies: bool = False) -> dict[str, Any]:
        d = {"user": self.user, "to": self.to, "language": self.language, "period": self.period,
             "sites": list(self.sites), "subject": self.subject, "figures": self.figures}
        if bodies:
            d.update(text=self.text, html=self.html)
        return d


def week_of(db: Database, sites: Iterable[str], now: datetime) -> tuple[str, str, str]:
    """(ISO week, its Monday, its Sunday) of the last ISO week complete at `now` at every one of
    `sites`, in the sites' own days (registry.site_todays), as the report counts their answers
    and the workflow dates alerts and actions. UTC's date was a day behind in Stockholm from
    midnight to 01:00: a digest sent then covered Sunday to Saturday, without the week's Sunday.
    Sites in zones whose dates differ at `now` take the earliest: a week still running somewhere
    is not complete. The week, not the 7 days before the run: a run made up on Tuesday (the
    timer catching up) covered Tuesday to Monday under the new week's name, and that week's own
    digest was then never sent (a review)."""
    todays = registry.site_todays(db, sites, now)
    at = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    today = date.fromisoformat(min(todays.values())) if todays else at.astimezone(timezone.utc).date()
    last = today - timedelta(days=today.isoweekday())          # the Sunday before today
    first = last - timedelta(days=DAYS - 1)
    y, w, _ = last.isocalendar()
    return f"{y}-W{w:02d}", first.isoformat(), last.isoformat()


def user_week(db: Database, user: User, now: datetime) -> str:
    """The ISO week of `user`'s digest at `now` (week_of their sites): what `digest_sent` records."""
    return week_of(db, scope_of(db, user).sites, now)[0]


def closed_since(db: Database, closed: list[dict[str, Any]], first: str,
                 after: datetime | None = None) -> list[dict[str, Any]]:
    """The `closed` actions the person has not been told of: closed since their last digest went
    (`after`, UTC), or, before their first, on or after the day `first` at their site (its zone:
    closed_at is UTC), i.e. in the week or since it ended (`digest send` closes completed
    actions first). Each is in one digest: bounded by the week's days alone, one closed on a
    Monday before the run was in that week's digest and the next."""
    if after is not None:                   # sent_at is kept to the second, as the digest was made
        return [a for a in closed if a["closed_at"]
                and chain_report.utc_instant(a["closed_at"]).replace(microsecond=0) > after]
    zones = site_zones(db, {a["site_id"] for a in closed})
    return [a for a in closed if a["closed_at"] and chain_report.utc_instant(a["closed_at"]).astimezone(
        zones[a["site_id"]]).date().isoformat() >= first]


def last_sent(db: Database, user: User, period: str) -> datetime | None:
    """When the person's last digest before the one of `period` went (aware UTC), or None."""
    p = db.param
    row = db.execute_sql(f"SELECT MAX(sent_at) FROM digest_sent WHERE user_id = {p} AND period <> {p}",
                         (user.id, period)).fetchone()
    return chain_report.utc_instant(row[0]) if row and row[0] is not None else None


def figures(db: Database, user: User, now: datetime) -> dict[str, Any] | None:
    """What the person's digest says, as data (None: they see no site)."""
    scope = scope_of(db, user)
    if not scope.sites:
        return None
    period, first, last = week_of(db, scope.sites, now)
    sites = () if scope.everything else tuple(sorted(scope.sites))
    report = chain_report.build(db, ReportFilter(sites, date_from=first, date_to=last), now=now)
    changes = {tr["question_id"]: tr["change"] for tr in report["trends"]}
    series = {q["id"]: q for q in report["questions"]}
    drivers = {d["question_id"]: d for d in report["drivers"]}
    questions = []
    for s in report["summary"]:
        if not s.get("n"):
            continue
        q = s["question_id"]
        metric = "nps" if s["scale"] == "nps11" else "happy_index"
        change = changes.get(q) or {}
        questions.append({
            "question_id": q, "question": series.get(q, {"id": q}), "audience": s["audience"], "metric": metric,
            "n": s["n"],
            "value": (s.get(metric) or {}).get("value"), "low": (s.get(metric) or {}).get("low"),
            "high": (s.get(metric) or {}).get("high"),
            "change": (change.get("test") or {}).get("diff"), "change_verdict": change.get("verdict"),
            "top_reasons": [{"reason": r["reason"], "n": r["n"], "share": r["share"]}
                            for r in (drivers.get(q) or {}).get("pareto", [])[:TOP_REASONS]]})
    visible = sorted(scope.sites)
    # The workflow lists give every row: the digest counts them all and shows SHOWN.
    completed = closed_since(db, workflow_actions.list_actions(db, sites=visible, state="closed", now=now),
                             first, last_sent(db, user, period))
    overdue = workflow_alerts.list_alerts(db, overdue=True, sites=visible, now=now)
    late = {a["id"] for a in overdue}           # listed once: under overdue, not under open too
    return {
        "period": period, "from": first, "to": last, "sites": visible, "everything": scope.everything,
        "questions": questions,
        "open_alerts": [a for a in workflow_alerts.list_alerts(db, state="active", sites=visible, now=now)
                        if a["id"] not in late],
        "overdue_alerts": overdue,
        "overdue_actions": workflow_actions.list_actions(db, overdue=True, sites=visible, now=now),
        "completed_actions": completed,
    }


def compose(db: Database, user: User, to: str, now: datetime) -> Digest | None:
    data = figures(db, user, now)
    if data is None:
        return None
    lang = user.language
    tx = lambda key, **v: render.text(key, lang, **v)      # noqa: E731
    fmt = lambda v, signed=False: figure(float(v) if v is not None else None, lang, signed=signed)  # noqa: E731
    reasons = reason_labels(lang)
    names = {s: site_name(db, s) for s in data["sites"]}
    where = tx("digest_all_sites") if data["everything"] else ", ".join(sorted_names(names.values(), lang))
    period = f"{data['from']} – {data['to']}"
    subject = tx("digest_subject", period=data["period"])
    intro = tx("digest_intro", period=period, sites=where)   # the login name is no greeting
    for q in data["questions"]:
        q["label"] = question_text(q["question"], lang)          # its wording, as the report says it
        q["label_html"] = question_html(q["question"], lang)     # and marked where another language's
        q["metric_label"] = report_text(q["metric"], lang)
        q["reason_labels"] = [reasons.get(r["reason"], r["reason"]) for r in q["top_reasons"]]
    for a in data["completed_actions"]:
        a["verdict_label"] = tx("verdict_" + a["verdict"])
    zones = site_zones(db, {a["site_id"] for a in data["open_alerts"] + data["overdue_alerts"]})
    for a in data["open_alerts"] + data["overdue_alerts"]:
        # When it was raised, on the site's clock with its zone: an alert's text says "so far
        # today", which a Monday's digest would read as Monday (a review).
        a["raised_local"] = chain_report.local_time(a["raised_at"], zones[a["site_id"]])
    for q in data["questions"]:
        # The change with what the test says of it: a drop of 25 points on 7 answers is no news.
        q["change_label"] = (report_text(q["change_verdict"], lang) if q.get("change_verdict") else None)
    lines = [subject, "", intro, "", tx("digest_scores")]
    for q in data["questions"]:
        q["interval"] = interval(q["low"], q["high"], lang)     # "70,1–82,3": "[70,1, 82,3]" misread in sv/nb
        lines.append(f"- {q['label']}: {q['metric_label']} {fmt(q['value'])} ({q['interval']})"
                     f" n={figure(q['n'], lang)}, {tx('digest_change')} {fmt(q['change'], True)}"
                     + (f" ({q['change_label']})" if q["change_label"] else ""))
        if q["reason_labels"]:
            lines.append(f"  {tx('digest_reasons')}: " + ", ".join(
                f"{label} ({figure(r['n'], lang)})" for label, r in zip(q["reason_labels"], q["top_reasons"])))
    for key, rows, show in (
            ("digest_open_alerts", data["open_alerts"],
             lambda a: f"#{a['id']} {names.get(a['site_id'], a['site_id'])} {a['raised_local']}: "
                       f"{alert_text(a, lang)} ({a['owner'] or '-'})"),
            ("digest_overdue_alerts", data["overdue_alerts"],
             lambda a: f"#{a['id']} {names.get(a['site_id'], a['site_id'])} {a['raised_local']}: "
                       f"{alert_text(a, lang)} ({tx('due_date')} {a['due_date']})"),
            ("digest_overdue_actions", data["overdue_actions"], lambda a: f"#{a['id']} {names.get(a['site_id'], a['site_id'])}:"
                                                                           f" {a['note']} ({a['due_date']})"),
            ("digest_completed_actions", data["completed_actions"],
             lambda a: f"#{a['id']} {names.get(a['site_id'], a['site_id'])}: {a['note']} – {a['verdict_label']}")):
        lines += ["", tx(key)] + ([f"- {show(r)}" for r in rows[:SHOWN]] or [f"- {tx('digest_none')}"])
        if len(rows) > SHOWN:              # a mail of 300 alerts is read by nobody: the rest counted
            lines.append(f"- {tx('digest_more', n=figure(len(rows) - SHOWN, lang))}")
    url = web_url(db, "/")
    if url:
        lines += ["", f"{tx('mail_open_link')}: {url}"]
    lines += ["", "-- ", tx("mail_footer")]
    html = render.ENV.get_template("mail/digest.html").render(
        lang=lang, subject=subject, intro=intro, data=data, names=names, url=url, text=tx, fmt=fmt, shown=SHOWN)
    return Digest(user.name, to, lang, data["period"], tuple(data["sites"]), subject, "\n".join(lines) + "\n", html,
                  data)


def claim_week(db: Database, user: User, period: str, now: datetime, force: bool = False) -> bool:
    """Record `user`'s digest of `period` as sent, in the caller's transaction: False when it went
    already (another run claimed it first: the primary key decides), unless `force`."""
    p = db.param
    if force:
        db.execute_sql(f"DELETE FROM digest_sent WHERE user_id = {p} AND period = {p}", (user.id, period))
    return db.execute_sql(
        f"INSERT INTO digest_sent (user_id, period, sent_at) VALUES ({p}, {p}, {p})"
        " ON CONFLICT (user_id, period) DO NOTHING",
        (user.id, period, now.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0))).rowcount == 1


def already_sent(db: Database, user: User, period: str) -> bool:
    p = db.param
    return db.execute_sql(f"SELECT 1 FROM digest_sent WHERE user_id = {p} AND period = {p}",
                          (user.id, period)).fetchone() is not None


def send(db: Database, now: datetime, *, dry_run: bool = False, only: str | None = None,
         force: bool = False, failed: list[tuple[str, str]] | None = None) -> list[Digest]:
    """Compose every person's digest (or `only` one's) and queue it, once per person and week
    (`force`: again). `dry_run`: compose only; nothing is closed, queued or recorded.
    With a `failed` list, what cannot be done is added to it as (what, why) and the rest still
    goes: one person's digest that cannot be made or queued (an address stored before it was
    checked, a bug) is left out and tried again next run (nothing was recorded as sent); if
    closing completed actions fails, the digests go without those closings. Without, it raises."""
    if not dry_run:
        _attempt(failed, "completed actions not closed", workflow_actions.close_completed, db, now)
    out = []
    for user, to in with_email(db):
        if only is not None and user.name != only:
            continue
        digest = _attempt(failed, f"no digest for {user.name}", _send_one, db, user, to, now, dry_run, force)
        if digest is not None:
            out.append(digest)
    return out


def _attempt(failed: list[tuple[str, str]] | None, what: str, step: Callable[..., T], *args: Any) -> T | None:
    """step(*args); if it raises and `failed` is a list, (what, why) is added to it and None
    returned instead (one part of the weekly run fails alone)."""
    try:
        return step(*args)
    except Exception as e:  # noqa: BLE001
        if failed is None:
            raise
        failed.append((what, str(e) if isinstance(e, CentralConfigError) else f"{type(e).__name__}: {e}"))
        return None


def _send_one(db: Database, user: User, to: str, now: datetime, dry_run: bool, force: bool) -> Digest | None:
    """The person's digest, queued (unless `dry_run`) and recorded as sent this week; None when
    there is nothing to send or it went already."""
    period = user_week(db, user, now)
    if not force and not dry_run and already_sent(db, user, period):
        return None
    digest = compose(db, user, to, now)
    if digest is None or dry_run:
        return digest
    with db.atomic():
        # The week is claimed before the mail is queued, in one transaction: of two runs at once
        # (the timer and a hand-made `digest send`) one claims it and the other queues nothing;
        # checked and recorded apart, both queued it (a review).
        if not claim_week(db, user, period, now, force):
            return None
        queue.enqueue_mail(db, to, digest.subject, digest.text, digest.html, now, user_id=user.id, sites=digest.sites)
    return digest
