"""Incremental hourly rollups: ingest calls `apply` in the same transaction that inserts new
answers (never for duplicates), so report cost grows with sites × hours, not with raw answers.

Counts only unfiltered answers (analysis leaves flagged presses out). A time correction moves
answers between hours: `apply(old_rows, sign=-1)` then `apply(new_rows)`. Group commit sums the
deltas of many messages with `count(…, into=)` and writes them once with `write`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.central import rollup_summaries
from server_sync.central.dialect import bulk_cursor

_COLUMNS = ("site_id", "kiosk_id", "question_id", "audience", "scale", "value", "hour",
            "local_date", "local_hour", "weekday", "n")


def hour_bucket(recorded_at: datetime, tz: ZoneInfo) -> tuple[datetime, str, int, int]:
    """(UTC hour start, site-local date, local hour, local weekday) of a naive-UTC time."""
    hour = recorded_at.replace(minute=0, second=0, microsecond=0)
    local = hour.replace(tzinfo=timezone.utc).astimezone(tz)
    return hour, local.strftime("%Y-%m-%d"), local.hour, local.weekday()


def site_timezones(db: Database, site_ids: Iterable[str]) -> dict[str, ZoneInfo]:
    ids = sorted(set(site_ids))
    if not ids:
        return {}
    p = db.param
    rows = db.execute_sql(f"SELECT id, timezone FROM site WHERE id IN ({', '.join([p] * len(ids))})", ids).fetchall()
    zones = {sid: ZoneInfo(tz) for sid, tz in rows}
    for sid in ids:
        zones.setdefault(sid, ZoneInfo("Europe/Stockholm"))
    return zones


def apply(db: Database, rows: Iterable[Mapping], sign: int = 1) -> int:
    """Add (or with sign=-1 remove) `rows` to the hourly rollup; returns buckets touched."""
    return write(db, count(db, rows, sign))


def count(db: Database, rows: Iterable[Mapping], sign: int = 1, into: Counter | None = None) -> Counter:
    """The signed per-bucket deltas of `rows`, added to `into` (a fresh Counter by default),
    without writing: ingest sums a whole group of messages and writes once (`write`)."""
    counts: Counter = Counter() if into is None else into
    rows = [r for r in rows if not r.get("filtered")]
    if not rows:
        return counts
    zones = site_timezones(db, (r["site_id"] for r in rows))
    buckets: dict[tuple, tuple] = {}      # a batch spans few hours: convert time zones once per hour
    for r in rows:
        at = r["recorded_at"]
        hk = (r["site_id"], at.year, at.month, at.day, at.hour)
        bucket = buckets.get(hk)
        if bucket is None:
            bucket = buckets[hk] = hour_bucket(at, zones[r["site_id"]])
        counts[(r["site_id"], r["kiosk_id"], r["question_id"], r["audience"], r["scale"],
                r["value"]) + bucket] += sign
    return counts


def write(db: Database, counts: Mapping[tuple, int]) -> int:
    """Upsert summed deltas from `count` into rollup_hourly and the summaries; returns buckets
    touched. Rows are written in sorted key order, so two ingestors writing overlapping buckets
    lock them in the same order and cannot deadlock on them."""
    params = sorted(key + (n,) for key, n in counts.items() if n)
    if not params:
        return 0
    p = db.param
    sql = (f"INSERT INTO rollup_hourly ({', '.join(_COLUMNS)}) VALUES ({', '.join([p] * len(_COLUMNS))})"
           " ON CONFLICT (site_id, kiosk_id, question_id, audience, value, hour)"
           " DO UPDATE SET n = rollup_hourly.n + excluded.n")
    cursor = bulk_cursor(db)
    cursor.executemany(sql, params)
    rollup_summaries.apply_counts(db, counts)      # daily/chain summaries, same transaction
    if any(row[-1] < 0 for row in params):
        db.execute_sql("DELETE FROM rollup_hourly WHERE n <= 0")
    return len(params)
