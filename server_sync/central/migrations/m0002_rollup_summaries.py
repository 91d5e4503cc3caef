"""Summary rollups that keep chain-wide reports under a second on years of data.

`rollup_hourly` (m0001) has a row per site, kiosk, question, value and hour: millions of rows for a
chain over two years. The reports read these smaller tables instead, kept in the same
transaction by ingest through `server_sync.central.rollups` (answers and follow-ups):
- rollup_daily: sufficient statistics per site, question, audience and site-local date
  (n, sum and sum of squares of the values, top-two and negative counts): every metric with its
  confidence interval is exact from them.
- rollup_monthly: the same per site-local month ('YYYY-MM'), so a report over years reads
  months plus the partial months' days. No index on month: these tables are small and a
  report reads most of them, where a scan beats index lookups.
- rollup_chain_hourly: the same per question and site-local date and hour over the whole chain
  (the weekday × hour heatmap, the chain's daily series).
- rollup_reason_daily: follow-up reasons per site, question and site-local date of the answer,
  with the count of answers citing them, how many were negative and the value sum of those
  negative ones (Pareto and driver uplift); rollup_reason_monthly per month.
Existing answers are backfilled, so the migration also upgrades a populated store.
"""

from peewee import Database

from server_sync.central import rollups
from server_sync.central.dialect import Dialect

STATS_COLUMNS = """
        n INTEGER NOT NULL,
        sum_v {bigint} NOT NULL,
        sum_v2 {bigint} NOT NULL,
        top2 INTEGER NOT NULL,
        negative INTEGER NOT NULL"""

STATEMENTS = [
    """CREATE TABLE rollup_daily (
        site_id VARCHAR(64) NOT NULL,
        question_id VARCHAR(64) NOT NULL,
        audience VARCHAR(16) NOT NULL,
        scale VARCHAR(16) NOT NULL,
        local_date VARCHAR(10) NOT NULL,""" + STATS_COLUMNS + """,
        PRIMARY KEY (site_id, question_id, audience, scale, local_date))""",
    # Covering: a report reads the partial months' days by date without touching the table.
    "CREATE INDEX rollup_daily_date ON rollup_daily (local_date, site_id, question_id, audience, scale, n, sum_v,"
    " sum_v2, top2, negative)",
    """CREATE TABLE rollup_monthly (
        site_id VARCHAR(64) NOT NULL,
        question_id VARCHAR(64) NOT NULL,
        audience VARCHAR(16) NOT NULL,
        scale VARCHAR(16) NOT NULL,
        month VARCHAR(7) NOT NULL,""" + STATS_COLUMNS + """,
        PRIMARY KEY (site_id, question_id, audience, scale, month))""",
    """CREATE TABLE rollup_chain_hourly (
        question_id VARCHAR(64) NOT NULL,
        audience VARCHAR(16) NOT NULL,
        scale VARCHAR(16) NOT NULL,
        local_date VARCHAR(10) NOT NULL,
        local_hour INTEGER NOT NULL,
        weekday INTEGER NOT NULL,""" + STATS_COLUMNS + """,
        PRIMARY KEY (question_id, audience, scale, local_date, local_hour))""",
    """CREATE TABLE rollup_reason_daily (
        site_id VARCHAR(64) NOT NULL,
        question_id VARCHAR(64) NOT NULL,
        audience VARCHAR(16) NOT NULL,
        scale VARCHAR(16) NOT NULL,
        local_date VARCHAR(10) NOT NULL,
        reason VARCHAR(64) NOT NULL,
        n INTEGER NOT NULL,
        negative INTEGER NOT NULL,
        negative_sum_v {bigint} NOT NULL,
        PRIMARY KEY (site_id, question_id, audience, scale, local_date, reason))""",
    "CREATE INDEX rollup_reason_daily_date ON rollup_reason_daily (local_date, site_id, question_id, reason, n,"
    " negative, negative_sum_v)",
    """CREATE TABLE rollup_reason_monthly (
        site_id VARCHAR(64) NOT NULL,
        question_id VARCHAR(64) NOT NULL,
        audience VARCHAR(16) NOT NULL,
        scale VARCHAR(16) NOT NULL,
        month VARCHAR(7) NOT NULL,
        reason VARCHAR(64) NOT NULL,
        n INTEGER NOT NULL,
        negative INTEGER NOT NULL,
        negative_sum_v {bigint} NOT NULL,
        PRIMARY KEY (site_id, question_id, audience, scale, month, reason))""",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
    # The back-fill counts the way ingest does (server_sync.central.rollups).
    for sql in rollups.summarise_hourly_sql():
        db.execute_sql(sql)
    rollups.rebuild_reasons(db)
