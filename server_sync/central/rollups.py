"""Incremental hourly rollups: ingest calls `apply` in the same transaction that inserts new
answers (never for duplicates), so report cost grows with sites × hours, not with raw answers.

Counts only unfiltered answers (analysis leaves flagged presses out). A time correction moves
answers between hours: `apply(old_rows, sign=-1)` then `apply(new_rows)`. Group commit sums the
deltas of many messages with `count(…, into=)` (ingest: `count_hours`, from answers it already
counted per hour) and writes them once with `write`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.central import rollup_summaries
from server_sync.central.dialect import bulk_cursor, upsert_many

_COLUMNS = ("site_id", "kiosk_id", "question_id", "audience", "scale", "value", "hour",
            "local_date", "local_hour", "weekday", "n")


def hour_bucket(recorded_at: datetime, tz: ZoneInfo) -> tuple[datetime, str, int, int]:
    """(UTC hour start, site-local date, local hour, local weekday) of a naive-UTC time."""
    hour = recorded_at.replace(minute=0, second=0, microsecond=0)
    local = hour.replace(tzinfo=timezone.utc).astimezone(tz)
    return hour, local.strftime("%Y-%m-%d"), local.hour, local.weekday()


def site_timezones(db: Database, site_ids: Iterable[str],
                   cache: dict[str, ZoneInfo] | None = None) -> dict[str, ZoneInfo]:
    """The IANA zone of each site; `cache` (filled on a miss) saves the query for sites already
    read in the same transaction."""
    ids = sorted(set(site_ids))
    if cache is not None and all(sid in cache for sid in ids):
        return cache
    if not ids:
        return {}
    p = db.param
    rows = db.execute_sql(f"SELECT id, timezone FROM site WHERE id IN ({', '.join([p] * len(ids))})", ids).fetchall()
    zones = {sid: ZoneInfo(tz) for sid, tz in rows}
    for sid in ids:
        zones.setdefault(sid, ZoneInfo("Europe/Stockholm"))
    if cache is not None:
        cache.update(zones)
        return cache
    return zones


def hour_key(at: datetime) -> str:
    """The UTC hour of a naive-UTC time as `YYYY-MM-DDTHH`, the first 13 characters of its wire
    form (so ingest takes it from the wire text without building a datetime)."""
    return f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}"


def apply(db: Database, rows: Iterable[Mapping], sign: int = 1) -> int:
    """Add (or with sign=-1 remove) `rows` to the hourly rollup; returns buckets touched."""
    return write(db, count(db, rows, sign))


def count(db: Database, rows: Iterable[Mapping], sign: int = 1, into: Counter | None = None) -> Counter:
    """The signed per-bucket deltas of `rows` (dicts with site_id, kiosk_id, question_id,
    audience, scale, value, recorded_at, filtered), added to `into` (a fresh Counter by default),
    without writing: ingest sums a whole group of messages and writes once (`write`)."""
    answers: Counter = Counter()
    for r in rows:
        if not r.get("filtered"):
            answers[(r["site_id"], r["kiosk_id"], r["question_id"], r["audience"], r["scale"], r["value"],
                     hour_key(r["recorded_at"]))] += 1
    return count_hours(db, answers, sign, into)


def count_hours(db: Database, answers: Mapping[tuple, int], sign: int = 1, into: Counter | None = None,
                zones: dict[str, ZoneInfo] | None = None) -> Counter:
    """`count` from unfiltered answers already counted per (site, kiosk, question, audience,
    scale, value, `hour_key`): the bucket (local date, hour, weekday) is worked out once per
    site and hour, not once per answer. `zones`: a time zone cache (`site_timezones`)."""
    counts: Counter = Counter() if into is None else into
    if not answers:
        return counts
    zones = site_timezones(db, {k[0] for k in answers}, zones)
    buckets: dict[tuple[str, str], tuple] = {}
    for key, n in answers.items():
        site, hour = key[0], key[6]
        bucket = buckets.get((site, hour))
        if bucket is None:
            bucket = buckets[(site, hour)] = hour_bucket(datetime.fromisoformat(hour + ":00"), zones[site])
        counts[key[:6] + bucket] += sign * n
    return counts


_KEY = ("site_id", "kiosk_id", "question_id", "audience", "value", "hour")     # the table's unique key


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
    # Two question versions with another scale can share a bucket (the key has no scale).
    upsert_many(db, sql, params, conflict_key=lambda row: row[:4] + row[5:7])
    rollup_summaries.apply_counts(db, counts)      # daily/chain summaries, same transaction
    # Only the buckets this call took from can have dropped to zero: delete those, by key (the
    # table's unique index), never by scanning the whole table.
    emptied = [row[:4] + row[5:7] for row in params if row[-1] < 0]
    if emptied:
        bulk_cursor(db).executemany(f"DELETE FROM rollup_hourly WHERE {' AND '.join(f'{c} = {p}' for c in _KEY)}"
                           " AND n <= 0", emptied)
    return len(params)
