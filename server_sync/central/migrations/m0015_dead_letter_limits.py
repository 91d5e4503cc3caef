"""What the centre keeps of refused messages is bounded (issue 11): `dead_letter.digest` names a
message (topic and payload) so the same one is kept once however often it comes (a retained
status at every ingest start, a batch re-sent), and `dead_letter_count` counts every refused
message per kiosk and UTC day, kept or not (server_sync/central/dead_letters.py)."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    "ALTER TABLE dead_letter ADD COLUMN digest VARCHAR(64)",
    # NULL for the rows kept before: both engines let NULLs repeat in a unique index.
    "CREATE UNIQUE INDEX dead_letter_digest ON dead_letter (digest)",
    "CREATE INDEX dead_letter_kiosk ON dead_letter (kiosk_id, received_at)",
    """CREATE TABLE dead_letter_count (
        kiosk_id VARCHAR(64) NOT NULL,
        day VARCHAR(10) NOT NULL,
        messages INTEGER NOT NULL,
        bytes {bigint} NOT NULL,
        kept INTEGER NOT NULL,
        kept_bytes {bigint} NOT NULL,
        last_reason TEXT NOT NULL,
        last_at {ts} NOT NULL,
        PRIMARY KEY (kiosk_id, day))""",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
