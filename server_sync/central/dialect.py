"""The one place where SQLite and PostgreSQL differ for the central store: column types in DDL,
the writer lock, and bulk inserts.

Queries are written once (standard SQL, `ON CONFLICT` upserts work on both); DDL uses the
placeholders below, filled per engine; the few statements that must differ are functions here.
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

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


# ---------------------------------------------------------------------------------------------
# Engine-specific statements. Everything else is written once.

_SQLITE_MAX_PARAMS = 32000            # SQLite >= 3.32 allows 32766 bound parameters per statement
_KIOSK_LOCK_SPACE = 0x6B70            # "kp": first key of the two-key advisory lock (ingest writers)


@contextmanager
def writer_transaction(db: Database, lock_name: str) -> Iterator[None]:
    """A transaction that first takes the writer lock named `lock_name`.

    Writers of the same name (one kiosk's batches, handled by several ingestors) run one after
    another, so a check-then-insert inside cannot race. PostgreSQL: a transaction-scoped advisory
    lock on a hash of the name (other names run in parallel). SQLite has one writer anyway:
    BEGIN IMMEDIATE takes its write lock at the start instead of at the first write.
    """
    if dialect_of(db) is POSTGRES:
        with db.atomic():
            key = zlib.crc32(lock_name.encode("utf-8")) - 2 ** 31      # into int4 range
            db.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (_KIOSK_LOCK_SPACE, key))
            yield
    else:
        with db.atomic("IMMEDIATE"):
            yield


def insert_returning(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence],
                     key: str) -> set:
    """INSERT rows … ON CONFLICT DO NOTHING; return the `key` values of the rows really inserted.

    One multi-row statement per page (not a round trip per row): psycopg2's execute_values on
    PostgreSQL, a VALUES list within SQLite's parameter limit on SQLite (3.35+ has RETURNING).
    """
    if not rows:
        return set()
    cols = ", ".join(columns)
    cursor = db.cursor()
    if dialect_of(db) is POSTGRES:
        from psycopg2.extras import execute_values
        got = execute_values(cursor, f"INSERT INTO {table} ({cols}) VALUES %s ON CONFLICT DO NOTHING"
                                     f" RETURNING {key}", rows, page_size=1000, fetch=True)
        return {r[0] for r in got}
    one = "(" + ", ".join("?" * len(columns)) + ")"
    per_statement = max(1, _SQLITE_MAX_PARAMS // len(columns))
    inserted: set = set()
    for i in range(0, len(rows), per_statement):
        page = rows[i:i + per_statement]
        cursor.execute(f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(page))}"
                       f" ON CONFLICT DO NOTHING RETURNING {key}", [v for row in page for v in row])
        inserted.update(r[0] for r in cursor.fetchall())
    return inserted


def insert_ignore(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """INSERT rows … ON CONFLICT DO NOTHING, in bulk, without reading anything back."""
    if not rows:
        return
    cols = ", ".join(columns)
    cursor = db.cursor()
    if dialect_of(db) is POSTGRES:
        from psycopg2.extras import execute_values
        execute_values(cursor, f"INSERT INTO {table} ({cols}) VALUES %s ON CONFLICT DO NOTHING",
                       rows, page_size=1000)
    else:
        cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})"
                           " ON CONFLICT DO NOTHING", rows)


def placeholders(db: Database, n: int) -> str:
    """`?, ?, ?` / `%s, %s, %s` for an IN list of n values."""
    return ", ".join([db.param] * n)
