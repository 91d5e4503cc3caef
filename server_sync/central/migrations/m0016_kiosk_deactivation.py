"""When a kiosk was deactivated (`kiosk-central kiosk deactivate`): its answers stay, its broker
user is removed, and what it still sends is refused and counted. NULL: active (or never
deactivated before this migration)."""

from peewee import Database

from server_sync.central.dialect import Dialect


def up(db: Database, dialect: Dialect) -> None:
    db.execute_sql(dialect.ddl("ALTER TABLE kiosk ADD COLUMN deactivated_at {ts}"))
