"""A web worker's database connections through an outage: PostgreSQL restarted or a connection of
the worker's killed (pg_terminate_backend), a SQLite file locked beyond the busy timeout, a full
disk.

Each thread of a worker keeps its own connection (peewee's, per thread), and one the server has
dropped stays in its thread, dead: every request that thread served failed, with a 500 and a
traceback, until the service was restarted (a review). Here every piece of work a thread does for
the app (a request, a live-marks poll, a batch of audit events) runs through `Connections.run`. A
store failure (central.dialect.store_failure) closes that thread's connection, and tells the other
threads to close theirs before their next work: what cut one connection (a restart) cut them all,
and each would otherwise fail one request of its own first. The next query connects afresh; the
request that met the failure is answered 503 (guard.server_fault). SQLite's connections do not
die so, but closing one costs only its reopening.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, TypeVar

from peewee import Database
from starlette.concurrency import run_in_threadpool

from server_sync.central.dialect import store_failure

T = TypeVar("T")


class Connections:
    """The connections of one worker's threads to `db`, closed after a store failure."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._failures = 0                  # store failures met so far, by any thread
        self._lock = threading.Lock()
        self._local = threading.local()     # .seen: the failures counted when this thread last worked

    def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in this thread, on a connection opened after the last store failure."""
        failures = self._failures
        if getattr(self._local, "seen", 0) != failures:
            close_connection(self.db)
        self._local.seen = failures
        try:
            return work(*args)
        except Exception as e:
            if store_failure(e) is not None:
                close_connection(self.db)
                with self._lock:
                    self._failures += 1
                    self._local.seen = self._failures
            raise

    async def in_thread(self, work: Callable[..., T], *args: object) -> T:
        """`run` in a thread of the worker's pool (the database calls block)."""
        return await run_in_threadpool(self.run, work, *args)


def close_connection(db: Database) -> None:
    """Close this thread's connection to `db`, whatever its state, so that its next query
    connects again. A dead connection may fail to close; a transaction still open on it (none
    should be, once the work that opened it has ended) is given up with it."""
    with contextlib.suppress(Exception):
        db.close()
    if not db.is_closed():
        db.dispose()            # forgets it; the driver closes it when it is collected
