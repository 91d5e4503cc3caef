"""Telling people when a kiosk needs a person, and when it is well again.

The notify worker looks at the fleet every few minutes (`watch`). A kiosk's flag (`analysis.fleet`:
silent in opening hours, never heard from, card nearly full, answers held, answers not reaching
the centre) is told once it has lasted `FLAG_AFTER`: `kiosk.flagged`, to every webhook and by mail
to the site's store manager, with what to do. Its return is told once the flag has been gone for
`CLEAR_AFTER` (`kiosk.recovered`, to the same people), so nobody drives to a store for a kiosk that
came back by itself. Both waits keep a flag that comes and goes (a card at 49 and 51 MB, a kiosk on
flaky Wi-Fi) from mailing a store every few minutes: it is told once, when it has lasted with gaps
shorter than `CLEAR_AFTER`, and its return when it has been gone that long. A flag seen at one look
only (the backlog a reconnecting kiosk reports for a moment) is never told.

Many kiosks silent since about the same time have one cause the stores cannot fix: ingest, the
broker, a network, the central server itself. So a silent kiosk whose silence began within
`TOGETHER` of that of `SHARED_AT` or more kiosks of open stores (itself counted) is told to the
admins and the webhooks, in one notice per look (`fleet.silent`), not to its store; when that
shared silence is over and the kiosk is still silent, it is told to its store then. A kiosk never
heard from since it was registered is an installation's matter: told to the admins
(`fleet.never`), as are the returns of both (`fleet.heard`).

What was told is kept per kiosk in `kiosk_flag`. Each step is a conditional write in the
transaction that queues its notices, so two workers at once tell it once. A deactivated kiosk's
flag, a moved kiosk's and one never told go quietly. The decisions (`plan`) are pure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from peewee import Database

from server_sync.analysis.fleet import fleet
from server_sync.workflow import notices

log = logging.getLogger(__name__)

FLAG_AFTER = timedelta(minutes=10)     # a flag is told once it has lasted this long
CLEAR_AFTER = timedelta(minutes=30)    # a told flag's return is told once it has been gone this long
TOGETHER = timedelta(minutes=10)       # silences that began this close have one cause
SHARED_AT = 3                          # … when this many kiosks of open stores share it
STORE, ADMINS = "store", "admins"


def _utc(v: Any) -> datetime | None:
    """A stored or ISO time as aware UTC (SQLite gives text, PostgreSQL a naive datetime)."""
    if v is None:
        return None
    at = datetime.fromisoformat(v) if isinstance(v, str) else v
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at


@dataclass(frozen=True)
class Flag:
    """A `kiosk_flag` row."""
    kiosk_id: str
    site_id: str
    kind: str
    seen_since: datetime
    told_at: datetime | None = None
    audience: str | None = None
    clear_since: datetime | None = None


@dataclass(frozen=True)
class Step:
    """One change to `kiosk_flag`: `op` is start, rekind, back, clearing, drop, tell, recover or
    unshare; `flag` the row it was decided on (its claim's condition), `kiosk` the fleet row."""
    op: str
    kiosk_id: str
    flag: Flag | None
    kiosk: dict[str, Any] | None = None
    audience: str | None = None


def _quiet(kiosks: Iterable[dict[str, Any]], now: datetime, open_only: bool) -> list[datetime]:
    """When each active kiosk not heard for `TOGETHER` was last heard (of open stores only, or all)."""
    out = []
    for k in kiosks:
        seen = _utc(k["last_seen"])
        if k["active"] and seen is not None and now - seen >= TOGETHER and (k["open"] or not open_only):
            out.append(seen)
    return out


def _shared(kiosk: dict[str, Any], quiet: list[datetime]) -> bool:
    """Whether the kiosk's silence began within `TOGETHER` of that of `SHARED_AT` or more kiosks."""
    seen = _utc(kiosk["last_seen"])
    return seen is not None and sum(1 for q in quiet if abs(q - seen) <= TOGETHER) >= SHARED_AT


def plan(told: Mapping[str, Flag], kiosks: list[dict[str, Any]], now: datetime) -> list[Step]:
    """What to change in `kiosk_flag` (`told`, by kiosk) from the fleet's rows at `now`, in order."""
    by_id = {k["kiosk_id"]: k for k in kiosks}
    steps = [Step("drop", kid, f, by_id.get(kid)) for kid, f in told.items()
             if kid not in by_id or not by_id[kid]["active"] or by_id[kid]["site_id"] != f.site_id]
    gone = {s.kiosk_id for s in steps}
    quiet_open, quiet_all = _quiet(kiosks, now, True), _quiet(kiosks, now, False)
    for k in kiosks:
        kid, kind = k["kiosk_id"], k["flag_kind"] if k["active"] else None
        f = None if kid in gone else told.get(kid)
        if kind is None:
            # Gone: told to be back once that has lasted; one not told yet is forgotten then (a
            # flag that comes and goes between looks is still told once it has lasted in all).
            if f is None:
                continue
            if f.clear_since is None:
                steps.append(Step("clearing", kid, f, k))
            elif now - f.clear_since >= CLEAR_AFTER:
                steps.append(Step("recover" if f.told_at is not None else "drop", kid, f, k))
        elif f is None:
            steps.append(Step("start", kid, None, k))
        elif f.kind != kind:
            steps.append(Step("rekind", kid, f, k))
        else:
            if f.clear_since is not None:
                steps.append(Step("back", kid, f, k))
            if f.told_at is None and now - f.seen_since >= FLAG_AFTER:
                admins = kind == "never" or (kind == "silent" and _shared(k, quiet_open))
                steps.append(Step("tell", kid, f, k, ADMINS if admins else STORE))
            elif f.told_at is not None and f.audience == ADMINS and kind == "silent" and not _shared(k, quiet_all):
                # The shared silence is over (the others are heard again), this kiosk's is not:
                # its own, to be told to its store once it has lasted.
                steps.append(Step("unshare", kid, f, k))
    return steps


def _ts(at: datetime) -> datetime:
    return at.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)


def claim(db: Database, step: Step, now: datetime) -> bool:
    """Make `step`'s change, in the caller's transaction, if the row is still what it was decided
    on: False when another worker changed it first (then this one tells nothing)."""
    p, f, k = db.param, step.flag, step.kiosk
    at = _ts(now)
    sql: tuple[str, tuple[Any, ...]]
    if step.op == "start":
        sql = (f"INSERT INTO kiosk_flag (kiosk_id, site_id, kind, seen_since) VALUES ({p}, {p}, {p}, {p})"
               " ON CONFLICT (kiosk_id) DO NOTHING", (step.kiosk_id, k["site_id"], k["flag_kind"], at))
    elif step.op == "rekind":
        sql = (f"UPDATE kiosk_flag SET kind = {p}, seen_since = {p}, told_at = NULL, audience = NULL,"
               f" clear_since = NULL WHERE kiosk_id = {p} AND kind = {p}", (k["flag_kind"], at, step.kiosk_id, f.kind))
    elif step.op == "back":
        sql = (f"UPDATE kiosk_flag SET clear_since = NULL WHERE kiosk_id = {p} AND kind = {p}"
               " AND clear_since IS NOT NULL", (step.kiosk_id, f.kind))
    elif step.op == "clearing":
        sql = (f"UPDATE kiosk_flag SET clear_since = {p} WHERE kiosk_id = {p} AND kind = {p}"
               " AND clear_since IS NULL", (at, step.kiosk_id, f.kind))
    elif step.op == "drop":
        sql = (f"DELETE FROM kiosk_flag WHERE kiosk_id = {p} AND kind = {p} AND site_id = {p}",
               (step.kiosk_id, f.kind, f.site_id))
    elif step.op == "tell":
        sql = (f"UPDATE kiosk_flag SET told_at = {p}, audience = {p} WHERE kiosk_id = {p} AND kind = {p}"
               " AND told_at IS NULL", (at, step.audience, step.kiosk_id, f.kind))
    elif step.op == "recover":
        sql = (f"DELETE FROM kiosk_flag WHERE kiosk_id = {p} AND kind = {p} AND told_at IS NOT NULL"
               " AND clear_since IS NOT NULL", (step.kiosk_id, f.kind))
    elif step.op == "unshare":
        sql = (f"UPDATE kiosk_flag SET told_at = NULL, audience = NULL, seen_since = {p} WHERE kiosk_id = {p}"
               f" AND kind = {p} AND audience = {p}", (at, step.kiosk_id, f.kind, ADMINS))
    else:
        raise ValueError(f"unknown step {step.op!r}")
    return db.execute_sql(*sql).rowcount == 1


def flags(db: Database) -> dict[str, Flag]:
    """Every `kiosk_flag` row, by kiosk."""
    rows = db.execute_sql("SELECT kiosk_id, site_id, kind, seen_since, told_at, audience, clear_since FROM kiosk_flag")
    return {r[0]: Flag(r[0], r[1], r[2], _utc(r[3]), _utc(r[4]), r[5], _utc(r[6])) for r in rows}


@dataclass
class Told:
    """What one look told: kiosks flagged and well again (to their stores or, grouped, to the
    admins), and the sites whose opening hours could not be read (left out of the look)."""
    flagged: int = 0
    recovered: int = 0
    to_admins: list[str] = field(default_factory=list)     # the admins' notices' events
    unreadable: list[str] = field(default_factory=list)


def _for_admins(step: Step) -> bool:
    return (step.op == "tell" and step.audience == ADMINS) or (step.op == "recover" and step.flag.audience == ADMINS)


def watch(db: Database, now: datetime) -> Told:
    """One look at the fleet: make each step of `plan`, with its claim, and queue what it tells."""
    unreadable: list[tuple[str, str]] = []
    kiosks = fleet(db, now, unreadable=unreadable)
    told = Told(unreadable=[site for site, _why in unreadable])
    for site, why in unreadable:
        log.error("kiosks of site %s not watched: %s", site, why)
    # A site left out is not a site whose kiosks went away: its flags stay as they are.
    current = {kid: f for kid, f in flags(db).items() if f.site_id not in told.unreadable}
    steps = plan(current, kiosks, now)
    grouped: dict[str, list[dict[str, Any]]] = {"fleet.silent": [], "fleet.never": [], "fleet.heard": []}
    with db.atomic():                  # the admins' steps, claimed with their one notice per kind
        for step in filter(_for_admins, steps):
            if claim(db, step, now):
                event = "fleet.heard" if step.op == "recover" else (
                    "fleet.never" if step.flag.kind == "never" else "fleet.silent")
                grouped[event].append(step.kiosk)
        for event, kiosks_told in grouped.items():
            if kiosks_told:
                notices.fleet_notice(db, event, kiosks_told, now)
                told.to_admins.append(event)
    for step in steps:
        if _for_admins(step):
            continue
        with db.atomic():
            if not claim(db, step, now):
                continue
            if step.op == "tell":
                told.flagged += 1
                notices.kiosk_flagged(db, step.kiosk, now)
            elif step.op == "recover":
                told.recovered += 1
                notices.kiosk_recovered(db, step.kiosk, step.flag.kind, step.flag.told_at, now)
    return told
