"""Follow-ups stored before their answer: `followup_pending`, one row per such follow-up until the
answer arrives.

Ingest counts a follow-up's reasons in the reason rollups once its answer is stored. A follow-up
whose answer is not stored yet (it arrived first: a re-send, a refused batch, an import) is
counted when the answer comes; to find those, ingest used to look up every new answer in
`followup_reason` (500 look-ups per batch). This table holds just the pending ones, so the
look-up is in a table that is nearly always empty. Filled here from the follow-ups already stored
without their answer.
"""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE followup_pending (
        response_id VARCHAR(36) NOT NULL,
        followup_id VARCHAR(36) NOT NULL,
        PRIMARY KEY (response_id, followup_id))""",
    """INSERT INTO followup_pending (response_id, followup_id)
        SELECT f.response_id, f.id FROM followup f
        WHERE NOT EXISTS (SELECT 1 FROM response r WHERE r.id = f.response_id)""",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
