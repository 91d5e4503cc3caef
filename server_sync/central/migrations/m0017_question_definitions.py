"""A question is defined by the centre, not by the first kiosk that answers it (issue 11):
`question.defined_at` is set when `kiosk-central config push` or `question define` gives its
scale and audience; NULL marks a question only seen in answers, which binds nobody. The rows
registered on first sight before this migration stay undefined: a kiosk may have put them there."""

from peewee import Database

from server_sync.central.dialect import Dialect


def up(db: Database, dialect: Dialect) -> None:
    db.execute_sql(dialect.ddl("ALTER TABLE question ADD COLUMN defined_at {ts}"))
