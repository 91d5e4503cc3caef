"""The one place where SQLite and PostgreSQL differ for the central store: column types in DDL,
the writer lock, and bulk inserts.

Queries are written once (standard SQL, `ON CONFLICT` upserts work on both); DDL uses the
placeholders below, filled per engine; the few statements that must differ are functions here.
"""

from __future__ import annotations

import io
import re
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
            db.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (_KIOSK_LOCK_SPACE, _lock_key(lock_name)))
            yield
    else:
        with db.atomic("IMMEDIATE"):
            yield


@contextmanager
def group_transaction(db: Database, lock_names: Sequence[str]) -> Iterator[None]:
    """One transaction for a group of messages (group commit), holding the writer locks of all of
    them from the start. Each message then runs in `writer_transaction`, which inside this one is
    a SAVEPOINT (peewee nests `atomic`), so one refused message rolls back alone.

    PostgreSQL: the advisory locks are taken up front in one fixed order (sorted keys), so two
    ingestors whose groups share kiosks queue behind each other instead of deadlocking; the
    re-take inside `writer_transaction` is then free (advisory locks are re-entrant).
    SQLite: BEGIN IMMEDIATE, its single write lock.
    """
    if dialect_of(db) is POSTGRES:
        with db.atomic():
            for key in sorted({_lock_key(name) for name in lock_names}):   # one at a time: in order
                db.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (_KIOSK_LOCK_SPACE, key))
            yield
    else:
        with db.atomic("IMMEDIATE"):
            yield


def _lock_key(lock_name: str) -> int:
    return zlib.crc32(lock_name.encode("utf-8")) - 2 ** 31      # into int4 range


class StoredAlready(Exception):
    """`insert_new(direct=True)` met a row that is stored already (a re-send) and left the
    transaction failed: roll back to before the call and call again with `direct=False`."""


def insert_new(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence], key: str,
               absent_from: Sequence[str] = (), *, direct: bool = True) -> set:
    """Insert the rows whose `key` is not yet in `table` nor in any `absent_from` table (ids are
    unique across those); return the keys really inserted. Existing rows are never touched.
    The caller holds `writer_transaction`.

    PostgreSQL with `direct`: the rows are copied straight into `table`, expecting none to be
    there; if one is, this raises StoredAlready (see there). SQLite ignores `direct`.
    """
    if not rows:
        return set()
    cols = ", ".join(columns)
    cursor = db.cursor()
    if dialect_of(db) is POSTGRES:
        if direct:
            return _insert_new_direct(db, cursor, table, columns, rows, key, absent_from)
        return _insert_new_staged(cursor, table, columns, rows, key, absent_from)
    # SQLite: one writer, whose lock the caller holds, so look the keys up (cheap in-process) and
    # executemany the rest (measured faster there than a multi-row VALUES … RETURNING).
    index = columns.index(key)
    keys = [row[index] for row in rows]
    present: set = set()
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        marks = placeholders(db, len(chunk))
        for t in (table, *absent_from):
            present.update(r[0] for r in cursor.execute(f"SELECT {key} FROM {t} WHERE {key} IN ({marks})",
                                                        chunk).fetchall())
    fresh = [row for row in rows if row[index] not in present] if present else rows
    if fresh:
        # A plain INSERT (measured about 15 % cheaper per row than ON CONFLICT DO NOTHING): under
        # the write lock nothing can have appeared since the look-up; if something did, the
        # IntegrityError rolls the message back and it is refused, never half-stored.
        values, params = _sqlite_constants(fresh)
        cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({values})", params)
    return {row[index] for row in fresh}


def _sqlite_constants(rows: Sequence[Sequence]) -> tuple[str, Sequence[Sequence]]:
    """(the VALUES list, the parameters per row) of an SQLite executemany over `rows`, with each
    column that holds the same value in every row written into the statement as a literal, once,
    instead of bound in every row (a batch's kiosk, site, question, batch id, receive time, …):
    SQLite copies every bound text. Measured: 10.8 -> 8.9 us per 19-column answer row.

    Only values whose literal is exact are written so: integers and booleans, NULL, and ASCII
    text without NUL, quoted the one way SQLite reads text literals (a quote doubled). Anything
    else is bound. (A bound bool also costs sqlite3 two failed adapter look-ups per row.)
    """
    width = len(rows[0])
    if len(rows) < 2:
        return ", ".join("?" * width), rows
    columns = list(zip(*rows))
    values, varying = [], []
    for i, col in enumerate(columns):
        first = col[0]
        literal = None
        if col.count(first) == len(col) and len(set(map(type, col))) == 1:
            if first is None:
                literal = "NULL"
            elif type(first) is int or type(first) is bool:      # sqlite3 binds a bool as 0 or 1
                literal = str(int(first))
            elif type(first) is str and first.isascii() and "\x00" not in first:
                literal = "'" + first.replace("'", "''") + "'"
        if literal is None:
            values.append("?")
            varying.append(col)
        else:
            values.append(literal)
    return ", ".join(values), list(zip(*varying)) if varying else [()] * len(rows)


def _insert_new_direct(db: Database, cursor: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence], key: str,
                       absent_from: Sequence[str]) -> set:
    """PostgreSQL: COPY the rows straight into `table`, ids found in an `absent_from` table left
    out first. Measured: about half the server time of the staged way (a COPY into a staging
    table, then INSERT … SELECT … ON CONFLICT), which every batch paid before; a re-send pays
    both (StoredAlready)."""
    index = columns.index(key)
    present: set = set()
    if absent_from:
        where, params = in_list(db, key, [row[index] for row in rows])
        for other in absent_from:
            cursor.execute(f"SELECT {key} FROM {other} WHERE {where}", params)
            present.update(r[0] for r in cursor.fetchall())
    fresh = [row for row in rows if row[index] not in present] if present else rows
    if not fresh:
        return set()
    from psycopg2 import IntegrityError
    try:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(copy_text(fresh)))
    except IntegrityError as e:     # a unique violation: some are stored already
        raise StoredAlready(f"{table}: {e}".strip()) from None
    return {row[index] for row in fresh}


def _insert_new_staged(cursor: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence], key: str,
                       absent_from: Sequence[str]) -> set:
    """COPY into a transaction-scoped staging table, then one INSERT … SELECT that skips what
    exists (ON CONFLICT, NOT EXISTS) and RETURNs what went in (about twice as fast as a multi-row
    VALUES statement: 500 answers in 12-28 ms against 24-62 ms)."""
    cols = ", ".join(columns)
    staging = f"incoming_{table}"
    # One round trip: make sure the staging table exists and is empty (an earlier call in this
    # transaction may have used it).
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS)"
                   f" ON COMMIT DELETE ROWS; DELETE FROM {staging}")
    cursor.copy_expert(f"COPY {staging} ({cols}) FROM STDIN", io.StringIO(copy_text(rows)))
    absent = "".join(f" AND NOT EXISTS (SELECT 1 FROM {other} o WHERE o.{key} = s.{key})"
                     for other in absent_from)
    cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {', '.join('s.' + c for c in columns)}"
                   f" FROM {staging} s WHERE TRUE{absent} ON CONFLICT DO NOTHING RETURNING {key}")
    return {r[0] for r in cursor.fetchall()}


_PLAIN = frozenset({str, int, datetime})     # types whose str() is their COPY text (if unescaped)


def copy_text(rows: Sequence[Sequence]) -> str:
    """Rows in PostgreSQL's COPY text format, a newline after each.

    Fast path (measured 5 -> 1.7 us per 19-column row): column by column, a column of plain
    values (str, int, datetime) goes through `str` at C speed, any other column value by value
    (NULL, booleans); rows are joined at C speed. Valid only if no value holds a character that
    needs escaping, which the whole text tells at once: exactly one tab between fields and one
    newline per row, one backslash per NULL, no CR. Otherwise every row goes through
    `_copy_line`, field by field.
    """
    if not rows:
        return ""
    columns = []
    nulls = 0
    for col in zip(*rows):
        if set(map(type, col)) <= _PLAIN:
            columns.append(map(str, col))
        else:
            nulls += col.count(None)
            columns.append(map(str, ["\\N" if v is None else ("t" if v is True else "f" if v is False else v)
                                     for v in col]))
    text = "\n".join(map("\t".join, zip(*columns))) + "\n"
    width = len(rows[0])
    if (text.count("\t") == len(rows) * (width - 1) and text.count("\n") == len(rows)
            and text.count("\\") == nulls and "\r" not in text and all(len(r) == width for r in rows)):
        return text
    return "".join(map(_copy_line, rows))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_line(row: Sequence) -> str:
    """One row in PostgreSQL's COPY text format, newline included.

    Fast path (measured 15 -> 5 us per 19-column row): NULL and booleans mapped, everything
    else through `str` (datetimes print as `isoformat(" ")`, as `_copy_value` writes them) and
    joined at C speed. Valid only if no value holds a character that needs escaping, which the
    joined line tells: exactly len-1 tabs, one backslash per NULL, no CR or LF. Otherwise the
    row goes through `_copy_value`, field by field.
    """
    vals = ["\\N" if v is None else ("t" if v is True else "f" if v is False else v) for v in row]
    line = "\t".join(map(str, vals))
    if (line.count("\t") != len(vals) - 1 or line.count("\\") != row.count(None)
            or "\n" in line or "\r" in line):
        line = "\t".join(map(_copy_value, row))
    return line + "\n"


def _copy_value(v: Any) -> str:
    """One field in PostgreSQL's COPY text format."""
    if v is None:
        return "\\N"
    if v is True or v is False:
        return "t" if v else "f"
    if isinstance(v, datetime):
        return v.isoformat(" ")
    return str(v).translate(_COPY_ESCAPES)


def insert_rows(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """INSERT rows that cannot be stored yet (the caller knows: the reasons of follow-ups it has
    just inserted), in bulk: COPY on PostgreSQL (no quoting per value, no conflict check),
    executemany on SQLite. A row that is there after all raises."""
    if not rows:
        return
    cursor = db.cursor()
    if dialect_of(db) is POSTGRES:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(copy_text(rows)))
    else:
        values, params = _sqlite_constants(rows)
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})", params)


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


def in_list(db: Database, column: str, values: Sequence[str]) -> tuple[str, list]:
    """(`column IN …` as SQL, its parameters) for a list of text keys (ids).

    PostgreSQL: `column = ANY(string_to_array(%s, ','))` with the keys joined into one parameter
    (measured for 500 UUIDs: psycopg2 quotes 500 parameters in 0.4 ms, and the server parses and
    plans 500 literals; one joined string takes 0.1 ms all told), unless a key holds a comma.
    SQLite: `column IN (?, …)`, which costs next to nothing in-process.
    """
    if dialect_of(db) is POSTGRES:
        joined = ",".join(values)
        if joined.count(",") == len(values) - 1:
            return f"{column} = ANY(string_to_array(%s, ','))", [joined]
    return f"{column} IN ({placeholders(db, len(values))})", list(values)


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




class _PagedCursor:
    """A psycopg2 cursor whose executemany sends 200 statements per round trip (execute_batch)
    instead of one round trip per row, which is what psycopg2's own executemany does."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        from psycopg2.extras import execute_batch
        execute_batch(self._cursor, sql, rows, page_size=200)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def upsert_many(db: Database, sql: str, rows: Sequence[Sequence],
                conflict_key: Callable[[Sequence], tuple] | None = None) -> None:
    """Run `INSERT … VALUES (p, …, p) ON CONFLICT … DO UPDATE …` for each of `rows` (rollups).

    PostgreSQL: one multi-row statement per 1000 rows (execute_values: one parse and plan for
    the lot instead of one per row). One statement may not touch a row twice, so that needs the
    rows' conflict keys to differ: `conflict_key(row)` names them (None: distinct by
    construction); otherwise the rows go as paged single-row statements. SQLite: executemany.
    """
    if not rows:
        return
    cursor = db.cursor()
    if dialect_of(db) is not POSTGRES:
        cursor.executemany(sql, rows)
        return
    if conflict_key is not None and len({conflict_key(r) for r in rows}) != len(rows):
        _PagedCursor(cursor).executemany(sql, rows)
        return
    from psycopg2.extras import execute_values
    multi, n = _ONE_ROW.subn("VALUES %s", sql, count=1)
    if n != 1:
        raise ValueError(f"upsert_many needs INSERT … VALUES (%s, …): {sql[:80]}")
    execute_values(cursor, multi, rows, page_size=1000)


_ONE_ROW = re.compile(r"VALUES \((?:%s, )*%s\)")


def bulk_cursor(db: Database) -> Any:
    """A cursor for `executemany` of many small upserts (rollups): paged on PostgreSQL."""
    cursor = db.cursor()
    return _PagedCursor(cursor) if dialect_of(db) is POSTGRES else cursor
