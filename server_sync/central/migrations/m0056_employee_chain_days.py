"""The BI views give no small employee group away by a difference.

`v_daily_site` hid each store's employee day under the minimum, but `v_daily_chain` summed every
store's: a chain day of 8 beside the one store shown with 6 said that the other store's day held
2 answers, and their Happy Index (8 x chain - 6 x store) / 2 (a privacy review: two named
colleagues, both "very unhappy"). And `v_reasons_daily` listed an employee reason cited by one
person of a large enough day; the report leaves a reason cited by fewer than the minimum out.

Now an employee chain day is shown only when no store's day of it is hidden (each holds at
least the minimum: the chain's figure is then the sum of figures shown), and an employee reason
only when it is cited by at least the minimum, on a day of the store shown. Column names are
unchanged.
"""

from peewee import Database

from server_sync.central.dialect import Dialect
from server_sync.central.migrations.m0004_bi_views import VIEWS as BEFORE
from server_sync.central.migrations.m0042_safe_employee_group import min_group


def views(dialect: Dialect) -> dict[str, str]:
    least = min_group(dialect)
    return {
        "v_daily_chain": BEFORE["v_daily_chain"] + f""" WHERE c.audience <> 'employee' OR (c.n >= {least}
            AND NOT EXISTS (SELECT 1 FROM rollup_daily d WHERE d.question_id = c.question_id
                AND d.audience = c.audience AND d.scale = c.scale AND d.local_date = c.local_date
                AND d.n < {least}))""",
        "v_reasons_daily": f"""SELECT r.site_id, r.question_id, r.audience, r.scale, r.local_date, r.reason,
            r.n, r.negative FROM rollup_reason_daily r WHERE r.audience <> 'employee' OR (r.n >= {least}
            AND EXISTS (SELECT 1 FROM rollup_daily d WHERE d.site_id = r.site_id AND d.question_id = r.question_id
                AND d.audience = r.audience AND d.scale = r.scale AND d.local_date = r.local_date
                AND d.n >= {least}))""",
    }


def up(db: Database, dialect: Dialect) -> None:
    for name, body in views(dialect).items():
        db.execute_sql(f"DROP VIEW {name}")
        db.execute_sql(f"CREATE VIEW {name} AS {body}")
