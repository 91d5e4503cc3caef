"""The central store on both engines: migrations apply once (also when several processes start
at the same moment), the models match the schema, and rollups upsert and retract."""

from __future__ import annotations

import multiprocessing
from datetime import datetime

import pytest
from hypothesis import given, settings, strategies as st

from server_sync.central import rollups
from server_sync.central.db import connect
from server_sync.central.migrations import available, migrate
from server_sync.central.models import MODELS, Kiosk, Site


def test_migrate_is_idempotent(central_db):
    newest = available()[-1][0]
    assert migrate(central_db) == newest
    assert migrate(central_db) == newest
    rows = central_db.execute_sql("SELECT number FROM schema_migration ORDER BY number").fetchall()
    assert [r[0] for r in rows] == [n for n, _ in available()]


def test_models_match_schema(central_db):
    # A SELECT of every model's columns fails if a model names a column the migrations lack.
    for model in MODELS:
        list(model.select().limit(1))


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


def test_rollup_apply_upserts_and_retracts(central_db):
    Site.create(id="s1", name="Store 1", timezone="Europe/Stockholm", created_at=datetime(2026, 1, 1))
    Kiosk.create(id="k1", site_id="s1", registered_at=datetime(2026, 1, 1))
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


def test_rollup_bucket_shared_by_two_scales_of_one_question(central_db):
    """rollup_hourly's key has no scale: two versions of a question on different scales land in
    the same bucket, which one multi-row upsert may not touch twice (the rows go one by one)."""
    Site.create(id="s1", name="Store 1", timezone="Europe/Stockholm", created_at=datetime(2026, 1, 1))
    t = datetime(2026, 11, 23, 10, 5)
    with central_db.atomic():
        rollups.apply(central_db, [_row(4, t), dict(_row(4, t), scale="smiley5"), _row(4, t)])
    got = central_db.execute_sql("SELECT value, scale, n FROM rollup_hourly").fetchall()
    assert got == [(4, "smiley4", 3)]               # the first scale written stays, as always


def test_retracting_the_last_answer_of_a_bucket_deletes_just_that_bucket(central_db):
    Site.create(id="s1", name="Store 1", timezone="Europe/Stockholm", created_at=datetime(2026, 1, 1))
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


_cells = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 63, 2 ** 63 - 1), st.floats(allow_nan=False),
                   st.text(alphabet=st.sampled_from("a'\"\\\x00é;-) "), max_size=6), st.binary(max_size=3))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(lambda width: st.lists(
    st.one_of(st.lists(_cells, min_size=width, max_size=width),
              st.just([0] * width)).map(tuple), min_size=1, max_size=6)))
def test_sqlite_constant_columns_store_exactly_what_binding_stores(rows):
    """SQLite's executemany writes a column that is the same in every row as a literal: what
    ends up in the table (value and storage class) is what binding it in every row stores."""
    import sqlite3
    from server_sync.central.dialect import _sqlite_constants
    width = len(rows[0])
    db = sqlite3.connect(":memory:")
    cols = ", ".join(f"c{i}" for i in range(width))
    for table in ("bound", "folded"):
        db.execute(f"CREATE TABLE {table} (n INTEGER PRIMARY KEY, {cols})")
    db.executemany(f"INSERT INTO bound ({cols}) VALUES ({', '.join('?' * width)})", rows)
    values, params = _sqlite_constants(rows)
    db.executemany(f"INSERT INTO folded ({cols}) VALUES ({values})", params)
    read = ", ".join(f"c{i}, typeof(c{i})" for i in range(width))
    assert db.execute(f"SELECT {read} FROM folded ORDER BY n").fetchall() == \
        db.execute(f"SELECT {read} FROM bound ORDER BY n").fetchall()


def test_sqlite_constant_columns_become_literals_only_when_exact():
    from server_sync.central.dialect import _sqlite_constants
    rows = [(i, "it's", None, 7, "é", "a\x00b", True, 1.5, b"x") for i in range(3)]
    values, params = _sqlite_constants(rows)
    assert values == "?, 'it''s', NULL, 7, ?, ?, 1, ?, ?"
    assert params == [(i, "é", "a\x00b", 1.5, b"x") for i in range(3)]
    test_sqlite_constant_columns_store_exactly_what_binding_stores.hypothesis.inner_test(rows)
