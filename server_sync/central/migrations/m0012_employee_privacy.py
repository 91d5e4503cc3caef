"""The employee pulse in the BI views only for groups of at least the minimum size, and the
centre's own settings table that holds that size (`kiosk-central privacy`).

Raw employee answers (`v_answers`, `v_followup_reasons`) and hourly buckets (`v_hourly`: one
kiosk, one hour) are never in the views; daily figures and reasons of employee questions only
where the site's day holds at least `min_employee_group` answers (5 unless set higher; the same
rule as the reports, server_sync/analysis/privacy.py). Column names are unchanged: the views are
a public contract.
"""

from peewee import Database

from server_sync.central.dialect import Dialect
from server_sync.central.migrations.m0004_bi_views import VIEWS as BEFORE

MIN_GROUP = "(SELECT CAST(value AS INTEGER) FROM central_setting WHERE name = 'min_employee_group')"
NOT_EMPLOYEE = "audience <> 'employee'"

VIEWS = {
    "v_answers": BEFORE["v_answers"] + " AND r.audience <> 'employee'",
    "v_followup_reasons": BEFORE["v_followup_reasons"] + " AND r.audience <> 'employee'",
    "v_hourly": BEFORE["v_hourly"] + f" WHERE {NOT_EMPLOYEE}",
    "v_daily_site": BEFORE["v_daily_site"] + f" WHERE d.{NOT_EMPLOYEE} OR d.n >= {MIN_GROUP}",
    "v_daily_chain": BEFORE["v_daily_chain"] + f" WHERE {NOT_EMPLOYEE} OR n >= {MIN_GROUP}",
    "v_reasons_daily": """SELECT r.site_id, r.question_id, r.audience, r.scale, r.local_date, r.reason, r.n, r.negative
        FROM rollup_reason_daily r WHERE r.audience <> 'employee' OR EXISTS (
            SELECT 1 FROM rollup_daily d WHERE d.site_id = r.site_id AND d.question_id = r.question_id
            AND d.audience = r.audience AND d.scale = r.scale AND d.local_date = r.local_date
            AND d.n >= """ + MIN_GROUP + ")",
}


def up(db: Database, dialect: Dialect) -> None:
    db.execute_sql("CREATE TABLE central_setting (name VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)")
    db.execute_sql("INSERT INTO central_setting (name, value) VALUES ('min_employee_group', '5')")
    for name, body in VIEWS.items():
        db.execute_sql(f"DROP VIEW {name}")
        db.execute_sql(f"CREATE VIEW {name} AS {body}")
