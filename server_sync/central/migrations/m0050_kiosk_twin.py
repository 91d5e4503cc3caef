"""`kiosk_twin`: a kiosk answered for by two devices at once (`server_sync.central.twins`): when it
was first and last found, and the answer number and the two boots it was found by. The fleet
flags the kiosk while the last is within a day."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE kiosk_twin (
        kiosk_id VARCHAR(64) PRIMARY KEY,
        first_seen_at {ts} NOT NULL,
        last_seen_at {ts} NOT NULL,
        seq {bigint} NOT NULL,
        boot_id TEXT NOT NULL,
        other_boot_id TEXT NOT NULL)""",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
