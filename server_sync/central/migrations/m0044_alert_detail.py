"""An alert's facts as data: `alert.detail` is JSON (the rule, the question and its wording, the
measure, the window, the value, the usual value, the drop, n, p, the dominant complaint), so every
reader's text of the alert is made in the reader's own language (server_sync.report.alert_text).
`message` stays, in English: the MQTT alert payload, webhooks and alerts raised before this
migration (which have no detail) still read it.
"""

from peewee import Database

from server_sync.central.dialect import Dialect


def up(db: Database, dialect: Dialect) -> None:
    db.execute_sql(dialect.ddl("ALTER TABLE alert ADD COLUMN detail TEXT"))
