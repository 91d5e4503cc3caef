"""The rollups: what a rollup row is and how answers and follow-up reasons are counted into
them. The one place that says so on the centre: ingest (`central.intake`), the migrations'
back-fill and the history generator (`seeds/history.py`, whose vectorised counts a test holds to
this module's) all count through here; the scale rules come from `server_sync.protocol.scales`.

Tables (migrations m0001, m0002, m0020), answers that count only (`counts`):
- rollup_hourly: answers per site, kiosk, question, audience, scale, value and site-local hour
  (`hour`: the UTC instant that local hour starts at), with its site-local date, hour and weekday;
- rollup_daily / rollup_monthly: the sufficient statistics (`STATS`: n, Σv, Σv², top-two and
  negative counts) per site, question, audience, scale and site-local date / month;
- rollup_chain_hourly: the same per question and site-local date and hour over the chain;
- rollup_reason_daily / rollup_reason_monthly: per site, question and site-local date / month
  of the answer and reason: answers citing it, the negative ones, their value sum.

Counting is apart from writing: ingest sums the signed deltas of a whole group of messages
(`count`, `count_hours`, `count_reasons`) and writes them once (`write`, `write_reasons`), in
the transaction that stores the answers, in sorted key order (so concurrent ingestors lock rows
in the same order and cannot deadlock). A time correction counts the old rows with sign -1 and
the new ones with +1; a bucket emptied that way is deleted, by key.

A series is (question, scale): every key holds the scale, so a question asked on a smiley scale
and later on NPS never mixes the two (issue 12). Local time is the answer's own (to the
minute, exact for every IANA zone since 1972, when the last zone whose offset was not whole
minutes, Africa/Monrovia, moved): half-hour and 45-minute zones and DST days included.
Must never be written outside the transaction that changes the raw rows, or the tables drift;
a site's new time zone re-keys all its rows, recounted from the raw ones (`rebuild_site`) in the
transaction that changes the zone.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.central import registry, speedups
from server_sync.central.dialect import execute_many, in_list, placeholders
from server_sync.protocol.scales import SCALES, is_negative, is_top2, sql_rule

# --- what a rollup row is -----------------------------------------------------------------------

HOURLY_COLUMNS = ("site_id", "kiosk_id", "question_id", "audience", "scale", "value", "hour",
                  "local_date", "local_hour", "weekday", "n")
# The table's unique key (m0020): with the scale, or a question's smiley "3"s and NPS "3"s of one
# hour would be one row.
HOURLY_KEY = ("site_id", "kiosk_id", "question_id", "audience", "scale", "value", "hour")
STATS = ("n", "sum_v", "sum_v2", "top2", "negative")
DAILY_KEY = ("site_id", "question_id", "audience", "scale", "local_date")
MONTHLY_KEY = ("site_id", "question_id", "audience", "scale", "month")
CHAIN_KEY = ("question_id", "audience", "scale", "local_date", "local_hour", "weekday")
CHAIN_UNIQUE = CHAIN_KEY[:-1]                 # the weekday follows from the date
REASON_STATS = ("n", "negative", "negative_sum_v")
REASON_DAILY_KEY = ("site_id", "question_id", "audience", "scale", "local_date", "reason")
REASON_MONTHLY_KEY = ("site_id", "question_id", "audience", "scale", "month", "reason")


def answer_stats(scale: str, value: int, n: int = 1) -> tuple[int, int, int, int, int]:
    """What `n` answers of `value` on `scale` add to the `STATS` of a summary row."""
    return n, n * value, n * value * value, n * is_top2(scale, value), n * is_negative(scale, value)


def reason_stats(scale: str, value: int) -> tuple[int, int, int]:
    """What one answer citing a reason adds to the `REASON_STATS` of a reason row."""
    negative = int(is_negative(scale, value))
    return 1, negative, negative * value


def stats_sql(n: str = "n", value: str = "value", scale: str = "scale") -> str:
    """The `STATS` sums as SQL over rows of `n` answers of one `value` (rollup_hourly): the same
    rules as `answer_stats`, for back-fills and reports that read the hourly table."""
    return (f"SUM({n}), SUM({n} * {value}), SUM({n} * {value} * {value}),"
            f" SUM({n} * {sql_rule('top2', scale, value)}), SUM({n} * {sql_rule('negative', scale, value)})")


def happy_points_sql(scale: str = "scale", value: str = "value", n: str | None = None) -> str:
    """A smiley answer's place on the Happy Index's 0-100 line as SQL (`Scale.happy_points`);
    with `n`, the mean of the answers summed in `value` (Σv of n answers); NULL off smiley scales."""
    parts = []
    for s in SCALES.values():
        if s.smiley:
            shifted = f"({value} - {s.lowest})" if n is None else f"({value} - {s.lowest} * {n})"
            per = "" if n is None else f" / {n}"
            parts.append(f"WHEN {scale} = '{s.name}' THEN {shifted} * 100.0 / {s.highest - s.lowest}{per}")
    return f"CASE {' '.join(parts)} END"


# --- buckets ------------------------------------------------------------------------------------

def hour_bucket(recorded_at: datetime, tz: ZoneInfo,
                starts: dict[tuple[str, int], datetime] | None = None) -> tuple[datetime, str, int, int]:
    """(start of the site-local hour as naive UTC, site-local date, local hour, local weekday) of a
    naive-UTC time. The date, hour and weekday are the answer's own local time: taken from the
    start of the UTC hour they would be wrong by up to an hour in half-hour and 45-minute zones
    (18:45 UTC is 00:15 the next day in Kolkata). `starts`: a cache of this zone's hour starts
    by (local date, hour), which is all a start depends on."""
    local = recorded_at.replace(tzinfo=timezone.utc).astimezone(tz)
    day = local.strftime("%Y-%m-%d")
    if starts is None:
        return local_hour_start(local, tz), day, local.hour, local.weekday()
    start = starts.get((day, local.hour))
    if start is None:
        start = starts[(day, local.hour)] = local_hour_start(local, tz)
    return start, day, local.hour, local.weekday()


def local_hour_start(local: datetime, tz: ZoneInfo) -> datetime:
    """The first instant (naive UTC) at which the site-local clock shows `local`'s date and hour:
    a function of that date and hour alone, so it keys the hour's bucket. On a fall-back day the
    repeated hour is one bucket (its first instant: fold 0). When the hour's first minutes fall
    in a DST gap (Chatham jumps from 02:45 to 03:45, Lord Howe from 02:00 to 02:30), the hour
    starts at the transition, found by bisection between the two offsets' readings of hh:00."""
    wall = local.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    early = wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    if early.astimezone(tz).replace(tzinfo=None) == wall:
        return early.replace(tzinfo=None)
    # hh:00 does not exist: fold 1 reads it with the offset after the jump, which is earlier
    # than the transition; fold 0 with the offset before, at or after it.
    lo, hi = wall.replace(tzinfo=tz, fold=1).astimezone(timezone.utc), early
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi.replace(tzinfo=None, microsecond=0)


def minute_key(at: datetime) -> str:
    """A naive-UTC time to the minute, `YYYY-MM-DDTHH:MM`: the first 16 characters of its wire
    form (so ingest takes it from the wire text without building a datetime). Answers are
    counted per minute before they are bucketed: every zone's offset is whole minutes."""
    return f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}"


def site_timezones(db: Database, site_ids: Iterable[str],
                   cache: dict[str, ZoneInfo] | None = None) -> dict[str, ZoneInfo]:
    """The IANA zone of each site (registry.site_zones: StoredSettingError for one edited by hand);
    `cache` (filled on a miss) saves the query for sites already read in the same transaction."""
    ids = sorted(set(site_ids))
    if cache is not None and all(sid in cache for sid in ids):
        return cache
    if not ids:
        return {}
    zones = registry.site_zones(db, ids)
    if cache is not None:
        cache.update(zones)
        return cache
    return zones


def _as_datetime(v: Any) -> datetime:
    return datetime.fromisoformat(v) if isinstance(v, str) else v       # SQLite hands back text


# --- answers ------------------------------------------------------------------------------------

# An answer that counts: its kiosk did not flag the press (`filtered`, a repeat or a burst) and the
# centre did not set it aside (`excluded`, a tryout: central.installation). Both are kept.
def counted_sql(alias: str = "") -> str:
    """The condition on the response table (under `alias`, "r") that an answer counts."""
    a = f"{alias}." if alias else ""
    return f"{a}filtered IS NULL AND {a}excluded IS NULL"


COUNTED_SQL = counted_sql()


def _stored_counted_sql(db: Database, alias: str = "") -> str:
    """`counted_sql` for the recounts from the raw rows, which the migrations m0002 and m0020 run
    too, on a response table without `excluded` (m0053): only `filtered` then."""
    if "excluded" in {c.name for c in db.get_columns("response")}:
        return counted_sql(alias)
    return f"{alias + '.' if alias else ''}filtered IS NULL"


def counts(filtered: str | None, excluded: str | None) -> bool:
    """`COUNTED_SQL` of one answer's two columns."""
    return filtered is None and excluded is None


def answer_counts(rows: Iterable[Mapping]) -> Counter:
    """Answers that count (`counts`) per (site, kiosk, question, audience, scale, value,
    `minute_key`), from mappings with those fields, `recorded_at` (naive UTC), `filtered` and
    `excluded` (absent: None)."""
    return Counter((r["site_id"], r["kiosk_id"], r["question_id"], r["audience"], r["scale"], r["value"],
                    minute_key(_as_datetime(r["recorded_at"]))) for r in rows
                   if counts(r["filtered"], r.get("excluded")))


def count(db: Database, rows: Iterable[Mapping], sign: int = 1, into: Counter | None = None,
          zones: dict[str, ZoneInfo] | None = None) -> Counter:
    """The signed rollup_hourly deltas of answer `rows` (see `answer_counts`), added to `into`
    (a fresh Counter by default), without writing."""
    return count_hours(db, answer_counts(rows), sign, into, zones)


def count_hours(db: Database, answers: Mapping[tuple, int], sign: int = 1, into: Counter | None = None,
                zones: dict[str, ZoneInfo] | None = None) -> Counter:
    """`count` from answers already counted per `answer_counts` key (ingest: per
    `speedups.local_hour_minute`, at most two minutes an hour): the bucket (local hour's start,
    local date, hour, weekday) is worked out once per site and distinct minute. Keys of the
    result: HOURLY_COLUMNS without n. `zones`: a time zone cache (`site_timezones`)."""
    counts: Counter = Counter() if into is None else into
    if not answers:
        return counts
    zones = site_timezones(db, {k[0] for k in answers}, zones)
    buckets: dict[tuple[str, str], tuple] = {}
    starts: dict[str, dict[tuple[str, int], datetime]] = {}
    for key, n in answers.items():
        site, minute = key[0], key[6]
        bucket = buckets.get((site, minute))
        if bucket is None:
            bucket = buckets[(site, minute)] = hour_bucket(datetime.fromisoformat(minute), zones[site],
                                                           starts.setdefault(site, {}))
        counts[key[:6] + bucket] += sign * n
    return counts


def summaries(counts: Mapping[tuple, int]) -> tuple[dict[tuple, list[int]], ...]:
    """The daily, monthly and chain-hourly `STATS` deltas (keyed DAILY_KEY, MONTHLY_KEY,
    CHAIN_KEY) of hourly deltas from `count`."""
    daily: dict[tuple, list[int]] = {}
    monthly: dict[tuple, list[int]] = {}
    chain: dict[tuple, list[int]] = {}
    for (site, _kiosk, question, audience, scale, value, _hour, local_date, local_hour, weekday), n in counts.items():
        if not n:
            continue
        delta = answer_stats(scale, value, n)
        for table, key in ((daily, (site, question, audience, scale, local_date)),
                           (monthly, (site, question, audience, scale, local_date[:7])),
                           (chain, (question, audience, scale, local_date, local_hour, weekday))):
            acc = table.setdefault(key, [0, 0, 0, 0, 0])
            for i, d in enumerate(delta):
                acc[i] += d
    return daily, monthly, chain


def apply(db: Database, rows: Iterable[Mapping], sign: int = 1) -> int:
    """Count and write answer `rows` at once (tests, small callers); returns buckets touched."""
    return write(db, count(db, rows, sign))


def write(db: Database, counts: Mapping[tuple, int]) -> int:
    """Upsert summed hourly deltas (`count`) into rollup_hourly and the summaries; returns the
    hourly buckets touched."""
    return _write(db, counts, summaries(counts))


def _write(db: Database, counts: Mapping[tuple, int], sums: tuple[dict[tuple, list[int]], ...]) -> int:
    """`write` with the daily, monthly and chain deltas given (`summaries`' order)."""
    rows = sorted(key + (n,) for key, n in counts.items() if n)
    _upsert(db, "rollup_hourly", HOURLY_COLUMNS, HOURLY_KEY, ("n",), rows)
    for (table, key, unique), acc in zip((("rollup_daily", DAILY_KEY, DAILY_KEY),
                                          ("rollup_monthly", MONTHLY_KEY, MONTHLY_KEY),
                                          ("rollup_chain_hourly", CHAIN_KEY, CHAIN_UNIQUE)), sums):
        _upsert(db, table, key + STATS, unique, STATS, [k + tuple(v) for k, v in sorted(acc.items()) if any(v)])
    return len(rows)


def _upsert(db: Database, table: str, columns: Sequence[str], unique: Sequence[str], added: Sequence[str],
            rows: Sequence[Sequence]) -> None:
    """Add `rows` (ordered like `columns`) to `table`, keyed by `unique`: the `added` columns
    are summed into an existing row. Then delete the rows this call took from that are empty
    now, by key: never by scanning the table."""
    if not rows:
        return
    sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in added)
    execute_many(db, f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders(db, len(columns))})"
                     f" ON CONFLICT ({', '.join(unique)}) DO UPDATE SET {sets}", rows)
    n = columns.index("n")
    at = [columns.index(c) for c in unique]
    emptied = [tuple(r[i] for i in at) for r in rows if r[n] < 0]
    if emptied:
        p = placeholders(db, 1)
        execute_many(db, f"DELETE FROM {table} WHERE {' AND '.join(f'{c} = {p}' for c in unique)} AND n <= 0",
                     emptied)


# --- follow-up reasons --------------------------------------------------------------------------

def _reason_codes(row: Mapping) -> list[str]:
    reasons = row.get("reasons") or []
    if isinstance(reasons, str):
        reasons = json.loads(reasons)
    return sorted(set(reasons))


def count_reasons(db: Database, followup_rows: Iterable[Mapping], sign: int = 1, into: dict | None = None,
                  zones: dict[str, ZoneInfo] | None = None, found: set | None = None) -> dict[tuple, list[int]]:
    """The signed rollup_reason_daily deltas (keyed REASON_DAILY_KEY) of follow-ups (mappings
    with response_id and reasons), added to `into`, without writing. Reads the answers they
    explain: a follow-up whose answer does not count (`counts`) or is not stored counts nothing;
    `found` receives the ids of the answers that are stored (counted or not)."""
    deltas: dict[tuple, list[int]] = {} if into is None else into
    wanted = {r["response_id"]: _reason_codes(r) for r in followup_rows}
    if found is None:
        wanted = {k: v for k, v in wanted.items() if v}
    if not wanted:
        return deltas
    answers = []
    ids = sorted(wanted)
    for i in range(0, len(ids), 500):
        where, params = in_list(db, "id", ids[i:i + 500])
        for *answer, filtered, excluded in db.execute_sql(
                "SELECT id, site_id, question_id, audience, scale, value, recorded_at, filtered, excluded"
                f" FROM response WHERE {where}", params).fetchall():
            if found is not None:
                found.add(answer[0])
            if counts(filtered, excluded) and wanted[answer[0]]:
                answers.append((tuple(answer), wanted[answer[0]]))
    return _count_reasons_of(db, answers, sign, deltas, zones)


def followup_reasons(db: Database, response_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The stored follow-up reasons of these answers, as `count_reasons` takes them (to count
    them out and in again when their answers change)."""
    by_response: dict[str, list[str]] = {}
    for i in range(0, len(response_ids), 500):
        where, params = in_list(db, "response_id", response_ids[i:i + 500])
        for rid, reason in db.execute_sql(
                f"SELECT response_id, reason FROM followup_reason WHERE {where}", params).fetchall():
            by_response.setdefault(rid, []).append(reason)
    return [{"response_id": rid, "reasons": rs} for rid, rs in by_response.items()]


def _count_reasons_of(db: Database, answers: list[tuple[tuple, list[str]]], sign: int, acc: dict[tuple, list[int]],
                      cache: dict[str, ZoneInfo] | None = None) -> dict[tuple, list[int]]:
    zones = site_timezones(db, (a[1] for a, _ in answers), cache)
    for (_id, site, question, audience, scale, value, recorded_at), reasons in answers:
        local_date = hour_bucket(_as_datetime(recorded_at), zones[site])[1]
        stats = reason_stats(scale, value)
        for reason in reasons:
            row = acc.setdefault((site, question, audience, scale, local_date, reason), [0, 0, 0])
            for i, d in enumerate(stats):
                row[i] += sign * d
    return acc


def apply_reasons(db: Database, followup_rows: Iterable[Mapping], sign: int = 1,
                  zones: dict[str, ZoneInfo] | None = None) -> int:
    """Count and write the reasons of `followup_rows` at once; returns daily rows touched."""
    return write_reasons(db, count_reasons(db, followup_rows, sign, zones=zones))


def write_reasons(db: Database, deltas: Mapping[tuple, list[int]]) -> int:
    """Upsert summed daily reason deltas (`count_reasons`) into the daily and monthly tables;
    returns daily rows touched."""
    daily = {k: v for k, v in deltas.items() if any(v)}
    if not daily:
        return 0
    monthly: dict[tuple, list[int]] = {}
    for (site, question, audience, scale, local_date, reason), v in daily.items():
        m = monthly.setdefault((site, question, audience, scale, local_date[:7], reason), [0, 0, 0])
        for i in range(3):
            m[i] += v[i]
    for table, key, acc in (("rollup_reason_daily", REASON_DAILY_KEY, daily),
                            ("rollup_reason_monthly", REASON_MONTHLY_KEY, monthly)):
        _upsert(db, table, key + REASON_STATS, key, REASON_STATS, [k + tuple(v) for k, v in sorted(acc.items())])
    return len(daily)


# --- recomputing from the raw rows (migrations, a site's new zone, tests) -----------------------

def rebuild_reasons(db: Database, site_id: str | None = None) -> int:
    """Recompute the reason rollups (of site `site_id` alone, when given) from followup_reason
    and response; returns the daily rows written."""
    site, params = ("", ()) if site_id is None else (f"site_id = {placeholders(db, 1)}", (site_id,))
    for table in ("rollup_reason_daily", "rollup_reason_monthly"):
        db.execute_sql(f"DELETE FROM {table}{' WHERE ' + site if site else ''}", params)
    by_answer: dict[tuple, list[str]] = {}
    for *answer, reason in db.execute_sql(
            "SELECT r.id, r.site_id, r.question_id, r.audience, r.scale, r.value, r.recorded_at, fr.reason"
            f" FROM followup_reason fr JOIN response r ON r.id = fr.response_id WHERE {_stored_counted_sql(db, 'r')}"
            f"{' AND r.' + site if site else ''}", params).fetchall():
        by_answer.setdefault(tuple(answer), []).append(reason)
    if not by_answer:
        return 0
    return write_reasons(db, _count_reasons_of(db, [(a, sorted(set(rs))) for a, rs in by_answer.items()], 1, {}))


def summarise_hourly_sql() -> list[str]:
    """INSERT … SELECT statements that derive rollup_daily, rollup_chain_hourly and then
    rollup_monthly from rollup_hourly with the rules of `answer_stats` (`stats_sql`): the
    back-fill of a store whose summaries are empty."""
    stats = stats_sql()
    return [
        f"INSERT INTO rollup_daily ({', '.join(DAILY_KEY + STATS)}) SELECT {', '.join(DAILY_KEY)}, {stats}"
        f" FROM rollup_hourly GROUP BY {', '.join(DAILY_KEY)}",
        f"INSERT INTO rollup_chain_hourly ({', '.join(CHAIN_KEY + STATS)}) SELECT {', '.join(CHAIN_UNIQUE)},"
        f" MIN(weekday), {stats} FROM rollup_hourly GROUP BY {', '.join(CHAIN_UNIQUE)}",
        f"INSERT INTO rollup_monthly ({', '.join(MONTHLY_KEY + STATS)}) SELECT {', '.join(DAILY_KEY[:-1])},"
        f" SUBSTR(local_date, 1, 7), {', '.join(f'SUM({s})' for s in STATS)} FROM rollup_daily"
        f" GROUP BY {', '.join(DAILY_KEY[:-1])}, SUBSTR(local_date, 1, 7)",
    ]


def rebuild(db: Database) -> int:
    """Recompute every rollup from the stored answers and follow-up reasons (migration m0020,
    tests): empties the tables, then counts site by site the way ingest does, so no more than one
    site's answers per minute are held at once. The answers are read grouped per minute (every
    zone's offset is whole minutes), as text cut from `CAST(... AS TEXT)`, which both engines
    write as ISO `YYYY-MM-DD HH:MM:SS`. Returns the hourly buckets written."""
    for table in ("rollup_hourly", "rollup_daily", "rollup_monthly", "rollup_chain_hourly"):
        db.execute_sql(f"DELETE FROM {table}")
    zones: dict[str, ZoneInfo] = {}
    written = 0
    sites = [r[0] for r in db.execute_sql("SELECT DISTINCT site_id FROM response ORDER BY site_id").fetchall()]
    for site in sites:
        written += write(db, _site_hours(db, site, zones))
    rebuild_reasons(db)
    return written


def _site_hours(db: Database, site_id: str, zones: dict[str, ZoneInfo]) -> Counter:
    """The rollup_hourly counts (`count_hours`) of every stored answer of one site that counts, in
    the zone its row holds (`zones`: the cache of site_timezones)."""
    zone = site_timezones(db, [site_id], zones)[site_id]
    splits: dict[str, int | None] = {}
    counts: Counter = Counter()
    for *key, minute, n in db.execute_sql(
            "SELECT site_id, kiosk_id, question_id, audience, scale, value,"
            " SUBSTR(CAST(recorded_at AS TEXT), 1, 16) AS minute, COUNT(*) FROM response"
            f" WHERE site_id = {placeholders(db, 1)} AND {_stored_counted_sql(db)}"
            " GROUP BY site_id, kiosk_id, question_id, audience, scale, value, minute", (site_id,)).fetchall():
        counts[tuple(key) + (speedups.local_hour_minute(minute, zone, splits),)] += int(n)
    return count_hours(db, counts, zones=zones)


@dataclass(frozen=True)
class SiteRebuild:
    """What `rebuild_site` did: the answers it counted, the site's rollup_hourly rows
    before and after, and its rollup_reason_daily rows after."""
    answers: int
    hourly_before: int
    hourly: int
    reasons: int


REBUILD_STEPS = ("answers", "rollups", "reasons")


def rebuild_site(db: Database, site_id: str,
                 progress: Callable[[int, int, str], None] | None = None) -> SiteRebuild:
    """Recompute one site's rollups from its stored answers and follow-up reasons in the zone its
    row holds now (a zone changed: `central.site_update`), as `rebuild` counts them: the site's
    rows of the per-site tables are replaced; rollup_chain_hourly, every site's sum, loses what
    the site's stored hourly rows added to it and gains the recount, in one upsert in key order
    (as ingest writes it: no deadlock with ingestors of other sites). The caller holds, in the
    same transaction, the writer locks of every kiosk that writes the site's answers.
    `progress(done, len(REBUILD_STEPS), step)` after each step."""
    def step(done: int) -> None:
        if progress:
            progress(done, len(REBUILD_STEPS), REBUILD_STEPS[done - 1])

    p = placeholders(db, 1)
    old: Counter = Counter()
    for *key, n in db.execute_sql(f"SELECT {', '.join(HOURLY_COLUMNS)} FROM rollup_hourly WHERE site_id = {p}",
                                  (site_id,)).fetchall():
        old[tuple(key)] -= int(n)
    new = _site_hours(db, site_id, {})
    step(1)
    both = Counter(old)
    both.update(new)
    daily, monthly, _ = summaries(new)
    for table in ("rollup_hourly", "rollup_daily", "rollup_monthly"):
        db.execute_sql(f"DELETE FROM {table} WHERE site_id = {p}", (site_id,))
    hourly = _write(db, new, (daily, monthly, summaries(both)[2]))
    step(2)
    reasons = rebuild_reasons(db, site_id)
    step(3)
    return SiteRebuild(sum(new.values()), len(old), hourly, reasons)
