"""Answers recorded before the clock synced, put on their right store-local day and hour once it has.

The Recorder stamps each answer's `local_date` and `local_hour` (kiosk-only columns, never on the
wire: the staff view and `kiosk stats` count by them) from the wall clock. A Pi has no RTC: until
NTP syncs it runs on fake-hwclock's time of the last shutdown, so an answer given on Tuesday at
08:55 is counted on Monday at 20:00. Once the clock is synced, the boot's monotonic clock, which
every answer carries too, gives each answer of this boot its true time: now minus the monotonic
time since it (kiosk.retention ages those answers by it the same way). `restamp_unsynced` puts
that boot's unsynced answers on their day and hour, once a boot (meta `RESTAMPED`). An answer
stamped unsynced in an earlier boot keeps its stamp: that boot's monotonic readings say nothing
about now. What goes to the centre (`recorded_at`, `clock_synced`) is not touched: the centre
corrects the time itself, from a synced event of the same boot (docs/central.md, Time correction).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kiosk.store import LocalStore

RESTAMPED = "clock.restamped_boot"     # meta: the boot whose unsynced answers were put right
CHUNK = 100                            # answers per write transaction: a tap waits for one at most
# Only cells as the Recorder writes them: a seq or monotonic_ns the card damaged (text, a BLOB, a
# float, a reading later than the boot's clock now) says nothing of the answer's time, and one of
# them raised here in the sync agent's first turn after the sync, for good (a review). Such an
# answer keeps the day it was stamped with. (boot_id and clock_synced are only compared.)
_SELECT = ("SELECT seq, monotonic_ns FROM response WHERE clock_synced = 0 AND boot_id = ?1 AND seq > ?2"
           " AND typeof(seq) = 'integer' AND typeof(monotonic_ns) = 'integer'"
           " AND monotonic_ns BETWEEN 0 AND ?4 ORDER BY seq LIMIT ?3")


def restamp_unsynced(store: LocalStore, tz_name: str, *, boot_id: str, now: datetime, monotonic_ns: int,
                     chunk: int = CHUNK) -> int:
    """Give the answers stamped before the clock synced in boot `boot_id` (the one running now)
    the store-local date and hour of their true time; `now` is the synced wall time and
    `monotonic_ns` the boot's monotonic clock at that moment. Call only with the clock synced.
    Returns how many answers were put right (0 when this boot's were already)."""
    if store.get_meta(RESTAMPED) == boot_id:
        return 0
    tz = ZoneInfo(tz_name)
    # Wall time at monotonic zero, in whole microseconds (a float of ns since 1970 loses them).
    zero = now - timedelta(microseconds=monotonic_ns // 1000)
    db = store.db
    done, last = 0, 0
    while True:
        with db.atomic("IMMEDIATE"):
            rows = db.execute_sql(_SELECT, (boot_id, last, chunk, monotonic_ns)).fetchall()
            for seq, mono in rows:
                local = (zero + timedelta(microseconds=mono // 1000)).astimezone(tz)
                db.execute_sql("UPDATE response SET local_date = ?, local_hour = ? WHERE seq = ?",
                               (local.date().isoformat(), local.hour, seq))
            if len(rows) < chunk:
                store.set_meta(RESTAMPED, boot_id)
        done += len(rows)
        if len(rows) < chunk:
            return done
        last = rows[-1][0]
