"""`kiosk_twin.told_at` / `ended_at`: when the notify worker told the admins that two devices
answer as the kiosk (`fleet.twin`), and when it told them that had ended (`fleet.twin_ended`, a day
without a sign); a sign after the end is a new episode, told again
(`server_sync.workflow.kiosk_watch.twin_plan`). Kept apart from `kiosk_flag`, the store's track,
so a copied card is told once per episode whatever the store is told meanwhile."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = ["ALTER TABLE kiosk_twin ADD COLUMN told_at {ts}", "ALTER TABLE kiosk_twin ADD COLUMN ended_at {ts}"]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
