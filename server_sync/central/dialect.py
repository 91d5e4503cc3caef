"""The one place where SQLite and PostgreSQL differ for the central store: column types in DDL.

Queries are written once (standard SQL, `ON CONFLICT` upserts work on both); DDL uses the
placeholders below, filled per engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import Database, PostgresqlDatabase


@dataclass(frozen=True)
class Dialect:
    name: str
    serial_pk: str
    timestamp: str
    boolean: str
    blob: str
    bigint: str
    true: str
    false: str

    def ddl(self, sql: str) -> str:
        return sql.format(serial_pk=self.serial_pk, ts=self.timestamp, bool=self.boolean,
                          blob=self.blob, bigint=self.bigint, true=self.true, false=self.false)


SQLITE = Dialect("sqlite", "INTEGER PRIMARY KEY AUTOINCREMENT", "TIMESTAMP", "INTEGER", "BLOB",
                 "INTEGER", "1", "0")
POSTGRES = Dialect("postgresql", "BIGSERIAL PRIMARY KEY", "TIMESTAMP", "BOOLEAN", "BYTEA",
                   "BIGINT", "TRUE", "FALSE")


def dialect_of(db: Database) -> Dialect:
    return POSTGRES if isinstance(db, PostgresqlDatabase) else SQLITE
