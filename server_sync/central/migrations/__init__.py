"""Numbered migrations of the central store: modules `mNNNN_name.py`, each with `up(db, dialect)`.

Applied in order, each once, inside a transaction that also records it in `schema_migration`.
Concurrent starts (several ingestors) are serialised: a PostgreSQL advisory lock, or SQLite's
write lock. Never edit a released migration; add the next number.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from datetime import datetime, timezone

from peewee import Database

from server_sync.central.dialect import POSTGRES, dialect_of

_NAME = re.compile(r"^m(\d{4})_\w+$")
_LOCK_KEY = 0x6B756E64          # "kund"


def available() -> list[tuple[int, str]]:
    found = []
    for m in pkgutil.iter_modules(__path__):
        match = _NAME.match(m.name)
        if match:
            found.append((int(match.group(1)), m.name))
    numbers = [n for n, _ in found]
    if len(numbers) != len(set(numbers)):
        raise RuntimeError(f"two central migrations share a number: {sorted(found)}")
    return sorted(found)


def migrate(db: Database) -> int:
    """Apply what is pending; return the number of the newest applied migration."""
    dialect = dialect_of(db)
    with db.atomic():
        # Under the lock too: two concurrent `CREATE TABLE IF NOT EXISTS` race on PostgreSQL
        # (a unique violation in pg_type), so a second ingestor starting at once would crash.
        if dialect is POSTGRES:
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        db.execute_sql("CREATE TABLE IF NOT EXISTS schema_migration ("
                       " number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)")
    newest = 0
    for number, name in available():
        with db.atomic() as _txn:
            if dialect is POSTGRES:
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            else:
                # Take SQLite's write lock now, so the check below cannot race another process.
                db.execute_sql("UPDATE schema_migration SET number = number WHERE 0")
            done = db.execute_sql("SELECT 1 FROM schema_migration WHERE number = " + str(number)).fetchone()
            if not done:
                module = importlib.import_module(f"{__name__}.{name}")
                module.up(db, dialect)
                db.execute_sql("INSERT INTO schema_migration (number, name, applied_at) VALUES ("
                               + str(number) + ", '" + name + "', '"
                               + datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ") + "')")
        newest = number
    return newest
