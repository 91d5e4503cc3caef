"""What the centre keeps of conflicts is bounded, as it is of dead letters: `conflict_count`
counts every conflicting event per kiosk and UTC day, kept or not, and the day's kept rows and
bytes (server_sync/central/conflicts.py); retention removes conflicts by `received_at`, and the
check for a content kept already reads them by `event_id`."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE conflict_count (
        kiosk_id VARCHAR(64) NOT NULL,
        day VARCHAR(10) NOT NULL,
        conflicts INTEGER NOT NULL,
        kept INTEGER NOT NULL,
        kept_bytes {bigint} NOT NULL,
        last_at {ts} NOT NULL,
        PRIMARY KEY (kiosk_id, day))""",
    "CREATE INDEX conflict_event ON conflict (event_id)",
    "CREATE INDEX conflict_received ON conflict (received_at)",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
