"""The sites a kiosk stood at before its current one, and which answers they still cover.

A kiosk moved to another store (`kiosk-central kiosk move`, `provision.sh --site` on the kiosk)
often still holds answers recorded at the old one: it was offline for its last hour there, or
carried over unplugged. Those answers name the old site, truly, and are counted there. So each
move keeps the stay it ends (`kiosk_site_history`, m0047), and ingest takes an answer naming a
former site if the kiosk was registered there when the answer was recorded; an answer naming a
site the kiosk never stood at, or recorded well outside its stay there, is refused as before.
When an answer was recorded is its best known time: a clock that had not synced is corrected from
a synced event of the same boot or the anchor its batch names for the boot (`intake`); with
neither (a kiosk from before anchors, a boot that never synced), the answer may be from any of
its stays.

The kiosk's clock and the moment of the move at the centre are both a little uncertain (the
move is often typed before or after the kiosk is carried over), so a stay covers `MARGIN` more
on either side: the slack ingest already allows a kiosk's clock (`FUTURE_SLACK`, a day). Times
are the kiosk's own (`recorded_at`), naive UTC, as the store keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable, Sequence

from peewee import Database

from server_sync.central.dialect import placeholders, time_param
from server_sync.central.event_rows import as_datetime
from server_sync.protocol import FUTURE_SLACK, ResponseEvent
from server_sync.protocol.errors import KIOSK_RETRY

MARGIN: timedelta = FUTURE_SLACK


@dataclass(frozen=True)
class Stay:
    """A former registration: at `site_id` from `moved_in_at` (None: its first site, where it may
    have recorded before it was registered) until `moved_out_at`."""
    site_id: str
    moved_in_at: datetime | None
    moved_out_at: datetime

    def covers(self, at: datetime) -> bool:
        """An answer recorded at `at` (naive UTC) may have been recorded during this stay."""
        return (self.moved_in_at is None or at >= self.moved_in_at - MARGIN) and at <= self.moved_out_at + MARGIN


def record_move(db: Database, kiosk_id: str, left_site: str, at: datetime) -> None:
    """Keep the stay at `left_site` that a move at `at` (naive UTC) ends; call inside the move's
    transaction. It began with the kiosk's previous move (none: its first site)."""
    came = last_move(db, kiosk_id)
    ts = time_param(db)
    db.execute_sql(f"INSERT INTO kiosk_site_history (kiosk_id, site_id, moved_in_at, moved_out_at)"
                   f" VALUES ({placeholders(db, 4)})",
                   (kiosk_id, left_site, None if came is None else ts(came), ts(at)))


def last_move(db: Database, kiosk_id: str) -> datetime | None:
    """When the kiosk was last moved (naive UTC); None: never."""
    came = db.execute_sql(f"SELECT MAX(moved_out_at) FROM kiosk_site_history WHERE kiosk_id = {db.param}",
                          (kiosk_id,)).fetchone()[0]
    return None if came is None else as_datetime(came)


def date_last_move(db: Database, kiosk_id: str, at: datetime) -> None:
    """Date the kiosk's last move `at` (naive UTC): the stay it ended ends then. Call inside a
    transaction."""
    p = db.param
    db.execute_sql(f"UPDATE kiosk_site_history SET moved_out_at = {p} WHERE kiosk_id = {p} AND moved_out_at ="
                   f" (SELECT MAX(moved_out_at) FROM kiosk_site_history WHERE kiosk_id = {p})",
                   (time_param(db)(at), kiosk_id, kiosk_id))


def stays(db: Database, kiosk_id: str) -> list[Stay]:
    """The kiosk's former registrations, oldest first."""
    return [Stay(site, None if came is None else as_datetime(came), as_datetime(left))
            for site, came, left in db.execute_sql(
                f"SELECT site_id, moved_in_at, moved_out_at FROM kiosk_site_history WHERE kiosk_id = {db.param}"
                " ORDER BY moved_out_at", (kiosk_id,)).fetchall()]


def may_have_stood_at(site_id: str, current: str, former: Sequence[Stay], at: datetime | None) -> bool:
    """A kiosk registered at `current` with the `former` stays may have stood at `site_id` when it
    recorded something at `at` (naive UTC): a former stay there covers it, or it is the current
    site and `at` is not well before the kiosk came there (its last move). `at` None (an unsynced
    clock's time, which says nothing of when): any site it has stood at."""
    if at is None:
        return site_id == current or any(s.site_id == site_id for s in former)
    if any(s.site_id == site_id and s.covers(at) for s in former):
        return True
    came = max((s.moved_out_at for s in former), default=None)
    return site_id == current and (came is None or at >= came - MARGIN)


def elsewhere(db: Database, kiosk_id: str, site_id: str, answers: Iterable[ResponseEvent],
              when: Callable[[ResponseEvent], datetime | None]) -> tuple[list[ResponseEvent], list[Stay]]:
    """Of `answers`, those naming neither the kiosk's registered site `site_id` nor a site it
    was registered at when they were recorded; and its former stays (read only if some answer
    names another site: the common batch costs no statement). `when`: an answer's best known
    time (naive UTC: its synced clock's, or its unsynced clock's corrected from a synced event
    of the same boot), None when nothing tells (`may_have_stood_at`)."""
    others = [e for e in answers if e.site_id != site_id]
    if not others:
        return [], []
    former = stays(db, kiosk_id)
    # An unsynced clock's own reading says nothing of when (a Pi without its saved time reads
    # 1970, which every first stay would cover): never judged by. Its boot's anchor tells; without
    # one, an answer naming a site the kiosk stood at is taken for it (a kiosk rebooted offline at
    # the old store and carried over records exactly these), one naming another is refused.
    return [e for e in others if not may_have_stood_at(e.site_id, site_id, former, when(e))], former


def refusal(kiosk_id: str, registered: str, named: str, former: Sequence[Stay], at: datetime | None) -> str:
    """Why an answer of the kiosk naming site `named`, recorded at `at` (its best known time, naive
    UTC), is refused (`elsewhere`), and what puts it right. The same for every such answer of a
    stay (no time of its own), so a kiosk holding many shows one reason."""
    text = f"site_id {named!r} is not the registered site {registered!r} of kiosk {kiosk_id!r}"
    left = [s.moved_out_at for s in former if s.site_id == named]
    if not left:
        return f"{text} (fix kiosk.site, or the registration, then {KIOSK_RETRY})"
    text += (f", nor was it when the answer was recorded (it was until {max(left):%Y-%m-%d %H:%M} UTC, "
             f"give or take {MARGIN.days} day)")
    if at is not None and former[-1].site_id == named and at > former[-1].moved_out_at:
        # After the kiosk's last move, away from that site: perhaps typed before the kiosk was
        # carried over. Dated when it was, the stay covers the answer.
        return (f"{text} (if it stood at {named} longer, date its move: kiosk-central kiosk move {kiosk_id} "
                f"--site {registered} --at 'YYYY-MM-DD HH:MM'; else fix kiosk.site; then {KIOSK_RETRY})")
    return f"{text} (fix kiosk.site, or the registration, then {KIOSK_RETRY})"
