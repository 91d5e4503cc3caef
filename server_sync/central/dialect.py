"""The one place where SQLite and PostgreSQL differ for the central store: column types in DDL,
the writer lock, and bulk inserts.

Queries are written once (standard SQL, `ON CONFLICT` upserts work on both); DDL uses the
placeholders below, filled per engine; the few statements that must differ are functions here.
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator, Sequence

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

    PostgreSQL: one multi-row statement per page (psycopg2's execute_values), RETURNING tells
    exactly which rows a concurrent writer did not beat us to. SQLite: see below.
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
    # SQLite has a single writer and callers hold its lock (writer_transaction) after checking
    # which keys exist, so every row goes in; executemany is the fastest bulk path there
    # (measured faster than a multi-row VALUES … RETURNING). The count proves it.
    cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})"
                       " ON CONFLICT DO NOTHING", rows)
    if cursor.rowcount != len(rows):
        raise RuntimeError(f"{table}: {len(rows) - cursor.rowcount} of {len(rows)} rows already present; "
                           "insert_returning on SQLite needs the write lock and pre-checked keys")
    index = columns.index(key)
    return {row[index] for row in rows}


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


def time_param(db: Database) -> Callable[[datetime], Any]:
    """How a naive-UTC datetime goes into a statement: PostgreSQL takes the object; SQLite gets
    the ISO text sqlite3's default adapter would write (`YYYY-MM-DD HH:MM:SS[.ffffff]`), formatted
    by us: cheaper in bulk, and that adapter is deprecated from Python 3.12."""
    if dialect_of(db) is POSTGRES:
        return lambda dt: dt
    return lambda dt: dt.isoformat(" ")
