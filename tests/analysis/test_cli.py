"""The analysis commands in-process: report in every format, action add/list, alerts check,
fleet; user mistakes print `kiosk-central: error: …` and exit 2, never a traceback."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest

from seeds.history import HistorySpec, generate
from server_sync.analysis import chain_report
from server_sync.analysis.queries import ReportFilter, data_range
from server_sync.cli import main
from server_sync.central.db import connect
from server_sync.exc import CentralConfigError
from server_sync.report.tabular import CSV_COLUMNS
from tests.fixtures.cli import central, said_error


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    u = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'central.db'}"
    db = connect(u)
    generate(db, HistorySpec(sites=4, days=70, answers_per_day=25, seed=5))
    db.close()
    return u


def test_report_json_has_the_documented_keys(url, capsys):
    assert main(["--db", url, "report", "--format", "json", "--from", "2026-10-01", "--to", "2026-11-22"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report) == ["schema", "generator", "generated_at", "timezone", "filters", "questions", "period",
                            "summary", "sites", "ranking", "kiosks", "trends", "heatmap", "drivers", "actions", "pulse",
                            "alerts"]
    assert report["schema"] == 1 and report["period"]["days"] == 53
    assert [q["id"] for q in report["questions"]] == ["recommend", "visit", "pulse"]


def test_report_csv_and_html_to_a_file(url, tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert main(["--db", url, "report", "--format", "csv", "--site", "s001,s002", "--question", "visit",
                 "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {r["site_id"] for r in rows if r["section"] == "site"} == {"s001", "s002"}
    assert {r["question_id"] for r in rows if r["section"] in ("summary", "daily")} == {"visit"}
    page = tmp_path / "r.html"
    assert main(["--db", url, "report", "--format", "html", "--lang", "en", "--output", str(page)]) == 0
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") and capsys.readouterr().out == ""


def test_report_as_an_excel_workbook_has_the_csvs_rows_a_sheet_per_section(url, tmp_path, capsys, monkeypatch):
    """For an analyst's Excel: the CSV in a Swedish Excel lands in one column. Each section a
    sheet, its rows the CSV's, numbers as numbers; to a terminal it is refused (binary)."""
    from openpyxl import load_workbook
    args = ["--db", url, "report", "--site", "s001,s002", "--no-progress"]
    assert main([*args, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    out = tmp_path / "r.xlsx"
    assert main([*args, "--format", "xlsx", "-o", str(out)]) == 0
    book = load_workbook(out)
    sections = list(dict.fromkeys(r["section"] for r in rows))
    assert book.sheetnames == sections
    for name in sections:
        sheet = [list(r) for r in book[name].iter_rows(values_only=True)]
        want = [r for r in rows if r["section"] == name]
        assert sheet[0] == [c for c in CSV_COLUMNS if c != "section"] and len(sheet) == len(want) + 1, name
        for got, row in zip(sheet[1:], want):
            for column, value in zip(sheet[0], got):
                text = row[column]
                if isinstance(value, (int, float)):
                    assert float(text) == pytest.approx(value, rel=1e-12), (name, column)
                else:
                    assert (value or "") == text.removeprefix("'") or text == "'" + (value or ""), (name, column)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True
    monkeypatch.setattr("sys.stdout", Terminal())
    assert central(*args, "--format", "xlsx") == 2
    assert "--format xlsx is a binary file: give --output FILE" in capsys.readouterr().err


def test_report_output_dash_is_standard_output(url, tmp_path, capsys, monkeypatch):
    """`-o -` is standard output, as Unix tools read it: it wrote a file named '-'."""
    monkeypatch.chdir(tmp_path)
    assert main(["--db", url, "report", "--format", "csv", "--site", "s001", "-o", "-"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0]) == CSV_COLUMNS and not (tmp_path / "-").exists()


@pytest.mark.parametrize("args, message", [
    (["--site", "nowhere"], "unknown site 'nowhere'"),
    (["--question", "colour"], "unknown question 'colour'"),
    (["--from", "2026-02-30"], "argument --from: '2026-02-30' is not a date"),
    (["--from", "2026-11-10", "--to", "2026-11-01"], "--from 2026-11-10 is after --to 2026-11-01"),
])
def test_report_user_mistakes(url, capsys, args, message):
    assert central("--db", url, "report", *args) == 2
    assert said_error(capsys.readouterr().err, message)


@pytest.mark.parametrize("f, message, field", [
    (ReportFilter(sites=("nowhere",)), "unknown site 'nowhere'", None),
    (ReportFilter(date_from="2026-02-30"), "date_from '2026-02-30' is not a date (YYYY-MM-DD)", "date_from"),
    (ReportFilter(date_from="20261201"), "date_from '20261201' is not a date (YYYY-MM-DD)", "date_from"),
    (ReportFilter(date_to="0001-01-01"), "date_to 0001-01-01 is outside 2000-01-01 … 2099-12-31", "date_to"),
    (ReportFilter(date_from="9999-12-01"), "date_from 9999-12-01 is outside 2000-01-01 … 2099-12-31", "date_from"),
    (ReportFilter(date_from="2026-11-10", date_to="2026-11-01"), "date_from 2026-11-10 is after date_to 2026-11-01",
     None),
])
def test_a_report_built_by_a_library_caller_takes_the_command_lines_rules(url, f, message, field):
    """chain_report.build (also the web app's and the digest's) kept its own copy of the checks:
    20261201 was read by date.fromisoformat but compared as typed, year 1 or 9999 overflowed
    `date` (a traceback). Now the rule of analysis.days and analysis.queries.require_sites, said
    in the caller's words: the ReportFilter's fields, not the command line's --from and --to."""
    db = connect(url)
    try:
        with pytest.raises(CentralConfigError) as e:
            chain_report.build(db, f, now=datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc))
    finally:
        db.close()
    assert str(e.value) == message
    assert getattr(e.value, "field", None) == field


def test_bad_format_and_language_are_argparse_errors(url, capsys):
    for args in (["--format", "pdf"], ["--lang", "de"]):
        with pytest.raises(SystemExit) as e:
            main(["--db", url, "report", *args])
        assert e.value.code == 2
        assert "kiosk-central report: error: argument" in capsys.readouterr().err


def test_action_add_then_list_shows_before_and_after(url, capsys):
    assert main(["--db", url, "action", "add", "--site", "s002", "--question", "visit", "--date", "2026-10-20",
                 "--note", "Second checkout opened at lunch", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["site_id"] == "s002" and added["date"] == "2026-10-20"
    assert main(["--db", url, "action", "list", "--site", "s002", "--json"]) == 0
    listed = [a for a in json.loads(capsys.readouterr().out) if a["id"] == added["id"]]
    assert listed[0]["previous"]["n"] > 0 and listed[0]["current"]["n"] > 0 and listed[0]["verdict"]
    for bad, message in ((["--site", "nope"], "unknown site 'nope'"), (["--date", "20-10-2026"], "is not a date"),
                         (["--note", "  "], "--note must say")):
        args = {"--site": "s002", "--question": "visit", "--date": "2026-10-20", "--note": "x"}
        args.update(dict(zip(bad[::2], bad[1::2])))
        assert central("--db", url, "action", "add", *[x for kv in args.items() for x in kv]) == 2
        assert message in capsys.readouterr().err


def test_alerts_check_without_broker_and_fleet(url, capsys):
    assert main(["--db", url, "alerts", "check", "--no-publish", "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)
    code = main(["--db", url, "fleet", "--json"])
    fleet = json.loads(capsys.readouterr().out)
    assert {"kiosk_id", "online", "last_seen", "outbox_depth", "clock_synced", "config_version", "flagged"} \
        <= set(fleet["kiosks"][0])
    assert fleet["summary"]["kiosks"] == len(fleet["kiosks"]) >= 4
    assert code == (1 if fleet["summary"]["flagged"] else 0)
    assert main(["--db", url, "fleet"]) == code
    assert "kiosks," in capsys.readouterr().out


def test_a_period_after_the_last_answer_is_empty_not_an_error(url, capsys):
    assert main(["--db", url, "report", "--from", "2030-01-01"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["period"]["from"] == report["period"]["to"] == "2030-01-01"
    assert all(s["n"] == 0 for s in report["summary"]) and report["ranking"] == []
    # Said, with where the customers' answers are: a mistyped year is not read as a quiet chain.
    db = connect(url)
    first, last = data_range(db, ReportFilter(questions=("recommend", "visit")))
    db.close()
    assert out.err == (f"kiosk-central: warning: no answers from 2030-01-01 to 2030-01-01; "
                       f"the customers' answers run from {first} to {last}\n")
    assert main(["--db", url, "report", "--to", "2026-11-22"]) == 0 and capsys.readouterr().err == ""


def test_a_report_of_a_store_without_answers_says_so(tmp_path, capsys):
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    connect(empty).close()
    assert main(["--db", empty, "report", "--format", "csv"]) == 0
    assert capsys.readouterr().err == "kiosk-central: warning: no answers yet\n"


def test_an_empty_report_names_its_filter_and_never_an_employee_questions_days(tmp_path, capsys):
    """An employee group's figures left out for privacy are answers, not an empty period (the
    warning said "no answers" and then the very day of the group's three answers); a site without
    answers is named, not "no answers yet" of a chain that has them."""
    from tests.analysis.seeding import add_question, add_site, answer, commit
    u = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(u)
    add_site(db, "s1"), add_site(db, "s2")
    add_question(db, "visit"), add_question(db, "staff", audience="employee")
    commit(db, [answer("s1", datetime(2026, 11, d, 10), 3) for d in range(1, 20)]
           + [answer("s1", datetime(2026, 11, 5, 10), 1, question="staff", audience="employee") for _ in range(3)])
    db.close()
    period = ["--from", "2026-11-01", "--to", "2026-11-28"]
    assert main(["--db", u, "report", "--question", "staff", *period]) == 0
    assert capsys.readouterr().err == ""
    assert main(["--db", u, "report", "--question", "staff", "--from", "2026-11-06", "--to", "2026-11-28"]) == 0
    assert capsys.readouterr().err == ("kiosk-central: warning: no answers (question staff) "
                                       "from 2026-11-06 to 2026-11-28\n")
    # --to before the first answer: the 28 days up to it (the period ran backwards from the first
    # answer's day, the employee question's in its JSON and warning).
    assert main(["--db", u, "report", "--question", "staff", "--to", "2026-11-01"]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["period"]["from"] == "2026-10-05"
    assert said.err == "kiosk-central: warning: no answers (question staff) from 2026-10-05 to 2026-11-01\n"
    assert main(["--db", u, "report", "--site", "s2"]) == 0
    assert capsys.readouterr().err == "kiosk-central: warning: no answers (site s2) yet\n"
    assert main(["--db", u, "report", "--site", "s2,s1", "--question", "visit", "--from", "2026-11-25"]) == 0
    assert capsys.readouterr().err == ("kiosk-central: warning: no answers (sites s2, s1; question visit) from "
                                       "2026-11-25 to 2026-11-25; the customers' answers run from 2026-11-01 to "
                                       "2026-11-19\n")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_report_draws_the_progress_bar_on_a_terminal_only(url, capsys, monkeypatch):
    for stream, args, drawn in ((Terminal(), [], True), (Terminal(), ["--no-progress"], False),
                                (io.StringIO(), [], False)):
        monkeypatch.setattr("sys.stderr", stream)
        assert main(["--db", url, "report", "--question", "visit", *args]) == 0
        bar = stream.getvalue()
        assert ("report: 100%" in bar and "7/7" in bar and "alerts" in bar) == drawn, bar
        assert drawn or bar == ""
        assert json.loads(capsys.readouterr().out)["schema"] == 1       # stdout holds the report alone


def test_the_history_generator_draws_the_same_bar(tmp_path, monkeypatch):
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        made = generate(db, HistorySpec(sites=3, days=14, answers_per_day=10, seed=2))
    finally:
        db.close()
    assert made.sites == 3 and "history: 100%" in term.getvalue() and "3/3" in term.getvalue()


@pytest.mark.parametrize("command", [["fleet"], ["report"], ["alerts", "list"], ["action", "list"],
                                     ["alerts", "check", "--no-publish"], ["site", "list"],
                                     ["site", "update", "s1", "--name", "x"], ["user", "list"],
                                     ["user", "disable", "bob"], ["privacy", "show"], ["region", "list"],
                                     ["region", "assign", "north", "s1"], ["notify", "webhook", "list"],
                                     ["notify", "smtp", "show"], ["notify", "deliveries"]])
def test_reading_commands_refuse_a_missing_database_and_create_nothing(tmp_path, capsys, command):
    missing = tmp_path / "typo" / "centarl.db"
    assert main(["--db", f"sqlite:///{missing}", *command]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kiosk-central: error: no central database at {missing}") and "Traceback" not in err
    assert not missing.exists() and not missing.parent.exists()


def test_fleet_names_the_events_a_kiosk_holds_as_refused(tmp_path, capsys):
    from datetime import datetime
    from tests.central.wire import register_fleet
    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = connect(url)
    register_fleet(db)
    now = datetime(2026, 11, 27, 12, 0)
    for kiosk, payload in (("k1", '{"online": true, "rejected": 3}'), ("k2", '{"online": true}'),
                           ("k3", '{"rejected": "many"}')):
        db.execute_sql("INSERT INTO kiosk_status (kiosk_id, online, last_seen, payload) VALUES (?, ?, ?, ?)",
                       (kiosk, True, now, payload))
    db.execute_sql("UPDATE kiosk_status SET config_error = 'config version 4 refused: bad schedule'"
                   " WHERE kiosk_id = 'k2'")
    db.close()
    main(["--db", url, "fleet", "--json"])
    fleet = json.loads(capsys.readouterr().out)
    assert {k["kiosk_id"]: k["rejected"] for k in fleet["kiosks"]} == {"k1": 3, "k2": None, "k3": None, "k4": None}
    assert fleet["summary"]["rejected_total"] == 3
    main(["--db", url, "fleet"])
    out = capsys.readouterr().out
    assert "events refused for good (kept on the kiosk, see dead_letter): k1 3" in out
    # The table has no room for a refused config's reason: a line of its own says it (a review).
    assert "k2: config refused: config version 4 refused: bad schedule" in out


def test_a_kiosk_that_refused_a_pushed_config_is_flagged(tmp_path, capsys):
    """It was listed with an empty flag column and `0 flagged`, exit 0, and `fleet --flagged` left
    it out: the kiosk runs its last good config, the pushed one never reaches its customers."""
    from datetime import datetime, timezone
    from tests.central.wire import register_fleet
    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = connect(url)
    register_fleet(db)
    db.execute_sql("UPDATE kiosk SET active = 0 WHERE id IN ('k3', 'k4')")
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    for kiosk in ("k1", "k2"):
        db.execute_sql("INSERT INTO kiosk_status (kiosk_id, online, last_seen, clock_synced, config_version, payload)"
                       " VALUES (?, ?, ?, ?, ?, ?)", (kiosk, True, now, True, 2, '{"online": true}'))
    db.execute_sql("UPDATE kiosk_status SET config_error = 'config 3 refused: bad schedule' WHERE kiosk_id = 'k2'")
    db.close()
    assert main(["--db", url, "fleet", "--json"]) == 1
    fleet = json.loads(capsys.readouterr().out)
    rows = {k["kiosk_id"]: k for k in fleet["kiosks"]}
    assert fleet["summary"]["flagged"] == 1 and not rows["k1"]["flagged"]
    assert rows["k2"]["flag_kind"] == "config" and rows["k2"]["store_flag_kind"] is None
    assert main(["--db", url, "fleet", "--flagged"]) == 1
    out = capsys.readouterr().out
    assert "k2 " in out and "k1 " not in out and "1 flagged" in out
    assert "k2: config refused: config 3 refused: bad schedule" in out
