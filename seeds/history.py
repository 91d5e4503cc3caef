"""A realistic history for a chain of stores, written straight into the central store.

`generate(db, HistorySpec(sites=200, days=730))` makes about ten million answers: a weekday and
hour shape (lunch and after-work peaks, busy Saturdays), sites that differ in size and quality,
seeded dips (a few bad days with one dominant complaint, ending in a logged action that works),
follow-ups with reasons on negative answers, the employee pulse at closing (correlated with the
site's customer mood), a few filtered presses, and the fleet's status.

Fast by design: answers are drawn per site-hour with `random.choices` in a child process while
this one writes the previous chunk (one COPY per chunk on PostgreSQL, executemany on SQLite);
ids are time-ordered UUIDs; secondary indexes are rebuilt once after the load; the rollups are
built in bulk: hourly counts straight from the draws, the summaries by INSERT … SELECT.

Deterministic for a seed. Writes only into an empty store (it never merges with ingested data).
"""

from __future__ import annotations

import io
import json
import math
import multiprocessing
import queue
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from peewee import Database

from seeds.catalogue import CUSTOMER_REASONS, EMPLOYEE_REASONS, QUESTIONS
from seeds.demo import OPENING_HOURS
from server_sync.central.dialect import POSTGRES, dialect_of
from server_sync.central.migrations.m0002_rollup_summaries import REASON_MONTHLY_SQL, summarise_hourly_sql
from server_sync.exc import CentralConfigError

TOWNS = [("Stockholm", "SE"), ("Göteborg", "SE"), ("Malmö", "SE"), ("Uppsala", "SE"), ("Västerås", "SE"),
         ("Örebro", "SE"), ("Linköping", "SE"), ("Helsingborg", "SE"), ("Jönköping", "SE"), ("Umeå", "SE"),
         ("Oslo", "NO"), ("Bergen", "NO"), ("Trondheim", "NO"), ("Stavanger", "NO"), ("Tromsø", "NO")]
ZONES = {"SE": "Europe/Stockholm", "NO": "Europe/Oslo"}
# Share of answers per opening hour (relative): a lunch peak and an after-work peak.
HOUR_SHAPE = {8: 0.5, 9: 0.7, 10: 0.9, 11: 1.3, 12: 1.7, 13: 1.4, 14: 1.0, 15: 1.1, 16: 1.5,
              17: 1.8, 18: 1.4, 19: 0.9, 20: 0.6}
WEEKDAY_SHAPE = (0.9, 0.85, 0.9, 1.0, 1.25, 1.45, 0.8)
RUSH_HOURS = {12, 17}                    # the queue gets longer, moods slightly worse
DIP_REASONS = ("queue", "staff", "availability", "cleanliness")
ACTION_NOTES = {"queue": "Extra cashier at lunch and after work", "staff": "Service training for the floor team",
                "availability": "New replenishment routine for the morning", "cleanliness": "Cleaning round every two hours"}

RESPONSE_COLUMNS = ("id", "kiosk_id", "site_id", "seq", "question_id", "question_version", "scale", "value",
                    "audience", "language", "recorded_at", "kiosk_recorded_at", "clock_synced", "time_status",
                    "boot_id", "monotonic_ns", "filtered", "received_at", "batch")
FOLLOWUP_COLUMNS = ("id", "response_id", "kiosk_id", "seq", "reasons", "comment", "recorded_at", "received_at")
REASON_COLUMNS = ("followup_id", "response_id", "reason")
HOURLY_COLUMNS = ("site_id", "kiosk_id", "question_id", "audience", "scale", "value", "hour", "local_date",
                  "local_hour", "weekday", "n")
COLUMNS = {"response": RESPONSE_COLUMNS, "followup": FOLLOWUP_COLUMNS, "followup_reason": REASON_COLUMNS,
           "rollup_hourly": HOURLY_COLUMNS}


@dataclass(frozen=True)
class HistorySpec:
    sites: int = 200
    days: int = 730
    end: date = date(2026, 11, 22)           # last day generated (a Sunday)
    answers_per_day: float = 68.0            # mean customer answers per site and day
    seed: int = 7
    dips_per_year: float = 2.5               # per site
    chunk_rows: int = 200_000


@dataclass
class SitePlan:
    id: str
    name: str
    timezone: str
    kiosks: list[str]
    size: float
    quality: float                           # latent mood on the logit scale
    staff_mood: float
    reason_mix: list[float]
    dips: list[tuple[date, date, str]] = field(default_factory=list)


@dataclass
class HistoryResult:
    sites: int = 0
    kiosks: int = 0
    answers: int = 0
    filtered: int = 0
    followups: int = 0
    actions: int = 0
    dips: list[dict] = field(default_factory=list)


def plan_sites(spec: HistorySpec, rng: random.Random) -> list[SitePlan]:
    plans = []
    start = spec.end - timedelta(days=spec.days - 1)
    for i in range(spec.sites):
        town, country = TOWNS[i % len(TOWNS)]
        kiosks = [f"k{i + 1:03d}-{j + 1}" for j in range(1 + (rng.random() < 0.35) + (rng.random() < 0.1))]
        quality = rng.gauss(1.1, 0.45)
        mix = [rng.uniform(0.5, 1.5) * w for w in (3.0, 2.0, 2.0, 1.5, 1.0, 1.0)]
        plan = SitePlan(f"s{i + 1:03d}", f"{town} {i // len(TOWNS) + 1}", ZONES[country], kiosks,
                        size=math.exp(rng.gauss(0, 0.45)), quality=quality,
                        staff_mood=0.6 * (quality - 1.1) + rng.gauss(0.9, 0.3), reason_mix=mix)
        n_dips = int(spec.dips_per_year * spec.days / 365 * rng.uniform(0.5, 1.5))
        for _ in range(n_dips):
            first = start + timedelta(days=rng.randrange(max(1, spec.days - 10)))
            plan.dips.append((first, first + timedelta(days=rng.randint(2, 6)), rng.choice(DIP_REASONS)))
        plans.append(plan)
    return plans


def _cumulative(weights: list[float]) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


_CUT4 = (-2.2, -0.9, 1.2)                    # ordered-logit cut points for smiley4
_CUT11 = (-4.6, -4.2, -3.8, -3.4, -3.0, -2.5, -1.6, -0.5, 0.8, 2.2)


def _ordered_logit(cuts: tuple[float, ...], mood: float) -> list[float]:
    cdf = [1 / (1 + math.exp(-(c - mood))) for c in cuts] + [1.0]
    return _cumulative([b - a for a, b in zip([0.0] + cdf[:-1], cdf)])


class _Draws:
    """Cumulative value weights by mood, cached on a 0.05 grid (draws stay realistic, fast)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], list[float]] = {}

    def weights(self, scale: str, mood: float) -> list[float]:
        key = (scale, round(mood * 20))
        w = self._cache.get(key)
        if w is None:
            w = self._cache[key] = _ordered_logit(_CUT11 if scale == "nps11" else _CUT4, key[1] / 20)
        return w


def _write(cursor, pg: bool, table: str, rows: list[tuple] | str) -> None:
    columns = ", ".join(COLUMNS[table])
    if pg:
        # One read of the whole chunk (copy_expert reads its file in `size` pieces).
        cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO(rows), size=max(8192, len(rows)))
    else:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(COLUMNS[table]))})", rows)


def _produce(spec: HistorySpec, pg: bool, out) -> None:
    """The drawing side, run in a child process: sends row chunks (COPY text on PostgreSQL), then
    the reason rollup and the counts. A process, not a thread: psycopg2 keeps the GIL while the
    server works through a COPY, and SQLite's binding needs it too, so a thread would serialise."""
    try:
        rng = random.Random(spec.seed)
        plans = plan_sites(spec, rng)
        sim = _Simulation(spec, rng, "\\N" if pg else None)
        start = spec.end - timedelta(days=spec.days - 1)
        for d in range(spec.days):
            day = start + timedelta(days=d)
            for i, plan in enumerate(plans):
                sim.site_day(plan, i, day)
            if len(sim.buffers["response"]) >= spec.chunk_rows or d == spec.days - 1:
                for table, rows in sim.buffers.items():
                    if rows:
                        out.put(("rows", table, _copy_text(rows) if pg else rows))
                    sim.buffers[table] = []
            out.put(("progress", d + 1, spec.days))
        r = sim.result
        out.put(("done", [k + tuple(v) for k, v in sorted(sim.reasons_acc.items())],
                 (r.answers, r.filtered, r.followups)))
    except BaseException as e:            # reported to the parent, which raises it
        out.put(("error", f"{type(e).__name__}: {e}"))


def generate(db: Database, spec: HistorySpec = HistorySpec(),
             progress: Callable[[int, int], None] | None = None) -> HistoryResult:
    """Fill an empty central store with `spec`'s history; returns what was made."""
    if db.execute_sql("SELECT COUNT(*) FROM (SELECT 1 FROM response LIMIT 1) x").fetchone()[0]:
        raise CentralConfigError("the central store already holds answers; the history generator needs an empty one")
    rng = random.Random(spec.seed)
    plans = plan_sites(spec, rng)
    result = HistoryResult(sites=len(plans), kiosks=sum(len(p.kiosks) for p in plans))
    start = spec.end - timedelta(days=spec.days - 1)
    pg = dialect_of(db) is POSTGRES
    if not pg:
        # A bulk load into an empty store (rebuilt on failure): no fsync, and a rollback journal
        # in memory instead of the WAL, which would hold the whole load once more before the
        # checkpoint copies it (the switch silently keeps WAL if another connection is open).
        db.execute_sql("PRAGMA synchronous = OFF")
        db.execute_sql("PRAGMA cache_size = -262144")
        db.execute_sql("PRAGMA journal_mode = MEMORY")
    with db.atomic():
        _write_master_data(db, plans, spec, start)
    ctx = multiprocessing.get_context("fork")
    channel = ctx.Queue(maxsize=4)
    producer = ctx.Process(target=_produce, args=(spec, pg, channel), name="history-producer", daemon=True)
    producer.start()
    try:
        with db.atomic():
            indexes = _suspend_indexes(db, tuple(COLUMNS))
            cursor = db.connection().cursor()
            while True:
                try:
                    item = channel.get(timeout=5)
                except queue.Empty:
                    if not producer.is_alive():
                        raise RuntimeError("the history producer died") from None
                    continue
                if item[0] == "rows":
                    _write(cursor, pg, item[1], item[2])
                elif item[0] == "progress":
                    if progress:
                        progress(item[1], item[2])
                elif item[0] == "error":
                    raise RuntimeError(f"history producer failed: {item[1]}")
                else:
                    reason_rows, (result.answers, result.filtered, result.followups) = item[1], item[2]
                    break
            _bulk_insert(db, "rollup_reason_daily", ("site_id", "question_id", "audience", "scale", "local_date",
                                                     "reason", "n", "negative", "negative_sum_v"), reason_rows)
            for sql in indexes:
                db.execute_sql(sql)
            for sql in summarise_hourly_sql() + [REASON_MONTHLY_SQL]:
                db.execute_sql(sql)
            result.actions = _write_actions(db, plans, spec)
    finally:
        producer.join(timeout=10)
        if producer.is_alive():
            producer.kill()
        if not pg:
            db.execute_sql("PRAGMA journal_mode = WAL")
            db.execute_sql("PRAGMA synchronous = FULL")
    if pg:
        # Fresh statistics for the planner, and a visibility map for index-only scans of the
        # (small) rollup tables the reports read.
        db.execute_sql("VACUUM ANALYZE rollup_daily, rollup_monthly, rollup_chain_hourly, rollup_reason_daily,"
                       " rollup_reason_monthly, rollup_hourly")
        db.execute_sql("ANALYZE")
    result.dips = [{"site_id": p.id, "from": a.isoformat(), "to": b.isoformat(), "reason": r}
                   for p in plans for a, b, r in p.dips]
    return result


def _suspend_indexes(db: Database, tables: tuple[str, ...]) -> list[str]:
    """Drop the secondary indexes of the bulk-loaded tables; returns the statements that rebuild
    them exactly. One sorted build after the load beats millions of incremental inserts. On
    PostgreSQL the (empty) tables are also truncated inside this transaction, which lets a
    server with wal_level=minimal skip WAL for the COPY."""
    if dialect_of(db) is POSTGRES:
        db.execute_sql(f"TRUNCATE {', '.join(tables)}")
        rows = db.execute_sql("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
                              " AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
                              " WHERE c.conname = i.indexname)", (list(tables),)).fetchall()
    else:
        rows = db.execute_sql(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                              f" AND tbl_name IN ({', '.join('?' * len(tables))})", tables).fetchall()
    for name, _sql in rows:
        db.execute_sql(f'DROP INDEX "{name}"')
    return [sql for _name, sql in rows]


def _copy_text(rows: list[tuple]) -> str:
    """PostgreSQL COPY text; the simulation already wrote NULL as \\N and no value holds a tab."""
    return "".join(["\t".join(map(str, row)) + "\n" for row in rows])


def _bulk_insert(db: Database, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    for i in range(0, len(rows), 50_000):
        db.cursor().executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
                                f" ({', '.join([db.param] * len(columns))})", rows[i:i + 50_000])


def _write_master_data(db: Database, plans: list[SitePlan], spec: HistorySpec, start: date) -> None:
    created = datetime.combine(start, datetime.min.time()) - timedelta(days=7)
    now = datetime.combine(spec.end, datetime.min.time()) + timedelta(hours=20)
    _bulk_insert(db, "site", ("id", "name", "timezone", "created_at"),
                 [(p.id, p.name, p.timezone, created) for p in plans])
    _bulk_insert(db, "kiosk", ("id", "site_id", "registered_at", "active"),
                 [(k, p.id, created, True) for p in plans for k in p.kiosks])
    _bulk_insert(db, "question", ("id", "version", "scale", "audience", "text", "first_seen"),
                 [(q["id"], q["version"], q["scale"], q["audience"], json.dumps(q["text"], ensure_ascii=False), created)
                  for q in (QUESTIONS["visit"], QUESTIONS["recommend"], QUESTIONS["pulse"])])
    rng = random.Random(spec.seed + 1)
    status = []
    for p in plans:
        for k in p.kiosks:
            silent = rng.random() < 0.03        # a few kiosks went quiet: the fleet view flags them
            status.append((k, not silent, now - timedelta(hours=rng.uniform(3, 30) if silent else rng.uniform(0, 0.1)),
                           "0.1.0", rng.choice((0, 0, 0, 3, 40)) if not silent else rng.randint(50, 400),
                           0 if not silent else rng.randint(3 * 3600, 30 * 3600), True, 1, "{}"))
    _bulk_insert(db, "kiosk_status", ("kiosk_id", "online", "last_seen", "version", "outbox_depth",
                                      "oldest_unacked_s", "clock_synced", "config_version", "payload"), status)


def _write_actions(db: Database, plans: list[SitePlan], spec: HistorySpec) -> int:
    created = datetime.combine(spec.end, datetime.min.time())
    # The site acts the day after its dip ends; the generator makes the fix work (see _after_action_boost).
    rows = [(p.id, "visit", (b + timedelta(days=1)).isoformat(), ACTION_NOTES[r], created)
            for p in plans for _a, b, r in p.dips if b < spec.end]
    _bulk_insert(db, "action", ("site_id", "question_id", "action_date", "note", "created_at"), rows)
    return len(rows)


_MMSS = [f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)]
_SCALE_VALUES = {"smiley4": (1, 2, 3, 4), "nps11": tuple(range(11))}


def _in_dip(plan: SitePlan, day: date) -> str | None:
    for a, b, reason in plan.dips:
        if a <= day <= b:
            return reason
    return None


def _after_action_boost(plan: SitePlan, day: date) -> float:
    # After a dip the site acted; the fix works for a couple of months.
    boost = 0.0
    for _a, b, _r in plan.dips:
        if b < day <= b + timedelta(days=60):
            boost = max(boost, 0.35)
    return boost


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class _Simulation:
    """Draws answers site-day by site-day into row buffers (the hot loop of the generator)."""

    def __init__(self, spec: HistorySpec, rng: random.Random, null: object) -> None:
        self.spec, self.rng, self.null = spec, rng, null
        self.draws = _Draws()
        self.seqs: Counter = Counter()
        self.serial = 0
        self.reasons_acc: dict[tuple, list[int]] = {}
        self.buffers: dict[str, list[tuple]] = {t: [] for t in ("response", "followup", "followup_reason",
                                                                 "rollup_hourly")}
        self.result = HistoryResult()
        self._hours: dict[tuple, tuple[str, str]] = {}

    def site_day(self, plan: SitePlan, site_index: int, day: date) -> None:
        rng, spec = self.rng, self.spec
        weekday = day.weekday()
        open_h, close_h = OPENING_HOURS[weekday]
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(plan.timezone))
        offset_h = int(noon.utcoffset().total_seconds() // 3600)    # DST flips at night, shops are closed
        dip = _in_dip(plan, day)
        mood_day = plan.quality + _after_action_boost(plan, day) + rng.gauss(0, 0.12) - (1.6 if dip else 0.0)
        hours = range(open_h, close_h)
        shape_total = sum(HOUR_SHAPE.get(h, 0.5) for h in hours)
        expected = spec.answers_per_day * plan.size * WEEKDAY_SHAPE[weekday] / sum(WEEKDAY_SHAPE) * 7
        mix = list(plan.reason_mix)
        if dip:
            mix[CUSTOMER_REASONS.index(dip)] += 6 * sum(mix) / len(mix)
        cum_mix = _cumulative(mix)
        ctx = (plan, site_index, day, offset_h, day.isoformat(), weekday)
        for h in hours:
            n = _poisson(rng, expected * HOUR_SHAPE.get(h, 0.5) / shape_total)
            if not n:
                continue
            mood = mood_day - (0.25 if h in RUSH_HOURS else 0.0)
            n_nps = sum(1 for _ in range(n) if rng.random() < 0.22)
            self.answers(ctx, h, "visit", "smiley4", "customer", n - n_nps, self.draws.weights("smiley4", mood),
                         cum_mix, CUSTOMER_REASONS)
            self.answers(ctx, h, "recommend", "nps11", "customer", n_nps, self.draws.weights("nps11", mood + 1.0),
                         cum_mix, CUSTOMER_REASONS)
        if weekday < 5:                            # staff answer the pulse at closing on weekdays
            staff_mood = plan.staff_mood + (-0.8 if dip else 0.0) + rng.gauss(0, 0.2)
            self.answers(ctx, close_h - 1, "pulse", "smiley4", "employee", _poisson(rng, 3.0 * plan.size),
                         self.draws.weights("smiley4", staff_mood), _cumulative([1.0] * len(EMPLOYEE_REASONS)),
                         EMPLOYEE_REASONS)

    def hour_keys(self, day: date, local_hour: int, offset_h: int, site_index: int) -> tuple[str, str]:
        """("YYYY-MM-DD HH:" of the UTC hour, the id prefix): time-ordered UUIDs (version 7 layout)
        whose last 12 digits are a serial, so ids are unique and mostly appended to the index."""
        key = (day, local_hour, offset_h)
        cached = self._hours.get(key)
        if cached is None:
            if len(self._hours) > 4096:
                self._hours.clear()
            utc_hour = datetime(day.year, day.month, day.day, local_hour) - timedelta(hours=offset_h)
            hex_ms = f"{int(utc_hour.replace(tzinfo=timezone.utc).timestamp() * 1000):012x}"
            cached = self._hours[key] = (utc_hour.strftime("%Y-%m-%d %H:"), f"{hex_ms[:8]}-{hex_ms[8:12]}-7")
        return cached[0], f"{cached[1]}{site_index & 0xFFF:03x}-8{local_hour:03x}-"

    def answers(self, ctx: tuple, local_hour: int, question: str, scale: str, audience: str, n: int,
                cum_weights: list[float], cum_mix: list[float], reasons: tuple[str, ...]) -> None:
        if n <= 0:
            return
        plan, site_index, day, offset_h, local_date, weekday = ctx
        rng, seqs, null, result = self.rng, self.seqs, self.null, self.result
        values = rng.choices(_SCALE_VALUES[scale], cum_weights=cum_weights, k=n)
        single = len(plan.kiosks) == 1
        kiosks = plan.kiosks if single else rng.choices(plan.kiosks, k=n)
        hour_text, prefix = self.hour_keys(day, local_hour, offset_h, site_index)
        boot = f"boot-{day.toordinal()}"
        seconds = sorted(rng.choices(range(3600), k=n))
        responses, followups = self.buffers["response"], self.buffers["followup"]
        reason_rows = self.buffers["followup_reason"]
        counts: Counter = Counter()
        negative_cut = 6 if scale == "nps11" else 2
        mono_base = local_hour * 3_600_000_000_000
        serial = self.serial
        random_ = rng.random
        for i in range(n):
            kiosk = kiosks[0] if single else kiosks[i]
            value = values[i]
            sec = seconds[i]
            seq = seqs[kiosk] = seqs[kiosk] + 1
            stamp = hour_text + _MMSS[sec]
            serial += 1
            rid = f"{prefix}{serial:012x}"
            filtered = "repeat" if random_() < 0.01 else null
            responses.append((rid, kiosk, plan.id, seq, question, 1, scale, value, audience, "sv", stamp, stamp,
                              True, "synced", boot, mono_base + sec * 1_000_000_000, filtered, stamp, null))
            if filtered is not null:
                result.filtered += 1
                continue
            counts[(kiosk, value)] += 1
            if value <= negative_cut and random_() < 0.45:
                seqs[kiosk] += 1
                serial += 1
                fid = f"{prefix}{serial:012x}"
                picked = {reasons[_pick(cum_mix, rng)]}
                if random_() < 0.3:
                    picked.add(reasons[_pick(cum_mix, rng)])
                picked_sorted = sorted(picked)
                followups.append((fid, rid, kiosk, seqs[kiosk], json.dumps(picked_sorted), null, stamp, stamp))
                result.followups += 1
                for reason in picked_sorted:
                    reason_rows.append((fid, rid, reason))
                    acc = self.reasons_acc.setdefault((plan.id, question, audience, scale, local_date, reason),
                                                      [0, 0, 0])
                    acc[0] += 1
                    acc[1] += 1
                    acc[2] += value
        self.serial = serial
        result.answers += n
        hour_value = hour_text + "00:00"
        hourly = self.buffers["rollup_hourly"]
        for (kiosk, value), c in counts.items():
            hourly.append((plan.id, kiosk, question, audience, scale, value, hour_value, local_date, local_hour,
                           weekday, c))


def _pick(cum: list[float], rng: random.Random) -> int:
    x = rng.random() * cum[-1]
    for i, c in enumerate(cum):
        if x < c:
            return i
    return len(cum) - 1

