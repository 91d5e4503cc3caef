"""Telling people when a kiosk needs a person, and when it is well again.

The notify worker looks at the fleet every few minutes (`watch`). Once a kiosk has had a flag
(`analysis.fleet`: silent in opening hours, never heard from, card nearly full, answers held,
answers not reaching the centre) for `FLAG_AFTER`, it is told: `kiosk.flagged`, to every webhook
and by mail to the site's store manager, with what to do. Its return is told once the kiosk has
had no flag for `CLEAR_AFTER` and is heard (`kiosk.recovered`, to the same people), so nobody
drives to a store for a kiosk that came back by itself, and a single status from a dying kiosk is
no return. A flag lasts while its gaps are shorter than `CLEAR_AFTER`, whatever its kind: one that
comes and goes (a card at 49 and 51 MB, flaky Wi-Fi, a card and held answers in turn) is told once,
and a flag seen at one look only (the backlog a kiosk reports for a moment after an outage) never.
A told flag that turns into another kind for `FLAG_AFTER` is told again, as that.

Many kiosks silent since the same moment have one cause their stores cannot fix: ingest, the
broker, a region's network, the central server. So a silent kiosk is told to the admins and the
webhooks, in one `fleet.silent` notice per look, not to its store, when its silence began within
`TOGETHER` of that of `SHARED_AT` or more kiosks (itself counted) at two or more sites (one store's
kiosks all silent: its own router or power, for its manager). A kiosk last heard around its store's
closing and gone with its Last Will may have been switched off for the night, and is never counted
so (an outage leaves the statuses "online": no will reaches a centre that is down). Once at least
half of the kiosks that had fallen silent with it are back (not quiet since then, not just
reconnecting for a moment), a kiosk still silent is its store's to hear of, after `FLAG_AFTER`.
A kiosk never heard from since it was registered is an installation's matter (`fleet.never`, to
the admins); the returns of kiosks told to the admins go to them (`fleet.heard`). A kiosk awaited
(to be installed on a later day, `analysis.fleet`) has no flag; one it had goes quietly if it was
untold or told as never seen, and one told otherwise is told over at once, to those who were told
(`kiosk.awaited` to its store, `fleet.awaited` to the admins): it is not expected before its day.

A kiosk two devices answer as (a copied card: `central.twins`) is a credential's matter, which
only the admins can end (a new password shuts the copy out) and the store can do nothing about.
It is told on a track of its own (`twin_plan`, state in `kiosk_twin.told_at` / `ended_at`): to the
admins and the webhooks as `fleet.twin` at the first look after it is found, and as
`fleet.twin_ended` once a day has passed without a sign; once per episode, whatever the store's
own notices about the kiosk meanwhile (its silence while the password is changed, say), which
go on as for any kiosk. A pushed config a kiosk refused is whoever pushes configs' matter, told the
same way (`refusal_plan`, state in `kiosk_config_refusal`): `fleet.config` with the kiosk's reason
at the first look that sees it, `fleet.config_ended` once the kiosk reports none.

What was told is kept per kiosk in `kiosk_flag`. Each step is a conditional write in the
transaction that queues its notices, so two workers at once tell it once. A deactivated kiosk's
flag, a moved kiosk's and one never told go quietly. The decisions (`plan`) are pure.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from peewee import Database

from server_sync.analysis.chain_report import utc_instant
from server_sync.analysis.fleet import CENTRE_KINDS, fleet
from server_sync.analysis.opening import HOLIDAYS_SETTING
from server_sync.central.dialect import time_param
from server_sync.central.twins import WITHIN as TWIN_WITHIN
from server_sync.workflow import notices

log = logging.getLogger(__name__)

FLAG_AFTER = timedelta(minutes=10)     # a flag is told once the kiosk has had one this long
CLEAR_AFTER = timedelta(minutes=30)    # its return once it has had none this long, and is heard
TOGETHER = timedelta(minutes=10)       # silences that began this close have one cause …
SHARED_AT = 3                          # … when this many kiosks share it,
SHARED_SITES = 2                       # at this many sites
STORE, ADMINS = "store", "admins"
ADMIN_KINDS = ("never",)               # flags only the admins can act on, told to them however many


def _utc(v: Any) -> datetime | None:
    """A stored or ISO time as aware UTC (None stays None): `chain_report.utc_instant`."""
    return None if v is None else utc_instant(v)


@dataclass(frozen=True)
class Flag:
    """A `kiosk_flag` row."""
    kiosk_id: str
    site_id: str
    kind: str
    kind_since: datetime
    seen_since: datetime
    due_at: datetime
    told_kind: str | None = None
    told_at: datetime | None = None
    audience: str | None = None
    quiet_since: datetime | None = None
    group_size: int | None = None
    clear_since: datetime | None = None


@dataclass(frozen=True)
class Step:
    """One change to `kiosk_flag`: `op` is start, rekind, back, clearing, drop, tell, recover,
    await or unshare; `flag` the row it was decided on (its claim's condition), `kiosk` the fleet row."""
    op: str
    kiosk_id: str
    flag: Flag | None
    kiosk: dict[str, Any] | None = None
    audience: str | None = None
    group: int | None = None          # a silence told to the admins: how many fell silent with it


def heard(kiosk: dict[str, Any], now: datetime) -> bool:
    """Whether the kiosk was heard in the last `TOGETHER` (a working one reports every minute)."""
    seen = _utc(kiosk["last_seen"])
    return seen is not None and now - seen < TOGETHER


def asleep(kiosk: dict[str, Any]) -> bool:
    """Perhaps switched off for the night: last heard around its store's closing, and gone with its
    Last Will or a clean stop. An ingest, broker or server down leaves the last status's "online"
    (no will reaches the centre), so an outage near closing is still one."""
    return bool(kiosk["heard_at_closing"]) and kiosk["online"] is False


class Silences:
    """When each quiet kiosk (active, heard once, not in the last `TOGETHER`, not `asleep`, not one
    of `leaving_out`) was last heard, sorted, with its site: who fell silent with whom."""

    def __init__(self, kiosks: Iterable[dict[str, Any]], now: datetime, leaving_out: Iterable[str] = ()) -> None:
        out = set(leaving_out)
        quiet = sorted((_utc(k["last_seen"]), k["site_id"]) for k in kiosks
                       if k["active"] and k["last_seen"] and not heard(k, now) and not asleep(k)
                       and k["kiosk_id"] not in out)
        self.times = [t for t, _site in quiet]
        self.sites = [site for _t, site in quiet]

    def _around(self, at: datetime) -> tuple[int, int]:
        return bisect_left(self.times, at - TOGETHER), bisect_right(self.times, at + TOGETHER)

    def group(self, kiosk: dict[str, Any]) -> int:
        """How many quiet kiosks (itself counted) fell silent within `TOGETHER` of it."""
        if kiosk["last_seen"] is None or asleep(kiosk):
            return 0
        lo, hi = self._around(_utc(kiosk["last_seen"]))
        return hi - lo

    def shared(self, kiosk: dict[str, Any]) -> bool:
        """Whether the kiosk's silence began within `TOGETHER` of that of `SHARED_AT` or more
        quiet kiosks (itself counted) at `SHARED_SITES` or more sites."""
        if kiosk["last_seen"] is None or asleep(kiosk):
            return False
        lo, hi = self._around(_utc(kiosk["last_seen"]))
        return hi - lo >= SHARED_AT and len(set(self.sites[lo:hi])) >= SHARED_SITES

    def around(self, at: datetime) -> int:
        """How many quiet kiosks fell silent within `TOGETHER` of `at`."""
        lo, hi = self._around(at)
        return hi - lo


def _back(f: Flag, kiosk: dict[str, Any] | None, now: datetime) -> bool:
    """Whether a kiosk whose silence was told is back: heard, with no flag for `FLAG_AFTER` (a
    moment's connection during an outage is no return)."""
    return (kiosk is not None and heard(kiosk, now) and f.clear_since is not None
            and now - f.clear_since >= FLAG_AFTER)


class Outages:
    """The silences told to the admins, by when their kiosks were last heard then, and whether each
    kiosk is still down; with the other kiosks quiet now (`Silences`, those left out). Says when a
    kiosk of such a group is its store's (`unshared`)."""

    def __init__(self, told: Mapping[str, Flag], kiosks: list[dict[str, Any]], now: datetime) -> None:
        by_id = {k["kiosk_id"]: k for k in kiosks}
        rows = sorted((f.quiet_since, not _back(f, by_id.get(f.kiosk_id), now), f.kiosk_id) for f in told.values()
                      if f.audience == ADMINS and f.told_kind == "silent" and f.quiet_since)
        self.times = [t for t, _down, _k in rows]
        self.down_before = [0]
        for _t, down, _k in rows:
            self.down_before.append(self.down_before[-1] + down)
        self.untold = Silences(kiosks, now, leaving_out=[k for _t, _down, k in rows])

    def down(self, at: datetime) -> int:
        """Kiosks silent since within `TOGETHER` of `at` and not back: told ones, and quiet others."""
        lo, hi = bisect_left(self.times, at - TOGETHER), bisect_right(self.times, at + TOGETHER)
        return self.down_before[hi] - self.down_before[lo] + self.untold.around(at)

    def unshared(self, f: Flag) -> bool:
        """Whether at least half of the `group_size` kiosks that had fallen silent with `f`'s are
        back. Counted from what is down now, so a kiosk whose return was told already, or one never
        told, counts as back as much as any; kiosks that fell silent at other times do not count."""
        size = f.group_size or 1
        return f.quiet_since is not None and 2 * (size - self.down(f.quiet_since)) >= size


def plan(told: Mapping[str, Flag], kiosks: list[dict[str, Any]], now: datetime) -> list[Step]:
    """What to change in `kiosk_flag` (`told`, by kiosk) from the fleet's rows at `now`, in order."""
    by_id = {k["kiosk_id"]: k for k in kiosks}
    steps = [Step("drop", kid, f, by_id.get(kid)) for kid, f in told.items()
             if kid not in by_id or not by_id[kid]["active"] or by_id[kid]["site_id"] != f.site_id
             or (by_id[kid].get("awaited") and f.told_kind in (None, "never"))]
    gone = {s.kiosk_id for s in steps}
    # A kiosk awaited is not expected: its silence is no part of an outage (nor keeps one going:
    # it counts as back for the group it fell silent with).
    expected = [k for k in kiosks if not k.get("awaited")]
    awaited = {k["kiosk_id"] for k in kiosks if k.get("awaited")}
    silences = Silences(expected, now)
    outages = Outages({kid: f for kid, f in told.items() if kid not in gone and kid not in awaited}, expected, now)
    for k in kiosks:
        if k["flag_kind"] in CENTRE_KINDS:
            # A copied card is told on its own track (twin_plan), and a refused config is for
            # whoever pushes configs (`fleet` after a push shows it); to its store the kiosk has
            # the flag it would have without them, told in that flag's words.
            k = dict(k, flag_kind=k.get("store_flag_kind"))
        kid, kind = k["kiosk_id"], k["flag_kind"] if k["active"] else None
        f = None if kid in gone else told.get(kid)
        if f is not None and f.told_kind and k.get("awaited"):
            # Put off to a later day: not expected before it, so what was told is over now (not
            # once it is heard, maybe days later); what it had untold went above.
            steps.append(Step("await", kid, f, k))
            continue
        if kind is None:
            # No flag: its return is told once that has lasted and the kiosk is heard (one status
            # of a dying kiosk clears its silence for 2 open hours, and is no return); one not
            # told yet is forgotten then.
            if f is None:
                continue
            if f.clear_since is None:
                steps.append(Step("clearing", kid, f, k))
            elif now - f.clear_since >= CLEAR_AFTER and heard(k, now):
                steps.append(Step("recover" if f.told_kind else "drop", kid, f, k))
            continue
        if f is None:
            steps.append(Step("start", kid, None, k))
            continue
        if f.kind != kind:
            steps.append(Step("rekind", kid, f, k))
        if f.clear_since is not None:
            steps.append(Step("back", kid, f, k))
        if (f.told_kind is None and now >= f.due_at) or (
                f.told_kind not in (None, kind) and f.kind == kind and now - f.kind_since >= FLAG_AFTER):
            # Told as what it is now, however its kind came and went meanwhile; told again when it
            # is another problem now (silent, then back with a full card; or silent in an outage).
            shared = kind == "silent" and silences.shared(k)
            steps.append(Step("tell", kid, f, k, ADMINS if kind in ADMIN_KINDS or shared else STORE,
                              silences.group(k) if shared else None))
        elif (f.audience == ADMINS and f.told_kind == "silent" == f.kind == kind and not heard(k, now)
              and outages.unshared(f)):
            steps.append(Step("unshare", kid, f, k))
    return steps


def _ts(at: datetime) -> datetime:
    return at.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)


def claim(db: Database, step: Step, now: datetime) -> bool:
    """Make `step`'s change, in the caller's transaction, if the row is still what it was decided
    on: False when another worker changed it first (then this one tells nothing)."""
    p, f, k, ts = db.param, step.flag, step.kiosk, time_param(db)
    at = ts(_ts(now))
    sql: tuple[str, tuple[Any, ...]]
    if step.op == "start":
        sql = (f"INSERT INTO kiosk_flag (kiosk_id, site_id, kind, kind_since, seen_since, due_at)"
               f" VALUES ({p}, {p}, {p}, {p}, {p}, {p}) ON CONFLICT (kiosk_id) DO NOTHING",
               (step.kiosk_id, k["site_id"], k["flag_kind"], at, at, ts(_ts(now + FLAG_AFTER))))
    elif step.op == "rekind":
        sql = (f"UPDATE kiosk_flag SET kind = {p}, kind_since = {p} WHERE kiosk_id = {p} AND kind = {p}",
               (k["flag_kind"], at, step.kiosk_id, f.kind))
    elif step.op == "back":
        sql = (f"UPDATE kiosk_flag SET clear_since = NULL WHERE kiosk_id = {p} AND clear_since IS NOT NULL",
               (step.kiosk_id,))
    elif step.op == "clearing":
        sql = (f"UPDATE kiosk_flag SET clear_since = {p} WHERE kiosk_id = {p} AND clear_since IS NULL",
               (at, step.kiosk_id))
    elif step.op == "drop":
        sql = (f"DELETE FROM kiosk_flag WHERE kiosk_id = {p} AND site_id = {p} AND told_kind {_is(f.told_kind, p)}",
               (step.kiosk_id, f.site_id) + ((f.told_kind,) if f.told_kind else ()))
    elif step.op == "tell":
        quiet = ts(_ts(_utc(k["last_seen"]))) if step.group and k["last_seen"] else None
        kind = k["flag_kind"]
        sql = (f"UPDATE kiosk_flag SET told_kind = {p}, told_at = {p}, audience = {p}, quiet_since = {p},"
               f" group_size = {p} WHERE kiosk_id = {p} AND kind = {p} AND told_kind {_is(f.told_kind, p)}"
               " AND clear_since IS NULL",
               (kind, at, step.audience, quiet, step.group, step.kiosk_id, kind) + ((f.told_kind,) if f.told_kind else ()))
    elif step.op == "recover":
        sql = (f"DELETE FROM kiosk_flag WHERE kiosk_id = {p} AND told_kind = {p} AND clear_since IS NOT NULL",
               (step.kiosk_id, f.told_kind))
    elif step.op == "await":
        sql = (f"DELETE FROM kiosk_flag WHERE kiosk_id = {p} AND told_kind = {p} AND audience {_is(f.audience, p)}",
               (step.kiosk_id, f.told_kind) + ((f.audience,) if f.audience else ()))
    elif step.op == "unshare":
        sql = (f"UPDATE kiosk_flag SET told_kind = NULL, told_at = NULL, audience = NULL, quiet_since = NULL,"
               f" group_size = NULL, due_at = {p} WHERE kiosk_id = {p} AND audience = {p}", (ts(_ts(now + FLAG_AFTER)), step.kiosk_id, ADMINS))
    else:
        raise ValueError(f"unknown step {step.op!r}")
    return db.execute_sql(*sql).rowcount == 1


def _is(value: object, param: str) -> str:
    """SQL's test of a column against `value`, NULL included."""
    return "IS NULL" if value is None else f"= {param}"


def flags(db: Database) -> dict[str, Flag]:
    """Every `kiosk_flag` row, by kiosk."""
    rows = db.execute_sql("SELECT kiosk_id, site_id, kind, kind_since, seen_since, due_at, told_kind, told_at,"
                          " audience, quiet_since, group_size, clear_since FROM kiosk_flag")
    return {r[0]: Flag(r[0], r[1], r[2], _utc(r[3]), _utc(r[4]), _utc(r[5]), r[6], _utc(r[7]), r[8], _utc(r[9]),
                       r[10], _utc(r[11])) for r in rows}


@dataclass
class Told:
    """What one look told: kiosks flagged and well again (to their stores or, grouped, to the
    admins), and the sites whose opening hours could not be read (left out of the look)."""
    flagged: int = 0
    recovered: int = 0
    awaited: int = 0                                       # told over: put off to a later day
    to_admins: list[str] = field(default_factory=list)     # the admins' notices' events
    unreadable: list[str] = field(default_factory=list)


def _for_admins(step: Step) -> bool:
    return (step.op == "tell" and step.audience == ADMINS) or (
        step.op in ("recover", "await") and step.flag.audience == ADMINS)


def _admin_event(step: Step) -> str:
    """The admins' notice a step of theirs goes in: `fleet.<kind>` for a flag, `fleet.heard` for
    a return, `fleet.awaited` for one put off to a later day."""
    return {"recover": "fleet.heard", "await": "fleet.awaited"}.get(step.op) or f"fleet.{step.kiosk['flag_kind']}"


@dataclass(frozen=True)
class Twin:
    """A `kiosk_twin` row as the watch reads it: when a second device was last found answering as
    the kiosk, and when that was told and its end told (naive UTC, None: not)."""
    kiosk_id: str
    last_seen_at: datetime
    told_at: datetime | None
    ended_at: datetime | None


def twin_plan(twins: Iterable[Twin], kiosks: list[dict[str, Any]], now: datetime) -> list[tuple[str, str]]:
    """(kiosk, what) to do about copied cards: `tell` one found within `twins.WITHIN` and not told
    in this episode (never told, or found again after its end was told), `end` a told one with no
    sign for that long (`quiet` for a kiosk deactivated meanwhile: the admins shut it out
    themselves)."""
    active = {k["kiosk_id"]: bool(k["active"]) for k in kiosks}
    out = []
    for t in twins:
        if t.kiosk_id not in active:
            continue                  # its site left out of this look (hours unreadable): as it was
        recent = now - t.last_seen_at < TWIN_WITHIN
        open_episode = t.told_at is not None and t.ended_at is None
        # A new episode is a sign after the last one's end (not a kiosk brought back after the
        # admins shut it out: its old sign was told).
        new_sign = t.told_at is None or (t.ended_at is not None and t.last_seen_at > t.ended_at)
        if recent and new_sign and active[t.kiosk_id]:
            out.append((t.kiosk_id, "tell"))
        elif open_episode and (not recent or not active[t.kiosk_id]):
            out.append((t.kiosk_id, "end" if active[t.kiosk_id] else "quiet"))
    return out


def _twins(db: Database) -> list[Twin]:
    return [Twin(r[0], _utc(r[1]), _utc(r[2]), _utc(r[3])) for r in
            db.execute_sql("SELECT kiosk_id, last_seen_at, told_at, ended_at FROM kiosk_twin").fetchall()]


def _claim_twin(db: Database, kiosk_id: str, what: str, now: datetime) -> bool:
    """`twin_plan`'s step, if the row is still as it was decided on (two workers tell it once)."""
    p, at = db.param, time_param(db)(_ts(now))
    if what == "tell":
        sql = (f"UPDATE kiosk_twin SET told_at = {p}, ended_at = NULL WHERE kiosk_id = {p}"
               " AND (told_at IS NULL OR (ended_at IS NOT NULL AND last_seen_at > ended_at))")
    else:
        sql = f"UPDATE kiosk_twin SET ended_at = {p} WHERE kiosk_id = {p} AND told_at IS NOT NULL AND ended_at IS NULL"
    return db.execute_sql(sql, (at, kiosk_id)).rowcount == 1


@dataclass(frozen=True)
class Refusal:
    """A `kiosk_config_refusal` row: the refusal the admins were told of (the kiosk's words), when,
    and when its end was told or it went quietly (naive UTC, None: not)."""
    kiosk_id: str
    error: str
    told_at: datetime
    ended_at: datetime | None


def refusal_plan(told: Iterable[Refusal], kiosks: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    """(kiosk, what, refusal) to do about pushed configs the kiosks refused: `tell` an active
    kiosk's refusal not told yet (none told, its last one over, or another one since: a new push
    refused), `end` a told one the kiosk no longer reports (it runs a config pushed to it), `quiet`
    a told one of a kiosk deactivated meanwhile (the admins took it out themselves). Told at the
    first look: a refusal is the kiosk's verdict on a push, not a state that comes and goes."""
    rows = {r.kiosk_id: r for r in told}
    out: list[tuple[str, str, str | None]] = []
    for k in kiosks:
        kid, refused, r = k["kiosk_id"], k.get("config_refused"), rows.get(k["kiosk_id"])
        open_episode = r is not None and r.ended_at is None
        if k["active"] and refused and not (open_episode and r.error == refused):
            out.append((kid, "tell", refused))
        elif open_episode and not k["active"]:
            out.append((kid, "quiet", None))
        elif open_episode and not k["config_error"]:
            out.append((kid, "end", None))
    return out


def _refusals(db: Database) -> list[Refusal]:
    return [Refusal(r[0], r[1], _utc(r[2]), _utc(r[3])) for r in
            db.execute_sql("SELECT kiosk_id, error, told_at, ended_at FROM kiosk_config_refusal").fetchall()]


def _claim_refusal(db: Database, kiosk_id: str, what: str, refused: str | None, now: datetime) -> bool:
    """`refusal_plan`'s step, if the row is still as it was decided on (two workers tell it once)."""
    p, at = db.param, time_param(db)(_ts(now))
    if what == "tell":
        sql, params = (f"INSERT INTO kiosk_config_refusal (kiosk_id, error, told_at) VALUES ({p}, {p}, {p})"
                       " ON CONFLICT (kiosk_id) DO UPDATE SET error = excluded.error, told_at = excluded.told_at,"
                       " ended_at = NULL WHERE kiosk_config_refusal.ended_at IS NOT NULL"
                       " OR kiosk_config_refusal.error <> excluded.error", (kiosk_id, refused, at))
    else:
        sql, params = (f"UPDATE kiosk_config_refusal SET ended_at = {p} WHERE kiosk_id = {p} AND ended_at IS NULL",
                       (at, kiosk_id))
    return db.execute_sql(sql, params).rowcount == 1


def watch(db: Database, now: datetime) -> Told:
    """One look at the fleet: make each step of `plan`, with its claim, and queue what it tells."""
    unreadable: list[tuple[str, str]] = []
    kiosks = fleet(db, now, unreadable=unreadable)
    told = Told(unreadable=[site for site, _why in unreadable])
    for site, why in unreadable:
        if site == HOLIDAYS_SETTING:
            log.error("the chain's holidays left out of the look: %s", why)
        else:
            log.error("kiosks of site %s not watched: %s", site, why)
    # A site left out is not a site whose kiosks went away: the flags of its kiosks stay as they
    # are (one moved from it to a readable site is there, and starts afresh).
    present = {k["kiosk_id"] for k in kiosks}
    current = {kid: f for kid, f in flags(db).items() if kid in present or f.site_id not in told.unreadable}
    steps = plan(current, kiosks, now)
    for step in steps:
        if _for_admins(step):
            continue                   # below, after the steps that make their rows what they decided on
        with db.atomic():
            if not claim(db, step, now):
                continue
            if step.op == "tell":
                told.flagged += 1
                notices.kiosk_flagged(db, step.kiosk, now)
            elif step.op == "recover":
                told.recovered += 1
                notices.kiosk_recovered(db, step.kiosk, step.flag.told_kind, step.flag.seen_since, now)
            elif step.op == "await":
                told.awaited += 1
                notices.kiosk_awaited(db, step.kiosk, step.flag.told_kind, step.flag.seen_since, now)
    grouped: dict[str, list[dict[str, Any]]] = {}
    with db.atomic():                  # the admins' steps, claimed with their one notice per kind
        for step in filter(_for_admins, steps):
            if claim(db, step, now):
                grouped.setdefault(_admin_event(step), []).append(step.kiosk)
        by_id = {k["kiosk_id"]: k for k in kiosks}
        for kid, what in twin_plan(_twins(db), kiosks, now):
            if _claim_twin(db, kid, what, now) and what != "quiet":
                grouped.setdefault("fleet.twin" if what == "tell" else "fleet.twin_ended", []).append(by_id[kid])
        for kid, what, refused in refusal_plan(_refusals(db), kiosks):
            if _claim_refusal(db, kid, what, refused, now) and what != "quiet":
                grouped.setdefault("fleet.config" if what == "tell" else "fleet.config_ended", []).append(by_id[kid])
        for event, kiosks_told in grouped.items():
            if kiosks_told:
                notices.fleet_notice(db, event, kiosks_told, now)
                told.to_admins.append(event)
    return told
