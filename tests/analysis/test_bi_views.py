"""The SQL views for BI tools as a BI tool uses them, on SQLite and PostgreSQL: days filtered as
dates, and (PostgreSQL) the read-only role the docs describe."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from server_sync.central.dialect import dialect_of
from tests.analysis.seeding import add_question, add_site, answer, commit

ROOT = Path(__file__).resolve().parents[2]
CODES_COLUMNS = "followup_id, response_id, site_id, kiosk_id, question_id, scale, audience, value, recorded_at, reason"
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
    p = db.param
    db.cursor().executemany(
        f"INSERT INTO followup (id, response_id, kiosk_id, seq, reasons, comment, recorded_at, received_at)"
        f" VALUES ({p}, {p}, {p}, {p}, '[\"queue\"]', {p}, {p}, {p})",
        [("f" + r["id"][1:], r["id"], r["kiosk_id"], 1000 + r["seq"], f"Lång kö {r['seq']}", r["recorded_at"],
          r["recorded_at"]) for r in rows])
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


def test_the_reason_codes_view_is_the_reasons_view_without_its_comments(days):
    """`v_followup_reasons.comment` gave a role limited to the views every site's customer
    comments, unaudited (the web app scopes and audits each). Its columns are a contract, so it
    keeps them; `v_followup_reason_codes` (m0065) has its rows without the comment, for the BI role."""
    q = lambda sql: [tuple(r) for r in days.execute_sql(sql).fetchall()]      # noqa: E731
    columns = CODES_COLUMNS.split(", ")
    codes = q("SELECT * FROM v_followup_reason_codes ORDER BY followup_id")
    assert [d[0] for d in days.execute_sql("SELECT * FROM v_followup_reason_codes LIMIT 0").description] == columns
    assert codes == q(f"SELECT {CODES_COLUMNS} FROM v_followup_reasons ORDER BY followup_id")
    assert len(codes) == 6 and q("SELECT COUNT(comment) FROM v_followup_reasons") == [(6,)]


def documented_role(doc: str) -> list[str]:
    """The statements of docs/analysis.md's BI role recipe."""
    [block] = re.findall(r"```sql\n(-- The BI tool's role.*?)```", doc, re.S)
    return [s.strip() for s in re.sub(r"--[^\n]*", "", block).split(";") if s.strip()]


def granted_views(statements: list[str]) -> set[str]:
    [grant] = [s for s in statements if s.startswith("GRANT SELECT")]
    return set(re.findall(r"\bv_\w+", grant))


@pytest.mark.postgres
@pytest.mark.parametrize("central_url", ["postgresql"], indirect=True)
def test_the_documented_bi_role_reads_every_view_it_names_and_no_table(central_url, central_db):
    """The docs said only "read-only user recommended": a role limited to the views could not
    group by region (no view had it; `site`, `region` are tables), and one given pg_read_all_data
    read single employee answers. The role made exactly as docs/analysis.md says reads `v_sites`
    and every other view it names, and is refused the tables."""
    db = central_db
    p = db.param
    db.execute_sql(f"INSERT INTO region (id, name, created_at) VALUES ({p}, {p}, {p})", ("north", "North",
                                                                                      datetime(2025, 1, 1)))
    add_site(db, "s1")
    add_site(db, "s2", tz="Europe/Oslo")
    db.execute_sql("UPDATE site SET region_id = 'north' WHERE id = 's1'")
    doc = (ROOT / "docs" / "analysis.md").read_text(encoding="utf-8")
    role = "kp_bi_" + uuid.uuid4().hex[:10]
    statements = [s.replace("kundpuls_bi", role) for s in documented_role(doc)]
    documented = set(re.findall(r"^\| `(v_\w+)` \|", doc, re.M))
    # Every documented view but the one with customers' comments (v_followup_reason_codes has its rows).
    assert granted_views(statements) == documented - {"v_followup_reasons"}
    url = central_url
    with psycopg.connect(url, autocommit=True) as owner:
        for sql in statements:
            owner.execute(sql)
        try:
            with psycopg.connect(url, user=role, autocommit=True) as bi:
                for view in sorted(documented - {"v_followup_reasons"}):
                    bi.execute(f"SELECT * FROM {view} LIMIT 1").fetchall()
                assert bi.execute("SELECT site_id, site_name, timezone, region_id, region_name FROM v_sites"
                                  " ORDER BY 1").fetchall() == [("s1", "S1", "Europe/Stockholm", "north", "North"),
                                                                ("s2", "S2", "Europe/Oslo", None, None)]
                for table in ("v_followup_reasons", "response", "followup", "followup_reason", "site", "region", "web_user",
                              "rollup_daily", "central_setting"):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        bi.execute(f"SELECT 1 FROM {table} LIMIT 1")
        finally:
            owner.execute(f"DROP OWNED BY {role}")
            owner.execute(f"DROP ROLE {role}")


def test_every_view_has_the_columns_the_docs_list_in_their_order(central_db):
    """The views' columns are a contract (docs/analysis.md's table): a column added by a later
    migration comes at the end, on both engines, and every view the table names exists."""
    doc = (ROOT / "docs" / "analysis.md").read_text(encoding="utf-8")
    documented = {view: [c.split(" ")[0] for c in cols.split(", ")]
                  for view, cols in re.findall(r"^\| `(v_\w+)` \|[^|]*\| `([^`]*)`", doc, re.M)}
    assert set(documented) == set(re.findall(r"^\| `(v_\w+)` \|", doc, re.M)) and len(documented) >= 11
    for view, columns in documented.items():
        cursor = central_db.execute_sql(f"SELECT * FROM {view} LIMIT 0")
        assert [d[0] for d in cursor.description] == columns, view
