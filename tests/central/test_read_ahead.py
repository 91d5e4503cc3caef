"""ReadAhead (server_sync.central.read_ahead): the chain report's later reads on a connection of
their own, in order, while the caller computes; plain calls where another connection would not
see what the caller sees."""

from __future__ import annotations

import threading

import pytest

from server_sync.central.db import connect
from server_sync.central.read_ahead import ReadAhead


def _store(tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    db.execute_sql("CREATE TABLE probe (v INTEGER)")
    db.execute_sql("INSERT INTO probe VALUES (1), (2)")
    return db


def _read(db, seen):
    def read():
        seen.append(threading.current_thread().name)
        return [v for (v,) in db.execute_sql("SELECT v FROM probe ORDER BY v")]
    return read


def test_reads_run_on_their_own_thread_and_connection_in_order(tmp_path):
    db = _store(tmp_path)
    seen: list[str] = []
    with ReadAhead(db, {"a": _read(db, seen), "b": lambda: seen.append("b") or 7}) as reads:
        assert reads.get("b") == 7 and reads.get("a") == [1, 2]
    assert seen == ["report-read-ahead", "b"]
    # The thread's connection is closed with it; the caller's own is untouched and still works.
    assert db.execute_sql("SELECT COUNT(*) FROM probe").fetchone() == (2,)


def test_inside_a_transaction_the_reads_are_plain_calls_that_see_its_rows(tmp_path):
    db = _store(tmp_path)
    seen: list[str] = []
    with db.atomic():
        db.execute_sql("INSERT INTO probe VALUES (3)")            # not committed: only this connection sees it
        with ReadAhead(db, {"a": _read(db, seen)}) as reads:
            assert reads.get("a") == [1, 2, 3]
    assert seen == [threading.current_thread().name]


def test_an_in_memory_store_is_read_in_the_callers_thread():
    db = connect("sqlite:///:memory:")
    db.execute_sql("CREATE TABLE probe (v INTEGER)")
    db.execute_sql("INSERT INTO probe VALUES (5)")
    seen: list[str] = []
    with ReadAhead(db, {"a": _read(db, seen)}) as reads:
        assert reads.get("a") == [5]
    assert seen == [threading.current_thread().name]


def test_a_failed_read_raises_its_own_error_in_the_caller_and_the_others_still_run(tmp_path):
    db = _store(tmp_path)

    def broken():
        db.execute_sql("SELECT v FROM nowhere")
    with ReadAhead(db, {"broken": broken, "a": _read(db, [])}) as reads:
        with pytest.raises(Exception, match="nowhere"):
            reads.get("broken")
        assert reads.get("a") == [1, 2]


def test_a_connection_that_cannot_open_fails_every_read(tmp_path, monkeypatch):
    db = _store(tmp_path)

    class Refused(Exception):
        pass

    def refuse():
        raise Refused("no connection")
    monkeypatch.setattr(db, "connection_context", refuse)
    with ReadAhead(db, {"a": lambda: 1, "b": lambda: 2}) as reads:
        for name in ("a", "b"):
            with pytest.raises(Refused):
                reads.get(name)
