"""Every query of the report on SQLite and on a real PostgreSQL server gives the same report, and
the rollup figures equal a plain GROUP BY over the raw answers. Actions on seeded data: judged
against the rest of the chain, a fix after a dip is never "worse" and an action that changed
nothing shows no effect."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from seeds.history import HistorySpec, generate
from server_sync.analysis import actions, alerts, chain_report, fleet, queries, raw_figures
from server_sync.analysis.queries import ReportFilter
from server_sync.central.db import connect

SPEC = HistorySpec(sites=5, days=150, answers_per_day=30, dips_per_year=5, seed=3)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
FILTERS = [
    ReportFilter(),                                                           # default: last 28 days
    ReportFilter(date_from="2026-06-26", date_to="2026-11-22"),               # whole months + edge days
    ReportFilter(sites=("s002", "s004"), date_from="2026-07-01", date_to="2026-09-30"),
    ReportFilter(questions=("recommend",), date_from="2026-08-15", date_to="2026-10-14"),
    ReportFilter(sites=("s003",), questions=("visit", "pulse")),
]


def _comparable(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "generated_at"}


def _load(url: str):
    db = connect(url)
    generate(db, SPEC)
    actions.add(db, "s005", "visit", "2026-09-15", "New price labels", now=NOW)     # nothing changed then
    alerts.check_trend(db, datetime(2026, 10, 29, 16, 0, tzinfo=timezone.utc))
    # The dip rule each afternoon of the last four weeks: its queries (the daily rollup and the
    # reasons' daily rollup) raise the same alerts on both engines.
    for back in range(27, -1, -1):
        alerts.check_dip(db, [f"s{i:03d}" for i in range(1, SPEC.sites + 1)],
                         datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc) - timedelta(days=back))
    return db


def _everything(db) -> list:
    out = [_comparable(chain_report.build(db, f, now=NOW)) for f in FILTERS]
    out.append(fleet.fleet(db, NOW))
    out.append(alerts.list_alerts(db))
    f = FILTERS[1]
    out.append(sorted(queries.kiosk_tallies(db, f.period("2026-07-01", "2026-07-31")).items()))
    tz = ZoneInfo("Europe/Stockholm")
    raw = (raw_figures.site_tallies(db, f, tz), raw_figures.daily_tallies(db, f, tz))
    assert raw == (queries.site_tallies(db, f), queries.daily_tallies(db, f))
    out.append(raw)
    return out


@pytest.mark.postgres
def test_same_report_on_sqlite_and_postgresql(tmp_path, pg_url):
    lite = _load(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        expected = _everything(lite)
    finally:
        lite.close()
    pg = _load(pg_url)
    try:
        got = _everything(pg)
    finally:
        pg.close()
    for want, have in zip(expected, got):
        assert have == want
    assert expected[1]["summary"][0]["n"] > 1000 and expected[1]["actions"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'central.db'}"
    db = connect(url)
    result = generate(db, SPEC)
    actions.add(db, "s005", "visit", "2026-09-15", "New price labels", now=NOW)
    try:
        yield db, result
    finally:
        db.close()


def test_rollup_figures_equal_a_plain_group_by_over_raw_answers(seeded):
    db, _ = seeded
    tz = ZoneInfo("Europe/Stockholm")            # the generated sites are in Stockholm and Oslo: same rules
    for f in (FILTERS[1], FILTERS[2], FILTERS[3]):
        assert queries.site_tallies(db, f) == raw_figures.site_tallies(db, f, tz)
        assert queries.daily_tallies(db, f) == raw_figures.daily_tallies(db, f, tz)


def test_actions_before_and_after_on_seeded_dips(seeded):
    """The generator's fixes raise the mood after a dip (Chain.boost); judged against the rest of
    the chain with the baseline from before the dip, none looks worse, the measured effects are
    positive on the whole, and those the data cannot judge say so instead of a verdict."""
    db, result = seeded
    # The whole history: a report judges the actions whose after-window overlaps its period.
    report = chain_report.build(db, ReportFilter(date_from="2026-01-01", date_to="2026-11-22"), now=NOW)
    by_note = {a["note"]: a for a in report["actions"]}
    brief = chain_report.build(db, ReportFilter(), now=NOW)             # the last 28 days
    after_from = (date.fromisoformat(brief["period"]["from"]) - timedelta(days=28)).isoformat()
    assert {a["id"] for a in brief["actions"]} == {a["id"] for a in report["actions"]
                                                   if after_from < a["date"] <= brief["period"]["to"]}
    fixes = [a for a in report["actions"] if a["note"] != "New price labels"]
    assert len(fixes) == result.actions >= 4
    judged = [a for a in fixes if a["test"]]
    assert {a["verdict"] for a in fixes} <= {"better", "no_detectable_effect", "pending", "too_little_data"}
    assert any(a["verdict"] == "better" for a in judged) and sum(a["test"]["diff"] for a in judged) > 0
    for a in fixes:
        if a["date"] > "2026-10-26":                    # its 28 days are not over on NOW's date
            assert a["verdict"] == "pending" and a["test"] is None and a["days_observed"] < 28
        elif a["date"] < "2026-07-15":                  # the history begins too late for a baseline
            assert a["verdict"] == "too_little_data"
    quiet = by_note["New price labels"]
    assert quiet["verdict"] == "no_detectable_effect" and quiet["test"]["low"] < 0 < quiet["test"]["high"]
    assert quiet["previous"]["n"] > 300 and quiet["current"]["n"] > 300 and quiet["window_days"] == 28
    assert quiet["method"] == "difference-in-differences" and quiet["control"]["current"]["n"] > 1000


def test_report_contents_on_seeded_data(seeded):
    db, result = seeded
    report = chain_report.build(db, ReportFilter(date_from="2026-06-26", date_to="2026-11-22"), now=NOW)
    assert report["period"] == {"from": "2026-06-26", "to": "2026-11-22", "days": 150,
                                "previous_from": "2026-01-27", "previous_to": "2026-06-25"}
    summary = {s["question_id"]: s for s in report["summary"]}
    assert summary["visit"]["n"] + summary["recommend"]["n"] + summary["pulse"]["n"] == \
        result.answers - result.filtered
    assert len({r["site_id"] for r in report["ranking"] if r["question_id"] == "visit"}) == 5
    daily = next(t for t in report["trends"] if t["question_id"] == "visit")["daily"]
    assert len(daily) == 150 and sum(d["n"] for d in daily) == summary["visit"]["n"]
    cells = next(h for h in report["heatmap"] if h["question_id"] == "visit")["cells"]
    assert {c["weekday"] for c in cells} == set(range(7)) and sum(c["n"] for c in cells) == summary["visit"]["n"]
    drivers = next(d for d in report["drivers"] if d["question_id"] == "visit")
    assert drivers["pareto"][-1]["cumulative"] == 100.0 and drivers["uplift"][0]["uplift"] > 0
    assert drivers["best_vs_rest"]["best_sites"] and len(report["pulse"]["sites"]) == 5
    assert report["kiosks"] == []
    one = chain_report.build(db, ReportFilter(sites=("s001",)), now=NOW)
    assert one["kiosks"] and {k["site_id"] for k in one["kiosks"]} == {"s001"}


def test_empty_store_and_all_filtered(tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        report = chain_report.build(db, ReportFilter(), now=NOW)
        assert report["period"] is None and report["summary"] == [] and report["ranking"] == []
        from tests.analysis.seeding import add_question, add_site, answer, commit
        add_site(db, "s1")
        add_question(db)
        commit(db, [answer("s1", datetime(2026, 11, 20, 10), 1, filtered="repeat") for _ in range(3)])
        report = chain_report.build(db, ReportFilter(), now=NOW)
        assert report["period"] is None                      # flagged presses are no answers
        commit(db, [answer("s1", datetime(2026, 11, 20, 10), 4)])
        report = chain_report.build(db, ReportFilter(), now=NOW)
        s = report["summary"][0]
        assert s["n"] == 1 and s["happy_index"]["value"] == 100
        assert s["happy_index"]["low"] < s["happy_index"]["high"] == 100      # one answer: wide, never zero width
    finally:
        db.close()
