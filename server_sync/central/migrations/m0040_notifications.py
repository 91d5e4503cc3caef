"""Webhook endpoints and the queues of notices on their way out (webhooks and e-mail), so a
notice is kept until delivered, retried with backoff, and a failure stays visible
(server_sync/notify)."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE webhook_endpoint (
        id {serial_pk},
        name VARCHAR(64) NOT NULL UNIQUE,
        url TEXT NOT NULL,
        format TEXT NOT NULL,
        secret TEXT NOT NULL,
        active {bool} NOT NULL,
        created_at {ts} NOT NULL)""",
    """CREATE TABLE webhook_delivery (
        id {serial_pk},
        endpoint_id {bigint} NOT NULL,
        event TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at {ts} NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at {ts} NOT NULL,
        delivered_at {ts},
        gave_up_at {ts},
        last_status TEXT,
        last_error TEXT)""",
    "CREATE INDEX webhook_delivery_due ON webhook_delivery (next_attempt_at)"
    " WHERE delivered_at IS NULL AND gave_up_at IS NULL",
    """CREATE TABLE mail_outbox (
        id {serial_pk},
        to_addr TEXT NOT NULL,
        subject TEXT NOT NULL,
        text_body TEXT NOT NULL,
        html_body TEXT NOT NULL,
        created_at {ts} NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at {ts} NOT NULL,
        sent_at {ts},
        gave_up_at {ts},
        last_error TEXT)""",
    "CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND gave_up_at IS NULL",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
