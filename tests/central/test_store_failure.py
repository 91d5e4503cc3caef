"""central.dialect.store_failure on the chains of errors peewee really raises: the driver's error is
not always right beneath peewee's. A connection peewee opens by itself inside a query (autoconnect)
fails inside a second wrapper; a COMMIT that SQLite failed (SQLITE_FULL) is hidden under the
"cannot rollback" of the rollback that follows. Each was called a bug (None): a traceback, and in
the web app a 500 instead of "the database is unavailable"."""

from __future__ import annotations

import sqlite3

import peewee
import pytest

from server_sync.central.dialect import store_failure
from tests.fixtures.broker import free_tcp_port


def _chain(*errors: BaseException) -> BaseException:
    """`errors[-1]` as raised while handling `errors[-2]`, raised while handling … `errors[0]`."""
    def raise_from(i: int) -> None:
        if i == 0:
            raise errors[0]
        try:
            raise_from(i - 1)
        except BaseException:
            raise errors[i]
    try:
        raise_from(len(errors) - 1)
    except BaseException as e:
        return e
    raise AssertionError("unreachable")


def _sqlite_error(message: str, name: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorname = name            # as the sqlite3 module sets it
    return error


def _wrapped(driver: BaseException) -> peewee.OperationalError:
    return peewee.OperationalError(driver, *driver.args)       # as peewee's exception wrapper does


def test_a_connection_peewee_opens_inside_a_query_and_cannot_is_a_store_failure():
    """No server on the port: peewee's autoconnect fails inside the query's own wrapper, and the
    psycopg error is two levels down."""
    db = peewee.PostgresqlDatabase("x", host="127.0.0.1", port=free_tcp_port(), user="nobody", prefer_psycopg3=True)
    with pytest.raises(peewee.OperationalError) as refused:
        db.execute_sql("SELECT 1")
    assert isinstance(refused.value.__context__, peewee.OperationalError)     # what was called a bug
    said = str(store_failure(refused.value))
    assert said.startswith("the central database failed while the command ran: connection failed:"), said


def test_a_sqlite_store_that_fills_up_is_said_so_not_hidden_by_the_failed_rollback(tmp_path):
    """SQLite rolls a transaction back itself on SQLITE_FULL; peewee's ROLLBACK after it then fails
    with "cannot rollback - no transaction is active" (SQLITE_ERROR), the error raised, with the
    full disk beneath it."""
    db = peewee.SqliteDatabase(str(tmp_path / "c.db"), pragmas={"journal_mode": "wal"})
    db.execute_sql("CREATE TABLE t (x BLOB)")
    db.execute_sql("PRAGMA max_page_count = 20")          # a disk with room for 20 pages
    with pytest.raises(peewee.OperationalError) as full:
        with db.atomic():
            for _ in range(100):
                db.execute_sql("INSERT INTO t VALUES (randomblob(4000))")
    db.close()
    assert "cannot rollback" in str(full.value)
    assert str(store_failure(full.value)) == ("the central store failed: database or disk is full: free space on its"
                                              " disk")


def test_the_error_of_a_failed_commit_is_found_under_the_rollback_after_it():
    """The same on a COMMIT (a full disk met when the WAL is written), built as peewee raises it."""
    full = _sqlite_error("database or disk is full", "SQLITE_FULL")
    rollback = _sqlite_error("cannot rollback - no transaction is active", "SQLITE_ERROR")
    error = _chain(full, _wrapped(full), rollback, _wrapped(rollback))
    assert "free space on its disk" in str(store_failure(error))
    locked = _sqlite_error("database is locked", "SQLITE_BUSY")
    assert "held it locked for more than 3 s" in str(store_failure(_chain(locked, _wrapped(locked)), 3000))


def test_a_bug_stays_a_bug_wherever_it_is_in_the_chain():
    """The first driver's error decides (a rollback's "no transaction" aside): a statement that is
    wrong is a bug even when a store failure was being handled beneath it, and a peewee error
    without a driver's beneath it (a misuse of peewee) is one too."""
    gone = _sqlite_error("disk I/O error", "SQLITE_IOERR")
    wrong = _sqlite_error("no such table: nope", "SQLITE_ERROR")
    assert store_failure(_chain(gone, _wrapped(gone), wrong, _wrapped(wrong))) is None
    assert store_failure(_chain(gone, _wrapped(gone))) is not None
    assert store_failure(peewee.OperationalError("Attempting to close database while transaction is open.")) is None
    assert store_failure(_chain(gone, _wrapped(gone), RuntimeError("a bug in a handler"))) is None


def test_a_driver_error_raised_as_it_is_counts_and_a_chain_with_a_cycle_ends():
    """psycopg's own error reaches the caller unwrapped where the centre uses its cursor directly
    (dialect.fetch_numbers, COPY); an exception chain that loops back on itself ends the walk."""
    import psycopg
    closed = psycopg.OperationalError("the connection is closed")
    assert "the connection is closed" in str(store_failure(closed))
    assert "the connection is closed" in str(store_failure(_chain(closed, _wrapped(closed))))
    a, b = peewee.OperationalError("a"), peewee.OperationalError("b")
    a.__context__, b.__context__ = b, a
    assert store_failure(a) is None


def test_a_service_attempt_at_a_silent_server_ends_within_its_bound():
    """A PostgreSQL host gone from the network (its packets dropped; here a port that takes the
    connection and never answers): a service's reconnect waited without end (libpq has no
    connect_timeout by default), past the ingest's systemd watchdog. `limit_waits` bounds it,
    unless the URL sets its own."""
    import socket
    import threading
    import time

    from server_sync.central.db import DATABASE_DOWN, database_from_url, limit_waits, reconnect

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)                         # the kernel completes the handshake; nobody speaks
    try:
        db = database_from_url(f"postgresql://kundpuls@127.0.0.1:{silent.getsockname()[1]}/central")
        limit_waits(db, 1.0)
        outcome: list = []
        began = time.monotonic()
        attempt = threading.Thread(target=lambda: outcome.append(reconnect(db)), daemon=True)
        attempt.start()
        attempt.join(20)
        took = time.monotonic() - began
        assert outcome, "the attempt still waits after 20 s"
        assert isinstance(outcome[0], DATABASE_DOWN) and took < 6, (outcome, took)
        assert db.connect_params["tcp_user_timeout"] == 1000
        own = database_from_url("postgresql://kundpuls@127.0.0.1:5432/central?connect_timeout=30")
        limit_waits(own, 1.0)
        assert str(own.connect_params["connect_timeout"]) == "30"
    finally:
        silent.close()
