"""The BI views read the minimum employee group so that no stored text shows a small group.

m0012's views read `central_setting.min_employee_group` with `CAST(value AS INTEGER)`. Only
`kiosk-central privacy set` should store it (a whole number of at least 5), but a value edited by
hand that is not a number ('abc', '', ' 7') became 0 on SQLite: the views showed the employee
figures of every group, of one or two colleagues too. On PostgreSQL every query of the three views
failed. The reports refuse such a value (StoredSettingError); BI tools, which show no error page,
read the views, so these now stay safe instead: a whole number (ASCII digits) of at least the
minimum is the minimum (one of more than ten digits: more than any group, 2^31-1), anything else
the default minimum, 5. Column names are unchanged.
"""

from peewee import Database

from server_sync.central.dialect import Dialect
from server_sync.central.migrations.m0012_employee_privacy import MIN_GROUP, VIEWS

# analysis.privacy's MIN_EMPLOYEE_GROUP and MAX_EMPLOYEE_GROUP as this migration was written: a
# migration is frozen (and the central store imports nothing built on it), so they are spelt here;
# tests/analysis/test_employee_privacy.py checks that they still are.
MIN_EMPLOYEE_GROUP = 5
MAX_EMPLOYEE_GROUP = 2 ** 31 - 1
# The value is ASCII digits only: SQLite has no regular expressions, PostgreSQL no GLOB.
DIGITS = {"sqlite": "value GLOB '[0-9]*' AND value NOT GLOB '*[^0-9]*'", "postgresql": "value ~ '^[0-9]+$'"}


def min_group(dialect: Dialect) -> str:
    """The stored minimum as the views apply it. A CASE decides in order; PostgreSQL may evaluate
    AND's operands in any order, and would cast 'abc'."""
    low, high = MIN_EMPLOYEE_GROUP, MAX_EMPLOYEE_GROUP
    return (f"(SELECT CASE WHEN NOT ({DIGITS[dialect.name]}) THEN {low} WHEN LENGTH(value) > {len(str(high))}"
            f" THEN {high} WHEN CAST(value AS BIGINT) < {low} THEN {low} ELSE CAST(value AS BIGINT) END"
            " FROM central_setting WHERE name = 'min_employee_group')")


def up(db: Database, dialect: Dialect) -> None:
    for name, body in VIEWS.items():
        if MIN_GROUP in body:
            db.execute_sql(f"DROP VIEW {name}")
            db.execute_sql(f"CREATE VIEW {name} AS {body.replace(MIN_GROUP, min_group(dialect))}")
