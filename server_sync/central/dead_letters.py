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


def record(db: Database, topic: str, reason: str, payload: bytes, kiosk_id: str | None, received: datetime,
           *, keep: bool = True, limits: Limits = Limits()) -> bool:
    """Count a refused message and keep it when its kiosk's day has room; True if kept. The
    reason and topic are stored `printable` (they may quote the kiosk: a NUL would be refused by
    PostgreSQL, an escape sequence would act on the terminal of `kiosk list`)."""
    reason = printable(reason, 2000)
    p = db.param
    ts = time_param(db)
    key = kiosk_id or NO_KIOSK
    day = received.date().isoformat()
    row = db.execute_sql(f"SELECT kept, kept_bytes FROM dead_letter_count WHERE kiosk_id = {p} AND day = {p}",
                         (key, day)).fetchone()
    kept_today, bytes_today = (int(row[0]), int(row[1])) if row else (0, 0)
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
    db.execute_sql(
        "INSERT INTO dead_letter_count (kiosk_id, day, messages, bytes, kept, kept_bytes, last_reason, last_at)"
        f" VALUES ({placeholders(db, 8)}) ON CONFLICT (kiosk_id, day) DO UPDATE SET"
        " messages = dead_letter_count.messages + 1, bytes = dead_letter_count.bytes + excluded.bytes,"
        " kept = dead_letter_count.kept + excluded.kept,"
        " kept_bytes = dead_letter_count.kept_bytes + excluded.kept_bytes,"
        " last_reason = excluded.last_reason, last_at = excluded.last_at",
        (key, day, 1, len(payload), int(kept), stored, printable(reason, 500), ts(received)))
    return kept


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
