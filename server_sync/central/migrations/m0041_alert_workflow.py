"""The alert workflow (issue 14): an alert has an owner, a due date, a state (open,
acknowledged, closed) and, once closed, an outcome; every change and comment is a row of
`alert_event` (who, when, what). Actions get an owner, the alert they came from, a type (what
kind of change, so what worked at one site can be suggested to another), a due date and, when
their after-window is complete, a closing verdict. People get an e-mail address (alert notices,
the weekly digest), and `digest_sent` keeps one digest per person and week.

- alert.state: open | acknowledged | closed (alerts acknowledged before this migration become
  acknowledged); alert.outcome on close: action | none | duplicate, with outcome_reason,
  action_id or duplicate_of.
- alert_event.event: raised, assigned, due, comment, acknowledged, closed, reopened;
  detail is short text (the comment, the new owner, the outcome).
- action.verdict: effect_shown | no_detectable_effect | worse (set once, by close-completed).
"""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    "ALTER TABLE alert ADD COLUMN owner VARCHAR(64)",
    "ALTER TABLE alert ADD COLUMN state VARCHAR(16) NOT NULL DEFAULT 'open'",
    "ALTER TABLE alert ADD COLUMN due_date VARCHAR(10)",
    "ALTER TABLE alert ADD COLUMN outcome VARCHAR(16)",
    "ALTER TABLE alert ADD COLUMN outcome_reason TEXT",
    "ALTER TABLE alert ADD COLUMN duplicate_of {bigint}",
    "ALTER TABLE alert ADD COLUMN action_id {bigint}",
    "ALTER TABLE alert ADD COLUMN closed_at {ts}",
    "UPDATE alert SET state = 'acknowledged' WHERE acked_at IS NOT NULL",
    "CREATE INDEX alert_state_site ON alert (state, site_id)",
    "CREATE INDEX alert_owner ON alert (owner)",
    """CREATE TABLE alert_event (
        id {serial_pk},
        alert_id {bigint} NOT NULL,
        at {ts} NOT NULL,
        user_name VARCHAR(64),
        event VARCHAR(16) NOT NULL,
        detail TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX alert_event_alert ON alert_event (alert_id, id)",
    "ALTER TABLE action ADD COLUMN owner VARCHAR(64)",
    "ALTER TABLE action ADD COLUMN alert_id {bigint}",
    "ALTER TABLE action ADD COLUMN action_type VARCHAR(32)",
    "ALTER TABLE action ADD COLUMN due_date VARCHAR(10)",
    "ALTER TABLE action ADD COLUMN closed_at {ts}",
    "ALTER TABLE action ADD COLUMN verdict VARCHAR(24)",
    "ALTER TABLE action ADD COLUMN verdict_detail TEXT",
    "CREATE INDEX action_open ON action (closed_at, site_id)",
    "ALTER TABLE web_user ADD COLUMN email TEXT",
    """CREATE TABLE digest_sent (
        user_id {bigint} NOT NULL,
        period VARCHAR(10) NOT NULL,
        sent_at {ts} NOT NULL,
        PRIMARY KEY (user_id, period))""",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
