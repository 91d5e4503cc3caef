"""Which kiosk put a question version it answered into the register (`question.first_kiosk_id`,
NULL for a definition of the centre and for the rows registered before): each kiosk may bring
in only so many unknown versions a UTC day (server_sync/central/questions.py), counted by this
column and `first_seen`. `defined_at` is indexed: the register's stamp, read by every ingest
transaction and web page, reads only the centre's definitions."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    "ALTER TABLE question ADD COLUMN first_kiosk_id VARCHAR(64)",
    "CREATE INDEX question_first_kiosk ON question (first_kiosk_id, first_seen)",
    "CREATE INDEX question_defined ON question (defined_at)",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
