"""Keep only what is needed, for as long as needed: the retention periods of the centre (settings
in `central_setting`) and a log of what retention and erasure removed, as counts only
(`privacy_log`: never the content, never who wrote it). See docs/privacy.md."""

from peewee import Database

from server_sync.central.dialect import Dialect

DEFAULTS = {"comments_keep_months": "13", "dead_letters_keep_days": "90", "audit_keep_months": "24"}


def up(db: Database, dialect: Dialect) -> None:
    db.execute_sql(dialect.ddl("""CREATE TABLE privacy_log (
        id {serial_pk},
        at {ts} NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        counts TEXT NOT NULL)"""))
    # When retention or an erasure removed the comment's text (the follow-up and its reasons stay).
    db.execute_sql(dialect.ddl("ALTER TABLE followup ADD COLUMN comment_removed_at {ts}"))
    for name, value in DEFAULTS.items():
        db.execute_sql(f"INSERT INTO central_setting (name, value) VALUES ({db.param}, {db.param})", (name, value))
