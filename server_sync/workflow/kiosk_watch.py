"""Telling people when a kiosk needs a person, and when the centre hears no kiosk at all.

The notify worker looks at the fleet every few minutes (`watch`). For each kiosk whose flag
(`analysis.fleet`: silent in opening hours, never seen, card nearly full, answers held, answers
not reaching the centre) appeared, changed or cleared since the last look, it queues a notice:
`kiosk.flagged` or `kiosk.recovered`, to every webhook and by mail to the site's store manager.
The recovery is told too, so nobody drives to a store for a kiosk that came back by itself.

Silence is judged only while the centre hears the fleet. When ingest or the broker is down, every
kiosk falls silent at once, and a store manager can do nothing about it. So while no kiosk has
been heard for `CENTRE_QUIET` and at least `DEAF_AT` kiosks of open stores are expected, the
centre is *deaf*: one `centre.deaf` notice goes to the webhooks and the admins, and no kiosk's
silence is announced. When the kiosks are heard again, `centre.hearing` follows. Silence is judged
again `CENTRE_QUIET` after the centre started hearing, by when every live kiosk has reported.

What was last told is kept in the store: a `kiosk_flag` row per kiosk whose flag was announced,
and the centre's hearing in the `fleet_hearing` setting. Each change is claimed by a conditional
write in the transaction that queues its notices, so two workers at once tell it once. A
deactivated kiosk's flag goes quietly. The decisions (`changes`, `hearing`) are pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from peewee import Database

from server_sync.analysis.fleet import fleet
from server_sync.central.setting import get_setting
from server_sync.workflow import notices

CENTRE_QUIET = timedelta(minutes=30)   # no status from any kiosk this long: the centre may be deaf
DEAF_AT = 3                            # kiosks of open stores that must have gone quiet for that
HEARING_SETTING = "fleet_hearing"
SILENCE = ("never", "silent")          # the flags the centre's own deafness would raise


@dataclass(frozen=True)
class Change:
    """A kiosk whose flag differs from the one last told: `before` (None: none was told) and
    `after` (None: well again, deactivated or no longer registered). `kiosk` is its fleet row."""
    kiosk_id: str
    before: str | None
    after: str | None
    kiosk: dict[str, Any] | None

    @property
    def told(self) -> bool:
        """Whether people hear of it: not of a kiosk that was deactivated or removed."""
        return self.kiosk is not None and self.kiosk["active"]


def changes(announced: Mapping[str, str], kiosks: Iterable[dict[str, Any]]) -> list[Change]:
    """The kiosks whose flag now (fleet rows) is not the one `announced` (kiosk → kind)."""
    out, seen = [], set()
    for k in kiosks:
        seen.add(k["kiosk_id"])
        now = k["flag_kind"] if k["active"] else None
        before = announced.get(k["kiosk_id"])
        if now != before:
            out.append(Change(k["kiosk_id"], before, now, k))
    out += [Change(kiosk, kind, None, None) for kiosk, kind in announced.items() if kiosk not in seen]
    return out


@dataclass(frozen=True)
class Hearing:
    """Whether the centre hears the fleet: `hearing` since it started to, `quiet` (nobody heard,
    but too few kiosks expected to tell: a night, a small chain) or `deaf` (nobody heard while
    stores are open), each since when."""
    state: str
    since: datetime

    def stored(self) -> str:
        return f"{self.state} {self.since.astimezone(timezone.utc).isoformat()}"

    @classmethod
    def read(cls, text: str | None) -> "Hearing | None":
        """The stored value; None for none, or one that cannot be read (then the centre starts
        hearing afresh, which only delays the silence notices by `CENTRE_QUIET`)."""
        state, _, since = (text or "").partition(" ")
        try:
            at = datetime.fromisoformat(since)
        except ValueError:
            return None
        return cls(state, at if at.tzinfo else at.replace(tzinfo=timezone.utc)) if state in (
            "hearing", "quiet", "deaf") else None

    def judges_silence(self, now: datetime) -> bool:
        """Whether a kiosk's silence is its own: the centre has heard the fleet long enough for
        every live kiosk to have reported."""
        return self.state == "hearing" and now - self.since >= CENTRE_QUIET


def _utc(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def hearing(previous: Hearing | None, kiosks: Iterable[dict[str, Any]], now: datetime) -> Hearing:
    """The centre's hearing after `previous`, from the fleet rows. Deaf stays deaf until a kiosk
    is heard (a store closing meanwhile does not end it)."""
    seen = [k for k in kiosks if k["active"] and k["last_seen"]]
    latest = max((_utc(k["last_seen"]) for k in seen), default=None)
    if latest is not None and now - latest <= CENTRE_QUIET:
        return previous if previous and previous.state == "hearing" else Hearing("hearing", now)
    if previous and previous.state == "deaf":
        return previous
    if sum(1 for k in seen if k["open"]) >= DEAF_AT:
        return Hearing("deaf", latest or now)
    return previous if previous and previous.state == "quiet" else Hearing("quiet", latest or now)


def claim_hearing(db: Database, previous: Hearing | None, new: Hearing) -> bool:
    """Store `new` in place of `previous`, in the caller's transaction: False when another worker
    changed it first."""
    p = db.param
    if previous is None:
        return db.execute_sql(f"INSERT INTO central_setting (name, value) VALUES ({p}, {p})"
                              " ON CONFLICT (name) DO NOTHING", (HEARING_SETTING, new.stored())).rowcount == 1
    return db.execute_sql(f"UPDATE central_setting SET value = {p} WHERE name = {p} AND value = {p}",
                          (new.stored(), HEARING_SETTING, previous.stored())).rowcount == 1


def claim(db: Database, change: Change, now: datetime) -> bool:
    """Record `change` as told, in the caller's transaction: False when another worker told it
    first (the row is no longer what `before` says)."""
    p = db.param
    at = now.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    if change.before is None:
        sql = (f"INSERT INTO kiosk_flag (kiosk_id, kind, since) VALUES ({p}, {p}, {p})"
               " ON CONFLICT (kiosk_id) DO NOTHING", (change.kiosk_id, change.after, at))
    elif change.after is None:
        sql = (f"DELETE FROM kiosk_flag WHERE kiosk_id = {p} AND kind = {p}", (change.kiosk_id, change.before))
    else:
        sql = (f"UPDATE kiosk_flag SET kind = {p}, since = {p} WHERE kiosk_id = {p} AND kind = {p}",
               (change.after, at, change.kiosk_id, change.before))
    return db.execute_sql(*sql).rowcount == 1


def announced(db: Database) -> dict[str, tuple[str, Any]]:
    """kiosk → (kind, since) of every flag told and not yet cleared."""
    return {r[0]: (r[1], r[2]) for r in db.execute_sql("SELECT kiosk_id, kind, since FROM kiosk_flag")}


@dataclass
class Told:
    """What one look told: kiosks flagged and recovered, and the centre's change (if any)."""
    flagged: int = 0
    recovered: int = 0
    centre: str | None = None


def watch(db: Database, now: datetime) -> Told:
    """One look at the fleet: queue the notices of what changed since the last, each with its claim."""
    kiosks = fleet(db, now)
    told = Told()
    with db.atomic():
        previous = Hearing.read(get_setting(db, HEARING_SETTING))
        heard = hearing(previous, kiosks, now)
        if heard != previous:
            if claim_hearing(db, previous, heard):
                if heard.state == "deaf" and (previous is None or previous.state != "deaf"):
                    told.centre = "centre.deaf"
                    notices.centre_deaf(db, heard.since, sum(1 for k in kiosks if k["active"] and k["open"]), now)
                elif previous is not None and previous.state == "deaf" and heard.state == "hearing":
                    told.centre = "centre.hearing"
                    notices.centre_hearing(db, previous.since, now)
            else:
                heard = Hearing.read(get_setting(db, HEARING_SETTING)) or heard
    judge_silence = heard.judges_silence(now)
    told_before = announced(db)
    for change in changes({k: kind for k, (kind, _since) in told_before.items()}, kiosks):
        if change.after in SILENCE and not judge_silence:
            continue                    # the centre's deafness, or too soon after it to tell
        with db.atomic():
            if not claim(db, change, now) or not change.told:
                continue
            if change.after is not None:
                told.flagged += 1
                notices.kiosk_flagged(db, change.kiosk, now)
            else:
                told.recovered += 1
                notices.kiosk_recovered(db, change.kiosk, change.before, told_before[change.kiosk_id][1], now)
    return told
