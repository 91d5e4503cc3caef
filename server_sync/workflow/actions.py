"""Actions in the loop: created on their own or from an alert, with an owner, a type (a short
category, so what worked at one site can be suggested to another) and a due date; when the
after-window of the before/after analysis is complete, closed with a verdict: "effect shown",
"no detectable effect" or "worse" (`close_completed`, run by `kiosk-central action
close-completed`, the notify worker and the digest).

The statistics are `server_sync.analysis.actions.evaluated`'s (its dict is shown as it is; a
`verdict` of "pending" means the after-window is not complete); this module only maps its
finished verdict onto the closing one and never computes a statistic itself.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from peewee import Database

from server_sync.analysis import actions as action_store
from server_sync.analysis import queries
from server_sync.analysis.days import parse_day
from server_sync.analysis.stats import kept
from server_sync.central.dialect import writer_transaction
from server_sync.central.registry import site_today, site_todays
from server_sync.exc import CentralConfigError, FieldError
from server_sync.workflow import notices
from server_sync.workflow.alerts import (RESENT_WITHIN, check_answering, check_date, history_event, latest_today,
                                         where_sites)
from server_sync.workflow.people import owner_for, still_may_own, store_manager_of

TYPES = ("staffing", "training", "cleaning", "queue", "assortment", "layout", "opening-hours", "service", "other")
VERDICTS = ("effect_shown", "no_detectable_effect", "worse")
COMPLAINT_DAYS = 56             # the window a site's main complaint is read from
_BETTER = ("better", "improved", "effect_shown", "effect")
_WORSE = ("worse", "worsened")
_COLUMNS = ("id", "site_id", "question_id", "action_date", "note", "created_at", "owner", "alert_id", "action_type",
            "due_date", "closed_at", "verdict", "verdict_detail", "created_by")
_SITE = _COLUMNS.index("site_id")


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0) if dt.tzinfo else dt.replace(microsecond=0)


def _as_dict(row: tuple, today: str) -> dict[str, Any]:
    d = dict(zip(_COLUMNS, row))
    d["id"] = int(d["id"])
    d["date"] = d["action_date"]
    for k in ("created_at", "closed_at"):
        if d[k] is not None:
            d[k] = str(d[k])[:19]
    d["verdict_detail"] = json.loads(d["verdict_detail"]) if d["verdict_detail"] else None
    d["overdue"] = bool(d["closed_at"] is None and d["due_date"] and d["due_date"] < today)
    return d


def check_type(action_type: str | None) -> str | None:
    if action_type in (None, ""):
        return None
    if action_type not in TYPES:
        raise FieldError(f"--type must be one of {', '.join(TYPES)}, got {action_type!r}", "action_type",
                         "not_offered", value=action_type)
    return action_type


def create(db: Database, site_id: str, question_id: str, action_date: str, note: str, now: datetime, *,
           owner: str | None = None, action_type: str | None = None, alert_id: int | None = None,
           due_date: str | None = None, by: str | None = None, history: bool = True) -> dict[str, Any]:
    """Log an action (analysis.actions.add checks site, question, date and note) with who logged
    it (`by`, kept as `created_by`: a web user, or the CLI's --by or cli:<login>), its owner
    (default: the site's store manager; at a site without one, `by` when that person may act
    there, as one logging it on the web may: an action logged from a site page was nobody's),
    type, due date and the alert it answers (check_answering; a row of its history unless
    `history` is False: a close that creates it writes its own)."""
    action_type = check_type(action_type)
    due_date = check_date(due_date, "--due") if due_date else None
    first = parse_day(action_date, "--date", "date")
    if due_date and due_date < first:
        raise FieldError(f"--due {due_date} is before the action's first day {first}", "due_date", "before",
                         value=due_date, first=first)
    if owner:
        owner_for(db, owner, site_id)
    else:
        owner = store_manager_of(db, site_id) or still_may_own(db, by, site_id)    # cli:<login> is nobody
    if alert_id is not None:
        check_answering(db, alert_id, site_id, first)
    with db.atomic():
        stored = action_store.add(db, site_id, question_id, action_date, note, now, by)
        p = db.param
        db.execute_sql(f"UPDATE action SET owner = {p}, alert_id = {p}, action_type = {p}, due_date = {p}"
                       f" WHERE id = {p}", (owner, alert_id, action_type, due_date, stored["id"]))
        if alert_id is not None and history:    # the alert's history says what answered it
            history_event(db, alert_id, now, by, "action_logged", str(stored["id"]))
    return get(db, stored["id"], now, evaluate=False)


def create_once(db: Database, site_id: str, question_id: str, action_date: str, note: str, now: datetime,
                **details: Any) -> int:
    """The id of the action `create` logs, or of the same one logged just before (`just_logged`:
    a form sent twice). Looked for and logged under the site's action lock, so two sent at once
    (a double click) log one: checked first, apart, both found none and each logged one."""
    with writer_transaction(db, f"action:{site_id}"):
        again = just_logged(db, site_id, question_id, action_date, note, now)
        if again is not None:
            return again
        return create(db, site_id, question_id, action_date, note, now, **details)["id"]


def just_logged(db: Database, site_id: str, question_id: str, action_date: str, note: str,
                now: datetime) -> int | None:
    """The id of an action logged at `site_id` within RESENT_WITHIN before `now` with the same
    question, first day and note: a form sent twice (a double click, a reload) logs it once."""
    p = db.param
    row = db.execute_sql(
        f"SELECT MAX(id) FROM action WHERE site_id = {p} AND question_id = {p} AND action_date = {p}"
        f" AND note = {p} AND created_at >= {p}",
        (site_id, question_id, action_date, (note or "").strip(), _naive(now - RESENT_WITHIN))).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def get(db: Database, action_id: int, now: datetime | None = None, evaluate: bool = True) -> dict[str, Any] | None:
    row = db.execute_sql(f"SELECT {', '.join(_COLUMNS)} FROM action WHERE id = {db.param}", (action_id,)).fetchone()
    if row is None:
        return None
    now = now or datetime.now(timezone.utc)
    d = _as_dict(row, site_today(db, row[_SITE], now))
    if evaluate:
        judged = _judged_todays(db, (row[_SITE],), now)[row[_SITE]]
        d["evaluation"] = evaluation(db, d, judged)
        d["complete"] = is_complete(d["evaluation"], judged)
    return d


def _judged_todays(db: Database, sites: Iterable[str], now: datetime) -> dict[str, str]:
    """The first day not yet over for each site's actions (analysis.actions.site_dates: its own,
    but no later than the chain's, whose days the control reads)."""
    return {site: day.isoformat() for site, day in action_store.site_dates(db, sites, now).items()}


def list_actions(db: Database, *, sites: Iterable[str] | None = None, state: str | None = None,
                 overdue: bool = False, now: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Actions newest first, every one (`limit`: the newest so many); `state` "open" or "closed";
    `overdue`: open ones past their due date (the site's date: site_todays)."""
    now = now or datetime.now(timezone.utc)
    p = db.param
    clauses, params = [], []
    if state == "open" or overdue:
        clauses.append("closed_at IS NULL")
    elif state == "closed":
        clauses.append("closed_at IS NOT NULL")
    elif state:
        raise CentralConfigError(f"--state must be open or closed, got {state!r}")
    if overdue:
        clauses.append(f"due_date < {p}")
        params.append(latest_today(now))
    where = where_sites(db, clauses, params, sites)
    if where is None:
        return []
    # Overdue is each site's own date (below), so the newest so many are cut after it, as alerts are.
    cut = "" if limit is None or overdue else f" LIMIT {int(limit)}"
    rows = db.execute_sql(f"SELECT {', '.join(_COLUMNS)} FROM action{where} ORDER BY id DESC{cut}", params).fetchall()
    todays = site_todays(db, {r[_SITE] for r in rows}, now)
    out = [_as_dict(r, todays[r[_SITE]]) for r in rows]
    return [a for a in out if a["overdue"]][:limit] if overdue else out


def evaluation(db: Database, action: dict[str, Any], today: str) -> dict[str, Any] | None:
    """analysis.actions.evaluated's dict of this action (its before/after and verdict), with
    `today` the first day not yet over for its comparison (`_judged_todays`)."""
    for e in action_store.evaluated(db, (action["site_id"],), today=date.fromisoformat(today)):
        if int(e["id"]) == action["id"]:
            return e
    return None


def is_complete(ev: dict[str, Any] | None, today: str) -> bool:
    """The after-window is over (and the analysis does not call it pending): its last day
    (`after.to`, earlier when its question moved to another scale) is before `today`."""
    if ev is None or ev.get("verdict") == "pending":
        return False
    last = (ev.get("after") or {}).get("to")
    if last is None:
        days = int(ev.get("window_days") or 28)
        last = (date.fromisoformat(ev["date"]) + timedelta(days=days - 1)).isoformat()
    return last < today


def closing_verdict(ev: dict[str, Any]) -> str:
    v = ev.get("verdict")
    if v in _BETTER:
        return "effect_shown"
    if v in _WORSE:
        return "worse"
    return "no_detectable_effect"


def _effect(ev: dict[str, Any]) -> dict[str, Any]:
    """The few figures kept with the verdict (the evidence a suggestion elsewhere quotes)."""
    test = ev.get("test") or {}
    return {"analysis_verdict": ev.get("verdict"), "diff": test.get("diff"), "low": test.get("low"),
            "high": test.get("high"), "p_value": test.get("p_value"),
            "n_before": (ev.get("previous") or {}).get("n"), "n_after": (ev.get("current") or {}).get("n")}


def close_completed(db: Database, now: datetime) -> list[dict[str, Any]]:
    """Close every open action whose after-window is complete with its verdict; queue a notice
    for each (webhooks and a mail to the owner). Returns the closed ones."""
    open_ = list_actions(db, state="open", now=now)
    if not open_:
        return []
    todays = _judged_todays(db, {a["site_id"] for a in open_}, now)
    evaluated: dict[int, dict[str, Any]] = {}
    for day in set(todays.values()):          # the sites' dates differ by a day at most
        sites = tuple(sorted(s for s, d in todays.items() if d == day))
        evaluated.update({int(e["id"]): e for e in action_store.evaluated(db, sites, today=date.fromisoformat(day))})
    closed = []
    for a in open_:
        ev = evaluated.get(a["id"])
        if not is_complete(ev, todays[a["site_id"]]):
            continue
        done = close_one(db, a, ev, now)
        if done is not None:
            closed.append(done)
    return closed


def close_one(db: Database, action: dict[str, Any], ev: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """Close `action` with the verdict of its finished evaluation `ev` and queue its notices, in one
    transaction; None when another run (the digest's, the worker's) closed it first: its notices
    went from that run (two processes each sent them: a review)."""
    verdict = closing_verdict(ev)
    p = db.param
    with db.atomic():
        changed = db.execute_sql(f"UPDATE action SET closed_at = {p}, verdict = {p}, verdict_detail = {p}"
                                 f" WHERE id = {p} AND closed_at IS NULL",
                                 (_naive(now), verdict, json.dumps(_effect(ev)), action["id"])).rowcount
        if changed != 1:
            return None
        done = dict(action, verdict=verdict, verdict_detail=_effect(ev), closed_at=str(_naive(now)))
        notices.action_closed(db, done, now)
    return done


# --- learning from the best units ---------------------------------------------------------------

def main_complaint(db: Database, site_id: str, date_to: str, days: int = COMPLAINT_DAYS) -> str | None:
    """The reason most often given with a negative answer at the site in the `days` up to `date_to`."""
    start = (date.fromisoformat(date_to) - timedelta(days=days - 1)).isoformat()
    counts = queries.reason_counts(db, queries.ReportFilter((site_id,), date_from=start, date_to=date_to))
    by_reason: dict[str, int] = {}
    for (_s, _q, audience, _scale, reason), c in counts.items():
        if audience == "customer":              # the staff pulse's reasons are not a store's complaint
            by_reason[reason] = by_reason.get(reason, 0) + c.negative
    best = sorted(((-n, r) for r, n in by_reason.items() if n > 0))
    return best[0][1] if best else None


def suggestions(db: Database, site_id: str, now: datetime, visible: Iterable[str] | None = None) -> dict[str, Any]:
    """What worked elsewhere against this site's main complaint: action types closed as "effect
    shown" at other sites whose main complaint (before their action) was the same, with the
    evidence (sites, effect sizes). `visible`: the sites the reader may see named (others are
    counted, not named)."""
    complaint = main_complaint(db, site_id, site_today(db, site_id, now))
    out: dict[str, Any] = {"site_id": site_id, "main_complaint": complaint, "complaint_days": COMPLAINT_DAYS,
                           "suggestions": []}
    if complaint is None:
        return out
    p = db.param
    rows = db.execute_sql(
        "SELECT id, site_id, action_type, action_date, verdict_detail FROM action"
        f" WHERE verdict = 'effect_shown' AND action_type IS NOT NULL AND site_id <> {p} ORDER BY id",
        (site_id,)).fetchall()
    tried = {r[0] for r in db.execute_sql(
        f"SELECT DISTINCT action_type FROM action WHERE site_id = {p} AND action_type IS NOT NULL", (site_id,))}
    visible = set(visible) if visible is not None else None
    by_type: dict[str, dict[str, Any]] = {}
    for aid, site, kind, day, detail in rows:
        if kind in tried:
            continue
        before_end = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
        if main_complaint(db, site, before_end) != complaint:
            continue
        effect = (json.loads(detail) if detail else {}).get("diff")
        e = by_type.setdefault(kind, {"type": kind, "sites": [], "other_sites": 0, "effects": []})
        if visible is None or site in visible:
            if site not in e["sites"]:
                e["sites"].append(site)
        else:
            e["other_sites"] += 1
        if effect is not None:
            e["effects"].append(float(effect))
    for e in by_type.values():
        # Kept as every figure is; the page rounds once, as it rounds the action's own (each
        # rounded to one decimal, half to even, then their mean again, 2.25 read +2.2 here and
        # +2.3 on the action's page: a review).
        e["mean_effect"] = kept(sum(e["effects"]) / len(e["effects"])) if e["effects"] else None
        e["effects"] = [kept(x) for x in e["effects"]]
    out["suggestions"] = sorted(by_type.values(), key=lambda e: (-(len(e["sites"]) + e["other_sites"]),
                                                                  -(e["mean_effect"] or 0), e["type"]))
    return out
