"""The employee pulse only for groups of at least five answers (or the centre's higher setting),
in every place employee figures appear: every section of the report and its CSV, the views for
BI tools, on SQLite and PostgreSQL. Customer figures are untouched."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from server_sync.analysis import chain_report
from server_sync.analysis.privacy import check_min_group
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


def test_every_section_of_the_report_leaves_small_employee_groups_out(chain):
    report = chain_report.build(chain, WEEK, now=NOW)
    rows = employee_rows(report)
    assert all(n is None or n >= 5 for _key, _where, n in rows), rows
    assert ("summary", None, 11) in rows                          # the chain's week: 11 answers
    assert ("sites", "s1", 9) in rows and not any(r[:2] == ("sites", "s2") for r in rows)
    # The chain's Thursday: s1's six and s2's two; Wednesday's three are left out.
    assert ("daily", "2026-11-19", 8) in rows and not any(r[:2] == ("daily", "2026-11-18") for r in rows)
    assert ("heatmap", (3, 20), 8) in rows and not any(r[:2] == ("heatmap", (2, 20)) for r in rows)
    assert ("drivers", "s1", None) in rows and ("drivers", "s2", None) not in rows
    pulse_sites = {s["site_id"]: s["employee"] for s in report["pulse"]["sites"]}
    assert pulse_sites["s1"]["n"] == 9 and pulse_sites["s2"] == {
        "n": None, "suppressed": True, "value": None, "low": None, "high": None, "small": True} | pulse_sites["s2"]
    assert pulse_sites["s2"]["value"] is None and report["filters"]["min_employee_group"] == 5
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
    rows = employee_rows(chain_report.build(chain, WEEK, now=NOW))
    assert ("daily", "2026-11-19", 8) in rows and ("sites", "s1", 9) in rows
    assert not any(r[0] == "heatmap" and r[2] < 7 for r in rows)
    assert chain.execute_sql("SELECT COUNT(*) FROM v_daily_site WHERE audience = 'employee'").fetchone()[0] == 0
    with pytest.raises(CentralConfigError, match="at least 5"):
        chain_report.build(chain, ReportFilter(min_employee_group=4), now=NOW)
    with pytest.raises(CentralConfigError):
        check_min_group(3)


def test_the_bi_views_never_show_an_employee_answer_or_a_small_group(chain):
    q = lambda sql: chain.execute_sql(sql).fetchall()      # noqa: E731
    assert q("SELECT COUNT(*) FROM v_answers WHERE audience = 'employee'") == [(0,)]
    assert q("SELECT COUNT(*) FROM v_answers WHERE audience = 'customer'") == [(84,)]
    assert q("SELECT COUNT(*) FROM v_followup_reasons WHERE audience = 'employee'") == [(0,)]
    assert q("SELECT COUNT(*) FROM v_hourly WHERE audience = 'employee'") == [(0,)]
    daily = q("SELECT site_id, local_date, n FROM v_daily_site WHERE audience = 'employee' ORDER BY 1, 2")
    assert [tuple(r) for r in daily] == [("s1", "2026-11-19", 6)]
    chain_days = q("SELECT local_date, n FROM v_daily_chain WHERE audience = 'employee' ORDER BY 1")
    assert [tuple(r) for r in chain_days] == [("2026-11-19", 8)]       # s1's six and s2's two together
    reasons = q("SELECT site_id, local_date, n FROM v_reasons_daily WHERE audience = 'employee'")
    assert [tuple(r) for r in reasons] == [("s1", "2026-11-19", 1)]


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
    assert q("SELECT local_date, n FROM v_daily_chain WHERE audience = 'employee' ORDER BY 1") \
        == [r for r in CHAIN_DAILY if r[1] >= minimum]
    assert q("SELECT site_id, local_date, n FROM v_reasons_daily WHERE audience = 'employee' ORDER BY 1, 2") \
        == [r for r in REASONS if day_n[r[:2]] >= minimum]


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
