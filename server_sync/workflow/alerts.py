"""The life of an alert after a rule raised it: owned (the site's store manager, automatically),
given a due date, commented on, acknowledged, and closed with an outcome: "action" (an action was
taken: a new one, or one already logged), "none" (no action needed, with the reason) or
"duplicate" (of another alert of the site). Every change is kept in `alert_event` with who and when.

The CLI (`kiosk-central alerts …`) and the web app call these same functions; they decide nothing
about who may see what (server_sync.web.scope does, before calling). Never raises an alert
(server_sync.analysis.alerts does) and never sends anything: notices are queued (workflow.notices).
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from peewee import Database

from server_sync.analysis import alerts as alert_store
from server_sync.analysis.days import parse_day
from server_sync.analysis.effects import WINDOW_DAYS
from server_sync.central.dialect import writer_transaction
from server_sync.central.registry import site_today, site_todays
from server_sync.exc import CentralConfigError, FieldError
from server_sync.workflow import notices
from server_sync.workflow.people import owner_for, still_may_own, store_manager_of

log = logging.getLogger(__name__)

STATES = ("open", "acknowledged", "closed")
OUTCOMES = ("action", "none", "duplicate")
EVENTS = ("raised", "assigned", "due", "comment", "acknowledged", "closed", "action_logged")
DEFAULT_DUE_DAYS = 3            # a dip is worth a look within a few days, or it is history
MAX_TEXT = 2000
RESENT_WITHIN = timedelta(minutes=10)     # the same thing sent again this soon is the same click twice
WORKFLOW_COLUMNS = ("owner", "state", "due_date", "outcome", "outcome_reason", "duplicate_of", "action_id",
                    "closed_at")


# A closing's detail in the history, as `close` writes it: the outcome, the action or alert it
# names, the reason ("none: a one-off", "action 6", "duplicate of 5: same dip"). Kept in English
# (the CLI shows it as it is); the web reads its parts back (closed_detail) to say it in words.
_CLOSED = re.compile(r"(?P<outcome>none|action (?P<action>\d+)|duplicate of (?P<duplicate>\d+))"
                     r"(?:: (?P<reason>.*))?\Z", re.DOTALL)


def _closed_text(outcome: str, ref: int | None, reason: str | None) -> str:
    named = {"action": f"action {ref}", "duplicate": f"duplicate of {ref}"}.get(outcome, outcome)
    return named + (f": {reason}" if reason else "")


def closed_detail(detail: str | None) -> dict[str, Any] | None:
    """The parts of a "closed" event's detail (_CLOSED): outcome, action_id, duplicate_of, reason;
    None for a detail of another form."""
    m = _CLOSED.match(detail or "")
    if m is None:
        return None
    outcome = m["outcome"].split(" ", 1)[0]
    return {"outcome": outcome, "action_id": int(m["action"]) if m["action"] else None,
            "duplicate_of": int(m["duplicate"]) if m["duplicate"] else None, "reason": m["reason"]}


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0) if dt.tzinfo else dt.replace(microsecond=0)


def latest_today(now: datetime) -> str:
    """The latest date anywhere at `now` (UTC+14): a due date before it may be past at some site,
    so SQL narrows overdue rows with it and each row is then judged on its site's own date."""
    at = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return (at.astimezone(timezone.utc) + timedelta(hours=14)).date().isoformat()


def _text(value: str | None, what: str, field: str, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise FieldError(f"{what} must not be empty", field, "empty")
    if len(value) > MAX_TEXT:
        raise FieldError(f"{what} is {len(value)} characters; keep it under {MAX_TEXT}", field, "too_long",
                         length=len(value), most=MAX_TEXT)
    return value


def check_date(value: str, what: str = "due date") -> str:
    """A due date (`what` names it in the message)."""
    return parse_day(value, what, "due_date")


def _still_open(a: dict[str, Any]) -> None:
    if a["state"] == "closed":
        raise FieldError(f"alert {a['id']} is closed already", None, "closed")


# --- reading ----------------------------------------------------------------------------------

_SELECT = ", ".join(alert_store.COLUMNS + WORKFLOW_COLUMNS)
COLUMN_SITE = alert_store.COLUMNS.index("site_id")


def _row(row: tuple, today: str | None) -> dict[str, Any]:
    d = alert_store._as_dict(row[:len(alert_store.COLUMNS)])
    d.update(zip(WORKFLOW_COLUMNS, row[len(alert_store.COLUMNS):]))
    if d["closed_at"] is not None and not isinstance(d["closed_at"], str):
        d["closed_at"] = d["closed_at"].isoformat(sep=" ")
    d["overdue"] = bool(today and d["state"] != "closed" and d["due_date"] and d["due_date"] < today)
    return d


def get(db: Database, alert_id: int, now: datetime | None = None, history: bool = True) -> dict[str, Any] | None:
    row = db.execute_sql(f"SELECT {_SELECT} FROM alert WHERE id = {db.param}", (alert_id,)).fetchone()
    if row is None:
        return None
    d = _row(row, site_today(db, row[COLUMN_SITE], now or datetime.now(timezone.utc)))
    if history:
        d["history"] = events(db, alert_id)
    return d


def require(db: Database, alert_id: int, now: datetime | None = None) -> dict[str, Any]:
    a = get(db, alert_id, now)
    if a is None:
        raise CentralConfigError(f"no alert with id {alert_id}")
    return a


def require_plain(db: Database, alert_id: int) -> dict[str, Any]:
    """`require` without the history: its state as it is now, for a write that found it changed."""
    a = get(db, alert_id, history=False)
    if a is None:
        raise CentralConfigError(f"no alert with id {alert_id}")
    return a


def events(db: Database, alert_id: int) -> list[dict[str, Any]]:
    rows = db.execute_sql(f"SELECT at, user_name, event, detail FROM alert_event WHERE alert_id = {db.param}"
                          " ORDER BY id", (alert_id,)).fetchall()
    return [{"at": str(at)[:19], "user": u, "event": e, "detail": detail} for at, u, e, detail in rows]


def list_alerts(db: Database, *, state: str | None = None, sites: Iterable[str] | None = None,
                owner: str | None = None, overdue: bool = False, now: datetime | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
    """Alerts newest first, every one (`limit`: the newest so many). `state`: one of STATES or
    "active" (open or acknowledged); `sites` narrows them (an empty collection: none); `overdue`:
    active ones past their due date."""
    now = now or datetime.now(timezone.utc)
    found = _where(db, state, sites, owner, latest_today(now) if overdue else None)
    if found is None:
        return []
    where, params = found
    # Overdue is each site's own date (below), so the newest so many are cut after it.
    cut = "" if limit is None or overdue else f" LIMIT {int(limit)}"
    rows = db.execute_sql(f"SELECT {_SELECT} FROM alert{where} ORDER BY id DESC{cut}", params).fetchall()
    todays = site_todays(db, {r[COLUMN_SITE] for r in rows}, now)
    out = [_row(r, todays[r[COLUMN_SITE]]) for r in rows]
    if overdue:
        out = [a for a in out if a["overdue"]][:limit]
    return out


def count_alerts(db: Database, *, state: str | None = None, sites: Iterable[str] | None = None,
                 owner: str | None = None) -> int:
    """How many alerts `list_alerts` would list (not overdue ones: those are each site's date), by
    one COUNT: a page that shows the newest few says how many there are without reading them all."""
    found = _where(db, state, sites, owner, None)
    if found is None:
        return 0
    where, params = found
    return int(db.execute_sql(f"SELECT COUNT(*) FROM alert{where}", params).fetchone()[0])


def _where(db: Database, state: str | None, sites: Iterable[str] | None, owner: str | None,
           due_before: str | None) -> tuple[str, list[Any]] | None:
    """The WHERE of `list_alerts` and `count_alerts` and its parameters; None when `sites` is
    empty. `due_before`: active alerts due before that date (the latest of the sites' todays)."""
    p = db.param
    clauses: list[str] = []
    params: list[Any] = []
    if state == "active" or due_before:
        clauses.append("state <> 'closed'")
    elif state:
        if state not in STATES:
            raise CentralConfigError(f"--state must be one of {', '.join(STATES)}, got {state!r}")
        clauses.append(f"state = {p}")
        params.append(state)
    if due_before:
        clauses.append(f"due_date < {p}")
        params.append(due_before)
    if owner:
        clauses.append(f"owner = {p}")
        params.append(owner)
    where = where_sites(db, clauses, params, sites)
    return None if where is None else (where, params)


def where_sites(db: Database, clauses: list[str], params: list[Any], sites: Iterable[str] | None) -> str | None:
    """The WHERE of `clauses` narrowed to `sites` (None: every site); None when `sites` is empty
    (nothing to see: an empty set never means "everything")."""
    if sites is not None:
        sites = sorted(set(sites))
        if not sites:
            return None
        clauses = clauses + [f"site_id IN ({', '.join([db.param] * len(sites))})"]
        params += sites
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


# --- changing ---------------------------------------------------------------------------------

def history_event(db: Database, alert_id: int, now: datetime, by: str | None, event: str, detail: str = "") -> None:
    """A row of the alert's history (`alert_event`): what happened, by whom, when."""
    p = db.param
    db.execute_sql(f"INSERT INTO alert_event (alert_id, at, user_name, event, detail) VALUES ({p}, {p}, {p}, {p}, {p})",
                   (alert_id, _naive(now), by, event, detail[:MAX_TEXT]))


def on_raised(db: Database, alert: dict[str, Any], now: datetime) -> None:
    """After a rule stored a new alert, in the same transaction: its owner (the site's store
    manager), a due date, the history's first rows, and the notices (webhooks, and a mail to the
    owner) queued. Queries and INSERTs only: nothing here waits for a network."""
    owner = store_manager_of(db, alert["site_id"])
    due = (date.fromisoformat(site_today(db, alert["site_id"], now)) + timedelta(days=DEFAULT_DUE_DAYS)).isoformat()
    p = db.param
    db.execute_sql(f"UPDATE alert SET owner = {p}, due_date = {p}, state = 'open' WHERE id = {p}",
                   (owner, due, alert["id"]))
    history_event(db, alert["id"], now, None, "raised", alert.get("message", ""))
    if owner:
        history_event(db, alert["id"], now, None, "assigned", owner)
    notices.alert_raised(db, dict(alert, owner=owner, due_date=due), now)


def assign(db: Database, alert_id: int, owner: str, by: str | None, now: datetime) -> dict[str, Any]:
    a = require(db, alert_id, now)
    _still_open(a)                        # a closed alert is nobody's to see through any more
    owner_for(db, owner, a["site_id"])
    if owner == a["owner"]:               # theirs already: no history row, no "now yours" notice
        return a
    p = db.param
    with db.atomic():
        # Guarded: two assigns sent at once (a double click) both read the old owner above; the
        # second finds it theirs already here and writes no second row nor a second mail.
        changed = db.execute_sql(f"UPDATE alert SET owner = {p} WHERE id = {p} AND state <> 'closed'"
                                 f" AND (owner IS NULL OR owner <> {p})", (owner, alert_id, owner)).rowcount
        if changed:
            history_event(db, alert_id, now, by, "assigned", owner)
            if owner != by:
                notices.alert_assigned(db, dict(a, owner=owner), by, now)
    return require(db, alert_id, now)


def _raised_day(db: Database, a: dict[str, Any]) -> str:
    """The day the alert was raised at its site (raised_at is UTC): a Kolkata alert raised at
    19:00 UTC was raised on the next day there; west of UTC, on the day before."""
    at = datetime.fromisoformat(str(a["raised_at"]))
    return site_today(db, a["site_id"], at if at.tzinfo else at.replace(tzinfo=timezone.utc))


def set_due(db: Database, alert_id: int, due: str, by: str | None, now: datetime) -> dict[str, Any]:
    a = require(db, alert_id, now)
    _still_open(a)
    due = check_date(due)
    raised = _raised_day(db, a)
    if due < raised:
        raise FieldError(f"due date {due} is before the alert was raised ({raised})", "due_date", "before",
                         value=due, first=raised)
    p = db.param
    with db.atomic():
        # Guarded as assign is: the same date sent again (a double click, posts at once) changes
        # no row and writes no second history row; nor does one that lost a race with a close.
        changed = db.execute_sql(f"UPDATE alert SET due_date = {p} WHERE id = {p} AND state <> 'closed'"
                                 f" AND (due_date IS NULL OR due_date <> {p})", (due, alert_id, due)).rowcount
        if changed:
            history_event(db, alert_id, now, by, "due", due)
        else:
            _still_open(require_plain(db, alert_id))      # a close got there first: say so
    return require(db, alert_id, now)


def comment(db: Database, alert_id: int, text: str, by: str | None,
            now: datetime) -> tuple[dict[str, Any], datetime | None]:
    """Kept in the alert's history, once: the same person's same text kept within RESENT_WITHIN,
    with nothing in between (a double click, a reload; as a comment or as what they acknowledged
    it with), is that comment. Checked and written under the alert's history lock, so two sent at
    once see each other. The alert, and when the same text was kept where it was not stored again
    (None: stored now)."""
    require(db, alert_id, now)
    text = _text(text, "the comment", "comment")
    with writer_transaction(db, f"alert-history:{alert_id}"):
        kept = _kept_just_now(db, alert_id, text, by, now)
        if kept is None:
            history_event(db, alert_id, now, by, "comment", text)
    return require(db, alert_id, now), kept


def _kept_just_now(db: Database, alert_id: int, text: str, by: str | None, now: datetime) -> datetime | None:
    """When `by` kept `text` as the alert's last history row within RESENT_WITHIN, as a comment or
    with an acknowledgement (the one a double click on acknowledge with a comment sends again);
    None if not."""
    p = db.param
    row = db.execute_sql(
        f"SELECT at FROM alert_event WHERE id = (SELECT MAX(id) FROM alert_event WHERE alert_id = {p})"
        f" AND event IN ('comment', 'acknowledged') AND user_name = {p} AND detail = {p} AND at >= {p}",
        (alert_id, by, text[:MAX_TEXT], _naive(now - RESENT_WITHIN))).fetchone()
    return datetime.fromisoformat(str(row[0])).replace(tzinfo=timezone.utc) if row else None


def acknowledge(db: Database, alert_id: int, by: str | None, now: datetime, text: str | None = None) -> dict[str, Any]:
    """Seen and being looked at. `acked_at`/`ack_comment` are kept as before for older readers.
    Acknowledged again (a double click, a second person) it stays as it was: its history says
    once who saw it first; a comment given with it is kept as a comment, once (comment)."""
    a = require(db, alert_id, now)
    _still_open(a)
    text = _text(text, "the comment", "comment", required=False)
    if a["state"] == "acknowledged":
        return comment(db, alert_id, text, by, now)[0] if text else a
    p = db.param
    with writer_transaction(db, f"alert-history:{alert_id}"):
        seen = db.execute_sql(f"UPDATE alert SET state = 'acknowledged', acked_at = COALESCE(acked_at, {p}),"
                              f" ack_comment = COALESCE({p}, ack_comment) WHERE id = {p} AND state = 'open'",
                              (_naive(now), text or None, alert_id)).rowcount
        if seen:
            history_event(db, alert_id, now, by, "acknowledged", text)
        else:
            # Another request got there first. A close: refused as one sent after it is (the
            # form says so; kept as a comment it looked as if it had worked). An acknowledgement:
            # it stays theirs, and a comment given with it is kept, once.
            _still_open(require_plain(db, alert_id))
            if text and _kept_just_now(db, alert_id, text, by, now) is None:
                history_event(db, alert_id, now, by, "comment", text)
    return require(db, alert_id, now)


def check_answering(db: Database, alert_id: int, site_id: str, first: str) -> None:
    """An action logged as answering alert `alert_id` (`action add --from-alert`, a close with a
    new action): the alert is of the action's site and not closed with another outcome (an action
    "from alert 7", closed as needing none, contradicted it), and the action's first day is at
    most a before-window before the alert was raised (a fix already under way): a day far
    earlier (2016 typed for 2026) compared nothing and closed at once with "no detectable
    effect"."""
    a = get(db, alert_id, history=False)
    if a is None or a["site_id"] != site_id:
        raise CentralConfigError(f"no alert {alert_id} at site {site_id}")
    if a["state"] == "closed" and a.get("outcome") != "action":
        raise FieldError(f"alert {alert_id} is closed ({a.get('outcome')}): an action from it would contradict "
                         "that; log the action on its own", None, "closed")
    earliest = (date.fromisoformat(_raised_day(db, a)) - timedelta(days=WINDOW_DAYS)).isoformat()
    if parse_day(first, "--date", "date") < earliest:
        raise FieldError(f"the action's first day {first} is more than {WINDOW_DAYS} days before the "
                         f"alert was raised", "date", "before", value=first, first=earliest)


BOTH_ACTIONS = "--action ID (one already logged) and a new one described (--note …) contradict: give one"


def close(db: Database, alert_id: int, outcome: str, by: str | None, now: datetime, *, reason: str | None = None,
          action_id: int | None = None, duplicate_of: int | None = None,
          new_action: dict[str, Any] | None = None) -> dict[str, Any]:
    """Close with an outcome. "action": `action_id` links an action already logged at the site, or
    `new_action` (note, and optionally type, date, owner, due_date, question_id) creates one from
    this alert; "none": `reason` says why; "duplicate": `duplicate_of` names the other alert."""
    from server_sync.workflow import actions
    a = require(db, alert_id, now)
    _still_open(a)
    if outcome not in OUTCOMES:
        raise FieldError(f"--outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}", "outcome",
                         "not_offered", value=outcome)
    reason = _text(reason, "--reason", "reason", required=outcome == "none") or None
    p = db.param
    with db.atomic():
        # Claimed first, in the transaction: two closes sent at once (a double click) both found
        # it open above and each logged an action and a history row. The second waits for the
        # first's row lock (PostgreSQL) or its write lock (SQLite), then finds it closed here.
        if not db.execute_sql(f"UPDATE alert SET state = 'closed', outcome = {p} WHERE id = {p} AND state <> 'closed'",
                              (outcome, alert_id)).rowcount:
            raise FieldError(f"alert {alert_id} is closed already", None, "closed")
        if outcome == "action":
            if action_id is not None and new_action is not None:
                raise CentralConfigError(BOTH_ACTIONS)
            if action_id is None and new_action is None:
                raise CentralConfigError("closing with --outcome action needs the action: --action ID of one "
                                         "already logged, or a new one described (--note)")
            if action_id is not None:
                act = actions.get(db, action_id, evaluate=False)
                if act is None or act["site_id"] != a["site_id"]:
                    raise FieldError(f"no action {action_id} at site {a['site_id']}", "action_id", "not_at_site",
                                     value=action_id)
                db.execute_sql(f"UPDATE action SET alert_id = COALESCE(alert_id, {p}) WHERE id = {p}",
                               (alert_id, action_id))
            else:
                spec = dict(new_action or {})
                first = spec.pop("date", None) or site_today(db, a["site_id"], now)
                act = actions.create(db, a["site_id"], spec.pop("question_id", None) or a["question_id"],
                                     first, spec.pop("note", ""), now,
                                     owner=spec.pop("owner", None) or still_may_own(db, a["owner"], a["site_id"]),
                                     alert_id=alert_id, by=by,
                                     history=False, **spec)      # the close's own row names it
                action_id = act["id"]
        elif outcome == "duplicate":
            if duplicate_of is None:
                raise FieldError("closing as a duplicate needs --duplicate-of ID", "duplicate_of", "empty")
            if duplicate_of == alert_id:
                raise FieldError(f"alert {alert_id} cannot be a duplicate of itself", "duplicate_of", "itself",
                                 value=duplicate_of)
            other = get(db, duplicate_of, now, history=False)
            if other is None or other["site_id"] != a["site_id"]:
                raise FieldError(f"no other alert {duplicate_of} at site {a['site_id']}", "duplicate_of",
                                 "not_at_site", value=duplicate_of)
            # Two alerts each the other's duplicate closed a dip with no outcome anywhere: the
            # chain of duplicates from the other one must not lead back to this one.
            seen = {alert_id}
            while other is not None and other.get("outcome") == "duplicate" and other.get("duplicate_of"):
                if other["duplicate_of"] in seen:
                    raise FieldError(f"alert {duplicate_of} is closed as a duplicate of this one: close it as the "
                                     "one the other was a duplicate of", "duplicate_of", "itself", value=duplicate_of)
                seen.add(other["id"])
                other = get(db, other["duplicate_of"], now, history=False)
        detail = _closed_text(outcome, action_id if outcome == "action" else duplicate_of, reason)
        db.execute_sql(f"UPDATE alert SET state = 'closed', outcome = {p}, outcome_reason = {p}, action_id = {p},"
                       f" duplicate_of = {p}, closed_at = {p}, acked_at = COALESCE(acked_at, {p}),"
                       f" ack_comment = COALESCE(ack_comment, {p}) WHERE id = {p}",
                       (outcome, reason, action_id if outcome == "action" else None,
                        duplicate_of if outcome == "duplicate" else None, _naive(now), _naive(now), detail, alert_id))
        history_event(db, alert_id, now, by, "closed", detail)
    return require(db, alert_id, now)
