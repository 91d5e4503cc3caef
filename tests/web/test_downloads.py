"""A page's CSV download carries the figures the page shows ("downloaded as it is shown",
docs/web.md). The site page's download kept a hand-made list of the report's CSV sections and had
no rows for the kiosks' figures, the weekly changes, the change's two periods, the store's uplift,
or the actions' windows and before/after, all on the page; the overview's had none for today's
answers so far, the open and overdue counts or the fleet line; the fleet's no `silent` beside an
`online` the page reads as "not heard since"; the actions' not the level of the effect's interval.

Which of the report's parts a page shows is read from the page as rendered (each `<section id>`
that is one of the report's sections, server_sync/report/templates/report/sections/), not from a
list kept here: a report section added to a page without its rows fails here. Its figures are
checked as the report's CSV test checks the report's (test_report_csv.rowless). In process: the
page functions, then guard's own rendering and export, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from importlib.resources import files

import pytest

from seeds.history import HistorySpec, generate
from server_sync.analysis import actions as analysis_actions
from server_sync.web import guard, render
from server_sync.web.pages import fleet, lists, overview, site, sites
from tests.analysis.test_report_csv import rowless
from tests.web import in_process

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)      # the day after the generated chain's last
# The report's sections, by the ids their templates give them (`section("trends", …)`): the same
# names as the report's JSON parts they show.
REPORT_SECTIONS = {p.name.removesuffix(".html") for p in (files("server_sync.report") / "templates" / "report"
                                                          / "sections").iterdir() if p.name.endswith(".html")}


@pytest.fixture
def chain(central_db):
    generate(central_db, HistorySpec(sites=4, days=60, answers_per_day=30, dips_per_year=5, seed=5),
             progress=lambda *a: None)
    analysis_actions.add(central_db, "s002", "visit", "2026-10-20", "Ny skylt", now=NOW)     # judged
    analysis_actions.add(central_db, "s002", "visit", "2026-11-10", "Ny kassa", now=NOW)     # pending
    return central_db


def shown(build, db, path: str, query: str = "", **path_params: str) -> tuple[str, list[dict], guard.PageResult]:
    return in_process.shown(build, db, NOW, path, query, **path_params)


PAGES = {"/": (overview.build, {}), "/sites": (sites.build, {}), "/sites/s002": (site.build, {"site_id": "s002"})}


@pytest.mark.parametrize("path", PAGES)
def test_every_report_section_a_page_shows_has_all_its_figures_in_the_pages_csv(chain, path):
    build, params = PAGES[path]
    page, rows, result = shown(build, chain, path, **params)
    parts = set(re.findall(r'<section id="([a-z_]+)"', page)) & REPORT_SECTIONS
    assert parts, "the page shows none of the report's sections"
    report = result.data["report"]
    missing = [m for m in (rowless(report, rows, part) for part in sorted(parts)) if m]
    assert not missing, f"{path} shows {sorted(parts)}; its CSV lacks: {missing}"


def test_the_site_pages_csv_has_the_rows_the_report_of_the_site_has_for_what_it_shows(chain):
    """The sections the statistician found missing, with the report's own rows (not made again)."""
    from server_sync.report.tabular import csv_rows
    page, rows, result = shown(site.build, chain, "/sites/s002", site_id="s002")
    assert {"kiosk", "weekly_change", "site_uplift", "change_previous", "change_current", "action_window",
            "action_before", "action_after"} <= {r["section"] for r in rows}
    kiosk = next(r for r in rows if r["section"] == "kiosk")
    assert kiosk["site_name"] in page                          # the kiosk's id, shown in the page's kiosk table
    report_rows = [{k: "" if v is None else str(v) for k, v in r.items()} for r in csv_rows(result.data["report"])]
    assert all(r in report_rows for r in rows)
    # Not what the page does not show: one site's "ranking" (rank 1 of 1), its pulse, the period's alerts.
    assert not {r["section"] for r in rows} & {"ranking", "pulse_employee", "pulse_customer", "correlation", "alert"}


def test_the_overviews_csv_has_todays_answers_and_the_alerts_and_fleet_counts_it_shows(chain):
    page, rows, result = shown(overview.build, chain, "/")
    data = result.data
    counts = {(r["section"], r["question_id"], r["metric"]): int(r["value"]) for r in rows
              if r["section"] in ("today", "open_alerts", "overdue", "fleet")}
    assert counts == {("today", q, "answers"): n for q, n in data["today"]["by_question"].items()} | {
        ("today", "", "answers"): data["today"]["total"], ("open_alerts", "", "alerts"): data["open_alerts"]["count"],
        ("overdue", "", "alerts"): data["overdue"]["alert_count"],
        ("overdue", "", "actions"): data["overdue"]["action_count"],
        ("fleet", "", "kiosks"): data["fleet"]["kiosks"], ("fleet", "", "online"): data["fleet"]["online"],
        ("fleet", "", "flagged"): data["fleet"]["flagged"], ("fleet", "", "awaited"): data["fleet"]["awaited"]}
    assert f'data-today="{data["today"]["total"]}"' in page
    # The summary card's change, and the two periods it is the difference of.
    assert {"summary", "daily", "change", "change_previous", "change_current"} <= {r["section"] for r in rows}
    assert "weekly" not in {r["section"] for r in rows}       # the overview draws no weekly figures


def test_the_actions_csv_says_the_level_of_the_effects_interval_the_page_heads_it_with(chain):
    page, rows, result = shown(lists.actions, chain, "/actions")
    assert "99% interval" in page
    assert rows and {r["confidence"] for r in rows} == {"0.99"}


def test_the_fleet_csv_says_a_kiosk_whose_status_says_online_was_not_heard_from(central_db):
    """The page reads such a kiosk as "unknown – not heard since …" and does not count it as
    reporting; the CSV said only `online` 1. Through the real page: its status said online a day
    ago and nothing since."""
    from datetime import timedelta
    from tests.central.wire import NOW as WIRE_NOW, register_fleet
    register_fleet(central_db, kiosks=(("k1", "s1"), ("k2", "s1")))
    p = central_db.param
    for kiosk, seen in (("k1", WIRE_NOW - timedelta(days=1)), ("k2", WIRE_NOW)):
        central_db.execute_sql(f"INSERT INTO kiosk_status (kiosk_id, online, last_seen, clock_synced, payload)"
                               f" VALUES ({p}, {p}, {p}, {p}, {p})", (kiosk, True, seen.replace(tzinfo=None), True, "{}"))
    _page, rows, _result = in_process.shown(fleet.build, central_db, WIRE_NOW, "/fleet")
    said = {r["kiosk_id"]: (r["online"], r["silent"]) for r in rows}
    assert said == {"k1": ("1", "1"), "k2": ("1", "0")}


def test_the_site_pages_comments_kiosks_and_alerts_link_to_their_list_pages_for_the_site(chain):
    """The site page's CSV is the report's rows; its comments, kiosks' health and alerts are lists
    of their own (docs/web.md): each section links to its list page for the site, whose download
    holds every row of the site the section shows (and more: every comment, not the last ten)."""
    from seeds.comments import add_comments
    from server_sync.web.pages import comments
    add_comments(chain, share=0.5)
    p = chain.param
    for s in ("s001", "s002", "s002"):
        chain.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from,"
                          f" window_to, n, negative, message) VALUES ({p}, 'visit', 'realtime', {p}, {p}, {p}, {p},"
                          f" 8, 6, 'six of eight')", (s, *[NOW.replace(tzinfo=None)] * 4))
    page, _rows, result = shown(site.build, chain, "/sites/s002", site_id="s002")
    data = result.data
    assert len(data["comments"]) == 10 and len(data["kiosks"]) == 2 and len(data["alerts"]) == 2
    assert 'href="/actions?site=s002"' in page                # the period's actions above, every one there
    for path, build, key, ident in (("/comments", comments.build, "comments", "id"),
                                    ("/fleet", fleet.build, "kiosks", "kiosk_id"), ("/alerts", lists.alerts, "alerts", "id")):
        assert f'href="{path}?site=s002"' in page, path
        _page, rows, _listed = shown(build, chain, path, "site=s002")
        assert {r["site_id"] for r in rows} == {"s002"}, path
        if key != "comments":                  # the comments' CSV has no id column: by their text and time
            assert {str(x[ident]) for x in data[key]} <= {r[ident] for r in rows}, path
        else:
            assert {(c["local_time"], c["comment"]) for c in data[key]} <= {(r["local_time"], r["comment"]) for r in rows}
            assert len(rows) > len(data[key])


def test_a_long_alert_list_says_it_is_cut_and_its_download_and_counts_hold_every_alert(chain):
    """The alerts page, its download and `alerts list` stopped at the newest 500 without a word,
    and the overview counted open alerts up to 1,000. The page lists the newest 500 and says how
    many there are; the download and the overview's count have them all."""
    import json
    from server_sync.workflow.alerts import count_alerts, list_alerts
    p, at = chain.param, NOW.replace(tzinfo=None)
    chain.execute_sql("DELETE FROM alert")
    with chain.atomic():
        for s in ("s002", "s003"):
            for _ in range(501):
                chain.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from,"
                                  f" window_to, n, negative, message) VALUES ({p}, 'visit', 'realtime', {p}, {p}, {p},"
                                  f" {p}, 8, 6, 'six of eight')", (s, at, at, at, at))
    page, _rows, result = shown(lists.alerts, chain, "/alerts", "site=s002")
    assert page.count('<tr id="alert-') == lists.ALERTS_LISTED == 500
    from openpyxl import load_workbook
    for fmt in ("csv", "xlsx", "json"):        # a download is built for its format: every alert
        v = in_process.visit(chain, NOW, "/alerts", f"site=s002&format={fmt}")
        body = guard.export(v, lists.alerts(v), fmt).body
        assert (len(list(csv.DictReader(io.StringIO(body.decode())))) if fmt == "csv"
                else load_workbook(io.BytesIO(body)).active.max_row - 1 if fmt == "xlsx"
                else len(json.loads(body)["alerts"])) == 501, fmt
    assert "Showing the newest 500 of 501; the downloads hold them all." in page
    page, rows, _ = shown(lists.alerts, chain, "/alerts", "site=s003&state=closed")
    assert rows == [] and "Showing the newest" not in page
    assert len(list_alerts(chain, sites=("s002", "s003"))) == 1002 == count_alerts(chain, state="active")
    assert len(list_alerts(chain, sites=("s003",), limit=7)) == 7 and count_alerts(chain, sites=()) == 0
    _page, rows, result = shown(overview.build, chain, "/")
    assert result.data["open_alerts"]["count"] == 1002
    assert {(r["section"], r["value"]) for r in rows if r["section"] == "open_alerts"} == {("open_alerts", "1002")}


def test_a_downloads_name_says_what_it_is_of_and_its_time_in_utc(chain):
    """`kundpuls-site-20261206-1236.csv` for every store: two stores' downloads were told apart by
    their minute alone, and the minute was UTC without saying so."""
    for build, path, query, params, want in (
            (site.build, "/sites/s002", "", {"site_id": "s002"}, "kundpuls-site-s002-20261123-1200Z"),
            (lists.alerts, "/alerts", "site=s003", {}, "kundpuls-alerts-s003-20261123-1200Z"),
            (overview.build, "/", "", {}, "kundpuls-overview-20261123-1200Z")):
        v = in_process.visit(chain, NOW, path, query, **params)
        result = build(v)
        for fmt, ext in (("csv", "csv"), ("xlsx", "xlsx"), ("json", "json"), ("report", "html")):
            got = guard.export(in_process.visit(chain, NOW, path, "&".join(q for q in (query, f"format={fmt}") if q),
                                                **params), result, fmt).headers["content-disposition"]
            name = want.replace(want.split("-")[1], "report") if fmt == "report" else want
            assert got == f'attachment; filename="{name}.{ext}"', (path, fmt, got)


def test_the_sites_pages_downloads_hold_the_customer_questions_it_shows_not_the_pulse(chain):
    """/sites draws the ranking of the customer questions; its CSV and JSON also held the employee
    pulse's ranking, which the page never shows."""
    import json
    page, rows, result = shown(sites.build, chain, "/sites")
    employee = {q["id"] for q in result.data["report"]["questions"] if q["audience"] == "employee"}
    assert employee, "the chain asks its staff the pulse"
    assert {r["question_id"] for r in rows if r["section"] in ("ranking", "site")} and \
        not {r["question_id"] for r in rows} & employee
    v = in_process.visit(chain, NOW, "/sites", "format=json")
    data = json.loads(guard.export(v, sites.build(v), "json").body)
    assert not {r["question_id"] for r in data["ranking"] + data["sites"]} & employee


def test_an_alerts_page_downloads_its_text_in_the_readers_language(chain):
    """The alert page's JSON had the English message and the rule's facts, not the text the page
    shows; it has it now, and the time on the site's clock, as the alerts list's download has."""
    import json
    from server_sync.web.pages import workflow
    p, at = chain.param, NOW.replace(tzinfo=None)
    detail = json.dumps({"v": 1, "rule": "trend", "question": "visit", "metric": "happy_index", "drop": 6.25,
                         "baseline_days": 28, "n": 410, "p_value": 0.00123})
    chain.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from, window_to,"
                      f" n, negative, message, detail) VALUES ('s002', 'visit', 'trend', {p}, {p}, {p}, {p}, 410, 90,"
                      f" 'English words', {p})", (at, at, at, at, detail))
    alert_id = chain.execute_sql("SELECT MAX(id) FROM alert").fetchone()[0]
    v = in_process.visit(chain, NOW, f"/alerts/{alert_id}", "format=json", "sv", alert_id=alert_id)
    data = json.loads(guard.export(v, workflow.alert_page.page(v), "json").body)["alert"]
    assert "6,3 poäng" in data["text"] and data["message"] == "English words"
    assert data["raised_local"].startswith("2026-11-23 13:00")


@pytest.mark.parametrize("path", ["/", "/sites", "/sites/s002"])
def test_the_excel_download_is_the_csvs_table_with_numbers_as_numbers_and_text_as_text(chain, path):
    """A CSV opened in a Swedish Excel lands in one column and reads "SÃ¶dermalm": the workbook
    holds the same table, its numbers as numbers, a formula-like text as text (no apostrophe)."""
    from openpyxl import load_workbook
    chain.execute_sql("UPDATE site SET name = '=HYPERLINK(\"http://x\")Söder' WHERE id = 's002'")
    build = {"/": overview.build, "/sites": sites.build, "/sites/s002": site.build}[path]
    params = {"site_id": "s002"} if path == "/sites/s002" else {}
    v = in_process.visit(chain, NOW, path, **params)
    result = build(v)
    columns, rows = result.csv(result.data)
    want = list(csv.reader(io.StringIO(render.to_csv(columns, rows))))
    response = guard.export(in_process.visit(chain, NOW, path, "format=xlsx", **params), result, "xlsx")
    assert response.media_type == guard.XLSX_TYPE
    sheet = load_workbook(io.BytesIO(response.body)).active
    got = [[c for c in row] for row in sheet.iter_rows()]
    assert [c.value for c in got[0]] == want[0] and len(got) == len(want) > 1
    numbers = texts = 0
    for cells, line in zip(got[1:], want[1:]):
        for cell, text in zip(cells, line):
            if cell.value is None:
                assert text == ""
            elif cell.data_type == "n":
                assert float(text) == pytest.approx(cell.value, rel=1e-14)     # the CSV's number (Excel keeps 15 digits)
                numbers += 1
            else:
                assert cell.data_type == "s" and text in (cell.value, "'" + cell.value), (cell.value, text)
                texts += 1
    assert numbers and texts
    if path != "/":
        assert any(c.value == '=HYPERLINK("http://x")Söder' and c.data_type == "s" for row in got for c in row)


def test_the_overviews_open_alerts_link_lists_what_it_counts(chain):
    """"Open alerts (10)" counted the acknowledged ones too, and its link listed the 9 open ones
    (a review): it links to the list of open or acknowledged alerts, the same count."""
    from server_sync.workflow import alerts as workflow_alerts
    p, at = chain.param, NOW.replace(tzinfo=None)
    for state in ("open", "acknowledged", "closed"):
        chain.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from,"
                          f" window_to, n, negative, message, state) VALUES ('s002', 'visit', 'realtime', {p}, {p},"
                          f" {p}, {p}, 8, 6, 'six of eight', {p})", (at, at, at, at, state))
    page, _rows, result = shown(overview.build, chain, "/")
    assert '<a href="/alerts?state=active">' in page
    count = result.data["open_alerts"]["count"]
    listed, _rows, _ = shown(lists.alerts, chain, "/alerts", "state=active")
    assert count == listed.count('<tr id="alert-') == workflow_alerts.count_alerts(chain, state="active") >= 2


def test_an_actions_closing_is_shown_on_the_stores_clock(chain):
    """"(2026-12-07)", UTC's date, for an action closed at 19:32 the 6th in Los Angeles (a review)."""
    from server_sync.web.pages import workflow
    chain.execute_sql("UPDATE site SET timezone = 'America/Los_Angeles' WHERE id = 's002'")
    (action_id,) = chain.execute_sql("SELECT MIN(id) FROM action WHERE site_id = 's002'").fetchone()
    chain.execute_sql(f"UPDATE action SET closed_at = {chain.param}, verdict = 'worse' WHERE id = {chain.param}",
                      (datetime(2026, 12, 7, 3, 32), action_id))
    v = in_process.visit(chain, NOW, f"/actions/{action_id}", action_id=str(action_id))
    page = guard._respond(v, workflow.action_page.page(v)).body.decode()
    assert '>2026-12-06</span> <span class="nowrap">19:32 PST</span></time>)' in page


def test_a_close_whose_second_sending_read_the_alert_open_lands_where_the_first_did(chain):
    """A double click sends the close twice at once: the second read the alert open, the first
    closed it meanwhile, and the second answered "could not be saved" (400) of a close that went
    through (a review). It lands where the first did; another close is still refused."""
    import pytest
    from server_sync.exc import FieldError
    from server_sync.web.pages import workflow
    from server_sync.workflow import alerts as workflow_alerts
    p, at = chain.param, NOW.replace(tzinfo=None)
    chain.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from, window_to,"
                      f" n, negative, message, state) VALUES ('s002', 'visit', 'realtime', {p}, {p}, {p}, {p}, 8, 6,"
                      " 'TWICE', 'open')", (at, at, at, at))
    (alert_id,), = chain.execute_sql("SELECT id FROM alert WHERE message = 'TWICE'").fetchall()
    read_open = workflow_alerts.require(chain, alert_id, NOW)
    workflow_alerts.close(chain, alert_id, "none", "ada-admin", NOW, reason="A one-off")     # the first sending
    close = workflow.alert_close.__wrapped__.__wrapped__      # the form's own step, after scope and CSRF
    v = in_process.visit(chain, NOW, f"/alerts/{alert_id}/close", alert_id=str(alert_id))
    landed = close(v, read_open, {"outcome": "none", "reason": "A one-off"})
    assert landed.status_code == 303 and landed.headers["location"] == f"/alerts/{alert_id}"
    with pytest.raises(FieldError, match="closed already"):
        close(v, read_open, {"outcome": "none", "reason": "Another reason"})
