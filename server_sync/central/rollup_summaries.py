"""Keeps the summary rollups (rollup_daily, rollup_monthly, rollup_chain_hourly; migration m0002) in step
with rollup_hourly: `rollups.apply` hands over the same per-bucket deltas, in the same transaction.

Rows are upserted in key order, so concurrent ingestors on PostgreSQL take row locks in the same
order and cannot deadlock each other. Must never be called outside the transaction that changes
rollup_hourly, or the tables drift apart.
"""

from __future__ import annotations

from typing import Mapping

from peewee import Database

from server_sync.protocol.scales import is_negative, is_top2
from server_sync.central.dialect import bulk_cursor, upsert_many

_STATS = ("n", "sum_v", "sum_v2", "top2", "negative")
_DAILY_KEY = ("site_id", "question_id", "audience", "scale", "local_date")
_MONTHLY_KEY = ("site_id", "question_id", "audience", "scale", "month")
_CHAIN_KEY = ("question_id", "audience", "scale", "local_date", "local_hour", "weekday")


def _upsert_sql(db: Database, table: str, key: tuple[str, ...], conflict: tuple[str, ...]) -> str:
    cols = key + _STATS
    sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _STATS)
    return (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([db.param] * len(cols))})"
            f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {sets}")


def apply_counts(db: Database, counts: Mapping[tuple, int]) -> None:
    """`counts` keyed (site, kiosk, question, audience, scale, value, hour, local_date,
    local_hour, weekday) -> signed answer count, exactly as rollups.apply builds it."""
    daily: dict[tuple, list[int]] = {}
    monthly: dict[tuple, list[int]] = {}
    chain: dict[tuple, list[int]] = {}
    removed = False
    for (site, _kiosk, question, audience, scale, value, _hour, local_date, local_hour, weekday), n in counts.items():
        if not n:
            continue
        removed = removed or n < 0
        delta = (n, n * value, n * value * value, n * is_top2(scale, value), n * is_negative(scale, value))
        for table, key in ((daily, (site, question, audience, scale, local_date)),
                           (monthly, (site, question, audience, scale, local_date[:7])),
                           (chain, (question, audience, scale, local_date, local_hour, weekday))):
            acc = table.setdefault(key, [0, 0, 0, 0, 0])
            for i, d in enumerate(delta):
                acc[i] += d
    # Each dict key is its table's conflict key (the chain's weekday follows from its date).
    upsert_many(db, _upsert_sql(db, "rollup_daily", _DAILY_KEY, _DAILY_KEY),
                [k + tuple(v) for k, v in sorted(daily.items())])
    upsert_many(db, _upsert_sql(db, "rollup_monthly", _MONTHLY_KEY, _MONTHLY_KEY),
                [k + tuple(v) for k, v in sorted(monthly.items())])
    upsert_many(db, _upsert_sql(db, "rollup_chain_hourly", _CHAIN_KEY, _CHAIN_KEY[:-1]),
                [k + tuple(v) for k, v in sorted(chain.items())])
    if removed:
        cursor = bulk_cursor(db)
        # Only the rows this call took from can have dropped to zero: delete by key, never by
        # scanning the whole table.
        for table, key, rows in (("rollup_daily", _DAILY_KEY, daily), ("rollup_monthly", _MONTHLY_KEY, monthly),
                                 ("rollup_chain_hourly", _CHAIN_KEY[:-1], chain)):
            where = " AND ".join(f"{c} = {db.param}" for c in key)
            cursor.executemany(f"DELETE FROM {table} WHERE {where} AND n <= 0",
                               sorted(k[:len(key)] for k, v in rows.items() if v[0] < 0))
