"""The one migration runner (server_sync/program/migrations.py) with both ledgers: the kiosk's
`PRAGMA user_version` and the centre's `schema_migration`. Each migration once, in order, in the
ledger's transaction; a failed one leaves nothing of itself recorded; a newer store is refused
where asked."""

from __future__ import annotations

import pytest
from peewee import SqliteDatabase

from kiosk.migrations import UserVersion
from server_sync.central.migrations import SchemaMigration
from server_sync.program.migrations import Migration, SchemaTooNew, migrate


def _ledgers(db):
    return {"kiosk": UserVersion(db), "centre": SchemaMigration(db)}


@pytest.fixture(params=["kiosk", "centre"])
def ledger(request, tmp_path):
    db = SqliteDatabase(str(tmp_path / "store.db"))
    db.connect()
    yield _ledgers(db)[request.param]
    db.close()


def _steps(db, log):
    def step(n):
        return Migration(n, f"m{n}", lambda: (log.append(n), db.execute_sql(f"CREATE TABLE t{n} (x INTEGER)")))
    return step


def test_applies_each_once_in_order(ledger):
    log = []
    step = _steps(ledger.db, log)
    assert migrate(ledger, [step(2), step(1)]) == 2
    assert migrate(ledger, [step(1), step(2), step(3)]) == 3
    assert log == [1, 2, 3]


def test_a_failing_migration_is_not_recorded_and_stops_the_run(ledger):
    log = []
    step = _steps(ledger.db, log)

    def broken():
        ledger.db.execute_sql("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        migrate(ledger, [step(1), Migration(2, "broken", broken), step(3)])
    assert ledger.newest() == 1 and log == [1]
    assert "half" not in ledger.db.get_tables()                   # rolled back with its transaction
    assert migrate(ledger, [step(1), step(2), step(3)]) == 3 and log == [1, 2, 3]


def test_a_store_newer_than_the_software_is_refused_before_any_change(ledger):
    log = []
    step = _steps(ledger.db, log)
    migrate(ledger, [step(1), step(2)])
    with pytest.raises(SchemaTooNew, match="schema 2 is newer than this software \\(1\\)"):
        migrate(ledger, [step(1)], refuse_newer=True)
    assert migrate(ledger, [step(1)]) == 2                         # the centre's way: carry on


def test_numbers_must_be_unique(ledger):
    step = _steps(ledger.db, [])
    with pytest.raises(RuntimeError, match="unique"):
        migrate(ledger, [step(1), step(1)])


def test_a_migrated_store_is_opened_without_taking_the_write_lock(ledger, tmp_path):
    """Opening a store that is up to date must not wait for (or block) its writers: with another
    connection holding SQLite's write lock, migrating again returns at once."""
    step = _steps(ledger.db, [])
    migrate(ledger, [step(1), step(2)])
    other = SqliteDatabase(str(tmp_path / "store.db"), pragmas={"busy_timeout": 0})
    with other.atomic("IMMEDIATE"):
        other.execute_sql("CREATE TABLE busy (x INTEGER)")
        assert migrate(ledger, [step(1), step(2)]) == 2
    other.close()
