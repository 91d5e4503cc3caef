"""`kiosk_flag`: the notify worker's memory of each kiosk that needs a person
(`server_sync.workflow.kiosk_watch`): its flag's `kind` (`never`, `silent`, `disk`, `held`,
`backlog`: `analysis.fleet`) at its `site_id`, seen at every look since `seen_since`; `told_at`
once people were told (NULL: not yet, it must last first) and to whom (`audience`: `store`, the
site's manager, or `admins`, one of many kiosks silent at once or one never heard from);
`clear_since` while a told flag is gone (its return is told once that lasts). The row goes when
the return is told, or quietly for a flag never told, a deactivated or moved kiosk. Kept apart
from `kiosk_status`, which ingest writes from the kiosk's own reports.

`kiosk.placed_at`: when the kiosk was last brought back or moved to another site. A kiosk is
silent from its last status or from then, whichever is later: one reactivated or moved after weeks
in a drawer is not silent the moment it is, but once it has not reported for 2 open hours after.
"""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE kiosk_flag (
        kiosk_id VARCHAR(64) PRIMARY KEY,
        site_id VARCHAR(64) NOT NULL,
        kind VARCHAR(16) NOT NULL,
        seen_since {ts} NOT NULL,
        told_at {ts},
        audience VARCHAR(8),
        clear_since {ts})""",
    "ALTER TABLE kiosk ADD COLUMN placed_at {ts}",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
