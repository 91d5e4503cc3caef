"""Follow-ups the customer never sent (kiosk schema 4): saved when the customer walked away from
the follow-up screen (idle timeout, the next answer, the staff gesture). NULL: from a kiosk that
did not say."""

from peewee import Database

from server_sync.central.dialect import Dialect


def up(db: Database, dialect: Dialect) -> None:
    db.execute_sql(dialect.ddl("ALTER TABLE followup ADD COLUMN unsent {bool}"))
