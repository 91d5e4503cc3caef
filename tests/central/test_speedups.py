"""Every speed trick of the centre (server_sync/central/speedups.py) agrees with its plain
version on random input: what it stores, what it counts."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from server_sync.central import rollups, speedups
from server_sync.central.dialect import POSTGRES
from server_sync.central.event_rows import EXCLUDED, RESPONSE_COLUMNS, R
from server_sync.protocol import iso_ms
from server_sync.protocol.timetext import UNSYNCED_EARLIEST, UNSYNCED_LATEST

_cells = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 63, 2 ** 63 - 1), st.floats(allow_nan=False),
                   st.text(alphabet=st.sampled_from("a'\"\\\x00é;-) "), max_size=6), st.binary(max_size=3))


def _stored_both_ways(rows) -> tuple[list, list]:
    width = len(rows[0])
    db = sqlite3.connect(":memory:")
    cols = ", ".join(f"c{i}" for i in range(width))
    for table in ("plain", "fast"):
        db.execute(f"CREATE TABLE {table} (n INTEGER PRIMARY KEY, {cols})")
    for table, (values, params) in (("plain", speedups.plain_values(rows)),
                                    ("fast", speedups.sqlite_constant_columns(db, rows))):
        db.executemany(f"INSERT INTO {table} ({cols}) VALUES ({values})", params)
    read = ", ".join(f"c{i}, typeof(c{i})" for i in range(width))
    return (db.execute(f"SELECT {read} FROM fast ORDER BY n").fetchall(),
            db.execute(f"SELECT {read} FROM plain ORDER BY n").fetchall())


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(lambda width: st.lists(
    st.one_of(st.lists(_cells, min_size=width, max_size=width),
              st.just([0] * width), st.just(["it's", None, True, -7][:width])).map(tuple), min_size=1, max_size=6)))
def test_sqlite_constant_columns_store_exactly_what_binding_stores(rows):
    """A column that is the same in every row goes in as SQLite's own literal of it: what ends up
    in the table (value and storage class) is what binding it in every row stores."""
    fast, plain = _stored_both_ways(rows)
    assert fast == plain


def test_sqlite_constant_columns_become_literals_only_when_exact():
    db = sqlite3.connect(":memory:")
    rows = [(i, "it's", None, 7, "é", "a\x00b", True, 1.5, b"x") for i in range(3)]
    values, params = speedups.sqlite_constant_columns(db, rows)
    assert values == "?, 'it''s', NULL, 7, 'é', ?, 1, ?, ?"
    assert params == [(i, "a\x00b", 1.5, b"x") for i in range(3)]
    assert _stored_both_ways(rows)[0] == _stored_both_ways(rows)[1]


_START = datetime(2026, 3, 28, 22, 0)
_answers = st.lists(st.fixed_dictionaries({
    "question_id": st.sampled_from(["visit", "recommend"]), "audience": st.sampled_from(["customer", "employee"]),
    "scale": st.sampled_from(["smiley4", "nps11"]), "value": st.integers(0, 10),
    "filtered": st.sampled_from([None, None, "repeat", "burst"]), "excluded": st.sampled_from([None, None, "tryout"]),
    "recorded_at": st.integers(0, 3 * 24 * 3600 * 1000).map(lambda ms: _START + timedelta(milliseconds=ms)),
    "inserted": st.booleans()}), max_size=40)


@settings(max_examples=200, deadline=None)
@given(_answers, st.booleans())
def test_hourly_counts_by_position_equal_the_plain_count(answers, all_inserted):
    """Ingest counts a batch's answers per hourly bucket from its `response` rows by position,
    the minute cut from the wire text; the plain count reads the same answers by name. Neither
    counts a flagged press or a tryout."""
    rows, hours = [], []
    for a in answers:
        row = [None] * len(RESPONSE_COLUMNS)
        for name in ("question_id", "audience", "scale", "value", "filtered"):
            row[R[name]] = a[name]
        row[EXCLUDED] = a["excluded"]
        rows.append(row)
        hours.append(iso_ms(a["recorded_at"].replace(tzinfo=timezone.utc))[:16])
    counted = None if all_inserted else [a["inserted"] for a in answers]
    fast = speedups.hourly_answer_counts("s1", "k1", rows, hours, counted)
    plain = rollups.answer_counts(dict(a, site_id="s1", kiosk_id="k1") for a in answers
                                  if all_inserted or a["inserted"])
    assert fast == plain


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(available_timezones()) + ["Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham",
                                                        "Australia/Lord_Howe", "Europe/Oslo"] * 20),
       st.datetimes(datetime(1972, 1, 1), datetime(2037, 12, 31)), st.lists(st.integers(0, 3 * 60), min_size=1,
                                                                           max_size=30))
def test_local_hour_minutes_bucket_as_the_minutes_themselves(zone, first, minutes):
    """Ingest keys an answer by the first minute of its local hour inside its UTC hour (at most
    two keys an hour); the hourly rollup it gives is the plain per-minute one."""
    tz = ZoneInfo(zone)
    at = [first.replace(second=0, microsecond=0) + timedelta(minutes=m) for m in minutes]
    splits: dict = {}
    fast = Counter(("s", "k", "q", "customer", "smiley4", 1, speedups.local_hour_minute(rollups.minute_key(t), tz, splits))
                   for t in at)
    plain = Counter(("s", "k", "q", "customer", "smiley4", 1, rollups.minute_key(t)) for t in at)
    assert rollups.count_hours(None, fast, zones={"s": tz}) == rollups.count_hours(None, plain, zones={"s": tz})
    # At most two keys a UTC hour, but for an hour with a transition inside.
    assert len({k[6][:13] for k in fast}) * 2 >= len(fast) or None in splits.values()


def test_local_hours_exist_at_the_ends_of_an_unsynced_clocks_range():
    """An unsynced answer is stored at the kiosk's time when nothing corrects it: at the ends of
    what the decoder lets such a clock read (protocol.timetext.UNSYNCED_*), both the speed trick
    and the plain way place it in every zone (9999-12-31 overflowed `datetime` in both: an
    internal error that dead-lettered the batch, nothing named to the kiosk). One test over
    every zone (a test per zone cost the suite ~600 items' overhead)."""
    first, last = UNSYNCED_EARLIEST.replace(tzinfo=None), UNSYNCED_LATEST.replace(tzinfo=None, second=0, microsecond=0)
    at = [first + timedelta(minutes=m) for m in range(0, 120, 7)] + [last - timedelta(minutes=m) for m in range(0, 120, 7)]
    for zone in sorted(available_timezones()):
        tz = ZoneInfo(zone)
        splits: dict = {}
        fast = Counter(("s", "k", "q", "customer", "smiley4", 1,
                        speedups.local_hour_minute(rollups.minute_key(t), tz, splits)) for t in at)
        plain = Counter(("s", "k", "q", "customer", "smiley4", 1, rollups.minute_key(t)) for t in at)
        assert rollups.count_hours(None, fast, zones={"s": tz}) == rollups.count_hours(None, plain, zones={"s": tz}), zone


_key_text = st.text(alphabet=st.sampled_from("ab,é 'x\\\"{}"), max_size=4)


@pytest.mark.postgres
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=st.lists(_key_text, max_size=12), keys=st.lists(_key_text, min_size=1, max_size=8))
def test_joined_keys_select_what_the_array_parameter_selects(pg_db, stored, keys):
    """On PostgreSQL, a key list as one joined text selects exactly the rows the plain array
    parameter selects (commas, empty keys, quotes and braces included: those take the plain way)."""
    pg_db.execute_sql("DELETE FROM joined_probe")
    for i, k in enumerate(stored):
        pg_db.execute_sql("INSERT INTO joined_probe (n, k) VALUES (%s, %s)", (i, k))
    fast = speedups.postgres_joined_keys("k", keys) or (POSTGRES.any_of.format(column="k"), [keys])
    plain = (POSTGRES.any_of.format(column="k"), [keys])
    got = [pg_db.execute_sql(f"SELECT n FROM joined_probe WHERE {where} ORDER BY n", params).fetchall()
           for where, params in (fast, plain)]
    assert got[0] == got[1]
    assert got[1] == [(i,) for i, k in enumerate(stored) if k in keys]


@pytest.fixture
def pg_db(pg_url):
    from server_sync.central.db import connect
    db = connect(pg_url, migrate_schema=False)
    db.execute_sql("CREATE TABLE joined_probe (n INTEGER PRIMARY KEY, k TEXT NOT NULL)")
    try:
        yield db
    finally:
        db.close()
