"""`kiosk_flag`: what the notify worker last told people about each kiosk that needs a person
(`server_sync.workflow.kiosk_watch`). A row per kiosk whose flag was announced, with its kind
(`never`, `silent`, `disk`, `held`, `backlog`: `analysis.fleet`) and since when; the row goes when
the kiosk is well again (and its recovery was announced). Kept apart from `kiosk_status`, which
ingest writes from the kiosk's own reports.
"""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE kiosk_flag (
        kiosk_id VARCHAR(64) PRIMARY KEY,
        kind VARCHAR(16) NOT NULL,
        since {ts} NOT NULL)""",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
