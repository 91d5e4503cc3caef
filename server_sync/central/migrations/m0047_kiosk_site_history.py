"""The sites a kiosk was registered at before its current one (`kiosk-central kiosk move`):
one row per stay, from when it came (NULL: its first site, where it may have recorded before it
was registered) to when it was moved away. The current site stays in `kiosk.site_id`. Ingest
takes an answer naming a former site if it was recorded during the stay there
(server_sync/central/site_history.py): a kiosk moved before its outbox drained still delivers
what it recorded at the old store. Moves made before this migration left no row."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE kiosk_site_history (
        kiosk_id VARCHAR(64) NOT NULL,
        site_id VARCHAR(64) NOT NULL,
        moved_in_at {ts},
        moved_out_at {ts} NOT NULL)""",
    "CREATE INDEX kiosk_site_history_kiosk ON kiosk_site_history (kiosk_id, moved_out_at)",
    "CREATE INDEX kiosk_site_history_site ON kiosk_site_history (site_id)",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
