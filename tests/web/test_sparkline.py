"""The overview's sparklines: each day at its date, and today's answers so far not their end.
A review found the last point, the one with the dot and the value written beside it, was today's
unfinished day (n = 2, NPS 100 against a series around 65), and the points placed by their
position in the list, so days without answers were squeezed out and a gap read as a continuous
line."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest

from server_sync.report import svg
from server_sync.web.pages import overview
from tests.analysis.seeding import add_question, add_site, answer, commit
from tests.web import in_process

W, LEFT, RIGHT = 200, 30, 30                          # the sparkline's width and side margins


def _day(d: int, value: float, n: int = 40) -> dict:
    return {"date": f"2026-11-{d:02d}", "value": value, "n": n}


def _points(chart: str) -> list[list[tuple[float, float]]]:
    """Each polyline's points."""
    return [[tuple(map(float, p.split(","))) for p in line.split()]
            for line in re.findall(r'<polyline points="([^"]+)"', chart)]


def test_days_stand_at_their_dates_and_a_day_without_answers_is_a_gap():
    # 1–3 November, nothing on the 4th and 5th (a closed store), then the 6th and 7th.
    daily = [_day(1, 60.0), _day(2, 62.0), _day(3, 61.0), _day(6, 66.0), _day(7, 64.0)]
    chart = str(svg.sparkline("s", "Trend", daily, (0, 100), "–", lang="en"))
    lines = _points(chart)
    assert len(lines) == 2, "the line runs on across the days without answers"
    step = (W - LEFT - RIGHT) / 6                     # six days from the 1st to the 7th
    assert [round(x, 1) for x, _y in lines[0] + lines[1]] == [round(LEFT + step * d, 1) for d in (0, 1, 2, 5, 6)]
    name = re.search(r"<title>(.*?)</title>", chart).group(1)
    assert name.endswith("; days without a value: 2")


def test_a_day_alone_between_gaps_is_a_dot():
    chart = str(svg.sparkline("s", "Trend", [_day(1, 60.0), _day(3, 62.0), _day(5, 61.0), _day(6, 63.0)], (0, 100),
                              "–", lang="en"))
    assert len(_points(chart)) == 1 and len(re.findall(r'<circle [^>]*r="1.6"', chart)) == 2


def test_one_day_is_its_value_once():
    """A staff question answered on one day of the period read "67 ●67"."""
    chart = str(svg.sparkline("s", "Trend", [_day(3, 67.0)], (0, 100), "–", lang="en"))
    assert re.findall(r">(\d+)</text>", chart) == ["67"]


def test_todays_partial_day_is_neither_the_end_value_nor_its_dot():
    daily = [_day(d, 64.0 + d % 3) for d in range(1, 8)] + [_day(8, 100.0, n=2)]       # the 8th: today
    chart = str(svg.sparkline("s", "Trend", daily, (-100, 100), "–", lang="en", until="2026-11-07"))
    ends = re.findall(r'<text [^>]*>([^<]+)</text>', chart)
    assert ends == ["65", "65"]                       # the 1st and the 7th; never "100"
    dot = re.search(r'<circle cx="([\d.]+)" cy="[\d.]+" r="2.5"', chart)
    assert float(dot.group(1)) == W - RIGHT           # the 7th, at the end of the line
    name = html.unescape(re.search(r"<title>(.*?)</title>", chart).group(1))
    assert name == ("Trend: 65.0 on 2026-11-01, 65.0 on 2026-11-07; lowest 64.0, highest 66.0;"
                    " today's answers so far are not drawn")


def test_a_last_whole_day_without_answers_is_a_gap_at_the_end():
    chart = str(svg.sparkline("s", "Trend", [_day(d, 70.0) for d in range(1, 6)], (0, 100), "–", lang="en",
                              until="2026-11-07"))
    (line,) = _points(chart)
    assert line[-1][0] == pytest.approx(LEFT + (W - LEFT - RIGHT) * 4 / 6, abs=0.05)


NOW = datetime(2026, 11, 29, 9, 30, tzinfo=timezone.utc)          # a Sunday morning


def test_the_overviews_sparkline_ends_with_yesterday_and_says_so(central_db):
    """Two promoters this morning after four weeks around NPS 65: the card's line ends on
    yesterday's value, the page says up to which day, and today's two answers are counted above."""
    add_site(central_db, "s1", "UTC")
    add_question(central_db, "recommend", scale="nps11")
    rows = []
    for d in range(1, 29):
        day = datetime(2026, 11, 1, 10) + timedelta(days=d - 1)
        rows += [answer("s1", day + timedelta(minutes=i), v, question="recommend", scale="nps11")
                 for i, v in enumerate([10] * 14 + [8] * 4 + [3] * 2)]        # NPS 60 every day
    rows += [answer("s1", datetime(2026, 11, 29, 8, i), 10, question="recommend", scale="nps11") for i in range(2)]
    commit(central_db, rows)
    page, rows, result = in_process.shown(overview.build, central_db, NOW, "/")
    assert result.data["period"]["to"] == "2026-11-29" and result.data["sparkline_until"] == "2026-11-28"
    start = page.index('data-chart="spark-recommend"')
    card = page[start:page.index("</svg>", start)]
    assert re.findall(r'<text [^>]*>([^<]+)</text>', card) == ["60", "60"]
    assert "60.0 on 2026-11-28" in html.unescape(card)
    assert "The lines end on 2026-11-28, the last whole day" in html.unescape(page)
    assert result.data["today"]["total"] == 2


def test_a_period_of_only_today_says_no_day_is_over_yet_not_that_there_are_no_answers(central_db):
    """`/?from=today&to=today` (or a new chain's first day): the cards count today's answers, and
    the trend says no day of the period is over yet, not "no answers in the period"."""
    add_site(central_db, "s1", "UTC")
    add_question(central_db, "recommend", scale="nps11")
    commit(central_db, [answer("s1", datetime(2026, 11, 29, 8, i), 10, question="recommend", scale="nps11")
                        for i in range(3)])
    page, _rows, result = in_process.shown(overview.build, central_db, NOW, "/", "from=2026-11-29&to=2026-11-29")
    assert result.data["sparkline_until"] == "2026-11-28" and result.data["today"]["total"] == 3
    shown = html.unescape(page)
    assert "No day of the period is over yet" in shown
    assert 'data-chart="spark-recommend"' not in page and "The lines end on" not in shown


def test_the_reports_trend_marks_todays_partial_day_and_breaks_where_a_day_has_no_answers(central_db):
    """The report's trend chart (the HTML report and a site's page) drew today's two answers as
    the line's end and joined the days on either side of a closed day. Today is now `partial` in
    the JSON, "… partial" in the CSV (the overview's download too), an open circle joined to
    nothing in the chart, and named in a note and in the table; a day without answers breaks
    the line."""
    from server_sync.analysis import chain_report
    from server_sync.analysis.queries import ReportFilter
    from server_sync.report import html as report_html
    from server_sync.report import tabular
    add_site(central_db, "s1", "UTC")
    add_question(central_db, "recommend", scale="nps11")
    rows = []
    for d in range(1, 29):
        if d == 10:                                    # closed on the 10th
            continue
        day = datetime(2026, 11, 1, 10) + timedelta(days=d - 1)
        # 200 answers a day: the days' intervals keep the axis below 100.
        rows += [answer("s1", day + timedelta(seconds=15 * i), v, question="recommend", scale="nps11")
                 for i, v in enumerate(([10] * 14 + [8] * 4 + [3] * 2) * 10)]
    rows += [answer("s1", datetime(2026, 11, 29, 8, i), 10, question="recommend", scale="nps11") for i in range(2)]
    commit(central_db, rows)
    report = chain_report.build(central_db, ReportFilter(date_from="2026-11-01", date_to="2026-11-29"), now=NOW)
    (trend,) = report["trends"]
    assert [d["date"] for d in trend["daily"] if d["partial"]] == ["2026-11-29"]
    assert len(trend["daily"]) == 28 and not any(d["partial"] for d in trend["daily"][:-1])
    keys = [r["key"] for r in tabular.csv_rows(report) if r["section"] == "daily" and r["metric"] == "nps"]
    assert keys[-2:] == ["2026-11-28", "2026-11-29 partial"]
    page = report_html.render(report, "en")
    start = page.index('data-chart="trend-recommend"')
    chart = page[start:page.index("</svg>", start)]
    lines = [[float(p.split(",")[0]) for p in line.split()]
             for line in re.findall(r'<polyline points="([^"]+)" fill="none" stroke="[^"]+" stroke-width="1.2"', chart)]
    # The days' places: the first (2026-11-01) and the last (the 29th) day's labels stand at them.
    left = float(re.search(r'<text x="([\d.]+)"[^>]*text-anchor="start"[^>]*>2026-11-01<', chart).group(1))
    right = float(re.search(r'<text x="([\d.]+)"[^>]*text-anchor="end"[^>]*>2026-11-29<', chart).group(1))
    assert 34 < left < 34 + 12 and svg.WIDTH - 10 - 12 < right < svg.WIDTH - 10   # inset by half a bar
    step = (right - left) / 28                         # 1–29 November
    assert len(lines) == 2, "the line runs across the closed 10th"
    assert lines[0][-1] == pytest.approx(left + 8 * step, abs=0.05)          # the 9th
    assert lines[1][0] == pytest.approx(left + 10 * step, abs=0.05)          # the 11th
    assert lines[1][-1] == pytest.approx(left + 27 * step, abs=0.05)         # the 28th, not today
    (circle,) = re.findall(r'<circle cx="([\d.]+)" cy="[\d.]+" r="3" [^>]*class="partial-day"', chart)
    assert float(circle) == pytest.approx(right, abs=0.05)
    # NPS 100 lies above the axis (the whole days' range): held at its edge, its value beside it.
    top = re.search(r'Y axis \d+–(\d+)', html.unescape(chart))
    assert top and int(top.group(1)) < 100, "the test needs an axis that stops below today's value"
    assert re.search(rf'<text x="{right - 5:.1f}" y="[\d.]+" font-size="12" text-anchor="end"[^>]*>100</text>', chart)
    shown = html.unescape(page)
    assert "Not over yet: 2026-11-29." in shown and '2026-11-29</span> <span class="small">not over yet</span>' in shown
    # The overview's download of the same days.
    _page, downloaded, _result = in_process.shown(overview.build, central_db, NOW, "/")
    assert "2026-11-29 partial" in {r["key"] for r in downloaded if r["section"] == "daily"}


def test_the_line_starts_at_the_periods_first_day_not_at_its_first_value():
    """One value on 26 November in a period from the 9th stood at the left edge: the axis began at
    the first day drawn, so the cards stacked on the overview each had their own axis, and the
    name counted the days without a value from the 26th (10, not 27)."""
    chart = str(svg.sparkline("s", "Trend", [_day(26, 67.0)], (0, 100), "–", lang="en", until="2026-12-06",
                              since="2026-11-09"))
    dot = re.search(r'<circle cx="([\d.]+)" cy="[\d.]+" r="2.5"', chart)
    assert float(dot.group(1)) == pytest.approx(LEFT + (W - LEFT - RIGHT) * 17 / 27, abs=0.05)
    name = re.search(r"<title>(.*?)</title>", chart).group(1)
    assert name.endswith("; days without a value: 27")
    # A first value after the period's start is written beside it, not at the left edge.
    chart = str(svg.sparkline("s", "Trend", [_day(26, 67.0), _day(27, 61.0)], (0, 100), "–", lang="en",
                              until="2026-12-06", since="2026-11-09"))
    first = float(re.search(r'<text x="([\d.]+)"[^>]*text-anchor="end"[^>]*>67</text>', chart).group(1))
    assert first == pytest.approx(LEFT + (W - LEFT - RIGHT) * 17 / 27 - 4, abs=0.05)
    # Without a period (or a value before its start) the first value is the axis's start, as before.
    for since in (None, "2026-11-27"):
        chart = str(svg.sparkline("s", "Trend", [_day(26, 67.0), _day(28, 66.0)], (0, 100), "–", lang="en",
                                  since=since))
        assert re.search(r'<circle cx="([\d.]+)" cy="[\d.]+" r="1.6"', chart).group(1) == f"{LEFT:.1f}"


def test_the_overviews_cards_share_the_periods_axis(central_db):
    """A question answered only on the 26th is drawn at the 26th of the card's period, as the
    cards beside it are."""
    add_site(central_db, "s1", "UTC")
    add_question(central_db, "recommend", scale="nps11")
    commit(central_db, [answer("s1", datetime(2026, 11, 26, 10, i), 10, question="recommend", scale="nps11")
                        for i in range(5)])
    page, _rows, result = in_process.shown(overview.build, central_db, NOW, "/", "from=2026-11-09&to=2026-11-28")
    assert result.data["period"]["from"] == "2026-11-09"
    start = page.index('data-chart="spark-recommend"')
    card = page[start:page.index("</svg>", start)]
    dot = re.search(r'<circle cx="([\d.]+)" cy="[\d.]+" r="2.5"', card)
    assert float(dot.group(1)) == pytest.approx(LEFT + (W - LEFT - RIGHT) * 17 / 19, abs=0.05)
    assert "days without a value: 19" in html.unescape(card)
