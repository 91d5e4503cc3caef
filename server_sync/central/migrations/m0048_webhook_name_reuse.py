"""A removed webhook's name may be given to a new endpoint (`kiosk-central notify webhook add`).

m0040 made `webhook_endpoint.name` unique over every row, removed ones too (a removal only clears
`active`, so that the endpoint's deliveries keep their history): a removed name could never be
used again. Now only the active endpoints' names are unique (a partial unique index); a new
endpoint of a removed one's name is a row of its own, and the removed one's deliveries stay with
the removed one. SQLite cannot drop a column's UNIQUE, so there the table is built again with its
rows, ids and id sequence as they were (nothing refers to it but `webhook_delivery.endpoint_id`).
"""

from peewee import Database

from server_sync.central.dialect import Dialect

COLUMNS = "id, name, url, format, secret, active, created_at"
TABLE = """CREATE TABLE {name} (
        id {{serial_pk}},
        name VARCHAR(64) NOT NULL,
        url TEXT NOT NULL,
        format TEXT NOT NULL,
        secret TEXT NOT NULL,
        active {{bool}} NOT NULL,
        created_at {{ts}} NOT NULL)"""
ACTIVE_NAMES = "CREATE UNIQUE INDEX webhook_endpoint_active_name ON webhook_endpoint (name) WHERE active"


def _rebuild_sqlite(db: Database, dialect: Dialect) -> None:
    seq = db.execute_sql("SELECT seq FROM sqlite_sequence WHERE name = 'webhook_endpoint'").fetchone()
    db.execute_sql(dialect.ddl(TABLE.format(name="webhook_endpoint_new")))
    db.execute_sql(f"INSERT INTO webhook_endpoint_new ({COLUMNS}) SELECT {COLUMNS} FROM webhook_endpoint")
    db.execute_sql("DROP TABLE webhook_endpoint")
    db.execute_sql("ALTER TABLE webhook_endpoint_new RENAME TO webhook_endpoint")
    if seq is not None:                 # an id is never given twice, even one whose row is gone
        db.execute_sql("DELETE FROM sqlite_sequence WHERE name = 'webhook_endpoint'")
        db.execute_sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('webhook_endpoint', ?)", (seq[0],))


def up(db: Database, dialect: Dialect) -> None:
    if dialect.name == "sqlite":
        _rebuild_sqlite(db, dialect)
    else:
        db.execute_sql("ALTER TABLE webhook_endpoint DROP CONSTRAINT webhook_endpoint_name_key")
    db.execute_sql(ACTIVE_NAMES)
