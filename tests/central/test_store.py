"""The central store on both engines: migrations apply once (also when several processes start
at the same moment), and rollups upsert and retract."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from datetime import datetime

import pytest

from server_sync.central import registry, rollups
from server_sync.central.db import connect, database_from_url
from server_sync.central.dialect import check_lower, reading_transaction
from server_sync.central.migrations import available, migrate


def test_migrate_is_idempotent(central_db):
    newest = available()[-1][0]
    assert migrate(central_db) == newest
    assert migrate(central_db) == newest
    rows = central_db.execute_sql("SELECT number FROM schema_migration ORDER BY number").fetchall()
    assert [r[0] for r in rows] == [n for n, _ in available()]


def _connect_in_child(url: str, queue) -> None:
    try:
        db = connect(url)
        queue.put(("ok", migrate(db)))
        db.close()
    except Exception as e:  # report, so the parent can show what went wrong
        queue.put(("error", repr(e)))


def test_concurrent_migrate_is_safe(central_url):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_connect_in_child, args=(central_url, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    newest = available()[-1][0]
    assert results == [("ok", newest)] * 4
    db = connect(central_url)
    try:
        rows = db.execute_sql("SELECT number, COUNT(*) FROM schema_migration GROUP BY number").fetchall()
        assert sorted(rows) == [(n, 1) for n, _ in available()]
    finally:
        db.close()


def _row(value: int, at: datetime, filtered=None) -> dict:
    return {"site_id": "s1", "kiosk_id": "k1", "question_id": "visit", "audience": "customer",
            "scale": "smiley4", "value": value, "recorded_at": at, "filtered": filtered}


def test_a_store_a_newer_centre_migrated_is_refused_untouched(central_url, capsys):
    """A migration number beyond this software's: the store is refused before anything is done
    to it (it was used as it was: a review)."""
    from server_sync.cli import main
    from server_sync.exc import CentralConfigError
    db = connect(central_url)
    newest = available()[-1][0]
    db.execute_sql(f"INSERT INTO schema_migration (number, name, applied_at) VALUES ({newest + 44}, 'm_future',"
                   " CURRENT_TIMESTAMP)")
    db.close()
    with pytest.raises(CentralConfigError, match=f"database schema {newest + 44} is newer than this software"
                                                 f" \\({newest}\\): a newer kiosk-central upgraded it"):
        connect(central_url)
    assert main(["--db", central_url, "site", "list"]) == 2
    assert "upgrade this one" in capsys.readouterr().err


def test_a_transaction_that_reads_then_writes_waits_for_another_writer_on_sqlite(tmp_path):
    """A transaction that reads and then writes while another connection commits in between: a
    deferred one (SQLite's default) failed at once with "database is locked", as `config push` did
    beside a running ingestor; the centre's take the write lock at BEGIN, so the other waits."""
    url = f"sqlite:///{tmp_path / 'central.db'}"
    connect(url).close()                                        # migrated
    mine, other = database_from_url(url), database_from_url(url)
    failed: list[Exception] = []

    def other_writes() -> None:
        try:
            registry.add_site(other, "s2", "S2", "UTC", datetime(2026, 1, 1))
        except Exception as e:              # reported to the test, not lost in the thread
            failed.append(e)

    with mine.atomic():
        mine.execute_sql("SELECT COUNT(*) FROM site").fetchone()
        writer = threading.Thread(target=other_writes)
        writer.start()
        writer.join(0.5)                                         # it waits for this transaction
        registry.add_site(mine, "s1", "S1", "UTC", datetime(2026, 1, 1))
    writer.join()
    assert failed == []
    assert [r[0] for r in mine.execute_sql("SELECT id FROM site ORDER BY id").fetchall()] == ["s1", "s2"]
    mine.close()
    other.close()


def test_a_reading_transaction_and_the_collation_check_take_no_write_lock_on_sqlite(tmp_path):
    """A dry run's counts (reading_transaction) leave the write lock to others, and so does the
    check of the collation `serve` and `erase` make at start: in a transaction of its own it
    waited for a store another process held and said "does not put ÅÄÖÆØ in lower case: (database
    is locked)" once every transaction began IMMEDIATE (a review)."""
    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = connect(url)
    other = sqlite3.connect(tmp_path / "central.db", timeout=0.1, isolation_level=None)
    with reading_transaction(db):
        db.execute_sql("SELECT COUNT(*) FROM site").fetchone()
        other.execute("BEGIN IMMEDIATE")                 # would raise "database is locked"
        other.execute("ROLLBACK")
    other.execute("BEGIN IMMEDIATE")
    try:
        check_lower(db)                                  # reads only: WAL lets it past the writer
    finally:
        other.execute("ROLLBACK")
        other.close()
    db.close()


def test_rollup_apply_upserts_and_retracts(central_db):
    registry.add_site(central_db, "s1", "Store 1", "Europe/Stockholm", datetime(2026, 1, 1))
    registry.add_kiosk(central_db, "k1", "s1", datetime(2026, 1, 1))
    t = datetime(2026, 11, 23, 22, 30)          # 23:30 Stockholm, still Monday locally
    with central_db.atomic():
        assert rollups.apply(central_db, [_row(4, t), _row(4, t), _row(1, t), _row(1, t, "repeat")]) == 2
    with central_db.atomic():
        rollups.apply(central_db, [_row(4, t)])
    got = central_db.execute_sql(
        "SELECT value, n, hour, local_date, local_hour, weekday FROM rollup_hourly ORDER BY value").fetchall()
    assert [(v, n) for v, n, *_ in got] == [(1, 1), (4, 3)]
    hour, local_date, local_hour, weekday = got[0][2:]
    assert str(hour).startswith("2026-11-23 22:00") and local_date == "2026-11-23"
    assert (local_hour, weekday) == (23, 0)
    with central_db.atomic():
        rollups.apply(central_db, [_row(1, t)], sign=-1)
    got = central_db.execute_sql("SELECT value, n FROM rollup_hourly ORDER BY value").fetchall()
    assert got == [(4, 3)]


def test_rollup_buckets_of_two_scales_of_one_question_stay_apart(central_db):
    """rollup_hourly's key holds the scale (m0020, issue 12): two versions of a question on
    different scales are two series, never one bucket."""
    registry.add_site(central_db, "s1", "Store 1", "Europe/Stockholm", datetime(2026, 1, 1))
    t = datetime(2026, 11, 23, 10, 5)
    with central_db.atomic():
        rollups.apply(central_db, [_row(4, t), dict(_row(4, t), scale="smiley5"), _row(4, t)])
    got = central_db.execute_sql("SELECT value, scale, n FROM rollup_hourly ORDER BY scale").fetchall()
    assert got == [(4, "smiley4", 2), (4, "smiley5", 1)]


def test_retracting_the_last_answer_of_a_bucket_deletes_just_that_bucket(central_db):
    registry.add_site(central_db, "s1", "Store 1", "Europe/Stockholm", datetime(2026, 1, 1))
    t = datetime(2026, 11, 23, 10, 5)
    with central_db.atomic():
        rollups.apply(central_db, [_row(4, t), _row(2, t)])
        # A row left at zero by something else is not this call's business (and stays).
        central_db.execute_sql("INSERT INTO rollup_hourly (site_id, kiosk_id, question_id, audience, scale, value,"
                               " hour, local_date, local_hour, weekday, n) VALUES ('s1', 'k9', 'visit', 'customer',"
                               " 'smiley4', 3, '2026-11-20 10:00:00', '2026-11-20', 11, 4, 0)")
    with central_db.atomic():
        rollups.apply(central_db, [_row(2, t)], sign=-1)
    got = central_db.execute_sql("SELECT kiosk_id, value, n FROM rollup_hourly ORDER BY value").fetchall()
    assert got == [("k9", 3, 0), ("k1", 4, 1)]


@pytest.mark.parametrize("values", [["a", "c"], ["a,b", "c"], ["zz"]])
def test_in_list_selects_exactly_the_given_keys(central_db, values):
    from server_sync.central.dialect import in_list
    where, params = in_list(central_db, "x", values)
    rows = central_db.execute_sql("SELECT x FROM (SELECT 'a' AS x UNION ALL SELECT 'a,b' UNION ALL SELECT 'b'"
                                  f" UNION ALL SELECT 'c') v WHERE {where} ORDER BY x", params).fetchall()
    assert [r[0] for r in rows] == sorted(v for v in values if v in ("a", "a,b", "b", "c"))
