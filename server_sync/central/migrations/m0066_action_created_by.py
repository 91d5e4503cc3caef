"""`action.created_by`: who logged the action (a web app user, or the CLI's `--by` or
`cli:<login>`, as the alerts commands name who acts).

An action logged by a regional manager at a store is the store manager's (its owner by default),
and who logged it was kept nowhere: no column, and no history row when it answers no alert, so
it read as the store manager's own (a review). The actions logged before this migration keep
NULL: who logged them is not known (shown as "unknown").

Not added to `v_actions`: the BI views carry no person's name (`v_alerts` has no owner and no
history, `v_actions` no owner), and a BI role reads every site (docs/privacy.md).
"""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    "ALTER TABLE action ADD COLUMN created_by VARCHAR(64)",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
