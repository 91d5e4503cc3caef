"""Follow-up reasons rolled up per site, question and site-local date of the answer they explain
(tables rollup_reason_daily and rollup_reason_monthly, migration m0002): how many answers cite each reason, how many of those
were negative and the value sum of the negative ones, for the Pareto and the driver uplift without touching raw rows.

Ingest counts the new follow-ups of each message (`count`, never for duplicates) and writes the
summed deltas of its whole group once (`write`), in the transaction that inserts them; `apply`
does both at once. A follow-up whose answer is filtered or not in the store is not counted;
`rebuild` recomputes the whole table from the raw rows (migration backfill, tests).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.protocol.scales import is_negative
from server_sync.central.dialect import bulk_cursor, in_list, upsert_many
from server_sync.central.rollups import hour_bucket, site_timezones

_COLUMNS = ("site_id", "question_id", "audience", "scale", "local_date", "reason", "n", "negative", "negative_sum_v")


def _reasons(row: Mapping) -> list[str]:
    reasons = row.get("reasons") or []
    if isinstance(reasons, str):
        reasons = json.loads(reasons)
    return sorted(set(reasons))


def apply(db: Database, followup_rows: Iterable[Mapping], sign: int = 1,
          zones: dict[str, ZoneInfo] | None = None) -> int:
    """Add the reasons of `followup_rows` (dicts with response_id and reasons); returns rows
    touched. `zones`: a site time zone cache (`rollups.site_timezones`)."""
    return write(db, count(db, followup_rows, sign, zones=zones))


def count(db: Database, followup_rows: Iterable[Mapping], sign: int = 1, into: dict | None = None,
          zones: dict[str, ZoneInfo] | None = None, found: set | None = None) -> dict[tuple, list[int]]:
    """The signed daily deltas of `followup_rows`, added to `into`, without writing: ingest sums
    a whole group of messages and writes once (`write`). Reads the answers they explain; `found`
    receives the ids of those that are stored (filtered or not)."""
    deltas: dict[tuple, list[int]] = {} if into is None else into
    wanted = {r["response_id"]: _reasons(r) for r in followup_rows}
    if found is None:
        wanted = {k: v for k, v in wanted.items() if v}
    if not wanted:
        return deltas
    answers = []
    ids = sorted(wanted)
    for i in range(0, len(ids), 500):
        where, params = in_list(db, "id", ids[i:i + 500])
        for *answer, filtered in db.execute_sql(
                "SELECT id, site_id, question_id, audience, scale, value, recorded_at, filtered FROM response"
                f" WHERE {where}", params).fetchall():
            if found is not None:
                found.add(answer[0])
            if filtered is None and wanted[answer[0]]:
                answers.append(tuple(answer))
    return _accumulate(db, [(a, wanted[a[0]]) for a in answers], sign, deltas, zones)


def _accumulate(db: Database, answers: list[tuple], sign: int, acc: dict[tuple, list[int]],
                cache: dict[str, ZoneInfo] | None = None) -> dict[tuple, list[int]]:
    zones = site_timezones(db, (a[1] for a, _ in answers), cache)
    for (_id, site, question, audience, scale, value, recorded_at), reasons in answers:
        if isinstance(recorded_at, str):          # SQLite hands back text for raw SQL
            recorded_at = datetime.fromisoformat(recorded_at)
        local_date = hour_bucket(recorded_at, zones[site])[1]
        negative = is_negative(scale, value)
        for reason in reasons:
            row = acc.setdefault((site, question, audience, scale, local_date, reason), [0, 0, 0])
            row[0] += sign
            row[1] += sign * negative
            row[2] += sign * value * negative
    return acc


def write(db: Database, deltas: Mapping[tuple, list[int]]) -> int:
    """Upsert summed daily deltas (`count`) into the daily and monthly tables, in key order (so
    concurrent ingestors lock rows in the same order); returns daily rows touched. A row whose
    count dropped can be empty now: those, and only those, are deleted, by key."""
    acc = {k: v for k, v in deltas.items() if any(v)}
    if not acc:
        return 0
    monthly: dict[tuple, list[int]] = {}
    for (site, question, audience, scale, local_date, reason), v in acc.items():
        m = monthly.setdefault((site, question, audience, scale, local_date[:7], reason), [0, 0, 0])
        for i in range(3):
            m[i] += v[i]
    cursor = bulk_cursor(db)
    for table, period, rows in (("rollup_reason_daily", "local_date", acc),
                                ("rollup_reason_monthly", "month", monthly)):
        cols = _COLUMNS[:4] + (period,) + _COLUMNS[5:]
        sql = (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([db.param] * len(cols))})"
               f" ON CONFLICT (site_id, question_id, audience, scale, {period}, reason) DO UPDATE SET"
               f" n = {table}.n + excluded.n, negative = {table}.negative + excluded.negative,"
               f" negative_sum_v = {table}.negative_sum_v + excluded.negative_sum_v")
        upsert_many(db, sql, [k + tuple(v) for k, v in sorted(rows.items())])       # keys are distinct
        emptied = sorted(k for k, v in rows.items() if v[0] < 0)
        if emptied:
            where = " AND ".join(f"{c} = {db.param}" for c in cols[:6])
            cursor.executemany(f"DELETE FROM {table} WHERE {where} AND n <= 0", emptied)
    return len(acc)


def rebuild(db: Database) -> int:
    """Recompute rollup_reason_daily from followup_reason and response."""
    db.execute_sql("DELETE FROM rollup_reason_daily")
    db.execute_sql("DELETE FROM rollup_reason_monthly")
    rows = db.execute_sql(
        "SELECT r.id, r.site_id, r.question_id, r.audience, r.scale, r.value, r.recorded_at, fr.reason"
        " FROM followup_reason fr JOIN response r ON r.id = fr.response_id WHERE r.filtered IS NULL").fetchall()
    by_answer: dict[tuple, list[str]] = {}
    for *answer, reason in rows:
        by_answer.setdefault(tuple(answer), []).append(reason)
    return write(db, _accumulate(db, [(a, sorted(set(rs))) for a, rs in by_answer.items()], 1, {})) if by_answer else 0
