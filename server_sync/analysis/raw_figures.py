"""The report's main figures computed the naive way, by a plain GROUP BY over the raw answers.

Exists to check the rollups (tests) and to measure what the rollups buy (benchmarks): same
results, very different cost. Site-local days are turned into UTC bounds with the site time
zone `tz` (one zone for the sites compared). Never used by the reports themselves.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.analysis.metrics import Tally
from server_sync.analysis.queries import ReportFilter, tally_of, where_clause
from server_sync.central import rollups

RAW_STATS = rollups.stats_sql(n="1")           # each raw row is one answer


def _utc_bounds(f: ReportFilter, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(date.fromisoformat(f.date_from), time(), tz)
    end = datetime.combine(date.fromisoformat(f.date_to) + timedelta(days=1), time(), tz)
    return (start.astimezone(timezone.utc).replace(tzinfo=None), end.astimezone(timezone.utc).replace(tzinfo=None))


def _raw_where(db: Database, f: ReportFilter, tz: ZoneInfo) -> tuple[str, list]:
    where, params = where_clause(db, ReportFilter(f.sites, f.questions))
    start, end = _utc_bounds(f, tz)
    where += (" AND " if where else " WHERE ") + f"{rollups.COUNTED_SQL} AND recorded_at >= {db.param} AND recorded_at < {db.param}"
    return where, params + [start, end]


def site_tallies(db: Database, f: ReportFilter, tz: ZoneInfo) -> dict[tuple[str, str, str, str], Tally]:
    where, params = _raw_where(db, f, tz)
    rows = db.execute_sql(f"SELECT site_id, question_id, audience, scale, {RAW_STATS} FROM response{where}"
                          " GROUP BY site_id, question_id, audience, scale", params)
    return {(s, q, a, sc): tally_of(sc, r) for s, q, a, sc, *r in rows}


def daily_tallies(db: Database, f: ReportFilter, tz: ZoneInfo) -> dict[tuple[str, str, str, str], Tally]:
    """Grouped by UTC minute in SQL (the text of the timestamp, the same on both engines), then
    minutes folded into site-local days (by the hour, half-hour and 45-minute zones would put
    an answer on the wrong day)."""
    where, params = _raw_where(db, f, tz)
    hour = "SUBSTR(CAST(recorded_at AS TEXT), 1, 16)"
    rows = db.execute_sql(f"SELECT question_id, audience, scale, {hour}, {RAW_STATS} FROM response{where}"
                          f" GROUP BY question_id, audience, scale, {hour}", params)
    result: dict[tuple[str, str, str, str], Tally] = {}
    for q, a, sc, h, *r in rows:
        local = datetime.strptime(h, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).astimezone(tz).date().isoformat()
        key = (q, a, sc, local)
        result[key] = result.get(key, Tally(sc)) + tally_of(sc, r)
    return result
