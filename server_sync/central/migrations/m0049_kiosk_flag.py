"""`kiosk_flag`: the notify worker's memory of each kiosk that needs a person
(`server_sync.workflow.kiosk_watch`). A row per kiosk with a flag seen (`analysis.fleet`: `never`,
`silent`, `disk`, `held`, `twin`, `backlog`) at its `site_id`: the flag now (`kind`, since `kind_since`),
since when it has had one (`seen_since`), when it may be told (`due_at`), what was told
(`told_kind`, NULL: nothing yet), when and to whom (`told_at`, `audience`: `store`, the site's
manager, or `admins`), for a silence told to the admins when its kiosk was last heard
(`quiet_since`) and how many kiosks had fallen silent with it then (`group_size`), and since when
a told flag has been gone (`clear_since`). The row goes when the return is told, or quietly for a flag never
told, a deactivated or moved kiosk. Kept apart from `kiosk_status`, which ingest writes from the
kiosk's own reports.

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
        kind_since {ts} NOT NULL,
        seen_since {ts} NOT NULL,
        due_at {ts} NOT NULL,
        told_kind VARCHAR(16),
        told_at {ts},
        audience VARCHAR(8),
        quiet_since {ts},
        group_size INTEGER,
        clear_since {ts})""",
    "ALTER TABLE kiosk ADD COLUMN placed_at {ts}",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
