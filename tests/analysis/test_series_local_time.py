"""Issue 12, defects 1 and 2: a series is (question, scale), and local time is the answer's own.

1. A question whose version 1 is smiley4 and version 2 nps11, answered in the same hour: the
   hourly rollup had no scale in its key, so smiley "3"s were summed with NPS "3"s (v_hourly
   showed nps11,3,…), the summary dropped the smiley answers and `report --site` mixed them into
   the NPS. Each scale is now a series of its own and the report shows both.
2. Half-hour and 45-minute zones (Kolkata, Kathmandu, Adelaide, Chatham, Lord Howe): local date
   and hour were taken from the start of the UTC hour. Now from the answer's own instant, for
   every IANA zone, DST days included (a property test against zoneinfo per answer).
Plus the upgrade: m0020 re-keys and recomputes the rollups of a store filled the old way.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server_sync.analysis import chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.central import rollups, speedups
from server_sync.central.db import connect
from server_sync.central.dialect import dialect_of
from server_sync.central.migrations import SchemaMigration, migrate, migrations
from server_sync.program.migrations import migrate as run_migrations
from server_sync.report import html, tabular
from tests.analysis.seeding import add_question, add_site, answer, commit

HOUR = datetime(2026, 1, 20, 10, 0)


def _two_scales(db) -> None:
    """visit v1 smiley4 (12 answers of 3), v2 nps11 (4 promoters, 4 passives, 6 detractors of
    value 3: NPS -14.29), all in one hour at one kiosk."""
    add_site(db, "s1")
    add_question(db, "visit", "smiley4")
    p = db.param
    db.execute_sql(f"INSERT INTO question (id, version, scale, audience, text, first_seen, defined_at) VALUES"
                   f" ({p}, 2, {p}, {p}, '{{\"en\": \"Would you recommend us?\"}}', {p}, {p})",
                   ("visit", "nps11", "customer", datetime(2026, 1, 20), datetime(2026, 1, 20)))
    rows = [answer("s1", HOUR + timedelta(minutes=i), 3) for i in range(12)]
    rows += [answer("s1", HOUR + timedelta(minutes=20 + i), v, scale="nps11")
             for i, v in enumerate([10] * 4 + [8] * 4 + [3] * 6)]
    commit(db, rows)


def test_a_question_on_two_scales_is_two_series(central_db):
    db = central_db
    _two_scales(db)
    view = sorted(tuple(r) for r in db.execute_sql(
        "SELECT scale, value, SUM(n) FROM v_hourly GROUP BY scale, value").fetchall())
    assert view == [("nps11", 3, 6), ("nps11", 8, 4), ("nps11", 10, 4), ("smiley4", 3, 12)]
    # What the trend alert reads: rollup_hourly per scale.
    hourly = {tuple(r[:2]): int(r[2]) for r in db.execute_sql(
        "SELECT scale, value, SUM(n) FROM rollup_hourly GROUP BY scale, value").fetchall()}
    assert hourly[("smiley4", 3)] == 12 and hourly[("nps11", 3)] == 6

    for f in (ReportFilter(), ReportFilter(sites=("s1",))):
        report = chain_report.build(db, f)
        summary = {s["question_id"]: s for s in report["summary"]}
        assert set(summary) == {"visit", "visit@smiley4"}
        assert (summary["visit"]["scale"], summary["visit"]["n"]) == ("nps11", 14)
        assert summary["visit"]["nps"]["value"] == pytest.approx(-14.29, abs=0.01)
        assert (summary["visit@smiley4"]["scale"], summary["visit@smiley4"]["n"]) == ("smiley4", 12)
        assert summary["visit@smiley4"]["happy_index"]["value"] == pytest.approx(200 / 3, abs=0.01)
        questions = {q["id"]: q for q in report["questions"]}
        assert questions["visit@smiley4"]["earlier_scale"] and questions["visit@smiley4"]["series_of"] == "visit"
        assert questions["visit"]["other_series"] == ["visit@smiley4"]
        sites = {(s["question_id"], s["site_id"]): s for s in report["sites"]}
        assert sites[("visit", "s1")]["n"] == 14 and sites[("visit@smiley4", "s1")]["n"] == 12
        trends = {t["question_id"]: t for t in report["trends"]}
        assert sum(d["n"] for d in trends["visit"]["daily"]) == 14
        assert sum(d["n"] for d in trends["visit@smiley4"]["daily"]) == 12
    # The CSV has each series' rows under its id; the HTML names the earlier scale's series.
    summary_rows = {(r["question_id"], r["metric"]): r["n"] for r in tabular.csv_rows(report) if r["section"] == "summary"}
    assert summary_rows[("visit", "nps")] == 14 and summary_rows[("visit@smiley4", "happy_index")] == 12
    page = html.render(report, "en")
    assert "How was it? (earlier scale: smiley4, a separate series)" in page and "Would you recommend us?" in page
    kiosks = {k["question_id"]: k for k in chain_report.build(db, ReportFilter(sites=("s1",)))["kiosks"]}
    assert kiosks["visit"]["n"] == 14 and kiosks["visit"]["nps"]["value"] == pytest.approx(-14.29, abs=0.01)
    assert kiosks["visit@smiley4"]["n"] == 12


def test_an_answer_in_kolkata_is_on_its_local_day_and_hour(central_db):
    """18:45 UTC on 2026-01-20 is 00:15 on the 21st in Kolkata: every rollup says so."""
    db = central_db
    add_site(db, "in", "Asia/Kolkata")
    add_question(db)
    commit(db, [answer("in", datetime(2026, 1, 20, 18, 45), 4)])
    hour, local_date, local_hour, weekday = db.execute_sql(
        "SELECT hour, local_date, local_hour, weekday FROM rollup_hourly").fetchone()
    assert (local_date, local_hour, weekday) == ("2026-01-21", 0, 2)
    assert str(hour)[:16] == "2026-01-20 18:30"          # the local hour starts at 00:00 IST
    assert db.execute_sql("SELECT local_date FROM rollup_daily").fetchall() == [("2026-01-21",)]
    assert db.execute_sql("SELECT local_date, local_hour FROM rollup_chain_hourly").fetchall() == [("2026-01-21", 0)]
    report = chain_report.build(db, ReportFilter(sites=("in",)))
    assert report["period"]["to"] == "2026-01-21"
    assert [(d["date"], d["n"]) for d in report["trends"][0]["daily"]] == [("2026-01-21", 1)]
    cells = [c for c in report["heatmap"][0]["cells"] if c["n"]]
    assert [(c["weekday"], c["hour"]) for c in cells] == [(2, 0)]


# --- the bucket against zoneinfo, per answer ----------------------------------------------------

ZONES = sorted(available_timezones())
NAMED = ["Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide", "Pacific/Chatham", "Australia/Lord_Howe",
         "Europe/Oslo", "America/St_Johns", "Asia/Tehran", "UTC"]


def _check(at: datetime, zone: str) -> None:
    tz = ZoneInfo(zone)
    start, local_date, local_hour, weekday = rollups.hour_bucket(at, tz)
    local = at.replace(tzinfo=timezone.utc).astimezone(tz)
    assert (local_date, local_hour, weekday) == (local.date().isoformat(), local.hour, local.weekday())
    # The key: the first instant of that local hour, at or before the answer ...
    assert start <= at
    first = start.replace(tzinfo=timezone.utc).astimezone(tz)
    assert (first.date(), first.hour) == (local.date(), local.hour)
    before = (start - timedelta(seconds=1)).replace(tzinfo=timezone.utc).astimezone(tz)
    assert (before.date(), before.hour) != (local.date(), local.hour)
    # ... so every answer of that local hour has the same one.
    assert rollups.hour_bucket(start, tz)[0] == start


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(ZONES), st.datetimes(datetime(1972, 1, 1), datetime(2037, 12, 31)))
def test_every_zone_buckets_each_answer_by_its_own_local_hour(zone, at):
    _check(at.replace(microsecond=0), zone)


@pytest.mark.parametrize("zone", NAMED)
def test_named_zones_over_their_dst_days_minute_by_minute(zone):
    """Every minute of three days around each 2026 transition (or three fixed days)."""
    tz = ZoneInfo(zone)
    days, t = [], datetime(2026, 1, 1)
    offset = t.replace(tzinfo=timezone.utc).astimezone(tz).utcoffset()
    while t < datetime(2027, 1, 1):
        o = t.replace(tzinfo=timezone.utc).astimezone(tz).utcoffset()
        if o != offset:
            days.append(t - timedelta(days=1))
            offset = o
        t += timedelta(hours=1)
    for first in days or [datetime(2026, 1, 20), datetime(2026, 6, 30)]:
        at = [first + timedelta(minutes=m) for m in range(3 * 24 * 60)]
        for t in at:
            _check(t, zone)
        # Ingest's count (its keys: at most two minutes an hour) buckets every minute the same way.
        expected = Counter(("s", "k", "q", "customer", "smiley4", 1) + rollups.hour_bucket(t, tz) for t in at)
        splits: dict = {}
        for key in (rollups.minute_key, lambda t: speedups.local_hour_minute(rollups.minute_key(t), tz, splits)):
            answers = Counter(("s", "k", "q", "customer", "smiley4", 1, key(t)) for t in at)
            assert rollups.count_hours(None, answers, zones={"s": tz}) == expected


def test_transition_hours_have_the_right_start():
    """Oslo's repeated hour is one bucket from its first instant; Chatham's hour 3 starts at the
    jump from 02:45 to 03:45; Lord Howe's half-hour fall-back stays in hour 1."""
    oslo, chatham, lord_howe = ZoneInfo("Europe/Oslo"), ZoneInfo("Pacific/Chatham"), ZoneInfo("Australia/Lord_Howe")
    # 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00 UTC; 02:30 CEST is 00:30 UTC, 02:30 CET 01:30 UTC.
    assert rollups.hour_bucket(datetime(2026, 10, 25, 0, 30), oslo)[:3] == (datetime(2026, 10, 25, 0, 0), "2026-10-25", 2)
    assert rollups.hour_bucket(datetime(2026, 10, 25, 1, 30), oslo)[:3] == (datetime(2026, 10, 25, 0, 0), "2026-10-25", 2)
    # 2026-09-27: 02:45 +12:45 -> 03:45 +13:45 at 14:00 UTC (26th).
    assert rollups.hour_bucket(datetime(2026, 9, 26, 14, 5), chatham)[:3] == (datetime(2026, 9, 26, 14, 0), "2026-09-27", 3)
    assert rollups.hour_bucket(datetime(2026, 9, 26, 13, 55), chatham)[:3] == (datetime(2026, 9, 26, 13, 15), "2026-09-27", 2)
    # 2026-04-05: 02:00 +11 -> 01:30 +10:30 at 15:00 UTC (4th): 01:00-02:00 +11 and 01:30-02:00 again.
    assert rollups.hour_bucket(datetime(2026, 4, 4, 15, 15), lord_howe)[:3] == (datetime(2026, 4, 4, 14, 0), "2026-04-05", 1)


# --- the upgrade ---------------------------------------------------------------------------------

def test_m0020_rekeys_and_recomputes_a_store_filled_the_old_way(central_url):
    """A store migrated up to before m0020 and filled as the old ingest did (scales merged in the
    hourly row, Kolkata's answer on the 20th at 23): after the upgrade every rollup equals a
    recomputation from the answers, and the figures are right."""
    db = connect(central_url, migrate_schema=False)
    try:
        run_migrations(SchemaMigration(db), [m for m in migrations(db) if m.number != 20])
        assert not SchemaMigration(db).applied(20)
        add_site(db, "s1")
        add_site(db, "in", "Asia/Kolkata")
        p = db.param
        rows = [answer("s1", HOUR + timedelta(minutes=i), 3) for i in range(12)]
        rows += [answer("s1", HOUR + timedelta(minutes=20 + i), v, scale="nps11") for i, v in enumerate([10, 3])]
        rows += [answer("in", datetime(2026, 1, 20, 18, 45), 4)]
        cols = ("id", "kiosk_id", "site_id", "seq", "question_id", "question_version", "scale", "value", "audience",
                "language", "recorded_at", "kiosk_recorded_at", "clock_synced", "time_status", "boot_id",
                "monotonic_ns", "filtered", "received_at")
        db.cursor().executemany(
            f"INSERT INTO response ({', '.join(cols)}) VALUES ({', '.join([p] * len(cols))})",
            [(r["id"], r["kiosk_id"], r["site_id"], r["seq"], r["question_id"], 1, r["scale"], r["value"],
              r["audience"], "sv", r["recorded_at"], r["recorded_at"], True, "synced", "boot", 0, None,
              r["recorded_at"]) for r in rows])
        db.execute_sql(f"INSERT INTO followup_reason (followup_id, response_id, reason) VALUES ({p}, {p}, {p})",
                       ("f1", rows[-1]["id"], "queue"))
        # What the old ingest wrote: one hourly row for both scales' "3"s, Kolkata on the 20th.
        old = [("s1", "s1-k1", "visit", "customer", "nps11", 3, HOUR, "2026-01-20", 11, 1, 13),
               ("s1", "s1-k1", "visit", "customer", "nps11", 10, HOUR, "2026-01-20", 11, 1, 1),
               ("in", "in-k1", "visit", "customer", "smiley4", 4, datetime(2026, 1, 20, 18), "2026-01-20", 23, 1, 1)]
        db.cursor().executemany(f"INSERT INTO rollup_hourly ({', '.join(rollups.HOURLY_COLUMNS)}) VALUES"
                                f" ({', '.join([p] * len(rollups.HOURLY_COLUMNS))})", old)
        db.execute_sql(f"INSERT INTO rollup_reason_daily (site_id, question_id, audience, scale, local_date, reason,"
                       f" n, negative, negative_sum_v) VALUES ({', '.join([p] * 9)})",
                       ("in", "visit", "customer", "smiley4", "2026-01-20", "queue", 1, 0, 0))
        for sql in rollups.summarise_hourly_sql():
            db.execute_sql(sql)

        migrate(db)
        assert SchemaMigration(db).applied(20)
        upgraded = _tables(db)
        rollups.rebuild(db)
        assert _tables(db) == upgraded
        hourly = sorted(tuple(r) for r in db.execute_sql(
            "SELECT site_id, scale, value, local_date, local_hour, n FROM v_hourly").fetchall())
        assert hourly == [("in", "smiley4", 4, "2026-01-21", 0, 1), ("s1", "nps11", 3, "2026-01-20", 11, 1),
                          ("s1", "nps11", 10, "2026-01-20", 11, 1), ("s1", "smiley4", 3, "2026-01-20", 11, 12)]
        assert db.execute_sql("SELECT local_date FROM rollup_reason_daily").fetchall() == [("2026-01-21",)]
        daily = {(s, sc, d): int(n) for s, sc, d, n in db.execute_sql(
            "SELECT site_id, scale, local_date, n FROM rollup_daily").fetchall()}
        assert daily == {("s1", "smiley4", "2026-01-20"): 12, ("s1", "nps11", "2026-01-20"): 2,
                         ("in", "smiley4", "2026-01-21"): 1}
        # The new key holds both scales' answers of one value and hour apart.
        key = {c for c in rollups.HOURLY_KEY}
        assert "scale" in key
        commit(db, [answer("s1", HOUR + timedelta(minutes=50), 3, scale="nps11")])
        assert db.execute_sql(f"SELECT n FROM rollup_hourly WHERE scale = {p} AND value = 3", ("nps11",)).fetchone()[0] == 2
        assert dialect_of(db).name in ("sqlite", "postgresql")
    finally:
        db.close()


def _tables(db) -> dict[str, list]:
    out = {}
    for table in ("rollup_hourly", "rollup_daily", "rollup_monthly", "rollup_chain_hourly", "rollup_reason_daily",
                  "rollup_reason_monthly"):
        out[table] = sorted(tuple(str(v) for v in r) for r in db.execute_sql(f"SELECT * FROM {table}").fetchall())
    return out


def test_the_reports_alerts_are_those_raised_on_its_days_in_each_sites_local_time(central_db):
    """The report's days are each site's own (as every figure); its alerts were picked by UTC
    date: an alert of 21:00 on 31 October in New York was in November's report, one of 00:15 on
    1 November in Kolkata and one of 21:00 on 30 November in New York were not."""
    from server_sync.analysis import queries
    db = central_db
    add_site(db, "ny", tz="America/New_York")
    add_site(db, "kol", tz="Asia/Kolkata")
    add_question(db, "visit", "smiley4")
    p = db.param
    raised = {"ny-oct31": ("ny", datetime(2026, 11, 1, 1, 0)),       # 31 Oct 21:00 EDT: October
              "kol-nov1": ("kol", datetime(2026, 10, 31, 18, 45)),   # 1 Nov 00:15 IST: November
              "ny-nov30": ("ny", datetime(2026, 12, 1, 2, 0)),       # 30 Nov 21:00 EST: November
              "kol-dec1": ("kol", datetime(2026, 11, 30, 19, 0))}    # 1 Dec 00:30 IST: December
    for message, (site, at) in raised.items():
        db.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from,"
                       f" window_to, n, negative, message) VALUES ({p}, 'visit', 'trend', {p}, {p}, {p}, {p},"
                       f" 40, 20, {p})", (site, at, at, at, at, message))
    got = queries.alerts(db, ReportFilter(date_from="2026-11-01", date_to="2026-11-30"))
    assert sorted(a["message"] for a in got) == ["kol-nov1", "ny-nov30"]
    got = queries.alerts(db, ReportFilter(date_from="2026-12-01"))
    assert [a["message"] for a in got] == ["kol-dec1"]
    got = queries.alerts(db, ReportFilter(date_to="2026-10-31"))
    assert [a["message"] for a in got] == ["ny-oct31"]
