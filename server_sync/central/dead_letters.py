"""What the centre keeps of the messages it refuses, and what it only counts.

A refused message is kept in `dead_letter` with its reason and raw payload, so an operator can
see what a kiosk sent. One credential must not fill the central disk with them (a red team put
102 MiB there in 3 s), so per kiosk (the topic's: the broker lets a kiosk publish only under its
own id) and UTC day at most `KEEP_PER_DAY` messages and `KEEP_BYTES_PER_DAY` of their payloads
are kept, each payload at most `KEEP_BYTES_EACH`. A message kept once (same topic and payload:
a retained status that every ingestor sees again at each start, a batch re-sent) is not kept
again. Every refused message, kept or not, is counted in `dead_letter_count` (messages and bytes
per kiosk and day, with the last reason), which `kiosk-central kiosk list` shows. A deactivated
kiosk's messages are only counted. Retention removes both after `dead_letters_keep_days`.

Runs inside the caller's transaction; never commits, never raises for the message itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from peewee import Database

from server_sync.central.dialect import placeholders, time_param
from server_sync.protocol.codec import printable

KEEP_PER_DAY = 100                  # messages kept per kiosk and UTC day
KEEP_BYTES_PER_DAY = 1024 * 1024    # of their payloads, per kiosk and day
KEEP_BYTES_EACH = 256 * 1024        # of one payload
NO_KIOSK = ""                       # the bucket of messages whose topic names no kiosk


@dataclass(frozen=True)
class Limits:
    per_day: int = KEEP_PER_DAY
    bytes_per_day: int = KEEP_BYTES_PER_DAY
    bytes_each: int = KEEP_BYTES_EACH


UNLIMITED = Limits(per_day=2 ** 31 - 1, bytes_per_day=2 ** 62, bytes_each=KEEP_BYTES_EACH)


def digest(topic: str, payload: bytes) -> str:
    """What names a refused message: the same topic and payload is the same message."""
    return hashlib.sha256(topic.encode("utf-8", "replace") + b"\0" + bytes(payload)).hexdigest()


@dataclass
class DayCount:
    """A kiosk's refusals of one UTC day counted in memory: what `dead_letter_count` held when
    first read (`stored_kept`, `stored_kept_bytes`) plus what is added since."""
    stored_kept: int = 0
    stored_kept_bytes: int = 0
    messages: int = 0
    bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0
    last_reason: str = ""
    last_at: datetime | None = None

    def add(self, size: int, kept: bool, stored: int, reason: str, received: datetime) -> None:
        self.messages += 1
        self.bytes += size
        self.kept += int(kept)
        self.kept_bytes += stored
        self.last_reason, self.last_at = reason, received


# (kiosk_id or NO_KIOSK, UTC day) -> its count: a group commit's, written once at its end
Pending = dict[tuple[str, str], DayCount]


def record(db: Database, topic: str, reason: str, payload: bytes, kiosk_id: str | None, received: datetime,
           *, keep: bool = True, limits: Limits = Limits(), pending: Pending | None = None) -> bool:
    """Count a refused message and keep it when its kiosk's day has room; True if kept. The
    reason and topic are stored `printable` (they may quote the kiosk: a NUL would be refused by
    PostgreSQL, an escape sequence would act on the terminal of `kiosk list`).

    `pending`: a group commit's counts; the message is added there and the caller writes them
    once (`write_counts`) before its commit. A flood of thousands of refusals in one group then
    updates its kiosk's count row once, not thousands of times in one transaction (on PostgreSQL
    each such update leaves a row version the next must step over). Without it the count row is
    written at once."""
    reason = printable(reason, 2000)
    p = db.param
    ts = time_param(db)
    key = kiosk_id or NO_KIOSK
    day = received.date().isoformat()
    counts = pending if pending is not None else {}
    count = counts.get((key, day))
    if count is None:
        row = db.execute_sql(f"SELECT kept, kept_bytes FROM dead_letter_count WHERE kiosk_id = {p} AND day = {p}",
                             (key, day)).fetchone()
        count = counts[(key, day)] = DayCount(*(int(row[0]), int(row[1])) if row else ())
    kept_today = count.stored_kept + count.kept
    bytes_today = count.stored_kept_bytes + count.kept_bytes
    name = digest(topic, payload)
    kept = False
    stored = 0
    if keep and kept_today < limits.per_day and not db.execute_sql(
            f"SELECT 1 FROM dead_letter WHERE digest = {p}", (name,)).fetchone():
        room = max(0, min(limits.bytes_each, limits.bytes_per_day - bytes_today))
        raw = bytes(payload[:room])
        why = reason
        if len(payload) > room:
            cause = "too large to keep" if room == limits.bytes_each else "the kiosk's bytes for the day are spent"
            why += f" (payload truncated to {room} of {len(payload)} bytes: {cause})"
        # Another ingestor may keep the same message at the same moment (a retained status goes
        # to every one): the unique digest lets one row in.
        cursor = db.execute_sql(
            "INSERT INTO dead_letter (received_at, topic, kiosk_id, reason, payload, digest) VALUES "
            f"({placeholders(db, 6)}) ON CONFLICT (digest) DO NOTHING",
            (ts(received), printable(topic, 1000), kiosk_id, why[:2000], raw, name))
        kept = cursor.rowcount == 1
        stored = len(raw) if kept else 0
    count.add(len(payload), kept, stored, printable(reason, 500), received)
    if pending is None:
        write_counts(db, counts)
    return kept


def write_counts(db: Database, pending: Pending) -> None:
    """Add counted refusals to `dead_letter_count`, one upsert per kiosk and day, in key order
    (two ingestors' groups lock the same rows in the same order: no deadlock)."""
    ts = time_param(db)
    for (key, day), c in sorted(pending.items()):
        if not c.messages:
            continue
        db.execute_sql(
            "INSERT INTO dead_letter_count (kiosk_id, day, messages, bytes, kept, kept_bytes, last_reason, last_at)"
            f" VALUES ({placeholders(db, 8)}) ON CONFLICT (kiosk_id, day) DO UPDATE SET"
            " messages = dead_letter_count.messages + excluded.messages,"
            " bytes = dead_letter_count.bytes + excluded.bytes,"
            " kept = dead_letter_count.kept + excluded.kept,"
            " kept_bytes = dead_letter_count.kept_bytes + excluded.kept_bytes,"
            " last_reason = excluded.last_reason, last_at = excluded.last_at",
            (key, day, c.messages, c.bytes, c.kept, c.kept_bytes, c.last_reason, ts(c.last_at)))


def counts(db: Database, since_day: str | None = None) -> dict[str, dict[str, Any]]:
    """Refused messages per kiosk (since a UTC day, inclusive): messages, bytes, kept, last."""
    p = db.param
    where, params = (f" WHERE day >= {p}", (since_day,)) if since_day else ("", ())
    out: dict[str, dict[str, Any]] = {}
    for kiosk, _day, messages, size, kept, last_reason, last_at in db.execute_sql(
            "SELECT kiosk_id, day, messages, bytes, kept, last_reason, last_at"
            f" FROM dead_letter_count{where} ORDER BY kiosk_id, day", params).fetchall():
        c = out.setdefault(kiosk, {"messages": 0, "bytes": 0, "kept": 0})
        c["messages"] += int(messages)
        c["bytes"] += int(size)
        c["kept"] += int(kept)
        c["last_reason"], c["last_at"] = last_reason, str(last_at)      # the latest day's
    return out
