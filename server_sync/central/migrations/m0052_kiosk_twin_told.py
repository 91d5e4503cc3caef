"""`kiosk_twin.told_at` / `ended_at`: when the notify worker told the admins that two devices
answer as the kiosk (`fleet.twin`), and when it told them that had ended (`fleet.twin_ended`, a day
without a sign); a sign after the end is a new episode, told again
(`server_sync.workflow.kiosk_watch.twin_plan`). Kept apart from `kiosk_flag`, the store's track,
so a copied card is told once per episode whatever the store is told meanwhile.

A centre that told copied cards on the store's track (`kiosk_flag` rows told as `twin`) keeps
what it told: the told time moves to `kiosk_twin`, and those rows go (and untold ones of kind
`twin`), so the upgrade neither tells the admins again nor tells anyone the kiosk is well while the
copy is live."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    "ALTER TABLE kiosk_twin ADD COLUMN told_at {ts}",
    "ALTER TABLE kiosk_twin ADD COLUMN ended_at {ts}",
    """UPDATE kiosk_twin SET told_at = (SELECT f.told_at FROM kiosk_flag f WHERE f.kiosk_id = kiosk_twin.kiosk_id)
       WHERE kiosk_id IN (SELECT kiosk_id FROM kiosk_flag WHERE told_kind = 'twin')""",
    # A row told as something else (the store told of a silence, a twin since) stays: the watch
    # takes it on as the store's flag, and tells the store its return.
    "DELETE FROM kiosk_flag WHERE told_kind = 'twin' OR (kind = 'twin' AND told_kind IS NULL)",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
