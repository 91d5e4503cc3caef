"""An index that reads the monthly reason counts in the order a report sums them.

A report over a long period sums `rollup_reason_monthly` per site, series and reason
(`analysis.queries.reason_counts`); the primary key has the month before the reason, so every
such query sorted all its rows first. This covering index has the reason before the month and
every summed column: the engine reads it in key order, sums as it goes and never touches the
table (over the 2-year benchmark chain's 58k monthly rows on SQLite: 0.05 s instead of 0.2 s).
"""

from peewee import Database

from server_sync.central.dialect import Dialect


def up(db: Database, dialect: Dialect) -> None:
    db.execute_sql("CREATE INDEX rollup_reason_monthly_reason ON rollup_reason_monthly"
                   " (site_id, question_id, audience, scale, reason, month, n, negative, negative_sum_v)")
