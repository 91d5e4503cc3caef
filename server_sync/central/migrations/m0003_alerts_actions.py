"""Alerts raised on dips, actions logged by sites, and optional opening hours per site.

- alert: one row per dip (realtime or trend rule); `last_seen_at` moves while the dip lasts so
  the same dip never raises a second alert; acknowledged with a comment.
- action: what a site changed and when (`kiosk-central action add`), for before/after reports.
- site.opening_hours: JSON {"0": [8, 21], …} (weekday 0 = Monday); NULL means the chain default
  (server_sync.protocol.catalogue.OPENING_HOURS). Used by the fleet's "silent during opening hours" rule.
"""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE alert (
        id {serial_pk},
        site_id VARCHAR(64) NOT NULL,
        question_id VARCHAR(64) NOT NULL,
        kind VARCHAR(16) NOT NULL,
        raised_at {ts} NOT NULL,
        last_seen_at {ts} NOT NULL,
        window_from {ts} NOT NULL,
        window_to {ts} NOT NULL,
        n INTEGER NOT NULL,
        negative INTEGER NOT NULL,
        value DOUBLE PRECISION,
        baseline DOUBLE PRECISION,
        p_value DOUBLE PRECISION,
        message TEXT NOT NULL,
        published_at {ts},
        webhook_status TEXT,
        acked_at {ts},
        ack_comment TEXT)""",
    "CREATE INDEX alert_site_kind ON alert (site_id, question_id, kind, last_seen_at)",
    "CREATE INDEX alert_raised ON alert (raised_at)",
    """CREATE TABLE action (
        id {serial_pk},
        site_id VARCHAR(64) NOT NULL,
        question_id VARCHAR(64) NOT NULL,
        action_date VARCHAR(10) NOT NULL,
        note TEXT NOT NULL,
        created_at {ts} NOT NULL)""",
    "CREATE INDEX action_site ON action (site_id, action_date)",
    "ALTER TABLE site ADD COLUMN opening_hours TEXT",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
