"""The kiosk's local store: peewee models on SQLite, opened durable (WAL, synchronous=FULL).

Every answer is committed here before the customer is thanked; the `sent_at`/`acked_at` columns
are the outbox the sync agent drains (`rejected_at`: the centre refused the event for good; it
stays here, out of the outbox). Rows are never deleted by the kiosk app.
Models are bound late: `LocalStore(path)` opens the file, migrates it and binds the models.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from peewee import DatabaseError as PeeweeDatabaseError
from peewee import (BooleanField, CharField, Check, IntegerField, Model, SqliteDatabase,
                    TextField)

from kiosk.exc import StoreError
from kiosk.migrations import LATEST, MIGRATIONS

# An event is in the outbox while the centre has neither acknowledged nor refused it.
OUTBOX = "acked_at IS NULL AND rejected_at IS NULL"

PRAGMAS = {
    # First: peewee applies these in order, and switching a new file to WAL needs a lock that a
    # second process opening it at the same moment may hold; the wait for it should be this one,
    # not whatever the driver's connect default happens to be.
    "busy_timeout": 5000,      # the sync agent and `kiosk stats` share the file
    "journal_mode": "wal",
    "synchronous": 2,          # FULL: a commit survives a power cut, not just a crash
    "foreign_keys": 1,
}


class _Base(Model):
    class Meta:
        database = None
        legacy_table_names = False


class Response(_Base):
    id = TextField(primary_key=True)
    seq = IntegerField(unique=True)
    kiosk_id = TextField()
    site_id = TextField()
    question_id = TextField()
    question_version = IntegerField()
    scale = TextField()
    value = IntegerField()
    audience = TextField()
    language = TextField()
    recorded_at = TextField()          # ISO 8601 UTC with ms, e.g. 2026-11-23T12:00:00.123Z
    clock_synced = BooleanField()
    boot_id = TextField()
    monotonic_ns = IntegerField()
    filtered = TextField(null=True)    # None, "repeat" or "burst"
    source = TextField()               # touch, button, simulate
    local_date = TextField()           # store-local date and hour, for local stats
    local_hour = IntegerField()
    sent_at = TextField(null=True)
    send_count = IntegerField(default=0)
    acked_at = TextField(null=True)
    rejected_at = TextField(null=True)           # the centre refused it for good (never re-sent)
    rejected_reason = TextField(null=True)

    def to_event(self) -> dict[str, Any]:
        return {
            "type": "response", "id": self.id, "seq": self.seq, "kiosk_id": self.kiosk_id,
            "site_id": self.site_id,
            "question_id": self.question_id, "question_version": self.question_version,
            "scale": self.scale, "value": self.value, "audience": self.audience,
            "language": self.language, "recorded_at": self.recorded_at,
            "clock_synced": bool(self.clock_synced), "boot_id": self.boot_id,
            "monotonic_ns": self.monotonic_ns, "filtered": self.filtered,
        }


class FollowUp(_Base):
    id = TextField(primary_key=True)
    seq = IntegerField(unique=True)
    kiosk_id = TextField()
    response_id = TextField(unique=True)
    reasons = TextField()              # JSON array of reason codes
    comment = TextField(null=True)
    recorded_at = TextField()
    clock_synced = BooleanField()
    boot_id = TextField()
    monotonic_ns = IntegerField()
    sent_at = TextField(null=True)
    send_count = IntegerField(default=0)
    acked_at = TextField(null=True)
    rejected_at = TextField(null=True)
    rejected_reason = TextField(null=True)

    class Meta:
        table_name = "followup"

    @property
    def reason_codes(self) -> list[str]:
        return json.loads(self.reasons)

    def to_event(self) -> dict[str, Any]:
        return {
            "type": "followup", "id": self.id, "seq": self.seq, "kiosk_id": self.kiosk_id,
            "response_id": self.response_id, "reasons": self.reason_codes,
            "comment": self.comment, "recorded_at": self.recorded_at,
            "clock_synced": bool(self.clock_synced), "boot_id": self.boot_id,
            "monotonic_ns": self.monotonic_ns,
        }


class Meta(_Base):
    key = CharField(primary_key=True)
    value = TextField()


MODELS = (Response, FollowUp, Meta)


def open_database(path: Path | str) -> SqliteDatabase:
    """Open (creating if needed) and migrate the kiosk database at `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"cannot create data directory {path.parent}: {e.strerror}") from None
    db = SqliteDatabase(str(path), pragmas=PRAGMAS, check_same_thread=False)
    try:
        db.connect(reuse_if_open=True)
        migrate(db)
    except (sqlite3.DatabaseError, PeeweeDatabaseError, OSError) as e:
        # peewee wraps sqlite3's errors in its own classes; both mean the file is unusable.
        db.close()
        raise StoreError(f"cannot open database {path}: {e} (run `kiosk doctor`)") from None
    return db


def migrate(db: SqliteDatabase) -> int:
    """Apply pending migrations; return the schema version now in force."""
    current = db.execute_sql("PRAGMA user_version").fetchone()[0]
    if current > LATEST:
        raise StoreError(f"database schema {current} is newer than this software ({LATEST}); upgrade kundpuls")
    for number, _name, statements in MIGRATIONS:
        if number <= current:
            continue
        with db.atomic("IMMEDIATE"):
            for sql in statements:
                db.execute_sql(sql)
            db.execute_sql(f"PRAGMA user_version = {number}")
    return db.execute_sql("PRAGMA user_version").fetchone()[0]


class LocalStore:
    """The kiosk database, opened, migrated and bound to the models."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.db = open_database(self.path)
        self.db.bind(MODELS)

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    def __enter__(self) -> "LocalStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def outbox_depth(self) -> int:
        """Events still to reach the centre (neither acked nor refused by it)."""
        row = self.db.execute_sql(
            f"SELECT (SELECT COUNT(*) FROM response WHERE {OUTBOX})"
            f" + (SELECT COUNT(*) FROM followup WHERE {OUTBOX})").fetchone()
        return int(row[0])

    def oldest_unacked(self) -> str | None:
        row = self.db.execute_sql(
            f"SELECT MIN(t) FROM (SELECT MIN(recorded_at) AS t FROM response WHERE {OUTBOX}"
            f" UNION ALL SELECT MIN(recorded_at) FROM followup WHERE {OUTBOX})").fetchone()
        return row[0]

    def rejected_count(self) -> int:
        """Events the centre refused for good: kept here, never sent again."""
        row = self.db.execute_sql(
            "SELECT (SELECT COUNT(*) FROM response WHERE rejected_at IS NOT NULL)"
            " + (SELECT COUNT(*) FROM followup WHERE rejected_at IS NOT NULL)").fetchone()
        return int(row[0])

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute_sql("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute_sql("INSERT INTO meta (key, value) VALUES (?, ?)"
                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def integrity_ok(self) -> bool:
        return self.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
