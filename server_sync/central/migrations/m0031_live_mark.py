"""What the web app needs to be live and quick.

- live_mark: one row per site, its `version` bumped by ingest after each commit that added or
  corrected answers of that site (the after-commit hook `server_sync.web.marks:bump_hook`). Web
  workers poll this small table (a high-water mark) to push new answers to open pages: the
  processes meet only in the database, on SQLite and PostgreSQL alike.
- followup_comment_time: the comments page lists follow-ups with a comment, newest first; a
  partial index holds just those.
"""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE live_mark (
        site_id VARCHAR(64) PRIMARY KEY,
        version {bigint} NOT NULL,
        changed_at {ts} NOT NULL)""",
    "CREATE INDEX followup_comment_time ON followup (recorded_at) WHERE comment IS NOT NULL",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
