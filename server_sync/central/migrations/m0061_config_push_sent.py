"""`config_push.sent_at`: when a recorded push was given to the broker for that kiosk (NULL: it
never was: a later push was sent there first, or its send never came).

A push is recorded, then sent (`config_push_store`). One that comes to its send after a later
push to the same kiosk was recorded stood aside for it, whether or not that one was ever sent:
when the broker then refused the later one, or was not reached, the kiosk got neither, and the
earlier push had said it was done (a review). A push now stands aside only for a later one sent.
The pushes recorded before this migration count as sent (`sent_at` = `pushed_at`): they were
published in their record's transaction, or may have been."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    "ALTER TABLE config_push ADD COLUMN sent_at {ts}",
    "UPDATE config_push SET sent_at = pushed_at",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
