"""`mail_outbox.user_id` and `mail_outbox.site_ids`: whom a mail was queued for and which sites it
tells of (site ids, space-separated; NULL: none, as a test mail).

A mail waits in the outbox while the SMTP server is down, for hours if need be; meanwhile its
person may be moved to other sites, disabled, or change their address. The outbox kept only the
address and the text, so the sender could not tell: a regional manager moved to another region
still got the queued alert of a store they may no longer see (a review). With these the sender
asks at sending time (`workflow.people.mail_recipient_now`). Mail queued before this migration has
neither and goes as before (disabling a person still gives up mail waiting for their address)."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    "ALTER TABLE mail_outbox ADD COLUMN user_id INTEGER",
    "ALTER TABLE mail_outbox ADD COLUMN site_ids TEXT",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
