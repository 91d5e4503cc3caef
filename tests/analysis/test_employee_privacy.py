"""The employee pulse only for groups of at least five answers (or the centre's higher setting),
in every place employee figures appear: every section of the report and its CSV, the views for
BI tools, on SQLite and PostgreSQL; and no small group worked out from the figures shown (a total
minus its parts shown, or any sums and differences of them). Customer figures are untouched."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server_sync.analysis import chain_report
from server_sync.analysis.privacy import check_min_group, protect_employees
from server_sync.analysis.pulse import correlation
from server_sync.analysis.queries import ReportFilter
from server_sync.central.setting import set_setting
from server_sync.cli import main
from server_sync.exc import CentralConfigError, StoredSettingError
from server_sync.protocol.codec import short
from server_sync.report import tabular
from tests.analysis.seeding import add_question, add_site, answer, commit
from tests.fixtures.cli import central, said_error

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
WEEK = ReportFilter(date_from="2026-11-16", date_to="2026-11-22")


def pulse(site: str, day: int, hour: int, values: list[int]) -> list[dict]:
    # 19:xx UTC is 20:xx in Stockholm: the closing-time pulse of the demo schedule.
    return [answer(site, datetime(2026, 11, day, hour, 30 + i), v, question="pulse", audience="employee")
            for i, v in enumerate(values)]


@pytest.fixture
def chain(central_db):
    db = central_db
    for site in ("s1", "s2"):
        add_site(db, site)
    add_question(db)
    add_question(db, "pulse", audience="employee")
    customers = [answer(s, datetime(2026, 11, d, 10, m), 1 + (d + m) % 4) for s in ("s1", "s2")
                 for d in range(16, 23) for m in range(6)]
    few = pulse("s1", 18, 19, [1, 2, 2])                    # Wednesday: three colleagues
    enough = pulse("s1", 19, 19, [4, 3, 4, 2, 3, 4])        # Thursday: six
    lone = pulse("s2", 19, 19, [1, 1])                      # the other store: two
    commit(db, customers + few + enough + lone,
           reasons={r["id"]: ["workload"] for r in few + enough + lone if r["value"] <= 2})
    return db


def employee_rows(report: dict) -> list:
    """Every figure of the pulse question anywhere in the report, with its n."""
    out = []
    for key in ("summary", "sites", "kiosks", "ranking"):
        out += [(key, r.get("site_id"), r["n"]) for r in report[key] if r["question_id"] == "pulse"]
    for t in report["trends"]:
        if t["question_id"] == "pulse":
            out += [("daily", d["date"], d["n"]) for d in t["daily"]] + [("weekly", w["week"], w["n"]) for w in t["weekly"]]
    for h in report["heatmap"]:
        if h["question_id"] == "pulse":
            out += [("heatmap", (c["weekday"], c["hour"]), c["n"]) for c in h["cells"]]
    for d in report["drivers"]:
        if d["question_id"] == "pulse":
            out += [("drivers", s["site_id"], None) for s in d["sites"]]
    return out


def given_away(report: dict, min_group: int = 5) -> list:
    """What the figures shown give away by difference: for every shown total of an employee
    question whose parts are shown too, the total minus its parts shown, where that is a group
    of some but fewer than `min_group` answers (what an analyst with a calculator would find)."""
    out = []
    employee = {q["id"] for q in report["questions"] if q["audience"] == "employee"}

    def check(where, total, parts):
        if total is not None and 0 < total - sum(parts) < min_group:
            out.append((where, total, sum(parts)))
    for s in report["summary"]:
        q = s["question_id"]
        if q not in employee:
            continue
        total = s["n"]
        sites = {r["site_id"]: r["n"] for r in report["sites"] if r["question_id"] == q}
        check(("sites", q), total, sites.values())
        check(("ranking", q), total, [r["n"] for r in report["ranking"] if r["question_id"] == q])
        for site, n in sites.items():
            check(("kiosks", q, site), n, [k["n"] for k in report["kiosks"] if (k["question_id"], k["site_id"]) == (q, site)])
        trend = next(t for t in report["trends"] if t["question_id"] == q)
        check(("weeks", q), total, [w["n"] for w in trend["weekly"]])
        check(("days", q), total, [d["n"] for d in trend["daily"]])
        for w in trend["weekly"]:
            check(("days of", w["week"]), w["n"], [d["n"] for d in trend["daily"] if _week(d["date"]) == w["from"]])
        cells = next((h["cells"] for h in report["heatmap"] if h["question_id"] == q), [])
        check(("heatmap", q), total, [c["n"] for c in cells])
        days = {d["date"]: d["n"] for d in trend["daily"]}
        period = [date.fromisoformat(report["period"]["from"]) + timedelta(days=i) for i in range(report["period"]["days"])]
        for wd in range(7):
            dates = [d.isoformat() for d in period if d.weekday() == wd]
            if dates and all(d in days for d in dates):          # the weekday's total is shown
                check(("heatmap", q, wd), sum(days[d] for d in dates), [c["n"] for c in cells if c["weekday"] == wd])
    if len(employee) == 1 and report.get("pulse"):
        total = next(s["n"] for s in report["summary"] if s["question_id"] in employee)
        check(("pulse",), total, [s["employee"]["n"] for s in report["pulse"]["sites"] if s["employee"]["n"]])
    return out


def _week(day: str) -> str:
    d = date.fromisoformat(day)
    return (d - timedelta(days=d.weekday())).isoformat()


def test_every_section_of_the_report_leaves_small_employee_groups_out(chain):
    report = chain_report.build(chain, WEEK, now=NOW)
    rows = employee_rows(report)
    assert all(n is None or n >= 5 for _key, _where, n in rows), rows
    assert given_away(report) == []
    # The chain's week: 11 answers, shown. s2's two are left out, and so is s1 (its nine would
    # give s2's two away: 11 - 9); Wednesday's three likewise take Thursday's eight with them,
    # in the daily trend and in the heatmap. The week's figure stays.
    assert rows == [("summary", None, 11), ("weekly", "2026-W47", 11)]
    pulse_sites = {s["site_id"]: s["employee"] for s in report["pulse"]["sites"]}
    assert pulse_sites["s2"] == {
        "n": None, "suppressed": True, "value": None, "low": None, "high": None, "small": True} | pulse_sites["s2"]
    assert pulse_sites["s1"]["n"] is None and pulse_sites["s1"]["value"] is None
    assert report["filters"]["min_employee_group"] == 5
    assert all(d["sites"] == [] for d in report["drivers"] if d["question_id"] == "pulse")
    # The customer figures of the same sites are all there.
    assert {r["site_id"] for r in report["sites"] if r["question_id"] == "visit"} == {"s1", "s2"}
    # What is left out is not in the CSV either.
    csv = tabular.render_csv(report)
    assert "pulse" in csv and ",s2," not in "\n".join(x for x in csv.splitlines() if ",pulse," in x)


def test_the_brief_report_of_the_web_app_leaves_small_employee_groups_out_too(chain):
    """The web app's overview and ranking ask for the brief report: the same rule holds there."""
    full = chain_report.build(chain, WEEK, now=NOW)
    brief = chain_report.build(chain, WEEK, now=NOW, brief=True)
    small = [row for row in employee_rows(brief) if row[2] is not None and row[2] < 5]
    assert small == []
    assert {r for r in employee_rows(brief) if r[0] in ("summary", "sites", "ranking", "daily")} == \
        {r for r in employee_rows(full) if r[0] in ("summary", "sites", "ranking", "daily")}
    assert brief["filters"]["min_employee_group"] == 5


def test_one_small_site_alone_shows_no_figure_at_all(chain):
    report = chain_report.build(chain, ReportFilter(sites=("s2",), date_from="2026-11-16", date_to="2026-11-22"), now=NOW)
    summary = next(r for r in report["summary"] if r["question_id"] == "pulse")
    assert summary["suppressed"] and summary["n"] is None and summary["happy_index"]["value"] is None
    assert [r for r in employee_rows(report) if r[0] != "summary"] == []
    change = next(t for t in report["trends"] if t["question_id"] == "pulse")["change"]
    assert change["verdict"] == "too_little_data" and change["test"] is None
    assert "2" not in json.dumps(summary)


def test_a_higher_minimum_set_at_the_centre_applies_to_reports_and_views(chain):
    with chain.atomic():
        set_setting(chain, "min_employee_group", "7")
    report = chain_report.build(chain, WEEK, now=NOW)
    rows = employee_rows(report)
    assert rows == [("summary", None, 11), ("weekly", "2026-W47", 11)] and given_away(report, 7) == []
    assert chain.execute_sql("SELECT COUNT(*) FROM v_daily_site WHERE audience = 'employee'").fetchone()[0] == 0
    with pytest.raises(CentralConfigError, match="at least 5"):
        chain_report.build(chain, ReportFilter(min_employee_group=4), now=NOW)
    with pytest.raises(CentralConfigError):
        check_min_group(3)


def test_a_ranked_stores_previous_period_is_not_shown_under_a_higher_minimum(central_db):
    """A store's 40 pulse answers of the week before are ranked (30 make a rank), and a ranking
    row carries last period's value and interval beside its rank change: under a minimum of 50
    they are not shown, the store's 60 of this week are."""
    add_site(central_db, "s1")
    add_question(central_db, "pulse", audience="employee")
    commit(central_db, [answer("s1", datetime(2026, 11, 9 + i % 7, 15, i % 60), 1 + i % 4, question="pulse",
                               audience="employee") for i in range(40)]
           + [answer("s1", datetime(2026, 11, 16 + i % 7, 15, i % 60), 1 + i % 4, question="pulse",
                     audience="employee") for i in range(60)])
    report = chain_report.build(central_db, ReportFilter(date_from="2026-11-16", date_to="2026-11-22",
                                                         min_employee_group=50), now=NOW)
    (row,) = report["ranking"]
    assert (row["n"], row["rank"]) == (60, 1)
    assert (row["previous_rank"], row["rank_change"]) == (None, None)        # where that group stood
    assert (row["previous_shrunk"], row["previous_low"], row["previous_high"]) == (None, None, None)
    assert (row["previous_vs_leader"], row["rank_change_verdict"]) == (None, None)    # decided on that group
    assert not [r for r in tabular.csv_rows(report)
                if r["metric"].endswith(("_previous_rank", "_rank_change", "_previous_shrunk", "_previous_vs_leader"))]


def test_the_bi_views_never_show_an_employee_answer_or_a_small_group(chain):
    q = lambda sql: chain.execute_sql(sql).fetchall()      # noqa: E731
    assert q("SELECT COUNT(*) FROM v_answers WHERE audience = 'employee'") == [(0,)]
    assert q("SELECT COUNT(*) FROM v_answers WHERE audience = 'customer'") == [(84,)]
    assert q("SELECT COUNT(*) FROM v_followup_reasons WHERE audience = 'employee'") == [(0,)]
    assert q("SELECT COUNT(*) FROM v_hourly WHERE audience = 'employee'") == [(0,)]
    daily = q("SELECT site_id, local_date, n FROM v_daily_site WHERE audience = 'employee' ORDER BY 1, 2")
    assert [tuple(r) for r in daily] == [("s1", "2026-11-19", 6)]
    # The chain's day of 8 beside s1's 6 gave s2's 2 away (and their Happy Index by difference);
    # s1's reason cited by one colleague gave that one's complaint away (a privacy review).
    assert q("SELECT local_date, n FROM v_daily_chain WHERE audience = 'employee' ORDER BY 1") == []
    assert q("SELECT site_id, local_date, n FROM v_reasons_daily WHERE audience = 'employee'") == []


# Every employee group of the chain fixture: (site, day, n) a day, (day, n) the chain's day, and
# (site, day, n) of the reasons given by its negative answers.
DAILY = [("s1", "2026-11-18", 3), ("s1", "2026-11-19", 6), ("s2", "2026-11-19", 2)]
CHAIN_DAILY = [("2026-11-18", 3), ("2026-11-19", 8)]
REASONS = [("s1", "2026-11-18", 3), ("s1", "2026-11-19", 1), ("s2", "2026-11-19", 2)]


@pytest.mark.parametrize("value, minimum", [
    ("abc", 5), ("", 5), (" 7", 5), ("+7", 5), ("7.5", 5), ("-9", 5), ("0", 5), ("4", 5), ("٧", 5),
    ("7", 7), ("0007", 7), ("2147483648", 2147483648), ("9" * 5000, 2 ** 31 - 1)])
def test_the_bi_views_read_a_minimum_edited_by_hand_safely(chain, value, minimum):
    """m0012's views cast the stored text to INTEGER: on SQLite 'abc' or '' was 0 and the views
    showed groups of two; on PostgreSQL they failed. Not a whole number of at least 5: the default 5."""
    with chain.atomic():
        set_setting(chain, "min_employee_group", value)
    q = lambda sql: [tuple(r) for r in chain.execute_sql(sql).fetchall()]      # noqa: E731
    day_n = {(s, d): n for s, d, n in DAILY}
    assert q("SELECT site_id, local_date, n FROM v_daily_site WHERE audience = 'employee' ORDER BY 1, 2") \
        == [r for r in DAILY if r[2] >= minimum]
    # A chain day only where no store's day of it is hidden; a reason only cited by the minimum.
    hidden_days = {d for _s, d, n in DAILY if n < minimum}
    assert q("SELECT local_date, n FROM v_daily_chain WHERE audience = 'employee' ORDER BY 1") \
        == [r for r in CHAIN_DAILY if r[1] >= minimum and r[0] not in hidden_days]
    assert q("SELECT site_id, local_date, n FROM v_reasons_daily WHERE audience = 'employee' ORDER BY 1, 2") \
        == [r for r in REASONS if day_n[r[:2]] >= minimum and r[2] >= minimum]


def test_the_bi_views_show_employee_groups_large_enough_and_no_difference_of_them(central_db):
    """Both stores' days of the minimum and more: the chain's day is shown (the sum of two shown);
    one store's day below it: neither the chain's day (its difference from the other's would be
    that store's) nor the small store's; a reason cited by 5 is shown, one cited by 4 is not."""
    db = central_db
    for s in ("x", "y", "z"):
        add_site(db, s)
    add_question(db, "staff", audience="employee")
    def one_day(site: str, values: list[int], day: int) -> list[dict]:
        return [answer(site, datetime(2026, 11, day, 10, i), v, question="staff", audience="employee")
                for i, v in enumerate(values)]
    x, y = one_day("x", [1] * 6, 16), one_day("y", [2] * 7, 16)
    z, y_next = one_day("z", [1] * 2, 17), one_day("y", [4] * 6, 17)
    commit(db, x + y + z + y_next, reasons={**{r["id"]: ["workload"] for r in x[:5]},
                                            **{r["id"]: ["rota"] for r in y[:4]}})
    q = lambda sql: [tuple(r) for r in db.execute_sql(sql).fetchall()]      # noqa: E731
    assert q("SELECT local_date, n FROM v_daily_chain WHERE audience = 'employee' ORDER BY 1") == [("2026-11-16", 13)]
    assert q("SELECT site_id, local_date, n FROM v_daily_site WHERE audience = 'employee' ORDER BY 1, 2") == [
        ("x", "2026-11-16", 6), ("y", "2026-11-16", 7), ("y", "2026-11-17", 6)]
    assert q("SELECT site_id, reason, n FROM v_reasons_daily WHERE audience = 'employee'") == [("x", "workload", 5)]


def test_the_views_apply_the_privacy_rules_bounds():
    """m0042 spells the bounds out (a migration is frozen and imports nothing built on the store):
    they must be analysis.privacy's."""
    from server_sync.analysis import privacy
    from server_sync.central.migrations import m0042_safe_employee_group as m0042
    assert (m0042.MIN_EMPLOYEE_GROUP, m0042.MAX_EMPLOYEE_GROUP) == (privacy.MIN_EMPLOYEE_GROUP,
                                                                    privacy.MAX_EMPLOYEE_GROUP)


def test_the_setting_is_shown_and_changed_by_command(central_url, chain, capsys):
    assert main(["--db", central_url, "privacy", "set", "--min-employee-group", "8"]) == 0
    assert main(["--db", central_url, "privacy", "show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["min_employee_group"] == 8
    assert main(["--db", central_url, "privacy", "set", "--min-employee-group", "2"]) == 2
    assert "at least 5" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["abc", "4", "9" * 5000, "", "+7", "2147483648"])
def test_a_minimum_edited_by_hand_is_a_clear_error_naming_the_setting(central_url, chain, capsys, value):
    """The report read the stored minimum with int(): 'abc' was a traceback in `report` and
    `privacy show` (5000 digits int()'s own ValueError), 4 an error that did not say it was the
    stored setting, nor how to set it again."""
    with chain.atomic():
        set_setting(chain, "min_employee_group", value)
    message = (f"the stored privacy setting min_employee_group is {short(value)}, not a whole number "
               "5-2147483647 (set it again: kiosk-central privacy set --min-employee-group N)")
    with pytest.raises(StoredSettingError) as e:
        chain_report.build(chain, WEEK, now=NOW)
    assert str(e.value) == message
    for argv in (("privacy", "show"), ("report", "--from", "2026-11-16", "--to", "2026-11-22", "--no-progress")):
        assert central("--db", central_url, *argv) == 2, argv
        err = capsys.readouterr().err
        assert said_error(err, message) and len(err) < 400, err
    # A report given its own minimum reads no setting; setting it again (as the error says) mends it.
    assert chain_report.build(chain, ReportFilter(date_from="2026-11-16", date_to="2026-11-22", min_employee_group=6),
                              now=NOW)["filters"]["min_employee_group"] == 6
    assert main(["--db", central_url, "privacy", "set", "--min-employee-group", "6"]) == 0
    assert chain_report.build(chain, WEEK, now=NOW)["filters"]["min_employee_group"] == 6


def test_groups_large_enough_stay_shown_and_nothing_small_can_be_worked_out(central_db):
    """Three stores, one with two kiosks: the small groups and just enough of the others to cover
    them are left out, the rest stays (the rule does not blank everything)."""
    db = central_db
    add_site(db, "s1", kiosks=2)
    for site in ("s2", "s3"):
        add_site(db, site)
    add_question(db)
    add_question(db, "pulse", audience="employee")
    rows = (pulse("s1", 18, 19, [1, 2, 2])                                            # Wed: s1-k1 3
            + pulse("s1", 19, 19, [4, 3, 4, 2]) + [dict(r, kiosk_id="s1-k2") for r in pulse("s1", 19, 19, [3, 3])]
            + pulse("s2", 19, 19, [1, 1])                                               # Thu: s2 2
            + pulse("s3", 19, 19, [4, 4, 3, 3, 4, 2, 3]) + pulse("s3", 20, 19, [3, 4, 4, 2, 3]))   # s3 7 + 5 (Fri)
    commit(db, rows)
    report = chain_report.build(db, ReportFilter(sites=("s1", "s2", "s3"), date_from="2026-11-16",
                                                 date_to="2026-11-22"), now=NOW)
    shown = employee_rows(report)
    assert given_away(report) == [] and all(n is None or n >= 5 for *_w, n in shown)
    # s2's two need more than s2 to hide them: s1 (the smallest shown, 9) goes with them; s3's 12
    # stay, and the 23 - 12 = 11 they leave are two stores together. s1's kiosks go with s1.
    assert [r for r in shown if r[0] in ("summary", "sites", "kiosks")] == [
        ("summary", None, 23), ("sites", "s3", 12), ("kiosks", "s3", 12)]
    # Wednesday's three take Friday's five with them (8 together); Thursday's 15 stay.
    assert [r for r in shown if r[0] in ("daily", "heatmap")] == [("daily", "2026-11-19", 15), ("heatmap", (3, 20), 15)]
    pulse_sites = {s["site_id"]: s["employee"]["n"] for s in report["pulse"]["sites"]}
    assert pulse_sites == {"s1": None, "s2": None, "s3": 12}


# A random chain's groups: (store, kiosk, day of a two-week period, hour, answers).
CHAINS = st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["k1", "k2"]),
                            st.integers(0, 13), st.sampled_from([8, 12, 19]), st.integers(1, 6)),
                  min_size=1, max_size=30)
FIRST = date(2026, 11, 16)


def chain_tally(groups: list[tuple]) -> dict[tuple[str, str, str, int], int]:
    """(store, kiosk, date, hour) -> answers of a CHAINS example."""
    tally: dict = {}
    for site, kiosk, day, hour, n in groups:
        key = (site, kiosk, (FIRST + timedelta(days=day)).isoformat(), hour)
        tally[key] = tally.get(key, 0) + n
    return tally


def chain_report_of(tally: dict[tuple[str, str, str, int], int]) -> dict:
    """The report's employee sections of a chain as chain_report builds them, before the rule."""
    def total(pred) -> int:
        return sum(n for k, n in tally.items() if pred(*k))

    def row(n: int, **kw) -> dict:
        return dict(kw, n=n, value=50.0, question_id="pulse")
    sites = sorted({k[0] for k in tally})
    days = sorted({k[2] for k in tally})
    weeks = sorted({_week(d) for d in days})
    return {
        "questions": [{"id": "pulse", "audience": "employee"}],
        "period": {"from": FIRST.isoformat(), "days": 14},
        "summary": [row(total(lambda *k: True))],
        "sites": [row(total(lambda s, *k: s == site), site_id=site) for site in sites],
        "ranking": [row(total(lambda s, *k: s == site), site_id=site, rank=None) for site in sites],
        "kiosks": [row(total(lambda s, k, *r: (s, k) == (site, kiosk)), site_id=site, kiosk_id=kiosk)
                   for site in sites for kiosk in ("k1", "k2") if total(lambda s, k, *r: (s, k) == (site, kiosk))],
        "trends": [{"question_id": "pulse", "change": None,
                    "daily": [{"date": d, "n": total(lambda s, k, dd, h: dd == d)} for d in days],
                    "weekly": [{"week": w, "from": w, "n": total(lambda s, k, dd, h: _week(dd) == w), "change": {}}
                               for w in weeks]}],
        "heatmap": [{"question_id": "pulse", "cells": [
            {"weekday": wd, "hour": h, "n": total(lambda s, k, dd, hh: date.fromisoformat(dd).weekday() == wd and hh == h)}
            for wd in range(7) for h in (8, 12, 19)
            if total(lambda s, k, dd, hh: date.fromisoformat(dd).weekday() == wd and hh == h)]}],
        "drivers": [], "actions": [],
        "pulse": {"sites": [{"site_id": site, "customer": {"value": 60.0, "n": 50},
                             "employee": {"value": 50.0, "n": total(lambda s, *k: s == site)}} for site in sites],
                  "correlation": None, "min_n": 5},
    }


@settings(max_examples=150, deadline=None)
@given(CHAINS, st.sampled_from([5, 7]))
def test_no_small_group_is_given_away_by_any_difference_in_any_chain(groups, min_group):
    """Random chains (store, kiosk, day of a two-week period, hour, answers), as the report
    shows them: after the rule, no difference between a shown total and its shown parts is a
    group under the minimum, and every employee figure left shows at least the minimum."""
    protected = protect_employees(chain_report_of(chain_tally(groups)), min_group)
    assert given_away(protected, min_group) == []
    assert all(n is None or n >= min_group for *_w, n in employee_rows(protected))


Atom = tuple[str, str, str, int]           # (store, kiosk, date, hour): the finest group


def shown_groups(report: dict) -> list[Callable[[Atom], bool]]:
    """Each employee figure a protected report of `chain_report_of` shows, as the atoms it adds up."""
    out: list[Callable[[Atom], bool]] = []
    if report["summary"][0]["n"] is not None:
        out.append(lambda a: True)
    for r in report["sites"] + report["ranking"] + [s for s in report["pulse"]["sites"] if s["employee"]["n"]]:
        out.append(lambda a, s=r["site_id"]: a[0] == s)
    out += [lambda a, s=r["site_id"], k=r["kiosk_id"]: a[:2] == (s, k) for r in report["kiosks"]]
    (trend,) = report["trends"]
    out += [lambda a, d=d["date"]: a[2] == d for d in trend["daily"]]
    out += [lambda a, w=w["from"]: _week(a[2]) == w for w in trend["weekly"]]
    out += [lambda a, wd=c["weekday"], h=c["hour"]: (date.fromisoformat(a[2]).weekday(), a[3]) == (wd, h)
            for c in report["heatmap"][0]["cells"]]
    return out


def worked_out(report: dict, tally: dict[Atom, int], min_group: int) -> list[tuple[str, object, int]]:
    """Every group of some but fewer than `min_group` answers whose count follows from the
    counts shown by any sums and differences (not only a total minus its parts): a day, a week,
    a weekday, a heatmap cell, a day's hour, a store, a kiosk, a store's day or week. Each figure
    is the sum of its atoms; a group's count follows from theirs when its atoms' indicator lies
    in the space their indicators span. The reader is taken to know which days, cells, stores
    and kiosks had no answers at all (the review read a heatmap's missing cells as empty), so
    the atoms are those of none of them."""
    sites = sorted({a[0] for a in tally})
    days = [(FIRST + timedelta(days=i)).isoformat() for i in range(14)]
    weekday = lambda d: date.fromisoformat(d).weekday()            # noqa: E731
    parts = (lambda a: a[0], lambda a: a[:2], lambda a: a[2], lambda a: (weekday(a[2]), a[3]))
    answered = [{part(a) for a, n in tally.items() if n} for part in parts]
    atoms = [a for a in ((s, k, d, h) for s in sites for k in ("k1", "k2") for d in days for h in (8, 12, 19))
             if all(part(a) in seen for part, seen in zip(parts, answered))]
    figures = np.array([[float(f(a)) for a in atoms] for f in shown_groups(report)]).reshape(-1, len(atoms))
    _u, singular, rows = np.linalg.svd(figures, full_matrices=False)
    basis = rows[singular > 1e-9 * (singular.max(initial=0) or 1)]
    groups = ([("day", d, lambda a, d=d: a[2] == d) for d in days]
              + [("week", w, lambda a, w=w: _week(a[2]) == w) for w in sorted({_week(d) for d in days})]
              + [("weekday", wd, lambda a, wd=wd: weekday(a[2]) == wd) for wd in range(7)]
              + [("cell", (wd, h), lambda a, c=(wd, h): (weekday(a[2]), a[3]) == c)
                 for wd in range(7) for h in (8, 12, 19)]
              + [("hour of day", (d, h), lambda a, c=(d, h): a[2:] == c) for d in days for h in (8, 12, 19)]
              + [("store", s, lambda a, s=s: a[0] == s) for s in sites]
              + [("kiosk", (s, k), lambda a, c=(s, k): a[:2] == c) for s in sites for k in ("k1", "k2")]
              + [("store's day", (s, d), lambda a, c=(s, d): (a[0], a[2]) == c) for s in sites for d in days]
              + [("store's week", (s, d), lambda a, c=(s, d): (a[0], _week(a[2])) == c)
                 for s in sites for d in days[::7]])
    out = []
    for kind, which, member in groups:
        n = sum(n for a, n in tally.items() if member(a))
        if 0 < n < min_group:
            indicator = np.array([float(member(a)) for a in atoms])
            if np.linalg.norm(indicator - basis.T @ (basis @ indicator)) < 1e-6:
                out.append((kind, which, n))
    return out


@settings(max_examples=150, deadline=None)
@given(CHAINS, st.sampled_from([5, 7]))
def test_no_small_group_follows_from_the_figures_shown_by_any_sums_and_differences(groups, min_group):
    """Random chains as in the test above, with a reader who combines any of the figures shown:
    the heatmap's Monday cells minus the Mondays shown in the daily trend were the Monday left
    out (a review's case), which no check of one total against its own parts finds."""
    tally = chain_tally(groups)
    protected = protect_employees(chain_report_of(tally), min_group)
    assert worked_out(protected, tally, min_group) == []


def test_a_weekday_with_a_day_left_out_shows_no_heatmap_cell(central_db):
    """The review's case: one store, ten answers on Monday 2 March, three (all 1s) on Monday 9
    March, ten a day otherwise. The daily trend leaves out the 9th and the 10th with it (to
    cover it in its week), but the heatmap's Monday (13, 76.92) minus the 2nd (10, 100) was the
    9th: 3 answers, Happy Index 0. Monday's and Tuesday's cells go; the rest stays."""
    db = central_db
    add_site(db, "s1")
    add_question(db, "pulse", audience="employee")
    days = [date(2026, 3, 2) + timedelta(days=i) for i in range(12) if i % 7 < 5]
    rows = [answer("s1", datetime(d.year, d.month, d.day, 8 if d.weekday() == 0 else 9, m), 4 if d.day == 2 else 3,
                    question="pulse", audience="employee") for d in days if d.day != 9 for m in range(10)]
    rows += [answer("s1", datetime(2026, 3, 9, 8, m), 1, question="pulse", audience="employee") for m in range(3)]
    commit(db, rows)
    report = chain_report.build(db, ReportFilter(date_from="2026-03-02", date_to="2026-03-15"),
                                now=datetime(2026, 3, 16, tzinfo=timezone.utc))
    shown = employee_rows(report)
    assert [w for kind, w, _n in shown if kind == "daily"] == [
        "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-11", "2026-03-12", "2026-03-13"]
    assert [(w, n) for kind, w, n in shown if kind == "heatmap"] == [((2, 10), 20), ((3, 10), 20), ((4, 10), 20)]
    assert given_away(report) == []


def test_a_store_left_out_of_the_pulse_is_left_out_of_its_correlation_too():
    """The pulse's r over stores: a store whose employee figure goes (with a small one) no longer
    counts in r, or r and the others' figures would give its figure away."""
    values = {"s1": (9, 40.0, 70.0), "s2": (2, 90.0, 20.0), "s3": (12, 55.0, 60.0), "s4": (20, 60.0, 66.0),
              "s5": (30, 75.0, 81.0)}
    sites = [{"site_id": s, "customer": {"value": c, "n": 50}, "employee": {"value": e, "n": n}}
             for s, (n, e, c) in values.items()]
    everything = correlation([(e, n, c, 50) for n, e, c in values.values()], 5)
    report = {"questions": [{"id": "pulse", "audience": "employee"}], "summary": [], "sites": [],
              "pulse": {"sites": sites, "correlation": everything, "min_n": 5}}
    pulse = protect_employees(report, 5)["pulse"]
    assert [s["site_id"] for s in pulse["sites"] if s["employee"]["n"]] == ["s3", "s4", "s5"]
    assert pulse["correlation"] == correlation([(e, n, c, 50) for n, e, c in list(values.values())[2:]], 5)
    assert pulse["correlation"] != everything and pulse["correlation"]["n"] == 3


def staff(site: str, values: list[int], question: str = "staff", start: datetime = datetime(2026, 11, 16, 10)) -> list[dict]:
    return [answer(site, start + timedelta(days=i % 7, minutes=i), v, question=question, audience="employee")
            for i, v in enumerate(values)]


def test_a_stores_pulse_is_left_out_when_its_questions_rows_would_give_one_away(central_db):
    """The pulse is a store's employee smiley questions together: 13 at x, of which the sites
    section shows 10 ("staff"); the other 3 ("staff2") would be the pulse minus the row."""
    db = central_db
    for s in ("x", "y"):
        add_site(db, s)
    add_question(db)
    add_question(db, "staff", audience="employee")
    add_question(db, "staff2", audience="employee")
    commit(db, staff("x", [4, 3] * 5) + staff("y", [3] * 10) + staff("x", [1, 1, 2], "staff2")
           + staff("y", [4, 2] * 5, "staff2") + [answer(s, datetime(2026, 11, 16 + i % 7, 9, i), 3)
                                                  for s in ("x", "y") for i in range(40)])
    report = chain_report.build(db, WEEK, now=NOW)
    rows = {(r["question_id"], r["site_id"]): r["n"] for r in report["sites"] if r["question_id"] != "visit"}
    assert rows == {("staff", "x"): 10, ("staff", "y"): 10}           # staff2: x's 3 and y's 10 with them
    pulse = {s["site_id"]: s["employee"]["n"] for s in report["pulse"]["sites"]}
    # x's 13 minus its row of 10 would be the 3; y's 20 minus its 10 shown is 10, and the pulse's
    # 33 minus y's 20 is x's 13: both whole groups.
    assert pulse == {"x": None, "y": 20}
    assert given_away(report) == []


def test_reasons_of_employee_answers_are_shown_only_for_groups_of_the_minimum(central_db):
    """One colleague's "schedule" (and the uplift without it, which gives their answer away) is
    not shown, and neither is "workload" (5) at the chain: its share of the mentions would leave
    the one; nor at y, where it would leave the chain's group of the two. "rota" (6) is shown at
    the chain, not at y: y's share of it (6 of 11) would give y's total, and the chain's (6 of 12)
    the chain's, and the difference is x's one."""
    db = central_db
    for s in ("x", "y"):
        add_site(db, s)
    add_question(db, "staff", audience="employee")
    lone = staff("x", [1] + [4] * 11)
    many = staff("y", [1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2] + [3] * 5)
    commit(db, lone + many, reasons={lone[0]["id"]: ["schedule"], **{r["id"]: ["workload"] for r in many[:5]},
                                     **{r["id"]: ["rota"] for r in many[5:11]}})
    drivers = chain_report.build(db, WEEK, now=NOW)["drivers"][0]
    assert [(r["reason"], r["n"]) for r in drivers["pareto"]] == [("rota", 6)]
    assert [(u["reason"], u["complaints"]) for u in drivers["uplift"]] == [("rota", 6)]
    assert {s["site_id"]: sorted(r["reason"] for r in s["pareto"]) for s in drivers["sites"]} == {"x": [], "y": []}
    assert "schedule" not in json.dumps(drivers)


def test_praise_of_employee_answers_is_shown_only_for_groups_of_the_minimum(central_db):
    """Asked why after every answer, colleagues praise "team" (6), "tools" (5) and "rota" (1): the
    one is left out, and with it "tools", the smallest shown, as the praise's shares would give the
    one away; the complaints are a total of their own ("workload" 5, shown)."""
    db = central_db
    add_site(db, "x")
    add_question(db, "staff", audience="employee")
    rows = staff("x", [4] * 12 + [1] * 5)
    commit(db, rows, reasons={**{r["id"]: ["team"] for r in rows[:6]}, **{r["id"]: ["tools"] for r in rows[6:11]},
                              rows[11]["id"]: ["rota"], **{r["id"]: ["workload"] for r in rows[12:]}})
    drivers = chain_report.build(db, WEEK, now=NOW)["drivers"][0]
    assert [(r["reason"], r["n"]) for r in drivers["praise"]] == [("team", 6)]
    assert [(r["reason"], r["n"]) for r in drivers["pareto"]] == [("workload", 5)]
    assert "rota" not in json.dumps(drivers) and "tools" not in json.dumps(drivers)


def test_an_action_on_an_employee_question_shows_no_small_control_nor_a_store_left_out(central_db):
    """The control group is the rest of the chain (3 answers here): not shown. The store's own
    after-window is the report's period, and the store is left out of the sites section (as the
    complement of the small one): the action shows no figure either."""
    from server_sync.analysis import actions
    db = central_db
    add_site(db, "big")
    add_site(db, "tiny")
    add_question(db, "staff", audience="employee")
    rows = [answer("big", datetime(2026, 10, 1, 10) + timedelta(days=k), 3 + k % 2, question="staff",
                   audience="employee") for k in range(-70, 28)]
    rows += [answer("tiny", datetime(2026, 10, 1, 11) + timedelta(days=k), v, question="staff", audience="employee")
             for k, v in [(-40, 1), (-39, 2), (-38, 1), (5, 4), (6, 4), (7, 3)]]
    commit(db, rows)
    actions.add(db, "big", "staff", "2026-10-01", "rota change", now=datetime(2026, 10, 1, tzinfo=timezone.utc))
    report = chain_report.build(db, ReportFilter(date_from="2026-10-01", date_to="2026-10-28"),
                                now=datetime(2026, 12, 1, tzinfo=timezone.utc))
    (action,) = report["actions"]
    assert action["verdict"] == "too_little_data" and action["test"] is None
    assert action["current"]["n"] is None and action["control"]["current"]["n"] is None
    assert report["sites"] == [] and next(s["n"] for s in report["summary"]) == 31


def staff_days(site: str, first: int, last: int, per_day: int = 2, skip: tuple[int, ...] = ()) -> list[dict]:
    """`per_day` staff answers a day at `site`, days `first`..`last` from 1 October 2026 (less `skip`):
    3s and 4s, a day of more 4s at one site a day of fewer at the other (sites alike every day
    leave an action's difference in differences without any spread to measure it by)."""
    lean = ord(site[-1]) % 2
    return [answer(site, datetime(2026, 10, 1, 10, i) + timedelta(days=k), 3 + (i == 0 or (k + lean) % 2 == 0),
                   question="staff", audience="employee")
            for k in range(first, last + 1) if k not in skip for i in range(per_day)]


def test_an_action_on_an_employee_question_shows_its_verdict_but_no_window_figures(central_db):
    """A review's case: store a's period (54 answers in the sites section) minus its action's
    after-window from 3 October (52) was its two answers of 1 and 2 October, both 1s. The windows
    are not the report's period, weeks or days: an employee action shows its verdict and effect,
    never its windows' figures."""
    from server_sync.analysis import actions
    db = central_db
    for s in ("a", "b"):
        add_site(db, s)
    add_question(db, "staff", audience="employee")
    commit(db, staff_days("a", -70, 27, skip=(0, 1)) + staff_days("b", -70, 27)
           + [answer("a", datetime(2026, 10, d, 12), 1, question="staff", audience="employee") for d in (1, 2)])
    actions.add(db, "a", "staff", "2026-10-03", "rota change", now=datetime(2026, 10, 1, tzinfo=timezone.utc))
    report = chain_report.build(db, ReportFilter(date_from="2026-10-01", date_to="2026-10-28"),
                                now=datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert {r["site_id"]: r["n"] for r in report["sites"]} == {"a": 54, "b": 56}
    (action,) = report["actions"]
    assert action["verdict"] == "no_detectable_effect" and action["test"] is not None
    windows = [action["previous"], action["current"], action["control"]["previous"], action["control"]["current"]]
    assert all(w["n"] is None and w["happy_index"]["value"] is None for w in windows), windows


def test_an_employee_action_outside_a_report_keeps_to_the_minimum_too(central_db):
    """The web app's actions and action pages, `action list` and the closing notices read the
    actions without a report: they showed an employee action's after-window of three answers."""
    from server_sync.analysis import actions
    db = central_db
    for s in ("a", "b"):
        add_site(db, s)
    add_question(db)
    add_question(db, "staff", audience="employee")
    commit(db, staff_days("a", -40, 27, per_day=1, skip=tuple(range(-40, 25))) + staff_days("b", -70, 27)
           + [answer("a", datetime(2026, 10, 1, 9) + timedelta(days=k), 3) for k in range(-70, 28)])
    when = datetime(2026, 10, 1, tzinfo=timezone.utc)
    actions.add(db, "a", "staff", "2026-10-03", "rota change", now=when)
    actions.add(db, "a", "visit", "2026-10-03", "new queue", now=when)
    staff, visit = sorted(actions.evaluated(db, now=datetime(2026, 12, 1, tzinfo=timezone.utc)),
                          key=lambda a: a["question_id"])
    assert staff["verdict"] == "too_little_data" and staff["test"] is None
    assert staff["current"]["n"] is None and staff["control"]["current"]["n"] is None
    assert visit["current"]["n"] == 26 and visit["verdict"] != "too_little_data"


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["queue", "rota", "tools", "pay"])),
                       st.tuples(st.integers(1, 12), st.integers(0, 12)), min_size=1, max_size=12),
       st.sampled_from([5, 7]))
def test_no_reason_of_a_small_group_is_given_away_in_any_chain(counts, min_group):
    """Random mentions and complaints per store and reason: after the rule no shown reason row
    is of fewer than the minimum, and no total minus its shown parts (a store's or the chain's
    mentions over its reasons, a reason's mentions or complaints over the stores, the chain's
    mentions over the stores whose shares give theirs) is a group under the minimum."""
    counts = {k: (n, min(c, n)) for k, (n, c) in counts.items()}
    sites = sorted({s for s, _r in counts})
    reasons = sorted({r for _s, r in counts})

    def rows(pairs):
        pareto = [{"reason": r, "n": n, "negative": c} for r, (n, c) in pairs.items() if n]
        uplift = [{"reason": r, "complaints": c, "current": 70.0, "without": 75.0} for r, (n, c) in pairs.items() if c]
        return pareto, uplift
    chain = {r: (sum(counts.get((s, r), (0, 0))[0] for s in sites), sum(counts.get((s, r), (0, 0))[1] for s in sites))
             for r in reasons}
    pareto, uplift = rows(chain)
    per_site = []
    for s in sites:
        p, u = rows({r: counts[(s, r)] for r in reasons if (s, r) in counts})
        per_site.append({"site_id": s, "pareto": p, "uplift": u})
    report = {"questions": [{"id": "staff", "audience": "employee"}],
              "summary": [{"question_id": "staff", "n": 100}],
              "sites": [{"question_id": "staff", "site_id": s, "n": 30} for s in sites],
              "drivers": [{"question_id": "staff", "pareto": pareto, "uplift": uplift, "sites": per_site}]}
    d = protect_employees(report, min_group)["drivers"][0]
    for part in [d] + d["sites"]:
        assert all(r["n"] >= min_group for r in part["pareto"]) and all(u["complaints"] >= min_group for u in part["uplift"])
    site_total = {s: sum(counts[(s, r)][0] for r in reasons if (s, r) in counts) for s in sites}
    for part, total in [(d, sum(n for n, _c in chain.values()))] + [(p, site_total[p["site_id"]]) for p in d["sites"]]:
        if part["pareto"]:                       # the shares shown give the total of mentions
            assert not 0 < total - sum(r["n"] for r in part["pareto"]) < min_group
    if d["pareto"]:                              # the stores not showing their total hold the rest
        assert not 0 < sum(n for n, _c in chain.values()) - sum(site_total[p["site_id"]] for p in d["sites"]
                                                                 if p["pareto"]) < min_group
    if d["pareto"]:                              # the chain's reasons left out are one group
        hidden = {r for r in reasons} - {x["reason"] for x in d["pareto"]}
        assert not any(x["reason"] in hidden for p in d["sites"] for x in p["pareto"] + p["uplift"])
    for r in d["pareto"]:
        assert not 0 < r["n"] - sum(x["n"] for p in d["sites"] for x in p["pareto"] if x["reason"] == r["reason"]) < min_group
    for u in d["uplift"]:
        assert not 0 < u["complaints"] - sum(x["complaints"] for p in d["sites"] for x in p["uplift"]
                                             if x["reason"] == u["reason"]) < min_group


def test_a_stores_shares_do_not_give_the_other_stores_complaints_away():
    """A review's case: the chain's shares give its 12 complaints, store a's its 11 (team 5 is
    45.45 % of them, once workload goes for the one at b): 12 - 11 would be b's lone complaint.
    a's shares go; so would the smallest shown store's, of several, until the rest is a group."""
    def part(rows):
        return {"pareto": [{"reason": r, "n": n} for r, n in rows],
                "uplift": [{"reason": r, "complaints": n, "current": 70.0, "without": 75.0} for r, n in rows]}
    report = {"questions": [{"id": "staff", "audience": "employee"}], "summary": [{"question_id": "staff", "n": 22}],
              "sites": [{"question_id": "staff", "site_id": s, "n": n} for s, n in (("a", 13), ("b", 6))],
              "drivers": [dict(part([("workload", 7), ("team", 5)]), question_id="staff",
                               sites=[dict(part([("workload", 6), ("team", 5)]), site_id="a"),
                                      dict(part([("workload", 1)]), site_id="b")])]}
    d = protect_employees(report, 5)["drivers"][0]
    assert [(r["reason"], r["n"]) for r in d["pareto"]] == [("workload", 7), ("team", 5)]
    assert {s["site_id"]: s["pareto"] for s in d["sites"]} == {"a": [], "b": []}


def test_a_store_shows_no_reason_the_chain_leaves_out():
    """The review's case: the chain shows A (20 of 29 mentions), leaving X 7 and Y 2 out as one
    group of 9; store S1's X 7 would leave Y's 2."""
    def part(rows):
        return {"pareto": [{"reason": r, "n": n, "negative": n} for r, n in rows],
                "uplift": [{"reason": r, "complaints": n, "current": 70.0, "without": 75.0} for r, n in rows]}
    report = {"questions": [{"id": "staff", "audience": "employee"}], "summary": [{"question_id": "staff", "n": 60}],
              "sites": [{"question_id": "staff", "site_id": s, "n": 30} for s in ("S1", "S2")],
              "drivers": [dict(part([("A", 20), ("X", 7), ("Y", 2)]), question_id="staff",
                               sites=[dict(part([("A", 10), ("X", 7)]), site_id="S1"),
                                      dict(part([("A", 10), ("Y", 2)]), site_id="S2")])]}
    d = protect_employees(report, 5)["drivers"][0]
    assert [r["reason"] for r in d["pareto"]] == ["A"]
    # S1 leaves out X (7) and shows A; S2 would leave out only Y's 2, so its A goes too.
    assert {s["site_id"]: [r["reason"] for r in s["pareto"]] for s in d["sites"]} == {"S1": ["A"], "S2": []}


def test_the_docs_warn_that_summing_the_daily_views_undercounts_the_pulse(chain):
    """The week's pulse is 11 answers (the report's figure), but the daily view shows only the day
    of 6: a BI sum of its days undercounts. docs/analysis.md's BI section says so."""
    from pathlib import Path
    report = chain_report.build(chain, WEEK, now=NOW)
    assert next(s["n"] for s in report["summary"] if s["question_id"] == "pulse") == 11
    assert chain.execute_sql("SELECT SUM(n) FROM v_daily_site WHERE audience = 'employee'").fetchone()[0] == 6
    doc = (Path(__file__).resolve().parents[2] / "docs" / "analysis.md").read_text(encoding="utf-8")
    bi = doc[doc.index("## SQL views for BI tools"):doc.index("### A role for the BI tool")]
    assert "the daily views leave days out, so their sums undercount" in bi
