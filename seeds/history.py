"""A realistic history for a chain of stores, written straight into the central store.

`generate(db, HistorySpec(sites=200, days=730))` makes about ten million answers: a weekday and
hour shape (lunch and after-work peaks, busy Saturdays), sites that differ in size and quality,
seeded dips (a few bad days with one dominant complaint, ending in a logged action that works;
`seeded_dips(spec)` is their ground truth: site, days and size in Happy Index points),
follow-ups with reasons on negative answers, the employee pulse at closing (correlated with the
site's customer mood), a few filtered presses, clock anchors, and the fleet's status.

Fast by design (10.7 M answers in under two minutes on 2 cores; benchmarks/report_chain.py):
- the draws are numpy arrays, one site's whole history at a time (`draw_site`), from a
  generator seeded by (seed, site): the same history whatever the chunking;
- rows are never Python objects: columns are rendered and encoded with numpy (`seeds.bulkload`)
  in a child process while this one loads the previous chunk (binary COPY on PostgreSQL,
  fixed-width records cut apart by one INSERT … SELECT per chunk on SQLite), site by site and
  each table in primary-key order, so key indexes are appended to and rebuilt sorts find sorted
  input;
- every rollup is counted from the draws exactly as ingest counts the same rows (unfiltered
  answers only; a follow-up's reasons on its answer's site-local date), with the statistics of
  `server_sync.central.rollups` as lookup tables, tested against that module's counts of the raw
  rows;
- secondary indexes (and on PostgreSQL primary keys) are dropped for the load and rebuilt once,
  in the same transaction.

Deterministic for a seed (with a given numpy version: its generators may change between major
versions). Writes only into an empty store, in one transaction: it never merges with ingested
data, and an error rolls everything back. A SQLite load keeps its rollback journal in memory:
a process killed mid-load can leave that file unusable (delete it and run again).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import queue
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

import numpy as np
from peewee import Database

from seeds import bulkload
from seeds.bulkload import Chars, Const, Int, Stamp, Table, Text
from seeds.catalogue import CUSTOMER_REASONS, QUESTIONS
from seeds.demo import OPENING_HOURS
from server_sync.central.dialect import POSTGRES, dialect_of
from server_sync.central import rollups
from server_sync.protocol.scales import scale as scale_rules
from server_sync.exc import CentralConfigError
from server_sync.program.progress import progress_callback

TOWNS = [("Stockholm", "SE"), ("Göteborg", "SE"), ("Malmö", "SE"), ("Uppsala", "SE"), ("Västerås", "SE"),
         ("Örebro", "SE"), ("Linköping", "SE"), ("Helsingborg", "SE"), ("Jönköping", "SE"), ("Umeå", "SE"),
         ("Oslo", "NO"), ("Bergen", "NO"), ("Trondheim", "NO"), ("Stavanger", "NO"), ("Tromsø", "NO")]
ZONES = {"SE": "Europe/Stockholm", "NO": "Europe/Oslo"}
LANGUAGES = ("sv", "nb", "en")
COUNTRY_LANGUAGE = {"SE": 0, "NO": 1}
ENGLISH_SHARE = 0.08                     # visitors who switch the kiosk to English
# Share of answers per opening hour (relative): a lunch peak and an after-work peak.
HOUR_SHAPE = {8: 0.5, 9: 0.7, 10: 0.9, 11: 1.3, 12: 1.7, 13: 1.4, 14: 1.0, 15: 1.1, 16: 1.5,
              17: 1.8, 18: 1.4, 19: 0.9, 20: 0.6}
WEEKDAY_SHAPE = (0.9, 0.85, 0.9, 1.0, 1.25, 1.45, 0.8)
RUSH_HOURS = {12, 17}                    # the queue gets longer, moods slightly worse
DIP_REASONS = ("queue", "staff", "availability", "cleanliness")
ACTION_NOTES = {"queue": "Extra cashier at lunch and after work", "staff": "Service training for the floor team",
                "availability": "New replenishment routine for the morning", "cleanliness": "Cleaning round every two hours"}
FILTERED_SHARE = 0.01                    # presses the kiosk flags (repeat); kept raw, never counted
FOLLOWUP_SHARE = 0.45                    # negative answers that get a follow-up
SECOND_REASON_SHARE = 0.3
DIP_REASON_WEIGHT = 6                    # a dip adds this many times the mean reason weight to its reason

# Question codes in the draws: 0 visit (smiley4), 1 recommend (nps11), 2 pulse (employee smiley4).
QUESTION_IDS = ("visit", "recommend", "pulse")
SCALES = tuple(QUESTIONS[q]["scale"] for q in QUESTION_IDS)
AUDIENCES = tuple(QUESTIONS[q]["audience"] for q in QUESTION_IDS)
# The follow-up trigger (a negative answer) per question code: values up to this.
_NEGATIVE_MAX = np.array([scale_rules(s).negative_up_to for s in SCALES])
# Every reason code any of them offers, sorted: a follow-up's reasons are a bit mask over these,
# and its JSON lists them in this (sorted) order.
REASON_CODES = tuple(sorted({r for q in QUESTION_IDS for r in QUESTIONS[q]["reasons"]}))
_TOP_CUT = (-2.2, -0.9, 1.2)             # ordered-logit cut points for smiley4
_NPS_CUT = (-4.6, -4.2, -3.8, -3.4, -3.0, -2.5, -1.6, -0.5, 0.8, 2.2)
_UNIX_DAY0 = date(1970, 1, 1)


@dataclass(frozen=True)
class HistorySpec:
    sites: int = 200
    days: int = 730
    end: date = date(2026, 11, 22)           # last day generated (a Sunday)
    answers_per_day: float = 68.0            # mean customer answers per site and day
    seed: int = 7
    dips_per_year: float = 2.5               # per site
    # How far a dip lowers the day's mood on the logit scale, drawn uniformly from this range:
    # 1.6 is about 20-27 Happy Index points; (0.4, 2.0) spans about 5-30 (a benchmark's mix).
    dip_drop: tuple[float, float] = (1.6, 1.6)
    chunk_rows: int = 250_000                # answers per load chunk (memory, not results)
    # When the kiosks' last statuses were sent (the fleet view's "now"); None: 20:00 UTC on `end`,
    # which keeps a chain the same whenever it is made. A chain looked at live (the demo) passes
    # the time it is made, or every kiosk reads as silent since last night.
    status_at: datetime | None = None


@dataclass
class SitePlan:
    id: str
    name: str
    timezone: str
    kiosks: list[str]
    size: float
    quality: float                           # latent mood on the logit scale
    staff_mood: float
    reason_mix: list[float]                  # weights of CUSTOMER_REASONS
    language: int = 0                        # index into LANGUAGES
    dips: list[tuple[date, date, str]] = field(default_factory=list)     # first day, last day, reason
    dip_drops: list[float] = field(default_factory=list)                  # per dip: mood drop (logit)


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
                        staff_mood=0.6 * (quality - 1.1) + rng.gauss(0.9, 0.3), reason_mix=mix,
                        language=COUNTRY_LANGUAGE[country])
        # The expected count, rounded up or down at random so that a short history gets its
        # share of dips (int() alone gave none below a year). The rounded-up dip and every dip's
        # size come from a stream of their own, so every draw of `rng` is what it was and a
        # history keeps the dips it had.
        extra = random.Random(f"{spec.seed}:dips:{i}")
        expected = spec.dips_per_year * spec.days / 365 * rng.uniform(0.5, 1.5)
        for _ in range(int(expected)):
            _add_dip(plan, spec, start, rng, extra)
        if extra.random() < expected - int(expected):
            _add_dip(plan, spec, start, extra, extra, apart=True)
        plans.append(plan)
    if plans and spec.dips_per_year > 0 and not any(p.dips for p in plans):
        # A tiny chain still shows what a dip and its action look like.
        extra = random.Random(f"{spec.seed}:dips:chain")
        _add_dip(plans[extra.randrange(len(plans))], spec, start, extra, extra)
    return plans


# After a dip the site's mood is FIX_LIFT (logit) better for FIX_DAYS days, then back where it was:
# a real drop of about 5 Happy Index points that is not a seeded dip (benchmarks/alert_quality.py).
FIX_DAYS = 60
FIX_LIFT = 0.35
DIPS_APART = 35          # days between a rounded-up dip and the site's others: its action is judged alone


def _add_dip(plan: SitePlan, spec: HistorySpec, start: date, rng: random.Random, extra: random.Random,
             apart: bool = False) -> None:
    first = start + timedelta(days=rng.randrange(max(1, spec.days - 10)))
    last = first + timedelta(days=rng.randint(2, 6))
    reason = rng.choice(DIP_REASONS)
    if apart and any(first - timedelta(days=DIPS_APART) <= b and a <= last + timedelta(days=DIPS_APART)
                     for a, b, _ in plan.dips):
        return
    plan.dips.append((first, last, reason))
    plan.dip_drops.append(extra.uniform(*spec.dip_drop))


def action_rows(plans: list[SitePlan], spec: HistorySpec) -> list[tuple]:
    """The actions the sites logged: (site, question, date, note, created) the day after each dip
    that ended before the history's last day (the generator makes the fix work: Chain.boost)."""
    created = datetime.combine(spec.end, datetime.min.time())
    return [(p.id, "visit", (b + timedelta(days=1)).isoformat(), ACTION_NOTES[r], created)
            for p in plans for _a, b, r in p.dips if b < spec.end]


@dataclass(frozen=True)
class SeededDip:
    """Ground truth for scoring alerts: one seeded dip of one site, its site-local days and its
    size: the drop of the site's expected Happy Index on the visit question (index points), given
    the site's mood then, over a day's hours."""
    site_id: str
    first: date
    last: date
    reason: str
    drop: float                              # mood drop on the logit scale
    size: float                              # Happy Index points

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def _expected_happy_index(mood: np.ndarray) -> np.ndarray:
    """Expected Happy Index of smiley4 answers at latent mood `mood` (ordered logit): the mean
    value minus one is the sum over the cut points of P(mood + logistic noise > cut)."""
    cut = np.array(_TOP_CUT)
    return 100 / 3 * (1 / (1 + np.exp(-(mood[..., None] - cut)))).sum(axis=-1)


def dip_truth(chain: Chain, plans: list[SitePlan]) -> list[SeededDip]:
    out = []
    for i, p in enumerate(plans):
        for (a, b, reason), drop in zip(p.dips, p.dip_drops):
            days = np.arange(max(0, (a - chain.start).days), min(chain.spec.days, (b - chain.start).days + 1))
            if not len(days):
                continue
            # The mood of those days without the dip, hour by hour (rush hours are worse),
            # weighted by the day's answers per hour.
            mood = (chain.quality[i] + chain.boost[i, days])[:, None] - _RUSH[None, :]
            shape = chain.hour_shape[days]
            size = ((_expected_happy_index(mood) - _expected_happy_index(mood - drop)) * shape).sum() / shape.sum()
            out.append(SeededDip(p.id, a, b, reason, round(drop, 3), round(float(size), 2)))
    return out


def seeded_dips(spec: HistorySpec) -> list[SeededDip]:
    """The ground truth of the history `generate(db, spec)` makes, without making it."""
    plans = plan_sites(spec, random.Random(spec.seed))
    return dip_truth(chain_arrays(spec, plans), plans)


# --- the chain as arrays ------------------------------------------------------------------------

@dataclass(frozen=True)
class Chain:
    """The site plans and the calendar as numpy arrays (index = site, day, kiosk)."""
    spec: HistorySpec
    start: date
    site_ids: list[str]
    kiosk_ids: list[str]
    size: np.ndarray
    quality: np.ndarray
    staff_mood: np.ndarray
    kiosks: np.ndarray                       # kiosks per site
    first_kiosk: np.ndarray                  # index of the site's first kiosk in kiosk_ids
    language: np.ndarray
    utc_offset: np.ndarray                   # sites × days: hours ahead of UTC at local noon
    dip: np.ndarray                          # sites × days: index into CUSTOMER_REASONS, -1 = none
    dip_drop: np.ndarray                     # sites × days: the dip's mood drop (logit), 0 = none
    boost: np.ndarray                        # sites × days: mood added after an action
    reason_weights: list[np.ndarray]         # per question code: sites × len(its reasons)
    reason_bits: list[np.ndarray]            # per question code: its reasons' index in REASON_CODES
    dip_column: list[np.ndarray]             # per question code: CUSTOMER_REASONS index -> its reason column, -1 = not offered
    weekday: np.ndarray                      # per day
    close_hour: np.ndarray                   # per day, local
    hour_shape: np.ndarray                   # days × 24: share of the day's answers per local hour
    day_epoch: np.ndarray                    # per day: Unix seconds of its (UTC) midnight
    dates: list[str]                         # per day, ISO
    boots: list[str]                         # per day: the kiosks' boot id (they restart nightly)
    months: list[str]                        # 'YYYY-MM' of the period
    month_of_day: np.ndarray                 # per day: index into months


def chain_arrays(spec: HistorySpec, plans: list[SitePlan]) -> Chain:
    start = spec.end - timedelta(days=spec.days - 1)
    days = [start + timedelta(days=d) for d in range(spec.days)]
    # DST flips at night, when the shops are closed: the offset at noon holds for the whole day.
    offsets = {tz: np.array([int(datetime(d.year, d.month, d.day, 12, tzinfo=ZoneInfo(tz)).utcoffset()
                                 .total_seconds() // 3600) for d in days]) for tz in sorted({p.timezone for p in plans})}
    dip = np.full((len(plans), spec.days), -1, dtype=np.int64)
    boost = np.zeros((len(plans), spec.days))
    depth = np.zeros((len(plans), spec.days))
    for i, p in enumerate(plans):
        for (a, b, reason), drop in zip(p.dips, p.dip_drops):
            first, last = (a - start).days, (b - start).days
            dip[i, max(0, first):last + 1] = CUSTOMER_REASONS.index(reason)
            depth[i, max(0, first):last + 1] = drop
            # After a dip the site acted; the fix works for a couple of months.
            boost[i, max(0, last + 1):last + 1 + FIX_DAYS] = FIX_LIFT
    kiosks = np.array([len(p.kiosks) for p in plans], dtype=np.int64)
    mix = np.array([p.reason_mix for p in plans]).reshape(len(plans), len(CUSTOMER_REASONS))
    weights, bits, dip_column = [], [], []
    for q in QUESTION_IDS:
        reasons = QUESTIONS[q]["reasons"]
        bits.append(np.array([REASON_CODES.index(r) for r in reasons]))
        dip_column.append(np.array([reasons.index(r) if r in reasons else -1 for r in CUSTOMER_REASONS]))
        if QUESTIONS[q]["audience"] == "customer":
            # A reason outside the site's customer mix (e.g. "other") weighs as its least cited one.
            weights.append(np.stack([mix[:, CUSTOMER_REASONS.index(r)] if r in CUSTOMER_REASONS
                                     else mix.min(axis=1) for r in reasons], axis=1))
        else:
            weights.append(np.ones((len(plans), len(reasons))))
    weekday = np.array([d.weekday() for d in days], dtype=np.int64)
    hour_shape = np.zeros((spec.days, 24))
    for d, wd in enumerate(weekday):
        open_h, close_h = OPENING_HOURS[int(wd)]
        hour_shape[d, open_h:close_h] = _HOUR_WEIGHT[open_h:close_h] / _HOUR_WEIGHT[open_h:close_h].sum()
    months = sorted({d.isoformat()[:7] for d in days})
    return Chain(spec, start, [p.id for p in plans], [k for p in plans for k in p.kiosks],
                 np.array([p.size for p in plans]), np.array([p.quality for p in plans]),
                 np.array([p.staff_mood for p in plans]), kiosks,
                 np.concatenate([[0], np.cumsum(kiosks)[:-1]]).astype(np.int64),
                 np.array([p.language for p in plans], dtype=np.int64),
                 np.stack([offsets[p.timezone] for p in plans]) if plans else np.zeros((0, spec.days), np.int64),
                 dip, depth, boost, weights, bits, dip_column, weekday,
                 np.array([OPENING_HOURS[int(wd)][1] for wd in weekday], dtype=np.int64), hour_shape,
                 np.array([(d - _UNIX_DAY0).days * 86400 for d in days], dtype=np.int64),
                 [d.isoformat() for d in days], [f"boot-{d.toordinal()}" for d in days], months,
                 np.array([months.index(d.isoformat()[:7]) for d in days], dtype=np.int64))


_HOUR_WEIGHT = np.array([HOUR_SHAPE.get(h, 0.5) for h in range(24)])


# --- one site's history --------------------------------------------------------------------------

_RUSH = np.array([0.25 if h in RUSH_HOURS else 0.0 for h in range(24)])
_WEEKDAY_WEIGHT = np.array(WEEKDAY_SHAPE) / sum(WEEKDAY_SHAPE) * 7
# Question codes in the order of their ids as text ('pulse' < 'recommend' < 'visit'): rows sorted
# by it come out in primary-key order.
_QUESTION_RANK = np.argsort(np.argsort(QUESTION_IDS))


@dataclass
class Draws:
    """Every answer of one site over the whole history, in time order."""
    site: int
    day: np.ndarray                          # day index (0 = the first day)
    time: np.ndarray                         # Unix seconds (UTC)
    kiosk: np.ndarray                        # index into Chain.kiosk_ids
    question: np.ndarray                     # question code
    value: np.ndarray
    filtered: np.ndarray                     # bool: a flagged press
    language: np.ndarray
    local_hour: np.ndarray
    local_second: np.ndarray                 # seconds since local midnight
    reasons: np.ndarray                      # bit mask over REASON_CODES; 0 = no follow-up


def draw_site(chain: Chain, i: int) -> Draws:
    """Draw site `i`'s whole history; pure, seeded by (seed, i)."""
    spec = chain.spec
    rng = np.random.default_rng([spec.seed, i])
    days = spec.days
    in_dip = chain.dip[i] >= 0
    mood_day = chain.quality[i] + chain.boost[i] - chain.dip_drop[i] + rng.normal(0, 0.12, days)
    expected = spec.answers_per_day * chain.size[i] * _WEEKDAY_WEIGHT[chain.weekday]
    n = rng.poisson(expected[:, None] * chain.hour_shape)             # day × local hour
    n_nps = rng.binomial(n, 0.22)
    # Customer answers: one cell per day, hour and question (visit, recommend).
    counts = np.stack([n - n_nps, n_nps], axis=2).ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    day, hour, question = cell // 48, (cell // 2) % 24, cell % 2
    mood = mood_day[day] - _RUSH[hour] + 1.0 * (question == 1)
    # Staff answer the pulse at closing on weekdays.
    staff = chain.staff_mood[i] - 0.8 * in_dip + rng.normal(0, 0.2, days)
    staff_day = np.repeat(np.arange(days), rng.poisson(3.0 * chain.size[i], days) * (chain.weekday < 5))
    day = np.concatenate([day, staff_day])
    hour = np.concatenate([hour, chain.close_hour[staff_day] - 1])
    question = np.concatenate([question, np.full(len(staff_day), 2)])
    mood = np.concatenate([mood, staff[staff_day]])
    size = len(day)
    # Ordered logit: value = how many cut points the latent mood + logistic noise passes.
    latent = mood + rng.logistic(size=size)
    value = np.where(question == 1, np.searchsorted(_NPS_CUT, latent, "right"),
                     np.searchsorted(_TOP_CUT, latent, "right") + 1)
    second = rng.integers(0, 3600, size)
    kiosk = chain.first_kiosk[i] + (rng.random(size) * chain.kiosks[i]).astype(np.int64)
    filtered = rng.random(size) < FILTERED_SHARE
    language = np.where(rng.random(size) < ENGLISH_SHARE, LANGUAGES.index("en"), chain.language[i])
    followed = (value <= _NEGATIVE_MAX[question]) & ~filtered & (rng.random(size) < FOLLOWUP_SHARE)
    reasons = np.zeros(size, dtype=np.int64)
    picked = np.flatnonzero(followed)
    u = rng.random((3, len(picked)))
    for q in range(len(QUESTION_IDS)):
        mine = question[picked] == q
        rows, us = picked[mine], u[:, mine]
        weights = np.repeat(chain.reason_weights[q][i][None, :], len(rows), axis=0)
        if QUESTIONS[QUESTION_IDS[q]]["audience"] == "customer":      # a dip makes one complaint dominate
            dipping = np.flatnonzero(in_dip[day[rows]])
            column = chain.dip_column[q][chain.dip[i, day[rows[dipping]]]]
            # A question that does not offer the dip's reason (no shelves on the checkout question)
            # gets no boost: its customers cannot name the complaint there.
            offered = column >= 0
            dipping, column = dipping[offered], column[offered]
            weights[dipping, column] += DIP_REASON_WEIGHT * weights[dipping].mean(axis=1)
        cum = np.cumsum(weights, axis=1)
        first = (us[0][:, None] * cum[:, -1:] >= cum).sum(axis=1)
        second_pick = (us[1][:, None] * cum[:, -1:] >= cum).sum(axis=1)
        bits = chain.reason_bits[q]
        reasons[rows] = (1 << bits[first]) | np.where(us[2] < SECOND_REASON_SHARE, 1 << bits[second_pick], 0)
    time = chain.day_epoch[day] + (hour - chain.utc_offset[i, day]) * 3600 + second
    order = np.argsort(time, kind="stable")
    return Draws(i, day[order], time[order], kiosk[order], question[order], value[order], filtered[order],
                 language[order], hour[order], (hour * 3600 + second)[order], reasons[order])


# --- numbering and tables -----------------------------------------------------------------------

class Numbering:
    """Event serials (for ids) and per-kiosk seq: each answer, then its follow-up, takes the next
    seq of its kiosk, as the kiosk's outbox would number them."""

    def __init__(self, kiosks: int) -> None:
        self.seq = np.zeros(kiosks, dtype=np.int64)
        self.serial = 0

    def number(self, kiosk: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(serial, seq) of each answer (in time order per kiosk) given its kiosk and width (2
        with a follow-up, else 1)."""
        ends = self.serial + np.cumsum(width)
        serial = ends - width + 1
        if len(ends):
            self.serial = int(ends[-1])
        order = np.argsort(kiosk, kind="stable")
        k, w = kiosk[order], width[order]
        before = np.cumsum(w) - w
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if len(k) else np.zeros(0, dtype=np.int64)
        group_before = np.repeat(before[starts], np.diff(np.r_[starts, len(k)]))
        seq = np.empty_like(kiosk)
        seq[order] = self.seq[k] + before - group_before + 1
        self.seq += np.bincount(kiosk, weights=width, minlength=len(self.seq)).astype(np.int64)
        return serial, seq


def _event_ids(site: np.ndarray, day: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """UUIDs in the version 4 layout the kiosks use, whose digits are the site, the day and a
    serial: unique, and increasing in load order (site by site), so the id index is appended to."""
    h, lit = bulkload.hex_chars, bulkload.literal
    sites, site_index = np.unique(site, return_inverse=True)
    days = int(day.max()) + 1 if len(day) else 1
    # The prefix depends on (site, day) only: rendered once per pair, looked up per row.
    pair_site, pair_day = np.divmod(np.arange(len(sites) * days), days)
    prefixes = bulkload.join_chars([h(sites[pair_site] + 1, 8), lit("-"), h(pair_day, 4), lit("-4000-8000-")],
                                   len(pair_site))
    return np.concatenate([prefixes[site_index.ravel() * days + day], h(serial, 12)], axis=1)


def _cat(draws: list[Draws], name: str) -> np.ndarray:
    return np.concatenate([getattr(d, name) for d in draws])


class ChainTotals:
    """rollup_chain_hourly is summed over every site: kept here and written after the last site."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.sums = np.zeros((5, len(QUESTION_IDS), chain.spec.days, 24), dtype=np.int64)

    def add(self, question: np.ndarray, day: np.ndarray, local_hour: np.ndarray, stats: list[np.ndarray]) -> None:
        cell = (_QUESTION_RANK[question] * self.chain.spec.days + day) * 24 + local_hour
        for i, column in enumerate(stats):
            self.sums[i] += np.bincount(cell, column, self.sums[i].size).astype(np.int64).reshape(self.sums[i].shape)

    def table(self) -> Table:
        rank, day, hour = np.nonzero(self.sums[0])            # C order: primary-key order
        question = np.argsort(_QUESTION_RANK)[rank]
        return Table("rollup_chain_hourly", {
            "question_id": Text(question, QUESTION_IDS), "audience": Text(question, AUDIENCES),
            "scale": Text(question, SCALES), "local_date": Text(day, self.chain.dates),
            "local_hour": Int(hour, 32), "weekday": Int(self.chain.weekday[day], 32),
            **_stat_columns([s[rank, day, hour] for s in self.sums])}, len(day))


def chunk_tables(chain: Chain, draws: list[Draws], numbering: Numbering, totals: ChainTotals) -> list[Table]:
    """The rows of these sites for every table the generator fills, each sorted by its primary
    key (SQLite appends to its key indexes instead of inserting all over them)."""
    site = np.repeat([d.site for d in draws], [len(d.time) for d in draws])
    day, time, kiosk = _cat(draws, "day"), _cat(draws, "time"), _cat(draws, "kiosk")
    question, value, filtered = _cat(draws, "question"), _cat(draws, "value"), _cat(draws, "filtered")
    reasons, local_hour, local_second = _cat(draws, "reasons"), _cat(draws, "local_hour"), _cat(draws, "local_second")
    n = len(time)
    followed = reasons > 0
    serial, seq = numbering.number(kiosk, 1 + followed)
    ids = _event_ids(site, day, serial)
    stamp = Stamp(time)
    boots = Text(day, chain.boots)
    mono = Int(local_second * 1_000_000_000)
    # The site's id looked up by kiosk: one gather for both on PostgreSQL (bulkload groups text
    # columns by index).
    kiosk_site = [chain.site_ids[s] for s in np.repeat(np.arange(len(chain.site_ids)), chain.kiosks)]
    response = Table("response", {
        "id": Chars(ids), "kiosk_id": Text(kiosk, chain.kiosk_ids), "site_id": Text(kiosk, kiosk_site),
        "seq": Int(seq), "question_id": Text(question, QUESTION_IDS), "question_version": Const(1),
        "scale": Text(question, SCALES), "value": Int(value, 32), "audience": Text(question, AUDIENCES),
        "language": Text(_cat(draws, "language"), LANGUAGES), "recorded_at": stamp, "kiosk_recorded_at": stamp,
        "clock_synced": Const(True), "time_status": Const("synced"), "boot_id": boots, "monotonic_ns": mono,
        "filtered": Text(np.where(filtered, 0, -1), ["repeat"]), "received_at": stamp, "batch": Const(None)}, n)

    # Follow-ups: same kiosk, boot and second as their answer, the next seq and serial.
    f = np.flatnonzero(followed)
    masks, mask_index = np.unique(reasons[f], return_inverse=True)
    reason_json = [json.dumps([REASON_CODES[b] for b in range(len(REASON_CODES)) if m >> b & 1]) for m in masks]
    fids = _event_ids(site[f], day[f], serial[f] + 1)
    fstamp = Stamp(time[f])
    followup = Table("followup", {
        "id": Chars(fids), "response_id": Chars(ids[f]), "kiosk_id": Text(kiosk[f], chain.kiosk_ids),
        "seq": Int(seq[f] + 1), "reasons": Text(mask_index.ravel(), reason_json), "comment": Const(None),
        "recorded_at": fstamp, "received_at": fstamp, "kiosk_recorded_at": fstamp, "answered_at": fstamp,
        "clock_synced": Const(True), "time_status": Const("synced"), "boot_id": Text(day[f], chain.boots),
        "monotonic_ns": Int(local_second[f] * 1_000_000_000)}, len(f))
    which = np.concatenate([np.flatnonzero(reasons[f] >> b & 1) for b in range(len(REASON_CODES))])
    reason = np.concatenate([np.full(int((reasons[f] >> b & 1).sum()), b) for b in range(len(REASON_CODES))])
    by_key = np.lexsort((reason, which))                  # REASON_CODES are sorted: key order
    which, reason = which[by_key], reason[by_key]
    followup_reason = Table("followup_reason", {
        "followup_id": Chars(fids[which]), "response_id": Chars(ids[f][which]),
        "reason": Text(reason, REASON_CODES)}, len(which))

    # rollups.count: unfiltered answers per site, kiosk, question, value and local hour.
    counted = np.flatnonzero(~filtered)
    qrank = _QUESTION_RANK[question]
    key = (((kiosk[counted] * 3 + qrank[counted]) * 11 + value[counted]) * chain.spec.days + day[counted]) * 24 \
        + local_hour[counted]
    _, first, hourly_n = np.unique(key, return_index=True, return_counts=True)
    at = counted[first]
    hq, hd = question[at], day[at]
    hk = kiosk[at]
    rollup_hourly = Table("rollup_hourly", {
        "site_id": Text(hk, kiosk_site), "kiosk_id": Text(hk, chain.kiosk_ids),
        "question_id": Text(hq, QUESTION_IDS), "audience": Text(hq, AUDIENCES), "scale": Text(hq, SCALES),
        "value": Int(value[at], 32), "hour": Stamp(time[at] - local_second[at] % 3600), "local_date": Text(hd, chain.dates),
        "local_hour": Int(local_hour[at], 32), "weekday": Int(chain.weekday[hd], 32), "n": Int(hourly_n, 32)},
        len(at))

    # The summaries: sufficient statistics per site and local date or month; per local hour
    # over the chain (ChainTotals).
    v, w = value[at].astype(np.int64), hourly_n.astype(np.int64)
    stats = [w * _STATS[hq, value[at], i] for i in range(len(rollups.STATS))]
    totals.add(hq, hd, local_hour[at], stats)
    tables = [response, followup, followup_reason, rollup_hourly]
    for name, period, vocab, of_day in (("rollup_daily", "local_date", chain.dates, np.arange(chain.spec.days)),
                                        ("rollup_monthly", "month", chain.months, chain.month_of_day)):
        g, sums = _sums((site[at] * 3 + qrank[at]) * len(vocab) + of_day[hd], stats)
        gq = hq[g]
        tables.append(Table(name, {
            "site_id": Text(site[at][g], chain.site_ids), "question_id": Text(gq, QUESTION_IDS),
            "audience": Text(gq, AUDIENCES), "scale": Text(gq, SCALES), period: Text(of_day[hd[g]], vocab),
            **_stat_columns(sums)}, len(g)))

    # The reason rollups: per site, question, local date (month) of the answer and reason: answers
    # citing it, how many of them negative, and the value sum of those.
    answer = f[which]
    per_answer = _REASON_STATS[question[answer], value[answer]]
    for name, period, vocab, of_day in (("rollup_reason_daily", "local_date", chain.dates,
                                         np.arange(chain.spec.days)),
                                        ("rollup_reason_monthly", "month", chain.months, chain.month_of_day)):
        rkey = ((site[answer] * 3 + qrank[answer]) * len(vocab) + of_day[day[answer]]) * len(REASON_CODES) + reason
        g, (rn, rneg, rsum) = _sums(rkey, [per_answer[:, i] for i in range(len(rollups.REASON_STATS))])
        ra = answer[g]
        tables.append(Table(name, {
            "site_id": Text(site[ra], chain.site_ids), "question_id": Text(question[ra], QUESTION_IDS),
            "audience": Text(question[ra], AUDIENCES), "scale": Text(question[ra], SCALES),
            period: Text(of_day[day[ra]], vocab), "reason": Text(reason[g], REASON_CODES),
            "n": Int(rn, 32), "negative": Int(rneg, 32), "negative_sum_v": Int(rsum)}, len(g)))

    # Ingest's clock anchor: the first synced event of each kiosk's boot (one boot a day here).
    _, anchor = np.unique(kiosk * chain.spec.days + day, return_index=True)
    tables.append(Table("clock_anchor", {
        "kiosk_id": Text(kiosk[anchor], chain.kiosk_ids), "boot_id": Text(day[anchor], chain.boots),
        "recorded_at": Stamp(time[anchor]), "monotonic_ns": Int(local_second[anchor] * 1_000_000_000)},
        len(anchor)))
    return tables


LOADED_TABLES = ("response", "followup", "followup_reason", "rollup_hourly", "rollup_daily", "rollup_monthly",
                 "rollup_reason_daily", "rollup_reason_monthly", "clock_anchor", "rollup_chain_hourly")
# What one answer adds to a summary row and to a reason row (rollups.answer_stats, reason_stats),
# as tables indexed by (question code, value, statistic).
_VALUES = range(11)
_STATS = np.array([[rollups.answer_stats(SCALES[q], v) for v in _VALUES] for q in range(len(QUESTION_IDS))],
                  dtype=np.int64)
_REASON_STATS = np.array([[rollups.reason_stats(SCALES[q], v) for v in _VALUES] for q in range(len(QUESTION_IDS))],
                         dtype=np.int64)


def _sums(key: np.ndarray, columns: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(index of each group's first row, the columns summed per group), groups in key order."""
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    return first, [np.bincount(inverse, c, len(first)).astype(np.int64) for c in columns]


def _stat_columns(sums: list[np.ndarray]) -> dict[str, Int]:
    n, sum_v, sum_v2, top2, negative = sums
    return {"n": Int(n, 32), "sum_v": Int(sum_v), "sum_v2": Int(sum_v2), "top2": Int(top2, 32),
            "negative": Int(negative, 32)}


@dataclass
class _Counts:
    answers: int = 0
    filtered: int = 0
    followups: int = 0


def _produce(chain: Chain, pg: bool, out) -> None:
    """The drawing side, run in a child process: sends each chunk's tables encoded for the
    engine, then the counts. A process, not a thread: both the encoding and the load are CPU
    work that holds the GIL (psycopg while it copies, sqlite3 while it binds)."""
    try:
        numbering = Numbering(len(chain.kiosk_ids))
        totals = ChainTotals(chain)
        counts = _Counts()
        pending: list[Draws] = []
        sites = len(chain.site_ids)
        for i in range(sites):
            draws = draw_site(chain, i)
            pending.append(draws)
            counts.answers += len(draws.time)
            counts.filtered += int(draws.filtered.sum())
            counts.followups += int((draws.reasons > 0).sum())
            if sum(len(p.time) for p in pending) >= chain.spec.chunk_rows or i == sites - 1:
                tables = chunk_tables(chain, pending, numbering, totals)
                if i == sites - 1:
                    tables.append(totals.table())
                # One message per chunk, progress included: small messages would take places
                # in the bounded queue and stop the drawing while the loader is busy (measured:
                # the loader then waited 17 s of 80 for the next chunk).
                out.put(("rows", [bulkload.encode(t, pg) for t in tables], i + 1, sites))
                pending = []
        out.put(("done", counts))
    except BaseException as e:            # reported to the parent, which raises it
        out.put(("error", f"{type(e).__name__}: {e}"))


def generate(db: Database, spec: HistorySpec = HistorySpec(),
             progress: Callable[[int, int], None] | None = None) -> HistoryResult:
    """Fill an empty central store with `spec`'s history; returns what was made."""
    progress = progress or progress_callback(unit="site", desc="history")    # the one bar, on a terminal
    if db.execute_sql("SELECT COUNT(*) FROM (SELECT 1 FROM response LIMIT 1) x").fetchone()[0]:
        raise CentralConfigError("the central store already holds answers; the history generator needs an empty one")
    plans = plan_sites(spec, random.Random(spec.seed))
    chain = chain_arrays(spec, plans)
    result = HistoryResult(sites=len(plans), kiosks=len(chain.kiosk_ids))
    start = spec.end - timedelta(days=spec.days - 1)
    pg = dialect_of(db) is POSTGRES
    if not pg:
        # A bulk load into an empty store, in one transaction: no fsync until the end, and a
        # rollback journal in memory instead of the WAL, which would hold the whole load once
        # more before the checkpoint copies it (the switch silently keeps WAL if another
        # connection is open).
        db.execute_sql("PRAGMA synchronous = OFF")
        db.execute_sql("PRAGMA cache_size = -262144")
        db.execute_sql("PRAGMA journal_mode = MEMORY")
    ctx = multiprocessing.get_context("fork")
    channel = ctx.Queue(maxsize=3)                # chunks drawn ahead of the load (~50 MB each)
    producer = ctx.Process(target=_produce, args=(chain, pg, channel), name="history-producer", daemon=True)
    producer.start()
    try:
        with db.atomic():
            _write_master_data(db, plans, spec, start)
            suspended = bulkload.suspend_indexes(db, LOADED_TABLES)
            while True:
                try:
                    item = channel.get(timeout=5)
                except queue.Empty:
                    if not producer.is_alive():
                        raise RuntimeError("the history producer died") from None
                    continue
                if item[0] == "rows":
                    for chunk in item[1]:
                        bulkload.load(db, chunk)
                    if progress:
                        progress(item[2], item[3])
                elif item[0] == "error":
                    raise RuntimeError(f"history producer failed: {item[1]}")
                else:
                    counts = item[1]
                    result.answers, result.filtered, result.followups = \
                        counts.answers, counts.filtered, counts.followups
                    break
            bulkload.restore_indexes(db, suspended)
            result.actions = _write_actions(db, plans, spec)
    finally:
        producer.join(timeout=10)
        if producer.is_alive():
            producer.kill()
        if not pg:
            db.execute_sql("PRAGMA journal_mode = WAL")
            db.execute_sql("PRAGMA synchronous = FULL")
    if pg:
        # Fresh statistics for the planner (COPY FREEZE already set the visibility map that
        # index-only scans of the rollups need).
        db.execute_sql("ANALYZE")
    result.dips = [{"site_id": d.site_id, "from": d.first.isoformat(), "to": d.last.isoformat(), "reason": d.reason,
                    "days": d.days, "drop": d.drop, "size": d.size} for d in dip_truth(chain, plans)]
    return result


def _bulk_insert(db: Database, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    for i in range(0, len(rows), 50_000):
        db.cursor().executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
                                f" ({', '.join([db.param] * len(columns))})", rows[i:i + 50_000])


def _write_master_data(db: Database, plans: list[SitePlan], spec: HistorySpec, start: date) -> None:
    created = datetime.combine(start, datetime.min.time()) - timedelta(days=7)
    now = status_time(spec)
    _bulk_insert(db, "site", ("id", "name", "timezone", "created_at"),
                 [(p.id, p.name, p.timezone, created) for p in plans])
    _bulk_insert(db, "kiosk", ("id", "site_id", "registered_at", "active"),
                 [(k, p.id, created, True) for p in plans for k in p.kiosks])
    # The centre's definitions (as `config push` records them): what its reports name the questions by.
    _bulk_insert(db, "question", ("id", "version", "scale", "audience", "text", "first_seen", "defined_at"),
                 [(q["id"], q["version"], q["scale"], q["audience"], json.dumps(q["text"], ensure_ascii=False), created,
                   created) for q in (QUESTIONS[q] for q in QUESTION_IDS)])
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


def status_time(spec: HistorySpec) -> datetime:
    """When the kiosks' last statuses are stamped, in UTC without a zone (as the store keeps times)."""
    if spec.status_at is None:
        return datetime.combine(spec.end, datetime.min.time()) + timedelta(hours=20)
    at = spec.status_at
    return at if at.tzinfo is None else at.astimezone(timezone.utc).replace(tzinfo=None)


def _write_actions(db: Database, plans: list[SitePlan], spec: HistorySpec) -> int:
    rows = action_rows(plans, spec)
    _bulk_insert(db, "action", ("site_id", "question_id", "action_date", "note", "created_at"), rows)
    return len(rows)
