"""Emptying a SQLite store's write-ahead log once something personal was removed from it (an
erasure, a retention run or pass), on the centre and on the kiosk.

In WAL mode a commit goes to `<db>-wal` first; a checkpoint copies it into the database, but the
file keeps its frames until a write restarts it from the top, and even then only the frames
written over go: the page that held a comment before it was removed, and the pages that held it
since it came in, stay readable there for as long as any connection keeps the store open (the
services always do). `PRAGMA wal_checkpoint(TRUNCATE)` copies what is left into the database and
cuts the file to 0 bytes; it needs every other connection between reads (an idle connection does
not stop it) and no write under way. SQLite holds the write lock while it waits for readers, so a
try here does not wait at all (a tap or an ingest commit would wait with it): a busy try is tried
again later, by the caller. `secure_delete` (set on every connection of both stores) zeroes what a
change frees in the database itself.
"""

from __future__ import annotations

import time
from typing import Any, Callable


def empty_wal(db: Any) -> bool:
    """One try, not waiting for other connections: copy the WAL of `db` (a peewee SqliteDatabase,
    its connection of this thread) into the database and truncate it to 0 bytes. True when done
    or when the store keeps no WAL; False when another connection was reading or writing."""
    (timeout,), = db.execute_sql("PRAGMA busy_timeout").fetchall()
    db.execute_sql("PRAGMA busy_timeout = 0")
    try:
        busy, _frames, _copied = db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        db.execute_sql(f"PRAGMA busy_timeout = {int(timeout)}")
    return not busy


def empty_wal_within(db: Any, seconds: float, *, pause_s: float = 0.1,
                     sleep: Callable[[float], None] = time.sleep,
                     monotonic: Callable[[], float] = time.monotonic) -> bool:
    """`empty_wal` tried every `pause_s` (the others' commits get in between) until it is done or
    `seconds` have passed; whether it was done."""
    deadline = monotonic() + seconds
    while not empty_wal(db):
        if monotonic() >= deadline:
            return False
        sleep(pause_s)
    return True
