"""Every figure of the JSON report has a row with its value in the CSV (defect 4: `change` and
`action` rows had an empty value; alerts, best-vs-rest and the correlation had no rows at all).

The test walks the JSON generically, so a figure added to the report later without a CSV row
fails here: a figure is every number in the JSON (an estimate, a count, a share, a rank and its
change, a rate) except the few that describe another (`NOT_FIGURES`: its n, its interval's ends
and p-value, a cell's weekday and hour, ids) and the alerts' stored facts (`detail`). Until
2026-12-04 only one number per object counted, and the CSV had no row for 29 kinds of figure
(a ranking's raw value, a day's CSAT, a heatmap cell's negative share, Pareto's cumulative share,
an uplift's two ends, counts of negative answers, …). Until 2026-12-06 only numbers counted, and
the words and dates a reader needs had none either (a ranking's `vs_leader`, a pending action's
`days_observed`, an action's baseline, after-window and dip start): a figure is now also every
word and date in the JSON (`text_figures`) except the labels (`LABELS`: ids, names, notes, the
metric, and those in a row's key: a day, a verdict, a week and its days, an alert's time)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timezone

import pytest

from seeds.history import HistorySpec, generate
from server_sync.analysis import actions, alerts, chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.central.db import connect
from server_sync.report import tabular
from server_sync.report.tabular import render_csv

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
# Numbers that describe a figure rather than being one (they sit in its row's other columns).
# (best_vs_rest's `rest_sites`, `…_sites_with_reasons` and `share_splits` are figures: until
# 2026-12-07 they were listed here, and the CSV had no row for them.)
NOT_FIGURES = {"n", "low", "high", "previous_low", "previous_high", "p_value", "weekday", "hour", "id", "alert_id",
               "rank", "complaints", "best_answers", "rest_answers", "best_mentions", "rest_mentions",
               "share_p_value"}
# Words and dates that label a figure rather than being one: ids and names (their own columns), a
# note, a message, the metric and the scale (the `metric` column), the test's and the method's
# names, times kept as stamps, and those in a row's key (a daily row's date, an action's date and
# verdict, a week, a partial week's days, an alert's raise). Per part: a week's Monday (`from`,
# named by its ISO week in the key), where an action's `from` is its window's first day, a figure.
LABELS = {"question_id", "series_id", "site_id", "name", "site_name", "kiosk_id", "reason", "note", "message",
          "metric", "scale", "audience", "kind", "test", "method", "timezone", "created_at", "raised_at",
          "raised_local", "last_seen_at", "acked_at", "ack_comment", "date", "week", "first_day",
          "last_day"}
PART_LABELS = {"trends": {"from"}}
# Which CSV sections hold the figures of each part of the JSON: the report's own list, which the
# web app's downloads take theirs from (so it is checked here, not copied).
SECTIONS = {part: set(sections) for part, sections in tabular.PART_SECTIONS.items()}


def text_figures(node: object, labels: set[str]) -> list[str]:
    """Every word and date under `node` that is a figure (see the module's docstring)."""
    out = []
    if isinstance(node, dict):
        for key, v in node.items():
            if key in labels or key == "detail":
                continue
            if isinstance(v, str):
                out.append(v)
            else:
                out += text_figures(v, labels)
    elif isinstance(node, list):
        for v in node:
            out += [v] if isinstance(v, str) else text_figures(v, labels)
    return out


def number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def figures(node: object) -> list[float]:
    """Every figure under `node` (see the module's docstring)."""
    out = []
    if isinstance(node, dict):
        for key, v in node.items():
            if key in NOT_FIGURES or key == "detail":
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(float(v))
            else:
                out += figures(v)
    elif isinstance(node, list):
        for v in node:
            out += figures(v)
    return out


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    db = connect(f"sqlite:///{tmp_path_factory.mktemp('csv') / 'central.db'}")
    try:
        result = generate(db, HistorySpec(sites=6, days=120, answers_per_day=30, dips_per_year=5, seed=5))
        actions.add(db, "s002", "visit", "2026-10-01", "Självscanning", now=NOW)
        actions.add(db, "s002", "visit", "2026-10-01", "Ny kassa", now=NOW)          # the same site and day
        actions.add(db, "s003", "visit", "2026-11-10", "Ny skylt", now=NOW)          # still pending
        for dip in result.dips:                                   # alerts on the seeded dips' days
            if dip["to"] >= "2026-09-24":
                alerts.check_trend(db, datetime.fromisoformat(dip["to"] + "T16:00:00+00:00"))
        whole = chain_report.build(db, ReportFilter(date_from="2026-09-24", date_to="2026-11-22"), now=NOW)
        one = chain_report.build(db, ReportFilter(sites=("s002",)), now=NOW)
        yield whole, one
    finally:
        db.close()


def test_the_report_has_every_kind_of_figure(reports):
    whole, one = reports
    assert whole["alerts"] and whole["pulse"]["correlation"] and whole["actions"]
    assert {r["vs_leader"] for r in whole["ranking"]} >= {"leader", "no_detectable_difference", "below_leader"}
    assert {r["rank_change_verdict"] for r in whole["ranking"]} >= {"moved", "within_noise"}
    assert {a["verdict"] for a in whole["actions"]} >= {"pending", "no_detectable_effect"}
    assert {a["dip"]["source"] for a in whole["actions"]} >= {"alert", "series"}
    assert any(d["best_vs_rest"] and d["best_vs_rest"]["reasons"] for d in whole["drivers"])
    assert any(tr["change"]["test"] for tr in whole["trends"]) and one["kiosks"]


def rowless(report: dict, rows: list[dict], part: str) -> str:
    """What of the report's `part` has no row among `rows` (the CSV read back) in the part's
    sections: "" when every figure, word and date has one. The web app's downloads are checked
    with it too (tests/web/test_downloads.py), for the parts their pages show."""
    values = [r["value"] for r in rows if r["section"] in SECTIONS[part] and r["value"] != ""]
    have = Counter(round(number(v), 6) for v in values if number(v) is not None)
    want = Counter(round(v, 6) for v in figures(report[part]))
    missing = want - have
    if missing:
        return f"{part}: {sum(missing.values())} of {sum(want.values())} figures have no CSV row" \
               f" (e.g. {list(missing)[:5]})"
    have_text = Counter(v for v in values if number(v) is None)
    want_text = Counter(text_figures(report[part], LABELS | PART_LABELS.get(part, set())))
    missing_text = want_text - have_text
    if missing_text:
        return f"{part}: {sum(missing_text.values())} of {sum(want_text.values())} words and dates have no CSV" \
               f" row (e.g. {list(missing_text)[:5]})"
    return ""


@pytest.mark.parametrize("which", [0, 1])
def test_every_figure_of_the_json_has_a_csv_row_with_its_value(reports, which):
    report = reports[which]
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert {r["section"] for r in rows} <= set().union(*SECTIONS.values())
    for part in SECTIONS:
        assert not rowless(report, rows, part)
    empty = [r for r in rows if r["value"] == ""]
    assert empty == [], f"{len(empty)} CSV rows without a value, e.g. {empty[:3]}"


def test_each_action_has_rows_of_its_own(reports):
    """Two actions of one site and day (the same date and verdict) are told apart by their rows'
    key, which carries the action's id as an alert's does: keyed by date and verdict their rows
    interleaved, one verdict row per key for two actions."""
    whole, _ = reports
    rows = tabular.csv_rows(whole)
    verdicts = [r["key"] for r in rows if r["section"] == "action" and r["metric"] == "verdict"]
    assert len(verdicts) == len(set(verdicts)) == len(whole["actions"])
    same_day = [a for a in whole["actions"] if (a["site_id"], a["date"]) == ("s002", "2026-10-01")]
    assert len(same_day) == 2
    for a in same_day:
        mine = [r for r in rows if r["section"].startswith(("action", "control")) and r["key"].endswith(f"#{a['id']}")]
        assert {r["section"] for r in mine} >= {"action", "action_window", "action_before", "action_after"}
        assert {r["value"] for r in mine if r["metric"] == "verdict"} == {a["verdict"]}


def test_every_csv_section_is_documented():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "analysis.md").read_text(encoding="utf-8")
    csv_part = doc[doc.index("## CSV"):doc.index("## HTML")]
    assert [s for s in sorted(set().union(*SECTIONS.values())) if f"`{s}`" not in csv_part] == []


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_text(reports):
    """A site named "=HYPERLINK(…)" (names are typed by people) is a text cell in the report's CSV,
    as in the web's downloads and the kiosk's export; the figures stay numbers ("-3.2")."""
    whole, _ = reports
    name, first = '=HYPERLINK("https://evil.example","Öppna")', whole["sites"][0]["site_id"]
    sites = [dict(s, name=name) if s["site_id"] == first else s for s in whole["sites"]]
    rows = list(csv.DictReader(io.StringIO(render_csv({**whole, "sites": sites}))))
    named = [r for r in rows if r["site_id"] == first and r["section"] == "site"]
    assert named and all(r["site_name"] == "'" + name for r in named)
    assert any(r["value"].startswith("-") for r in rows)            # a negative figure is not made text
    assert not any(r["value"].startswith("'") for r in rows)


def test_praise_has_a_pareto_of_its_own_in_the_json_the_csv_and_the_page(central_db):
    """A question asked why after every answer (`followup.mode = "every"`): the happy customers'
    reasons are praise, in a Pareto, CSV rows and a chart of their own; the Pareto of complaints
    (and the CSV's `pareto` rows) count only the unhappy ones."""
    from server_sync.report import html
    from tests.analysis.seeding import add_question, add_site, answer, commit
    db = central_db
    add_site(db, "s1")
    add_question(db)
    rows = [answer("s1", datetime(2026, 11, 20, 10, m), v) for m, v in enumerate([1, 2, 2] + [4] * 8)]
    commit(db, rows, reasons={**{r["id"]: ["queue"] for r in rows[:3]}, **{r["id"]: ["staff"] for r in rows[3:]},
                              rows[3]["id"]: ["staff", "queue"]})
    report = chain_report.build(db, ReportFilter(date_from="2026-11-16", date_to="2026-11-22"), now=NOW)
    d = report["drivers"][0]
    assert [(r["reason"], r["n"]) for r in d["pareto"]] == [("queue", 3)]
    assert [(r["reason"], r["n"], r["share"]) for r in d["praise"]] == [("staff", 8, 88.8889), ("queue", 1, 11.1111)]
    rows_csv = [r for r in tabular.csv_rows(report) if r["section"] in ("pareto", "praise")]
    assert {(r["section"], r["key"], r["metric"], r["n"]) for r in rows_csv} == {
        ("pareto", "queue", "share", 3), ("pareto", "queue", "cumulative_share", 3),
        ("praise", "staff", "share", 8), ("praise", "staff", "cumulative_share", 8),
        ("praise", "queue", "share", 1), ("praise", "queue", "cumulative_share", 1)}
    # The web app's site page draws the drivers section: its CSV download has the praise too.
    from server_sync.web.pages import site
    assert {"pareto", "praise"} <= {r["section"] for r in site.table({"report": report})[1]}
    page = html.render(report, "sv")
    assert 'data-chart="pareto-visit"' in page and 'data-chart="praise-visit"' in page
    assert "Beröm per skäl (Pareto)" in page and "Klagomål per skäl (Pareto)" in page


def test_a_heatmap_cells_key_is_not_read_as_a_date(reports):
    """The key was "1-08" (weekday 1, 08:00), which a spreadsheet turns into the 8th of January;
    it is "tue 08", one row per cell of the JSON, each weekday by its own code."""
    whole, _ = reports
    cells = {(hm["question_id"], c["weekday"], c["hour"]) for hm in whole["heatmap"] for c in hm["cells"]}
    rows = [r for r in tabular.csv_rows(whole) if r["section"] == "heatmap"]
    keys = {(r["question_id"], r["key"]) for r in rows}
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    assert keys == {(q, f"{days[w]} {h:02d}") for q, w, h in cells}
    assert {k.split()[0] for _, k in keys} == set(days)


def test_best_vs_rest_counts_have_rows_and_a_huge_count_of_splits_stays_exact(reports):
    """best_vs_rest's rest_sites, best/rest_sites_with_reasons and share_splits had no CSV or
    workbook row (the docs say every figure has one). share_splits, the ways to choose the best
    quarter, passes 2^63 for a chain of hundreds of sites: a text, exact in the workbook too."""
    from openpyxl import load_workbook
    whole, _ = reports
    drivers = [dict(d, best_vs_rest=dict(d["best_vs_rest"], share_splits=2 ** 70 + 1)) if d.get("best_vs_rest")
               and d["best_vs_rest"].get("share_splits") is not None else d for d in whole["drivers"]]
    report = {**whole, "drivers": drivers}
    rows = [r for r in tabular.csv_rows(report) if r["section"] == "best_vs_rest"]
    assert {r["metric"] for r in rows} >= {"rest_sites", "best_sites_with_reasons", "rest_sites_with_reasons",
                                           "share_splits"}
    assert {r["value"] for r in rows if r["metric"] == "share_splits"} == {str(2 ** 70 + 1)}
    book = load_workbook(io.BytesIO(tabular.render_xlsx(report)), read_only=True)
    cells = [row for row in book["best_vs_rest"].iter_rows(values_only=True) if "share_splits" in row]
    assert cells and all(str(2 ** 70 + 1) in row for row in cells)
