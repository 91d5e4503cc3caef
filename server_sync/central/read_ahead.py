"""Reads done ahead, on a connection of their own, while the caller computes.

The chain report is half waiting for its database (its queries: ~0.3 s of PostgreSQL's ~1.2 s
over the benchmark chain) and half Python working on what came back. Its later sections' reads do
not depend on the earlier sections' results, so one thread runs them in order on its own
connection while the report's own thread computes: the database's work and the wire (during
which both drivers let go of the GIL) overlap with the Python work.

Where another connection would not see what the caller sees, the reads run in the caller's
thread when asked for, as plain calls: an in-memory SQLite database (each connection has its
own) and a caller inside a transaction (its uncommitted rows are its own).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from peewee import Database

from server_sync.central.dialect import shared_between_connections


class ReadAhead:
    """`reads` ({name: function of no arguments}) started in order on one thread with its own
    connection; `get(name)` waits for that one and returns its result (or raises its error).
    `close()` waits for the thread; every read not yet asked for is still done first."""

    def __init__(self, db: Database, reads: dict[str, Callable[[], Any]]) -> None:
        self._db = db
        self._reads = dict(reads)
        self._done = {name: threading.Event() for name in reads}
        self._results: dict[str, tuple[bool, Any]] = {}
        self._thread: threading.Thread | None = None
        if reads and shared_between_connections(db) and not db.in_transaction():
            self._thread = threading.Thread(target=self._run, name="report-read-ahead", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            with self._db.connection_context():          # this thread's own connection, closed after
                for name, read in self._reads.items():
                    self._call(name, read)
        except BaseException as e:                        # the connection failed: every read not done says so
            for name in self._reads:
                self._results.setdefault(name, (False, e))
        finally:
            for event in self._done.values():
                event.set()

    def _call(self, name: str, read: Callable[[], Any]) -> None:
        try:
            self._results[name] = (True, read())
        except BaseException as e:                        # handed to the caller by get()
            self._results[name] = (False, e)
        self._done[name].set()

    def get(self, name: str) -> Any:
        if self._thread is None:
            if name not in self._results:
                self._call(name, self._reads[name])
        else:
            self._done[name].wait()
        ok, value = self._results.pop(name)
        if not ok:
            raise value
        return value

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> "ReadAhead":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
