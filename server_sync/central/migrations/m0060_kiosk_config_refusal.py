"""`kiosk_config_refusal`: a pushed config a kiosk refused, as the notify worker told the admins
of it (`fleet.config`, with the kiosk's reason) and of its end (`fleet.config_ended`, once the
kiosk reports no refusal), so each refusal is told once
(`server_sync.workflow.kiosk_watch.refusal_plan`). A refusal is the pusher's to fix and its store
can do nothing about it, so it is kept apart from `kiosk_flag`, the store's track.

A centre upgraded with kiosks refusing a push tells the admins of them at its first look: nobody
was told before."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE kiosk_config_refusal (
        kiosk_id VARCHAR(64) PRIMARY KEY,
        error TEXT NOT NULL,
        told_at {ts} NOT NULL,
        ended_at {ts})""",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
