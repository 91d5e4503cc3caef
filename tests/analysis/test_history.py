"""The history generator (seeds/history.py) on SQLite and PostgreSQL: every rollup it writes in
bulk equals what ingest's incremental rollups make of the raw rows it wrote; follow-ups, seq,
ids and clock anchors are what a kiosk and ingest would have produced; the same seed gives the
same store whatever the chunking and the engine; and the history looks like a chain's (weekday
and hour shape, site differences, dips with one dominant complaint, the staff pulse at closing)."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from statistics import mean
from zoneinfo import ZoneInfo

import pytest

from seeds.history import HistorySpec, action_rows, generate, plan_sites, seeded_dips
from server_sync.analysis.metrics import is_negative, is_top2
from server_sync.central import rollups
from server_sync.central.db import connect
from server_sync.exc import CentralConfigError

SPEC = HistorySpec(sites=6, days=60, answers_per_day=30, dips_per_year=12, seed=4, chunk_rows=2_000)
TABLES = ("response", "followup", "followup_reason", "rollup_hourly", "rollup_daily", "rollup_monthly",
          "rollup_chain_hourly", "rollup_reason_daily", "rollup_reason_monthly", "clock_anchor", "kiosk_status",
          "action", "site", "kiosk", "question")


def _text(v):
    """Engine-neutral value: SQLite hands back text and ints where PostgreSQL has datetimes and bools."""
    if isinstance(v, datetime):
        return v.isoformat(" ")
    if isinstance(v, bool):
        return int(v)
    return v


def _rows(db, table: str) -> list[tuple]:
    return sorted(tuple(_text(v) for v in row) for row in db.execute_sql(f"SELECT * FROM {table}").fetchall())


def _digest(db) -> dict[str, str]:
    return {t: hashlib.sha256(repr(_rows(db, t)).encode()).hexdigest() for t in TABLES if t != "action"}


def _answers(db) -> list[dict]:
    cols = ("id", "site_id", "kiosk_id", "seq", "question_id", "scale", "audience", "value", "recorded_at",
            "filtered", "boot_id", "monotonic_ns")
    out = []
    for row in db.execute_sql(f"SELECT {', '.join(cols)} FROM response").fetchall():
        r = dict(zip(cols, row))
        if isinstance(r["recorded_at"], str):
            r["recorded_at"] = datetime.fromisoformat(r["recorded_at"])
        out.append(r)
    return out


@pytest.fixture(scope="module")
def lite(tmp_path_factory):
    db = connect(f"sqlite:///{tmp_path_factory.mktemp('history') / 'central.db'}")
    result = generate(db, SPEC)
    try:
        yield db, result
    finally:
        db.close()


def _check_rollups_equal_ingest(db) -> None:
    answers = _answers(db)
    # rollup_hourly: what rollups.count (ingest) makes of the raw rows.
    expected = rollups.count(db, answers)
    stored = {tuple(_text(v) for v in row[:-1]): row[-1] for row in db.execute_sql(
        "SELECT site_id, kiosk_id, question_id, audience, scale, value, hour, local_date, local_hour, weekday, n"
        " FROM rollup_hourly").fetchall()}
    assert stored == {tuple(_text(v) for v in k): n for k, n in expected.items()}
    # The summaries: the sufficient statistics ingest (rollups.summaries) would add up.
    daily, monthly, chain = defaultdict(Counter), defaultdict(Counter), defaultdict(Counter)
    for (site, _k, question, audience, scale, value, _h, local_date, local_hour, weekday), n in expected.items():
        stats = Counter({"n": n, "sum_v": n * value, "sum_v2": n * value * value,
                         "top2": n * is_top2(scale, value), "negative": n * is_negative(scale, value)})
        daily[(site, question, audience, scale, local_date)].update(stats)
        monthly[(site, question, audience, scale, local_date[:7])].update(stats)
        chain[(question, audience, scale, local_date, local_hour, weekday)].update(stats)
    for table, key, want in (("rollup_daily", "site_id, question_id, audience, scale, local_date", daily),
                             ("rollup_monthly", "site_id, question_id, audience, scale, month", monthly),
                             ("rollup_chain_hourly", "question_id, audience, scale, local_date, local_hour, weekday",
                              chain)):
        got = {tuple(row[:-5]): tuple(row[-5:]) for row in db.execute_sql(
            f"SELECT {key}, n, sum_v, sum_v2, top2, negative FROM {table}").fetchall()}
        assert got == {k: tuple(v[s] for s in ("n", "sum_v", "sum_v2", "top2", "negative")) for k, v in want.items()}
    # The reason rollups: rollups.rebuild_reasons recomputes them from followup_reason and response.
    bulk = [_rows(db, t) for t in ("rollup_reason_daily", "rollup_reason_monthly")]
    with db.atomic() as tx:
        rollups.rebuild_reasons(db)
        assert [_rows(db, t) for t in ("rollup_reason_daily", "rollup_reason_monthly")] == bulk
        tx.rollback()
    assert bulk[0]


def _check_events(db) -> None:
    answers = {a["id"]: a for a in _answers(db)}
    followups = db.execute_sql("SELECT id, response_id, kiosk_id, seq, reasons, recorded_at, boot_id, monotonic_ns,"
                               " time_status FROM followup").fetchall()
    assert not set(answers) & {f[0] for f in followups}                # one id space, as ingest checks
    reasons = defaultdict(list)
    for fid, rid, reason in db.execute_sql("SELECT followup_id, response_id, reason FROM followup_reason"):
        reasons[fid].append(reason)
    seqs = defaultdict(list)
    for a in answers.values():
        seqs[a["kiosk_id"]].append(a["seq"])
    for fid, rid, kiosk, seq, codes, at, boot, mono, status in followups:
        a = answers[rid]
        assert a["filtered"] is None and is_negative(a["scale"], a["value"])
        assert (kiosk, seq, _text(at), boot, mono, status) == \
            (a["kiosk_id"], a["seq"] + 1, _text(a["recorded_at"]), a["boot_id"], a["monotonic_ns"], "synced")
        assert json.loads(codes) == sorted(reasons[fid]) and reasons[fid]
        seqs[kiosk].append(seq)
    for kiosk, s in seqs.items():                                 # an outbox numbers every event once
        assert sorted(s) == list(range(1, len(s) + 1)), kiosk
    # Ingest's clock anchor: the first synced event of each kiosk boot.
    first = {}
    for a in sorted(answers.values(), key=lambda a: (a["recorded_at"], a["monotonic_ns"])):
        first.setdefault((a["kiosk_id"], a["boot_id"]), (_text(a["recorded_at"]), a["monotonic_ns"]))
    anchors = {(k, b): (_text(at), m) for k, b, at, m in
               db.execute_sql("SELECT kiosk_id, boot_id, recorded_at, monotonic_ns FROM clock_anchor").fetchall()}
    assert anchors == first


def test_rollups_and_events_are_what_ingest_makes_of_the_raw_rows(central_url):
    db = connect(central_url)
    try:
        result = generate(db, SPEC)
        assert result.answers == db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0] > 10_000
        assert result.followups == db.execute_sql("SELECT COUNT(*) FROM followup").fetchone()[0] > 300
        _check_rollups_equal_ingest(db)
        _check_events(db)
        # Indexes and keys rebuilt as the migrations made them.
        with pytest.raises(Exception):
            with db.atomic():
                db.execute_sql("INSERT INTO response SELECT * FROM response LIMIT 1")
    finally:
        db.close()


@pytest.mark.postgres
def test_same_store_on_sqlite_and_postgresql(lite, pg_url):
    db = connect(pg_url)
    try:
        generate(db, SPEC)
        assert _digest(db) == _digest(lite[0])
        indexes = {r[0] for r in db.execute_sql("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}
        assert {"response_pkey", "response_site_time", "response_kiosk_seq", "response_uncorrected",
                "rollup_hourly_pkey", "rollup_hourly_date", "followup_pkey", "followup_reason_pkey"} <= indexes
    finally:
        db.close()


def test_deterministic_for_a_seed_whatever_the_chunking(lite, tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'again.db'}")
    other = connect(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        generate(db, HistorySpec(**{**SPEC.__dict__, "chunk_rows": 50_000}))
        assert _digest(db) == _digest(lite[0])
        generate(other, HistorySpec(**{**SPEC.__dict__, "seed": 5}))
        assert _digest(other)["response"] != _digest(lite[0])["response"]
        names = {r[0] for r in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"response_site_time", "response_kiosk_seq", "response_uncorrected", "rollup_hourly_date",
                "followup_response", "rollup_daily_date", "rollup_reason_daily_date"} <= names
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
        other.close()


def test_refuses_a_store_that_holds_answers(lite):
    db, _ = lite
    with pytest.raises(CentralConfigError, match="already holds answers"):
        generate(db, SPEC)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    db = connect(f"sqlite:///{tmp_path_factory.mktemp('chain') / 'central.db'}")
    spec = HistorySpec(sites=20, days=140, answers_per_day=60, dips_per_year=4, seed=9)
    result = generate(db, spec)
    try:
        yield db, result
    finally:
        db.close()


def _local(db, a: dict) -> datetime:
    zones = db.__dict__.get("_zones")
    if zones is None:                 # once per database (setdefault would query for every answer)
        zones = db.__dict__["_zones"] = {s: ZoneInfo(tz) for s, tz in db.execute_sql("SELECT id, timezone FROM site")}
    return a["recorded_at"].replace(tzinfo=ZoneInfo("UTC")).astimezone(zones[a["site_id"]])


def test_weekday_and_hour_shape_and_the_staff_pulse(chain):
    db, result = chain
    answers = [a for a in _answers(db) if a["filtered"] is None]
    per_weekday, per_hour, pulse = Counter(), Counter(), Counter()
    for a in answers:
        t = _local(db, a)
        if a["audience"] == "employee":
            pulse[(t.weekday(), t.hour)] += 1
            continue
        per_weekday[t.weekday()] += 1
        if t.weekday() < 5:
            per_hour[t.hour] += 1
    assert per_weekday[5] > 1.3 * per_weekday[1] and per_weekday[5] > per_weekday[4] > per_weekday[0]
    assert per_weekday[6] < per_weekday[0]
    assert min(per_hour) == 8 and max(per_hour) == 20                       # opening hours, site-local
    assert per_hour[12] > 1.5 * per_hour[10] and per_hour[17] > 1.5 * per_hour[14] and per_hour[8] < per_hour[9]
    assert set(pulse) == {(wd, 20) for wd in range(5)}                      # at closing, weekdays only
    flagged = db.execute_sql("SELECT COUNT(*) FROM response WHERE filtered IS NOT NULL").fetchone()[0]
    assert flagged == result.filtered and 0.005 < flagged / result.answers < 0.015
    languages = Counter(r[0] for r in db.execute_sql("SELECT language FROM response"))
    assert set(languages) == {"sv", "nb", "en"} and languages["en"] < languages["nb"] < languages["sv"]


def _happy(values: list[int]) -> float:
    return mean((v - 1) / 3 * 100 for v in values)


def test_sites_differ_and_dips_have_one_dominant_complaint(chain):
    db, result = chain
    visits = defaultdict(list)
    by_day = defaultdict(list)
    for a in _answers(db):
        if a["filtered"] is None and a["question_id"] == "visit":
            visits[a["site_id"]].append(a["value"])
            by_day[(a["site_id"], _local(db, a).date())].append(a["value"])
    happy = sorted(_happy(v) for v in visits.values())
    assert happy[-1] - happy[0] > 15                                       # sites differ in mood
    sizes = sorted(len(v) for v in visits.values())
    assert sizes[-1] > 2 * sizes[0]                                        # and in size
    reasons = defaultdict(Counter)
    for site, local_date, reason, n in db.execute_sql(
            "SELECT site_id, local_date, reason, n FROM rollup_reason_daily WHERE question_id = 'visit'"):
        reasons[(site, local_date)][reason] += n
    assert result.dips
    inside_share, usual_share, checked = [], [], 0
    for dip in result.dips:
        first, last = date.fromisoformat(dip["from"]), date.fromisoformat(dip["to"])
        inside = [v for (s, d), vs in by_day.items() if s == dip["site_id"] and first <= d <= last for v in vs]
        before = [v for (s, d), vs in by_day.items() if s == dip["site_id"] and (first - d).days in range(1, 29)
                  for v in vs]
        if len(before) < 300 or len(inside) < 60:
            continue                                                      # a dip at the very start
        assert _happy(inside) < _happy(before) - 5, dip
        checked += 1
        cited, usual = Counter(), Counter()
        for (site, local_date), counts in reasons.items():
            if site == dip["site_id"]:
                (cited if first.isoformat() <= local_date <= last.isoformat() else usual).update(counts)
        inside_share.append(cited[dip["reason"]] / sum(cited.values()))
        usual_share.append(usual[dip["reason"]] / sum(usual.values()))
    # One complaint dominates a dip (a few follow-ups a day each: pooled over the dips).
    assert checked >= 5 and mean(inside_share) > 0.45 and mean(inside_share) > 2 * mean(usual_share)
    negative = db.execute_sql("SELECT COUNT(*) FROM response WHERE filtered IS NULL AND ((scale = 'nps11' AND value <= 6)"
                              " OR (scale <> 'nps11' AND value <= 2))").fetchone()[0]
    assert 0.38 < result.followups / negative < 0.52


@pytest.mark.parametrize("days", [28, 90])
def test_small_default_chains_have_dips_and_actions(days):
    """Defect 5 of issue 12: int(2.5 · days/365 · U) was 0 below a year, so a demo or a test of a
    small chain had no dip and no action to show."""
    spec = HistorySpec(days=days)
    plans = plan_sites(spec, random.Random(spec.seed))
    dips = [d for p in plans for d in p.dips]
    # 200 sites × 2.5 a year: about 38 dips in 28 days, 123 in 90.
    assert 0.6 * 200 * 2.5 * days / 365 < len(dips) < 1.4 * 200 * 2.5 * days / 365
    assert action_rows(plans, spec)
    few = HistorySpec(sites=2, days=days, seed=1)
    assert any(p.dips for p in plan_sites(few, random.Random(few.seed)))      # even a tiny chain shows one


def test_seeded_dips_are_known_with_site_start_length_and_size():
    spec = HistorySpec(sites=30, days=90, dips_per_year=6, dip_drop=(0.4, 2.0), seed=2)
    truth = seeded_dips(spec)
    assert truth and all(d.days == (d.last - d.first).days + 1 >= 1 for d in truth)
    assert {d.site_id for d in truth} <= {f"s{i + 1:03d}" for i in range(30)}
    sizes = sorted(d.size for d in truth)
    # A logit drop of 0.4-2.0 is about 5-30 Happy Index points; 1.6 (the default) about 20-27.
    assert 3 < sizes[0] < 10 < sizes[-1] < 35
    default = seeded_dips(HistorySpec(sites=30, days=90, seed=2))
    assert all(18 < d.size < 30 for d in default)


def test_the_seeded_size_is_what_the_answers_show(chain):
    """The ground truth's size is the drop a benchmark can measure: the dip days' Happy Index
    against the same site's days without a dip."""
    db, result = chain
    spec = HistorySpec(sites=20, days=140, answers_per_day=60, dips_per_year=4, seed=9)
    truth = {(d.site_id, d.first.isoformat()): d for d in seeded_dips(spec)}
    assert len(truth) == len(result.dips) and all("size" in d for d in result.dips)
    daily = defaultdict(lambda: [0, 0])
    for site, local_date, n, sum_v in db.execute_sql(
            "SELECT site_id, local_date, n, sum_v FROM rollup_daily WHERE question_id = 'visit'"):
        daily[(site, local_date)][0] += n
        daily[(site, local_date)][1] += sum_v
    measured, seeded = [], []
    for d in truth.values():
        inside = [daily[(d.site_id, (d.first + timedelta(days=k)).isoformat())] for k in range(d.days)]
        around = [daily[(d.site_id, (d.first - timedelta(days=k)).isoformat())] for k in range(1, 15)]
        if sum(n for n, _ in around) < 200:
            continue                                                      # a dip at the very start
        hi = (lambda cells: (sum(s for _, s in cells) / sum(n for n, _ in cells) - 1) / 3 * 100)
        measured.append(hi(around) - hi(inside))
        seeded.append(d.size)
    assert len(measured) >= 5
    assert abs(mean(measured) - mean(seeded)) < 3


def test_a_demo_chain_made_in_opening_hours_flags_only_the_few_quiet_kiosks(tmp_path):
    """Every kiosk's last status was stamped at 20:00 on the last day generated (yesterday for the
    demo): a demo started in opening hours showed 17 of its 18 kiosks "silent during opening
    hours" (a review: the 17 generated and the demo's own). The demo stamps them at its start; only the few the generator makes quiet
    (about 3 %) are flagged."""
    from datetime import timezone

    from seeds.demo_chain import history_spec
    from server_sync.analysis.fleet import fleet
    now = datetime(2026, 12, 7, 13, 0, tzinfo=timezone.utc)        # a Monday, 14:00 in Stockholm and Oslo
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        generate(db, history_spec(sites=12, days=2, now=now), progress=lambda *a: None)
        rows = fleet(db, now)
        quiet = {k for k, online in db.execute_sql("SELECT kiosk_id, online FROM kiosk_status") if not online}
    finally:
        db.close()
    silent = {r["kiosk_id"] for r in rows if r["flag_kind"] == "silent"}
    assert len(rows) == 17 and silent <= quiet and len(quiet) <= 2, (silent, quiet)
