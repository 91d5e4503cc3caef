"""What the ingest service says while a group waits for a failing store: one line an attempt,
with the failure it began with (the driver's error under whatever a rollback raised after it),
on real stores: SQLite over its size limit, PostgreSQL stopped."""

from __future__ import annotations

import threading

import pytest

from server_sync.central.db import connect
from server_sync.ingest import BrokerSettings, Ingest, IngestService, _Stopping, make_client
from tests.central.wire import NOW, batch, register_fleet, response
from tests.fixtures.postgres import LocalPostgres, admin_execute, with_database


class StopAfter(threading.Event):
    """A stop event whose waits return at once: `waits` of them not stopped, then stopped."""

    def __init__(self, waits: int) -> None:
        super().__init__()
        self.left = waits

    def wait(self, timeout: float | None = None) -> bool:
        self.left -= 1
        return self.left < 0


class Message:
    """What paho hands the worker, as far as a commit reads it."""

    def __init__(self, topic: str, payload: bytes) -> None:
        self.topic, self.payload, self.retain, self.qos, self.mid = topic, payload, False, 1, 1


def retry_lines(db, caplog, reconnect_db=None) -> list[str]:
    """The log lines of three attempts at committing one batch (the service stopped after)."""
    ingest = Ingest(db, clock=lambda: NOW)
    settings = BrokerSettings("mqtt.example", 8883, tls=False)
    service = IngestService(ingest, make_client(settings), settings, reconnect_db=reconnect_db)
    topic, payload = batch([response(i) for i in range(1, 300)])
    group = [(1, Message(topic, payload), ingest.decode(topic, payload))]
    caplog.set_level("INFO", logger="kundpuls.ingest")
    with pytest.raises(_Stopping):
        service._commit(group, StopAfter(2))
    return [r.getMessage() for r in caplog.records if r.name == "kundpuls.ingest"]


def test_a_full_sqlite_store_is_said_as_full_once_an_attempt(tmp_path, caplog):
    """SQLite rolls the transaction back itself when the disk is full, so peewee's rollback then
    failed, and every retry said 'database unavailable (cannot rollback - no transaction is
    active)'. Here the store may not grow (max_page_count), as on a full disk."""
    db = connect(f"sqlite:///{tmp_path / 'c.db'}")
    register_fleet(db)
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
    db.execute_sql(f"PRAGMA max_page_count = {pages + 2}")
    try:
        lines = retry_lines(db, caplog, reconnect_db=lambda: None)   # the limit is the connection's
    finally:
        db.close()
    assert lines == [f"database unavailable (database or disk is full); 1 message(s) kept, retrying in {s} s"
                     for s in ("0.5", "1.0", "2.0")]


@pytest.mark.postgres
def test_a_stopped_postgresql_is_said_in_one_line_once_an_attempt(caplog):
    """Each attempt logged two ERROR lines with the same text, 'database reconnect failed: …' and
    'database unavailable (…)', each with psycopg's hint on a line of its own (a line of its own
    in the journal too, naming nothing)."""
    server = LocalPostgres()
    try:
        server.start()
        admin_execute(server.url, "CREATE DATABASE down TEMPLATE template0")
        db = connect(with_database(server.url, "down"))
        register_fleet(db)
        server.halt()
        lines = retry_lines(db, caplog)
    finally:
        server.stop()
    assert len(lines) == 3, lines
    assert all(line.startswith("database unavailable (") and "\n" not in line for line in lines), lines
    for line in lines[1:]:
        assert "Connection refused; Is the server running on that host" in line, line
