"""The employee pulse's daily line ran straight across the days privacy leaves out (fewer answers
than the minimum group), nothing marking them. It breaks there now (no line or band across a
missing day or week) and the report says, in the reader's language, that such days are hidden.
A pulse whose every day is left out but not its weeks shows its weekly line, table and changes."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest

from server_sync.analysis import chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.central.db import connect
from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.report import html, svg
from server_sync.report.i18n import t
from server_sync.web import render
from server_sync.web.pages import overview, site
from tests.analysis.seeding import add_question, add_site, answer, commit
from tests.web import in_process

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)

DAYS = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-09", "2026-11-10", "2026-11-12"]
DAILY = [{"date": d, "value": 70.0 + i, "low": 60.0 + i, "high": 80.0 + i, "n": 6, "small": False} for i, d in enumerate(DAYS)]
WEEKLY = [{"week": "2026-W45", "from": "2026-11-02", "first_day": "2026-11-02", "last_day": "2026-11-08", "value": 71.0, "partial": False,
           "n": 18}, {"week": "2026-W47", "from": "2026-11-16", "first_day": "2026-11-16", "last_day": "2026-11-22",
                      "value": 73.0, "n": 18, "partial": False}]


def _chart() -> str:
    return str(svg.trend_chart("tr", "Trend", DAILY, WEEKLY, (0, 100), "–", ("d", "w", "b"), lang="sv"))


def _xs(points: str) -> list[float]:
    return [float(p.split(",")[0]) for p in points.split()]


def test_the_line_and_the_band_break_at_a_missing_day():
    """For every question: an employee day privacy left out, or a day without answers (a closed
    store: a line across it read as answers that day)."""
    chart = _chart()
    day = (480 - 34 - 10) / 10                          # the plot's width over the period's 10 days
    lines = re.findall(rf'<polyline points="([^"]+)" fill="none" stroke="{svg.BLUE}"', chart)
    assert [len(_xs(p)) for p in lines] == [3, 2]       # 2-4 Nov, 9-10 Nov; 12 Nov alone is a dot
    assert all(b - a <= day + 0.2 for p in lines for a, b in zip(_xs(p), _xs(p)[1:]))
    assert len(re.findall(rf'<circle [^>]*fill="{svg.BLUE}"', chart)) == 1
    assert len(re.findall(r"<polygon ", chart)) == 3
    # The weeks 45 and 47 with week 46 left out: no weekly line across it, each week a dot.
    assert not re.search(rf'stroke="{svg.ORANGE}"', chart)
    assert len(re.findall(rf'<circle [^>]*fill="{svg.ORANGE}"', chart)) == 2


def test_an_employee_trend_says_its_small_days_are_hidden():
    report = {"filters": {"min_employee_group": 5}, "questions": [
        {"id": "pulse", "audience": "employee", "scale": "smiley4", "text": {}},
        {"id": "visit", "audience": "customer", "scale": "smiley4", "text": {}}],
        "trends": [{"question_id": q, "metric": "happy_index", "daily": DAILY, "weekly": [], "change": None}
                   for q in ("pulse", "visit")],
        "summary": [], "generated_at": "2026-11-23T12:00:00+00:00", "pulse": {"sites": []}}
    for lang in LANGUAGES:
        page = html.ENV.get_template("report/sections/trends.html").render(html.context(report, lang))
        note = t("days_hidden", lang, n=5)
        assert page.count(note) == 1, lang
        pulse = page[page.index('data-chart="trend-pulse"'):page.index('data-chart="trend-visit"')]
        assert note in pulse, lang


# A store whose colleagues answer the pulse 3-4 times a day: every day under the minimum group,
# every week over it (a review's s002: summary 74.0, n=32, weeks of 6-10, the trend "No answers").
PULSE_FACES = [[2, 3, 3], [3, 2, 3, 4], [3, 3, 2], [2, 3, 2, 3],        # W45: Monday 2 November on
               [4, 4, 3, 4], [4, 3, 4], [4, 4, 4, 3], [3, 4, 4]]        # W46: 9 November on


@pytest.fixture
def weeks_only(central_db):
    return _weeks_only(central_db)


def _weeks_only(db):
    add_site(db, "s1")
    add_question(db)
    add_question(db, "pulse", audience="employee")
    days = [date(2026, 11, 2) + timedelta(days=k) for k in (0, 1, 3, 4, 7, 8, 10, 11)]
    rows = [answer("s1", datetime(d.year, d.month, d.day, 19, 30 + i), v, question="pulse", audience="employee")
            for d, faces in zip(days, PULSE_FACES) for i, v in enumerate(faces)]
    rows += [answer("s1", datetime(2026, 11, 2 + k % 14, 10, k % 60), 1 + k % 4) for k in range(140)]
    commit(db, rows)
    return db


def _pulse_trend(page: str) -> str:
    """The pulse's trend: its chart, notes and tables, up to the next question's or section."""
    start = page.index('data-chart="trend-pulse"')
    ends = [i for i in (page.find("<h3>", start), page.find("</section>", start)) if i >= 0]
    return page[start:min(ends)]


def test_a_pulse_of_small_days_and_large_weeks_shows_its_weeks(weeks_only):
    """Every day of the pulse is left out (3-4 answers), its two weeks (14 each) are not: the trend
    drew "No answers in the period" beside a summary of n = 28, and the weekly table and the
    week's change were in the JSON only. Now the weekly line, table and change are shown, and
    the note says why the days are not."""
    period = ReportFilter(date_from="2026-11-02", date_to="2026-11-15")
    report = chain_report.build(weeks_only, period, now=NOW)
    trend = next(tr for tr in report["trends"] if tr["question_id"] == "pulse")
    assert trend["daily"] == [] and [w["n"] for w in trend["weekly"]] == [14, 14]
    assert trend["weekly"][1]["change"] is not None
    pages = {lang: html.render(report, lang) for lang in LANGUAGES}
    pages["web"] = in_process.shown(site.build, weeks_only, NOW, "/sites/s1", "from=2026-11-02&to=2026-11-15",
                                    site_id="s1")[0]
    for lang, page in pages.items():
        lang = "en" if lang == "web" else lang
        pulse = _pulse_trend(page)
        assert t("no_data", lang) not in pulse, lang
        assert t("days_hidden", lang, n=5) in pulse, lang
        assert re.search(rf'<polyline points="[^"]+" fill="none" stroke="{svg.ORANGE}"', pulse), lang
        assert 'id="trend-table-pulse"' in pulse and ">2026-W46</th>" in pulse, lang
        assert t("p_value", lang) in pulse, lang            # the week's change
    # The overview's sparkline has no weeks to draw: it says why it has no line.
    for lang in LANGUAGES:
        page = in_process.shown(overview.build, weeks_only, NOW, "/", "from=2026-11-02&to=2026-11-15", lang=lang)[0]
        spark = page[page.index('data-chart="spark-pulse"'):]
        spark = spark[:spark.index("</svg>")]
        assert render.text("sparkline_days_hidden", lang, n=5) in spark and t("no_data", lang) not in spark, lang


def test_a_pulse_of_weeks_only_in_a_screenshot(tmp_path):
    """The report of that store at a phone's width, kept with the report's other screenshots
    (tests/artifacts/report/): the weekly line alone, its chart's text legible."""
    from tests.analysis.test_html_report import ARTIFACTS, full_page_screenshot
    from tests.web.test_browser import LEGIBLE_PX, SMALL_CHART_TEXT_JS, browser
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        report = chain_report.build(_weeks_only(db), ReportFilter(date_from="2026-11-02", date_to="2026-11-15"),
                                    now=NOW)
    finally:
        db.close()
    page = tmp_path / "report.html"
    page.write_text(html.render(report, "en"), encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot, small = ARTIFACTS / "report-pulse-weeks-only-phone.png", []
    driver = browser()
    try:
        full_page_screenshot(driver, page.as_uri(), shot, 412,
                             lambda: small.extend(driver.execute_script(SMALL_CHART_TEXT_JS, LEGIBLE_PX)))
    finally:
        driver.quit()
    assert shot.stat().st_size > 20_000 and small == []


def test_the_overviews_pulse_line_says_its_small_days_are_hidden_when_it_has_a_line(central_db):
    """The overview's pulse line of big and small days was a few dots and a gappy line with
    nothing saying why: the note ("Days under 5 answers hidden") was shown only when no day was
    left at all. It stands under the line now, as the report's trend says it under its chart."""
    add_site(central_db, "s1")
    add_question(central_db)
    add_question(central_db, "pulse", audience="employee")
    sizes = {2: 6, 3: 3, 4: 6, 5: 6, 9: 6, 10: 3, 11: 6, 12: 6}          # 3 and 10 November left out
    rows = [answer("s1", datetime(2026, 11, day, 19, 30 + i), 2 + i % 3, question="pulse", audience="employee")
            for day, n in sizes.items() for i in range(n)]
    rows += [answer("s1", datetime(2026, 11, 2 + k % 14, 10, k % 60), 1 + k % 4) for k in range(140)]
    commit(central_db, rows)
    for lang in LANGUAGES:
        page = in_process.shown(overview.build, central_db, NOW, "/", "from=2026-11-02&to=2026-11-15", lang=lang)[0]
        card = page[page.index('data-chart="spark-pulse"'):]
        card = card[:card.index("</div>")]
        chart, after = card.split("</svg>", 1)
        assert "<polyline" in chart, lang
        assert render.text("sparkline_days_hidden", lang, n=5) in after, (lang, after)
        visit = page[page.index('data-chart="spark-visit"'):]
        assert render.text("sparkline_days_hidden", lang, n=5) not in visit[:visit.index("</div>")], lang
