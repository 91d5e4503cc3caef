"""Numbered migrations of the central store: modules `mNNNN_name.py`, each with `up(db, dialect)`,
run by the shared runner (`server_sync.program.migrations`) with the centre's ledger,
`SchemaMigration`: a `schema_migration` table, and a lock that serialises concurrent starts
(several ingestors): a PostgreSQL advisory lock, or SQLite's write lock. Never edit a released
migration; add the next number. Only the store (`server_sync.central`) runs them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from peewee import Database

from server_sync.central.dialect import dialect_of, placeholders
from server_sync.exc import CentralConfigError
from server_sync.program.migrations import Migration, SchemaTooNew, check_numbers
from server_sync.program.migrations import migrate as run_migrations

_NAME = re.compile(r"^m(\d{4})_\w+$")
_LOCK_KEY = 0x6B756E64          # "kund": the migration lock's key


class SchemaMigration:
    """The centre's ledger: one row per applied migration in `schema_migration`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect = dialect_of(db)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        d = self.dialect
        # SQLite: BEGIN IMMEDIATE takes the write lock at once, so the check that follows
        # cannot race another process; PostgreSQL: the migration lock.
        with self.db.atomic(d.begin) if d.begin else self.db.atomic():
            if d.lock_sql:
                self.db.execute_sql(d.lock_sql, (_LOCK_KEY,))
            yield

    def prepare(self) -> None:
        if self.db.table_exists("schema_migration"):
            return                      # the common start: no lock taken
        # Under the lock: two concurrent `CREATE TABLE IF NOT EXISTS` race on PostgreSQL
        # (a unique violation in pg_type), so a second ingestor starting at once would crash.
        with self.transaction():
            self.db.execute_sql("CREATE TABLE IF NOT EXISTS schema_migration ("
                                " number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)")

    def applied(self, number: int) -> bool:
        return self.db.execute_sql(f"SELECT 1 FROM schema_migration WHERE number = {placeholders(self.db, 1)}",
                                   (number,)).fetchone() is not None

    def record(self, migration: Migration) -> None:
        now = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
        self.db.execute_sql(f"INSERT INTO schema_migration (number, name, applied_at) VALUES"
                            f" ({placeholders(self.db, 3)})", (migration.number, migration.name, now))

    def newest(self) -> int:
        return self.db.execute_sql("SELECT COALESCE(MAX(number), 0) FROM schema_migration").fetchone()[0]


def available() -> list[tuple[int, str]]:
    found = []
    for m in pkgutil.iter_modules(__path__):
        match = _NAME.match(m.name)
        if match:
            found.append((int(match.group(1)), m.name))
    return [(m.number, m.name) for m in check_numbers([Migration(n, name, lambda: None) for n, name in found],
                                                      "central migrations")]


def migrations(db: Database) -> list[Migration]:
    """The central migrations as the shared runner takes them (a module is imported only when
    it is applied)."""
    dialect = dialect_of(db)

    def up(name: str):
        return lambda: importlib.import_module(f"{__name__}.{name}").up(db, dialect)
    return [Migration(number, name, up(name)) for number, name in available()]


def migrate(db: Database) -> int:
    """Apply what is pending; return the number of the newest applied migration. A store that a
    newer kiosk-central migrated is refused before anything is done to it: this one would read
    and write tables it does not know the meaning of (it was used as it was: a review)."""
    try:
        return run_migrations(SchemaMigration(db), migrations(db), refuse_newer=True)
    except SchemaTooNew as e:
        raise CentralConfigError(f"the central store's {e}: a newer kiosk-central upgraded it; upgrade this one"
                                 f" (every process of the centre runs the same version)") from None
