"""`pushed_definition`: for each question version a config push defined and may still take back
(from its record until its send), the register row as it stood before it (`before_scale` NULL:
the version was not in the register). Taking the push back puts that row back
(`questions.undefine`); its send, once the broker took it for a kiosk, drops these rows.

A push kept only that row in memory. Two pushes defining the same new version during a broker
outage, the earlier refused first: its undo found the later one's definition and left it, the
later one's put back its own "before", which was the earlier push's definition: both admins were
told "Nothing was pushed or recorded", and the version stayed defined (a review). Kept here, the
earlier push's undo hands its "before" to the push that defined the version on top of it."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE pushed_definition (
        question_id VARCHAR(64) NOT NULL,
        version INTEGER NOT NULL,
        defined_at {ts} NOT NULL,
        before_scale TEXT,
        before_audience TEXT,
        before_text TEXT,
        before_defined_at {ts},
        PRIMARY KEY (question_id, version, defined_at))""",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
