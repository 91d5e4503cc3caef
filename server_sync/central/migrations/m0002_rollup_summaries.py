"""Summary rollups that keep chain-wide reports under a second on years of data.

`rollup_hourly` (m0001) has a row per site, kiosk, question, value and hour: millions of rows for a
chain over two years. The reports read these smaller tables instead, kept in the same
transaction by `rollups.apply` (answers) and `server_sync.central.reason_rollup.apply` (follow-ups):
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

from server_sync.protocol.scales import sql_rule

from server_sync.central.dialect import Dialect

# SQL for "this value is in the top two" / "is negative" per scale; the same rules as
# server_sync.analysis.metrics.is_top2 / is_negative.
TOP2_SQL = sql_rule("top2")
NEGATIVE_SQL = sql_rule("negative")

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


def summarise_hourly_sql(where: str = "") -> list[str]:
    """INSERT … SELECT statements that derive the daily, monthly and chain rollups from
    rollup_hourly (bulk loads and this migration's backfill)."""
    stats = (f"SUM(n), SUM(n * value), SUM(n * value * value), SUM(n * {TOP2_SQL}),"
             f" SUM(n * {NEGATIVE_SQL})")
    return [
        "INSERT INTO rollup_daily (site_id, question_id, audience, scale, local_date, n, sum_v, sum_v2,"
        f" top2, negative) SELECT site_id, question_id, audience, scale, local_date, {stats}"
        f" FROM rollup_hourly {where} GROUP BY site_id, question_id, audience, scale, local_date",
        "INSERT INTO rollup_chain_hourly (question_id, audience, scale, local_date, local_hour, weekday,"
        f" n, sum_v, sum_v2, top2, negative) SELECT question_id, audience, scale, local_date, local_hour,"
        f" MIN(weekday), {stats} FROM rollup_hourly {where}"
        " GROUP BY question_id, audience, scale, local_date, local_hour",
        "INSERT INTO rollup_monthly (site_id, question_id, audience, scale, month, n, sum_v, sum_v2, top2, negative)"
        " SELECT site_id, question_id, audience, scale, SUBSTR(local_date, 1, 7), SUM(n), SUM(sum_v), SUM(sum_v2),"
        " SUM(top2), SUM(negative) FROM rollup_daily GROUP BY site_id, question_id, audience, scale,"
        " SUBSTR(local_date, 1, 7)",
    ]


REASON_MONTHLY_SQL = (
    "INSERT INTO rollup_reason_monthly (site_id, question_id, audience, scale, month, reason, n, negative,"
    " negative_sum_v) SELECT site_id, question_id, audience, scale, SUBSTR(local_date, 1, 7), reason, SUM(n),"
    " SUM(negative), SUM(negative_sum_v) FROM rollup_reason_daily"
    " GROUP BY site_id, question_id, audience, scale, SUBSTR(local_date, 1, 7), reason")


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
    for sql in summarise_hourly_sql():
        db.execute_sql(sql)
    from server_sync.central import reason_rollup
    reason_rollup.rebuild(db)
