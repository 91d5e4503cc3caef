"""The SQL views for BI tools as a BI tool uses them, on SQLite and PostgreSQL: days filtered as
dates, and (PostgreSQL) the read-only role the docs describe."""

from __future__ import annotations

from datetime import datetime

import pytest

from server_sync.central.dialect import dialect_of
from tests.analysis.seeding import add_question, add_site, answer, commit

DAY_VIEWS = ("v_hourly", "v_daily_site", "v_daily_chain", "v_reasons_daily")


@pytest.fixture
def days(central_db):
    """Answers (each with a reason) on 30 September, 1 and 2 October, at 10:00 in Stockholm."""
    db = central_db
    add_site(db, "s1")
    add_question(db)
    rows = [answer("s1", datetime(2026, 9, 30 + d, 8, m) if d == 0 else datetime(2026, 10, d, 8, m), 1)
            for d in range(3) for m in range(2)]
    commit(db, rows, reasons={r["id"]: ["queue"] for r in rows})
    return db


def test_the_views_days_filter_as_dates_and_keep_the_first_day(days):
    """`local_date` is text: on PostgreSQL `local_date >= DATE '2026-10-01'` failed (varchar >=
    date), and Grafana's `$__timeFilter` compared it with '2026-10-01T00:00:00Z', leaving the first
    day out. `local_day` (m0063) is a date there, the ISO text on SQLite; both take date('…')."""
    q = lambda sql: [tuple(r) for r in days.execute_sql(sql).fetchall()]      # noqa: E731
    for view in DAY_VIEWS:
        got = q(f"SELECT DISTINCT local_date FROM {view} WHERE local_day >= date('2026-10-01') ORDER BY 1")
        assert got == [("2026-10-01",), ("2026-10-02",)], view
        last = q(f"SELECT local_date, local_day FROM {view} ORDER BY local_day DESC LIMIT 1")
        assert last[0][0] == "2026-10-02" and str(last[0][1]) == "2026-10-02", view
    if dialect_of(days).name == "postgresql":
        for view in DAY_VIEWS:
            assert q(f"SELECT DISTINCT local_date FROM {view} WHERE local_day BETWEEN DATE '2026-10-01'"
                     " AND DATE '2026-10-01'") == [("2026-10-01",)], view
            # What Grafana's $__timeFilter(local_day) expands to.
            assert q(f"SELECT COUNT(DISTINCT local_day) FROM {view} WHERE local_day BETWEEN"
                     " '2026-10-01T00:00:00Z' AND '2026-10-02T23:59:59Z'") == [(2,)], view
