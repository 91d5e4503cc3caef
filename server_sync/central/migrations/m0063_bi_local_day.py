"""The BI views' days as dates: `local_day`, added at the end of `v_hourly`, `v_daily_site`,
`v_daily_chain` and `v_reasons_daily`.

Their `local_date` is text ('YYYY-MM-DD'), as the rollups store it. On PostgreSQL a BI tool's
date filter failed (`local_date >= DATE '2026-10-01'`: operator does not exist, varchar >= date),
and Grafana's `$__timeFilter(local_date)` compared the text with '2026-10-01T00:00:00Z', which
sorts after '2026-10-01': the range's first day was left out without a word. `local_day` is
`CAST(local_date AS DATE)` on PostgreSQL. SQLite has no date type (a declared DATE is only a
numeric affinity, which would make '2026-10-01' the number 2026), so there it is the same ISO
text, which SQLite's own date functions read and which compares as dates with 'YYYY-MM-DD' text.

Every other column stays as it was (the views are a contract: columns are added, never renamed
or dropped). PostgreSQL replaces each view in place (CREATE OR REPLACE may append columns), so the
grants on it and what a BI tool built on it stay; SQLite drops and creates it.
"""

from peewee import Database

from server_sync.central.dialect import Dialect
from server_sync.central.migrations.m0012_employee_privacy import VIEWS as M0012
from server_sync.central.migrations.m0042_safe_employee_group import MIN_GROUP, min_group
from server_sync.central.migrations.m0056_employee_chain_days import views as m0056_views

DAY = {"sqlite": "v.local_date", "postgresql": "CAST(v.local_date AS DATE)"}


def before(dialect: Dialect) -> dict[str, str]:
    """The four views as the migrations before this one left them: v_hourly m0012's (m0020 created
    it again unchanged), v_daily_site m0042's, v_daily_chain and v_reasons_daily m0056's."""
    return {"v_hourly": M0012["v_hourly"],
            "v_daily_site": M0012["v_daily_site"].replace(MIN_GROUP, min_group(dialect)),
            **m0056_views(dialect)}


def views(dialect: Dialect) -> dict[str, str]:
    # The view before, wrapped: its columns in their order, then the new one (both engines
    # flatten such a subquery, so a filter on the view still reaches the rollup's index).
    return {name: f"SELECT v.*, {DAY[dialect.name]} AS local_day FROM ({body}) v"
            for name, body in before(dialect).items()}


def replace(db: Database, dialect: Dialect, name: str, body: str) -> None:
    """A view with the columns it had and new ones at the end."""
    if dialect.name == "postgresql":
        db.execute_sql(f"CREATE OR REPLACE VIEW {name} AS {body}")
    else:
        db.execute_sql(f"DROP VIEW {name}")
        db.execute_sql(f"CREATE VIEW {name} AS {body}")


def up(db: Database, dialect: Dialect) -> None:
    for name, body in views(dialect).items():
        replace(db, dialect, name, body)
