"""What the centre keeps of conflicts (an event id stored already, sent again with other content),
and what it only counts: the same design as `central.dead_letters`.

A conflict is kept in `conflict` with both versions (`existing`, `incoming`), so an operator can
see what a kiosk sent. It is acked as recorded, so one credential re-sending its own follow-up
ids with a new comment each time once added a row per distinct content, without end (19.3 MB
of payloads made 8,400 rows, 38.8 MB, of comments kept forever). So per kiosk (the one that sent
it: the broker lets a kiosk publish only under its own id) and UTC day at most `KEEP_PER_DAY`
rows and `KEEP_BYTES_PER_DAY` of their JSON are kept; a content kept once for an id is not kept
again. Every conflicting event, kept or not, is counted in `conflict_count` (per kiosk and day,
with the last time), which `counts` reads for `kiosk-central kiosk list`. Retention removes both
after `dead_letters_keep_days`, as it does dead letters: the JSON holds comments.

Runs inside the caller's transaction; never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from peewee import Database

from server_sync.central.dialect import execute_many, in_list, placeholders, time_param

KEEP_PER_DAY = 100                  # conflict rows kept per kiosk and UTC day
KEEP_BYTES_PER_DAY = 1024 * 1024    # of their JSON (existing + incoming), per kiosk and day
NONE: dict[str, Any] = {"conflicts": 0, "kept": 0, "last_at": None}     # a kiosk with none counted

Row = tuple[str, str, str]          # (event id, existing JSON, incoming JSON)


@dataclass(frozen=True)
class Limits:
    per_day: int = KEEP_PER_DAY
    bytes_per_day: int = KEEP_BYTES_PER_DAY


def record(db: Database, kiosk_id: str, rows: Sequence[Row], received: datetime,
           limits: Limits = Limits()) -> int:
    """Count `rows` (this kiosk's conflicting events of one batch) and keep those new to the
    store while the kiosk's day has room; returns how many were kept."""
    if not rows:
        return 0
    p = db.param
    day = received.date().isoformat()
    found = db.execute_sql(f"SELECT kept, kept_bytes FROM conflict_count WHERE kiosk_id = {p} AND day = {p}",
                           (kiosk_id, day)).fetchone()
    kept_today, bytes_today = (int(found[0]), int(found[1])) if found else (0, 0)
    keep: list[Row] = []
    size = 0
    for row in _new(db, rows):
        length = len(row[1]) + len(row[2])
        if kept_today + len(keep) >= limits.per_day or bytes_today + size + length > limits.bytes_per_day:
            break                   # the day's room is spent: the rest is only counted
        keep.append(row)
        size += length
    ts = time_param(db)(received)
    execute_many(db, "INSERT INTO conflict (event_id, kiosk_id, received_at, existing, incoming) VALUES "
                 f"({placeholders(db, 5)})", [(eid, kiosk_id, ts, existing, incoming) for eid, existing, incoming in keep])
    db.execute_sql(
        "INSERT INTO conflict_count (kiosk_id, day, conflicts, kept, kept_bytes, last_at)"
        f" VALUES ({placeholders(db, 6)}) ON CONFLICT (kiosk_id, day) DO UPDATE SET"
        " conflicts = conflict_count.conflicts + excluded.conflicts, kept = conflict_count.kept + excluded.kept,"
        " kept_bytes = conflict_count.kept_bytes + excluded.kept_bytes, last_at = excluded.last_at",
        (kiosk_id, day, len(rows), len(keep), size, ts))
    return len(keep)


def _new(db: Database, rows: Sequence[Row]) -> list[Row]:
    """Of `rows`, those whose (event id, incoming content) is not kept yet, each once: a kiosk
    sending the same conflict again (it missed the ack) adds no row."""
    where, params = in_list(db, "event_id", sorted({eid for eid, _, _ in rows}))
    seen = {(eid, incoming) for eid, incoming in db.execute_sql(
        f"SELECT event_id, incoming FROM conflict WHERE {where}", params).fetchall()}
    out = []
    for row in rows:
        if (row[0], row[2]) not in seen:
            seen.add((row[0], row[2]))
            out.append(row)
    return out


def counts(db: Database, since_day: str | None = None) -> dict[str, dict[str, Any]]:
    """Conflicting events per kiosk (since a UTC day, inclusive): how many, how many kept, the
    last time; a kiosk with none is absent (`NONE` stands for it)."""
    p = db.param
    where, params = (f" WHERE day >= {p}", (since_day,)) if since_day else ("", ())
    out: dict[str, dict[str, Any]] = {}
    for kiosk, conflicts, kept, last_at in db.execute_sql(
            f"SELECT kiosk_id, conflicts, kept, last_at FROM conflict_count{where} ORDER BY kiosk_id, day",
            params).fetchall():
        c = out.setdefault(kiosk, dict(NONE))
        c["conflicts"] += int(conflicts)
        c["kept"] += int(kept)
        c["last_at"] = str(last_at)                 # the latest day's
    return out
