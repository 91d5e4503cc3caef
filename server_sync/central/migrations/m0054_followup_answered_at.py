"""`followup.answered_at`: the `recorded_at` of the answer a follow-up explains (NULL while that
answer is not stored), kept by ingest; and `followup_comment_answered`, the comments in the order
of their answers' times.

A comment's day and time are its answer's (docs/web.md, Comments): the reason figures count a
follow-up on its answer's day, and so must the comments page, whichever way it reads them. A
few sites' comments are read through the answers' index (`response_site_time`); many sites'
through an index of the comments alone, which walks them newest first and stops after a page
(walking every answer of 200 sites to find the 1 % with a comment is far slower). That index
was on the follow-up's own time, which can fall on another day than its answer's (an answer at
23:59:50, its comment sent at 00:00:10); no index can hold a column of another table, so the
answer's time is copied here for it. Answers stored before this migration are copied now."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    "ALTER TABLE followup ADD COLUMN answered_at {ts}",
    "UPDATE followup SET answered_at = (SELECT r.recorded_at FROM response r WHERE r.id = followup.response_id)",
    "CREATE INDEX followup_comment_answered ON followup (answered_at) WHERE comment IS NOT NULL",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
