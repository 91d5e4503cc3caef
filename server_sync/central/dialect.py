"""The one adapter between the centre's code and its two engines, SQLite and PostgreSQL.

The centre talks plain parameterised SQL through the peewee `Database` (`execute_sql`, its
cursor), and bulk-loads PostgreSQL through psycopg 3's `COPY` (`write_row`). Queries are written
once (standard SQL; `ON CONFLICT` upserts work on both). What differs between the engines is
data, in `Dialect`: column types in DDL, the placeholder, how a list of keys is matched, the
writer lock, how many rows go in at once, which errors mean "lost a race". The few functions
below read that data; no other module asks which engine it runs on.

Must never: quote a value into SQL or escape COPY text by hand (values travel as parameters or
through the driver's COPY), or commit (callers own their transactions). The speed tricks the
SQLite path uses live in `speedups`, each beside its plain version.
"""

from __future__ import annotations

import sqlite3
import unicodedata
import zlib
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator, Sequence

from peewee import Database, DatabaseError, PostgresqlDatabase
# The driver's errors as peewee's, as `execute_sql` raises them (the driver's beneath, as the
# context): the bulk paths below use the driver's cursor, and a QueryCanceled or DiskFull from a
# COPY passed every `except OperationalError` (the ingest dead-lettered batches on a timeout).
from peewee import __exception_wrapper__ as as_peewee_errors

from server_sync.central import speedups
from server_sync.exc import CentralConfigError, CentralError


@dataclass(frozen=True)
class Dialect:
    """What differs between the engines, as data."""
    name: str
    # DDL column types, filled into migrations' `{serial_pk}`, `{ts}`, … placeholders.
    serial_pk: str
    timestamp: str
    boolean: str
    blob: str
    bigint: str
    true: str
    false: str
    param: str                       # the driver's placeholder
    any_of: str                      # "column matches one of a list of keys"; {column}, {marks}
    lock_sql: str | None             # takes a transaction-scoped lock on one key (migrations)
    lock_key_sql: str | None         # the same on two keys (space, key): the writer locks
    begin: str | None                # peewee `atomic` lock type that starts a writer transaction
    copy: bool                       # bulk inserts by COPY (else executemany)
    days_between: str                # whole days from {earlier} to {later}, two 'YYYY-MM-DD' texts
    # {text} in lower case, every letter's (Å, Ö, Æ, Ø as much as A-Z), whatever the database's
    # locale: the engines' own LOWER folds only A-Z on SQLite, and on PostgreSQL only what the
    # database's LC_CTYPE knows (A-Z under the C locale the tests' cluster uses, and a database
    # made without a locale may have). SQLite: the centre's function, Python's str.lower, that
    # db.database_from_url gives every connection. PostgreSQL: ICU's root locale (initdb makes
    # `und-x-icu` on a server built with ICU, as Debian's is; the web app checks it at start).
    # Comments are stored composed (events.check_event; m0055 for those stored before), so
    # lower case is all it takes; `fold` composes the text searched for.
    lower: str

    def ddl(self, sql: str) -> str:
        return sql.format(serial_pk=self.serial_pk, ts=self.timestamp, bool=self.boolean,
                          blob=self.blob, bigint=self.bigint, true=self.true, false=self.false)


SQLITE = Dialect("sqlite", "INTEGER PRIMARY KEY AUTOINCREMENT", "TIMESTAMP", "INTEGER", "BLOB", "INTEGER",
                 "1", "0", param="?", any_of="{column} IN ({marks})", lock_sql=None, lock_key_sql=None,
                 # SQLite has one writer: BEGIN IMMEDIATE takes its lock at the start, not at the
                 # first write, so a check-then-insert inside cannot race.
                 begin="IMMEDIATE", copy=False,
                 days_between="CAST(julianday({later}) - julianday({earlier}) AS INTEGER)",
                 lower="kp_lower({text})")
POSTGRES = Dialect("postgresql", "BIGSERIAL PRIMARY KEY", "TIMESTAMP", "BOOLEAN", "BYTEA", "BIGINT",
                   "TRUE", "FALSE", param="%s",
                   # One array parameter, whatever the number of keys, sent in binary (%b): psycopg
                   # writes a text array through a regex per element (measured for 500 ids: 1.0
                   # against 0.2 ms of CPU a look-up).
                   any_of="{column} = ANY(%b)",
                   lock_sql="SELECT pg_advisory_xact_lock(%s)",
                   lock_key_sql="SELECT pg_advisory_xact_lock(%s, %s)", begin=None, copy=True,
                   days_between="(CAST({later} AS DATE) - CAST({earlier} AS DATE))",
                   lower='lower(({text}) COLLATE "und-x-icu")')


def dialect_of(db: Database) -> Dialect:
    return POSTGRES if isinstance(db, PostgresqlDatabase) else SQLITE


def fold(text: str) -> str:
    """`text` as the comments are searched: composed (NFC, as comments are stored) and in lower
    case, every letter's, as the dialect's `lower` puts a stored comment."""
    return unicodedata.normalize("NFC", text).lower()


def check_lower(db: Database) -> None:
    """Refuse a database on which the dialect's `lower` does not fold every letter: a PostgreSQL
    server built without ICU has no `und-x-icu`, and every search of the comments would fail."""
    letters = "ÅÄÖÆØ"
    sql = f"SELECT {dialect_of(db).lower.format(text=repr(letters))}"
    try:
        # PostgreSQL: in a transaction of its own, so a refused statement leaves the session
        # usable. SQLite: none (each transaction begins IMMEDIATE: a store another process held
        # locked read as a server without ICU).
        with db.atomic() if dialect_of(db) is POSTGRES else nullcontext():
            got = db.execute_sql(sql).fetchone()[0]
    except DatabaseError as e:
        if store_failure(e):
            raise                           # the store failing, not its collation: said as such
        got = f"({first_line(e)})"
    if got != letters.lower():
        raise CentralConfigError(f"the database does not put {letters} in lower case: {got} (PostgreSQL must be"
                                 " built with ICU, as Debian's and the PostgreSQL project's packages are: the"
                                 " comments' search and erasure need its collation und-x-icu)")


def first_line(error: BaseException) -> str:
    """A driver's error in one line (psycopg adds hints on lines of their own), or its class."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def in_one_line(error: BaseException) -> str:
    """A driver's error with each of its lines (psycopg's hint on a tab-indented line of its own,
    one failure per address tried) joined into one, or its class."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines) or type(error).__name__


def reading_transaction(db: Database) -> Any:
    """A transaction that only reads, for one consistent look (a dry run's counts): on SQLite a
    deferred one, which takes no write lock (the centre's connections begin IMMEDIATE, and a
    long scan would hold ingest up)."""
    return db.atomic("DEFERRED") if dialect_of(db) is SQLITE else db.atomic()


def lost_a_race(error: BaseException) -> bool:
    """Whether the database rolled a transaction back because another writer got in the way
    (PostgreSQL's SQLSTATE class 40: a deadlock, a serialization failure): run it again. `error`
    is peewee's (it wraps the driver's: matching psycopg's TransactionRollback by type never
    matched, and each such race was retried as an outage, logged as an ERROR) or the driver's."""
    found = driver_error(error)
    return str(getattr(found, "sqlstate", "") or "").startswith("40")


# What a person can do about a store that fails while a command runs, by SQLite's primary result
# code; any other (SQLITE_ERROR: no such table, a syntax error; a misuse) is a bug, to be seen.
_SQLITE_FAILURES = {
    "SQLITE_BUSY": "another process has held it locked for more than {wait} s (a long purge, a backup,"
                   " a migration); try again when it is done",
    "SQLITE_LOCKED": "another connection holds it; try again when it is done",
    "SQLITE_FULL": "free space on its disk",
    "SQLITE_READONLY": "the centre's user must be able to write the file and its directory",
    "SQLITE_IOERR": "check the disk it is on",
    "SQLITE_CANTOPEN": "check the file, its directory and their permissions",
    "SQLITE_CORRUPT": "the file is damaged: restore it from a backup",
    "SQLITE_NOTADB": "the file is not a SQLite database: check --db",
}
# PostgreSQL's SQLSTATEs a person can act on: the connection (08), resources such as a full disk
# (53), an operator or a shutdown (57), the server's system (58), a lock not granted (55P03), a
# read-only server (25006, a standby), privileges taken away (42501). Other operational classes
# (a savepoint or routine misused, a program limit) are bugs.
_PG_CLASSES = ("08", "53", "57", "58")
_PG_STATES = ("55P03", "25006", "42501")


def store_failure(error: BaseException, busy_timeout_ms: int = 10_000) -> CentralError | None:
    """The failure of a store a person can act on, as the error to print (the CLI's `translate`),
    from the driver's own error beneath peewee's (driver_error): SQLite's by result code;
    PostgreSQL's by SQLSTATE, or a connection the client saw go (psycopg.OperationalError without
    one). None: a bug. `busy_timeout_ms`: how long SQLite waited (central.db.SQLITE_PRAGMAS)."""
    origin = driver_error(error)
    if origin is None:
        return None
    text = first_line(origin)
    if isinstance(origin, sqlite3.Error):
        name = (getattr(origin, "sqlite_errorname", None) or "").split("_")
        fix = _SQLITE_FAILURES.get("_".join(name[:2]))
        return CentralError(f"the central store failed: {text}: {fix.format(wait=busy_timeout_ms // 1000)}") \
            if fix else None
    import psycopg
    state = getattr(origin, "sqlstate", None)
    if (state is None and isinstance(origin, psycopg.OperationalError)) or \
            (state and (state[:2] in _PG_CLASSES or state in _PG_STATES)):
        return CentralError(f"the central database failed while the command ran: {text}")
    return None


def driver_error(error: BaseException) -> BaseException | None:
    """The driver's error (sqlite3's, psycopg's) that `error`, a peewee error or the driver's own,
    stands for; None for any other error, or a peewee error with none beneath it (a misuse).

    peewee raises its error while handling the driver's (its `__context__`), and an error met while
    handling another is wrapped again: a connection peewee opens inside a query (autoconnect) that
    fails is the driver's error two levels down. The whole chain is walked (`__cause__`, else
    `__context__`; a chain that loops ends) to the first driver's error, except SQLite's
    "cannot rollback/commit - no transaction is active": SQLite ends a transaction itself on some
    failures (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY), peewee's rollback after it then fails so,
    and the failure that ended it is beneath."""
    if not isinstance(error, DatabaseError) and not _from_driver(error):
        return None
    return next((e for e in _chain(error) if _from_driver(e) and not _no_transaction(e)), None)


def root_driver_error(error: BaseException) -> BaseException:
    """The error a store failure began with, to say it: the deepest driver error in `error`'s
    chain, else `error` (a full SQLite disk is 'cannot rollback' over 'no such savepoint' over
    'database or disk is full')."""
    return ([e for e in _chain(error) if _from_driver(e)] or [error])[-1]


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it was raised from or while handling, and so on (a chain that loops ends)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _from_driver(error: BaseException) -> bool:
    return isinstance(error, sqlite3.Error) or type(error).__module__.partition(".")[0] == "psycopg"


def _no_transaction(error: BaseException) -> bool:
    """SQLite's refusal of a ROLLBACK or COMMIT outside a transaction (the one it ended itself)."""
    return isinstance(error, sqlite3.Error) and str(error).endswith("- no transaction is active")


# ---------------------------------------------------------------------------------------------
# Transactions with the writer lock

_KIOSK_LOCK_SPACE = 0x6B70            # "kp": first key of the two-key advisory lock (ingest writers)


def lock_key(lock_name: str) -> int:
    """A writer lock's name as the int4 key of a PostgreSQL advisory lock."""
    return zlib.crc32(lock_name.encode("utf-8")) - 2 ** 31


@contextmanager
def writer_transaction(db: Database, lock_name: str) -> Iterator[None]:
    """A transaction that first takes the writer lock named `lock_name`.

    Writers of the same name (one kiosk's batches, handled by several ingestors) run one after
    another, so a check-then-insert inside cannot race. PostgreSQL: a transaction-scoped advisory
    lock on a hash of the name (other names run in parallel). SQLite: its single write lock.
    """
    with group_transaction(db, (lock_name,)):
        yield


@contextmanager
def group_transaction(db: Database, lock_names: Sequence[str]) -> Iterator[None]:
    """One transaction for a group of messages (group commit), holding the writer locks of all of
    them from the start. Each message then runs in `writer_transaction`, which inside this one is
    a SAVEPOINT (peewee nests `atomic`), so one refused message rolls back alone.

    PostgreSQL: the advisory locks are taken up front in one fixed order (sorted keys), so two
    ingestors whose groups share kiosks queue behind each other instead of deadlocking; taking
    one again inside is free (advisory locks are re-entrant).
    """
    d = dialect_of(db)
    with db.atomic(d.begin) if d.begin else db.atomic():
        writer_locks(db, lock_names)
        yield


def writer_locks(db: Database, lock_names: Sequence[str]) -> None:
    """Take these writer locks inside the caller's transaction, until its end. PostgreSQL: one
    at a time in sorted keys; SQLite: nothing to do (the transaction holds the single write lock).

    A transaction that takes locks of several kinds takes them kind by kind in one order, so two
    never wait for each other: `site:` (`registry.site_lock`), then `kiosk:` (`intake.kiosk_lock`),
    then `question:` (`questions.lock_name`); `config-push:` (`config_push_store.push_lock`) comes
    before `question:` and is never taken with a site's or a kiosk's.
    """
    d = dialect_of(db)
    if d.lock_key_sql:
        for key in sorted({lock_key(name) for name in lock_names}):   # one at a time: in order
            db.execute_sql(d.lock_key_sql, (_KIOSK_LOCK_SPACE, key))


# ---------------------------------------------------------------------------------------------
# Parameters

def placeholders(db: Database, n: int) -> str:
    """`?, ?, ?` / `%s, %s, %s`: the markers of n parameters."""
    return ", ".join([dialect_of(db).param] * n)


def in_list(db: Database, column: str, values: Sequence[Any]) -> tuple[str, list]:
    """(`column` matches one of `values`, as SQL; its parameters)."""
    d = dialect_of(db)
    if d.copy:      # PostgreSQL: the keys as one parameter
        return speedups.postgres_joined_keys(column, values) or (d.any_of.format(column=column), [list(values)])
    return d.any_of.format(column=column, marks=placeholders(db, len(values))), list(values)


def time_param(db: Database) -> Callable[[datetime], Any]:
    """How a naive-UTC datetime goes into a statement: PostgreSQL takes the object; SQLite gets
    the ISO text sqlite3's default adapter would write (`YYYY-MM-DD HH:MM:SS[.ffffff]`), formatted
    by us: that adapter is deprecated from Python 3.12."""
    if dialect_of(db) is POSTGRES:
        return lambda dt: dt
    return lambda dt: dt.isoformat(" ")


def fetch_numbers(db: Database, sql: str, params: Sequence[Any]) -> list[tuple]:
    """Every row of a query whose columns are all numbers. PostgreSQL sends them in its binary
    format (psycopg's binary cursor): no text to parse, 30-45 ms less of 100 for the 25,000 rows
    of an action-window query of the benchmark chain's report."""
    if dialect_of(db) is POSTGRES:
        with as_peewee_errors, db.connection().cursor(binary=True) as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    return db.execute_sql(sql, params).fetchall()


# ---------------------------------------------------------------------------------------------
# Many rows at once

class StoredAlready(Exception):
    """`insert_new(direct=True)` met a row that is stored already (a re-send) and left the
    transaction failed: roll back to before the call and call again with `direct=False`."""


def insert_new(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence], key: str,
               absent_from: Sequence[str] = (), *, direct: bool = True) -> set:
    """Insert the rows whose `key` is not yet in `table` nor in any `absent_from` table (ids are
    unique across those); return the keys really inserted. Existing rows are never touched.
    The caller holds `writer_transaction`.

    PostgreSQL with `direct`: the rows are copied straight into `table`, expecting none to be
    there (about half the server time of the staged way, which a re-send then pays too); if one
    is, this raises StoredAlready. Without `direct`: COPY into a staging table, then one
    `INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`, which says exactly which went in.
    SQLite (one writer, whose lock the caller holds): look the keys up, insert the rest.
    """
    if not rows:
        return set()
    index = columns.index(key)
    if dialect_of(db).copy and not direct:
        return _insert_staged(db, table, columns, rows, key, absent_from)
    present: set = set()
    for other in ((table,) if not dialect_of(db).copy else ()) + tuple(absent_from):
        present |= _present(db, other, key, [row[index] for row in rows])
    fresh = [row for row in rows if row[index] not in present] if present else rows
    if not fresh:
        return set()
    if dialect_of(db).copy:
        from psycopg.errors import UniqueViolation
        with as_peewee_errors:
            try:
                _copy(db, table, columns, fresh)
            except UniqueViolation as e:
                raise StoredAlready(f"{table}: {e}".strip()) from None
    else:
        # A plain INSERT (measured about 15 % cheaper per row than ON CONFLICT DO NOTHING): under
        # the write lock nothing can have appeared since the look-up; if something did, the
        # IntegrityError rolls the message back and it is refused, never half-stored.
        _executemany_insert(db, table, columns, fresh)
    return {row[index] for row in fresh}


def _present(db: Database, table: str, key: str, keys: Sequence[Any]) -> set:
    found: set = set()
    for i in range(0, len(keys), 500):
        where, params = in_list(db, key, keys[i:i + 500])
        found.update(r[0] for r in db.execute_sql(f"SELECT {key} FROM {table} WHERE {where}", params).fetchall())
    return found


def _insert_staged(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence], key: str,
                   absent_from: Sequence[str]) -> set:
    cols = ", ".join(columns)
    staging = f"incoming_{table}"
    # An earlier call in this transaction may have used the staging table: make sure it is empty.
    db.execute_sql(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    db.execute_sql(f"DELETE FROM {staging}")
    copy_rows(db, staging, columns, rows)
    absent = "".join(f" AND NOT EXISTS (SELECT 1 FROM {other} o WHERE o.{key} = s.{key})" for other in absent_from)
    cursor = db.execute_sql(f"INSERT INTO {table} ({cols}) SELECT {', '.join('s.' + c for c in columns)}"
                            f" FROM {staging} s WHERE TRUE{absent} ON CONFLICT DO NOTHING RETURNING {key}")
    return {r[0] for r in cursor.fetchall()}


def copy_rows(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """PostgreSQL: the rows into `table` by COPY; psycopg writes (and escapes) every value."""
    with as_peewee_errors:
        _copy(db, table, columns, rows)


def _copy(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    with db.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _executemany_insert(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence],
                        suffix: str = "") -> None:
    # SQLite: a column that holds one value in every row goes into the statement once
    # (speedups.sqlite_constant_columns) instead of being bound in every row.
    values, params = speedups.sqlite_constant_columns(db.connection(), rows)
    with as_peewee_errors:
        db.cursor().executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}){suffix}", params)


def insert_rows(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """INSERT rows that cannot be stored yet (the caller knows: the reasons of follow-ups it has
    just inserted), in bulk. A row that is there after all raises."""
    if not rows:
        return
    if dialect_of(db).copy:
        copy_rows(db, table, columns, rows)
    else:
        _executemany_insert(db, table, columns, rows)


def insert_ignore(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """INSERT rows … ON CONFLICT DO NOTHING, in bulk, without reading anything back."""
    if rows:
        with as_peewee_errors:
            db.cursor().executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
                                    f" ({placeholders(db, len(columns))}) ON CONFLICT DO NOTHING", rows)


def execute_many(db: Database, sql: str, rows: Sequence[Sequence]) -> None:
    """One parameterised statement for each of `rows` (upserts, updates, deletes by key), in the
    given order: psycopg 3 pipelines them (one round trip, the statement prepared once)."""
    if rows:
        with as_peewee_errors:
            db.cursor().executemany(sql, rows)
