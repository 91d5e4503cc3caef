"""The employee pulse's daily line ran straight across the days privacy leaves out (fewer answers
than the minimum group), nothing marking them. It breaks there now (no line or band across a
missing day or week) and the report says, in the reader's language, that such days are hidden."""

from __future__ import annotations

import re

from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.report import html, svg
from server_sync.report.i18n import t

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
