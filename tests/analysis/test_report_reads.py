"""The HTML report reads right, checked on its parts: heatmap colours on the scale's absolute
position with a legend and n in every cell; a trend's axis that does not blow up small moves, states
its range, puts a week's value at its centre and shows n per day; Pareto labels inside the chart;
p-values as "< 0.001" ("< 0,001" in Swedish), else to three significant digits cut (never across a
verdict's threshold), unrounded in the JSON; alerts with the site's name and local time; cut lists
say so."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from server_sync.analysis.chain_report import local_time
from server_sync.analysis.drivers import ReasonCount, best_vs_rest
from server_sync.analysis.pulse import correlation
from server_sync.report import svg
from server_sync.report.html import p_value

DAYS = [{"date": (date(2026, 11, 2) + timedelta(days=i)).isoformat(), "n": 10 + i, "value": 75 + (i % 3) * 0.5,
         "low": 70.0, "high": 80.0} for i in range(14)]
WEEKS = [{"week": "2026-W45", "from": "2026-11-02", "value": 75.5}, {"week": "2026-W46", "from": "2026-11-09",
                                                                      "value": 75.4}]


def test_heatmap_colour_is_absolute_with_a_legend_and_n_in_each_cell():
    cells = [{"weekday": 0, "hour": 9, "n": 31, "value": 75.0}, {"weekday": 1, "hour": 9, "n": 4, "value": 90.0}]
    alone = [{"weekday": 0, "hour": 9, "n": 31, "value": 75.0}, {"weekday": 1, "hour": 9, "n": 4, "value": 76.0}]
    fill = (lambda chart: re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" rx="3" fill="(#\w+)"',
                                     str(chart))[0])
    a = svg.heatmap_chart("h", "t", cells, list("MTWTFSS"), (0, 100), "-", "svar", "Nöjdindex", lang="sv")
    b = svg.heatmap_chart("h", "t", alone, list("MTWTFSS"), (0, 100), "-", "svar", "Nöjdindex", lang="sv")
    assert fill(a) == fill(b) == svg._diverging(0.75)          # 75 is the same light green in every report
    red, green = (int(svg._diverging(0.75)[1:3], 16), int(svg._diverging(0.75)[3:5], 16))
    assert green > red                                          # not red, as the relative colours painted it
    assert ">31</text>" in str(a) and ">4</text>" in str(a)     # n written in the cell, not only on hover
    assert "linearGradient" in str(a) and ">100</text>" in str(a) and ">0</text>" in str(a)


def test_a_heatmap_cell_of_few_answers_is_pale_and_the_legend_says_why():
    """One answer of 0 was painted the full red of a bad hour: a cell of fewer than FEW_ANSWERS
    answers is the same side of the scale, pale and dashed, its text still at AA, and the legend
    names the threshold."""
    few = svg.FEW_ANSWERS
    cells = [{"weekday": 0, "hour": 9, "n": 40, "value": 0.0}, {"weekday": 1, "hour": 9, "n": 1, "value": 0.0},
             {"weekday": 2, "hour": 9, "n": few, "value": 0.0}, {"weekday": 3, "hour": 9, "n": few - 1, "value": 100.0}]
    chart = str(svg.heatmap_chart("h", "t", cells, list("MTWTFSS"), (0, 100), "-", "svar", "Nöjdindex",
                                  f"Blek: färre än {few} svar", lang="sv"))
    rects = re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" rx="3" fill="(#\w+)"([^>]*)>'
                       r'<title>.*?</title></rect><text [^>]*fill="(#\w+)"', chart)
    (full, plain, ink0), (pale, dashed, ink1), (full2, plain2, _), (pale_green, dashed2, ink3) = rects
    assert full == full2 == svg.readable(svg._diverging(0.0)) and plain == plain2 == ""
    assert pale == svg._pale(svg._diverging(0.0)) != full and "stroke-dasharray" in dashed and dashed == dashed2
    assert int(pale[3:5], 16) < int(pale[1:3], 16) and int(pale_green[3:5], 16) > int(pale_green[1:3], 16)
    assert min(svg.contrast(pale, ink1), svg.contrast(pale_green, ink3), svg.contrast(full, ink0)) >= 4.5
    assert f">Blek: färre än {few} svar</text>" in chart
    # No cell of few answers: no such legend line, and the chart no taller.
    many = [c | {"n": 40} for c in cells]
    plain_chart = str(svg.heatmap_chart("h", "t", many, list("MTWTFSS"), (0, 100), "-", "svar", "Nöjdindex",
                                        "Blek", lang="sv"))
    assert "stroke-dasharray" not in plain_chart and ">Blek</text>" not in plain_chart
    height = (lambda c: float(re.search(r'viewBox="0 0 [\d.]+ ([\d.]+)"', c).group(1)))
    assert height(chart) == height(plain_chart) + 18


def test_trend_axis_spans_at_least_a_fifth_and_says_so_weeks_at_their_centre_n_per_day():
    chart = str(svg.trend_chart("t", "t", DAYS, WEEKS, (0, 100), "-", ("d", "w", "b"), "Y {lo}–{hi} of 0–100",
                                "n per day (max {n})", lang="en"))
    lo, hi = map(float, re.search(r"Y (\d+)–(\d+) of 0–100", chart).groups())
    assert hi - lo >= 20
    assert "n per day (max 23)" in chart and chart.count("(n=") == len(DAYS)
    week = re.search(r'<polyline points="([^"]+)" fill="none" stroke="#f97316"', chart).group(1).split()
    first_x = float(week[0].split(",")[0])
    left = float(re.search(r'<text x="([\d.]+)"[^>]*text-anchor="start"[^>]*>2026-11-02<', chart).group(1))
    right = float(re.search(r'<text x="([\d.]+)"[^>]*text-anchor="end"[^>]*>2026-11-15<', chart).group(1))
    thursday = left + (right - left) * 3 / 13                  # 2026-11-05 on a 13-day axis
    assert abs(first_x - thursday) < 0.5
    assert svg.value_range(74, 76, (0, 100))[1] - svg.value_range(74, 76, (0, 100))[0] >= 20
    assert svg.value_range(95, 99, (0, 100))[1] == 100 and svg.value_range(-100, -95, (-100, 100))[0] == -100


def test_a_trend_axis_over_the_whole_scale_says_so_in_words():
    """"Y-axel −100–100 av −100–100" read as a riddle (a visual review): the whole scale is said so."""
    days = [dict(d, value=-90.0 if i % 2 else 95.0, low=-100.0, high=100.0) for i, d in enumerate(DAYS)]
    chart = str(svg.trend_chart("t", "t", days, WEEKS, (-100, 100), "-", ("d", "w", "b"), "Y {lo}–{hi} of -100–100",
                                "n {n}", lang="en", whole_scale="Y axis: the whole scale"))
    assert "Y axis: the whole scale" in chart and "of -100–100" not in chart
    narrow = str(svg.trend_chart("t", "t", DAYS, WEEKS, (0, 100), "-", ("d", "w", "b"), "Y {lo}–{hi} of 0–100",
                                 "n {n}", lang="en", whole_scale="Y axis: the whole scale"))
    assert "the whole scale" not in narrow and re.search(r"Y \d+–\d+ of 0–100", narrow)


def test_a_trend_of_few_drawn_days_keeps_its_bars_and_dates_on_the_chart():
    """A staff question answered by a few: most days too thin to draw. The axis spanned the drawn
    days only, so the other days' bars fell off the left edge, the first and last bars hung half
    beyond the plot, and the middle and last dates were written on top of each other."""
    daily = [{"date": f"2026-11-{d:02d}", "n": 2, "value": None, "low": None, "high": None} for d in range(1, 18)]
    for d in (daily[9], daily[15]):
        d.update(n=6, value=70.0, low=60.0, high=80.0)
    weekly = [{"week": "2026-W46", "from": "2026-11-09", "value": 72.0}, {"week": "2026-W47", "from": "2026-11-16",
                                                                          "value": 80.0}]
    for days in (daily, daily[9:11], daily[9:10]):
        chart = str(svg.trend_chart("t", "t", days, weekly, (0, 100), "-", ("d", "w", "b"), "", "n {n}", lang="en"))
        left, right = 34, svg.WIDTH - 10
        bars = [(float(x), float(x) + float(width)) for x, width in
                re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill="#7b8794"', chart)]
        assert len(bars) == len(days) and all(left <= a and b <= right + 1e-6 for a, b in bars), bars
        assert len({round(b - a, 3) for a, b in bars}) == 1, bars             # whole, none cut at an edge
        dates = re.findall(r">(2026-11-\d\d)</text>", chart)
        assert dates[0] == days[0]["date"] and dates[-1] == days[-1]["date"] and len(set(dates)) == len(dates)
    # The period's days, with or without answers: the axis of every chart of a page is the same.
    chart = str(svg.trend_chart("t", "t", daily[9:11], weekly, (0, 100), "-", ("d", "w", "b"), "", "n {n}",
                                lang="en", span=("2026-11-01", "2026-11-30")))
    assert re.findall(r">(2026-11-\d\d)</text>", chart) == ["2026-11-01", "2026-11-15", "2026-11-30"]


def test_a_paretos_count_axis_has_whole_numbers():
    """Twelve complaints drew an axis of 2,5, 5, 7,5 …: half a complaint."""
    rows = [{"reason": r, "n": n, "share": 10, "cumulative": 10 * (i + 1)}
            for i, (r, n) in enumerate((("queue", 12), ("staff", 7), ("price", 3)))]
    chart = str(svg.pareto_chart("p", "t", rows, {}, "-", lang="sv"))
    counts = [c for c in re.findall(r'text-anchor="end"[^>]*>([^<]+)</text>', chart) if re.fullmatch(r"[\d,.]+", c)]
    assert counts == ["0", "5", "10", "15"], counts


def test_pareto_labels_fit_inside_the_chart():
    rows = [{"reason": r, "n": 10 - i, "share": 10, "cumulative": 10 * (i + 1)}
            for i, r in enumerate(["Personalens bemötande och service", "Kö", "Varor i lager"])]
    chart = str(svg.pareto_chart("p", "t", rows, {}, "-", lang="sv"))
    w, h = map(float, re.search(r'viewBox="0 0 (\d+) (\d+)"', chart).groups())
    for x, y, label in re.findall(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*rotate\(-40[^>]*>([^<]+)<', chart):
        width = svg._text_width(label, 12)
        assert float(x) - width * 0.766 >= 0 and float(y) + width * 0.643 <= h, label
        assert label in [r["reason"] for r in rows]             # whole, never cut to 16 characters


@pytest.mark.parametrize("threshold", [0.05, 0.01, 0.001])
def test_a_shown_p_value_is_on_the_side_of_a_threshold_the_p_value_is(threshold):
    """Three significant digits, cut: an action "better" at p = 0.00996 (< 0.01) read "p-value
    0.010" and a change "worse" at p = 0.0496 read "0.050" with three decimals rounded."""
    near = [threshold * (1 + k * 1e-5) for k in range(-300, 301)] + [math.nextafter(threshold, 0.0), threshold]
    for p in near + [0.00996, 0.0496, 0.04996, 0.0099999, 0.0009999]:
        shown = p_value(p, "en")
        below = shown.startswith("<") or float(shown) < threshold
        assert below == (p < threshold), (p, shown)
    assert [p_value(p, "en") for p in (0.00996, 0.0496, 0.04996, 0.5, 1.0)] == ["0.00996", "0.0496", "0.0499", "0.5", "1"]


def test_p_values_in_json_are_not_rounded_to_zero():
    """The JSON and CSV keep a p-value as computed: to 4 decimals the pulse correlation's tiny p
    read 0.0, and best-vs-rest's exact 1/1820 read 0.0005."""
    sites = [f"s{i:02d}" for i in range(16)]            # the best four never cite the queue, only the price
    counts = {s: {"queue": ReasonCount(*[0 if i < 4 else 20] * 3), "price": ReasonCount(20, 20, 20)} for i, s in enumerate(sites)}
    row = next(r for r in best_vs_rest(sites, {s: 100 for s in sites}, counts)["reasons"] if r["reason"] == "queue")
    assert row["share_p_value"] == pytest.approx(1 / math.comb(16, 4), rel=1e-12)
    corr = correlation([(40.0 + i, 30, 50.0 + 2 * i + (i % 2) * 0.1, 30) for i in range(12)], 5)
    assert 0 < corr["p_value"] < 1e-8


def test_p_values_and_local_times_read_plainly():
    ps = (1.8e-6, 0.0004, 0.001, 0.0234, None)
    assert [p_value(x, "en") for x in ps] == ["<\u00a00.001", "<\u00a00.001", "0.001", "0.0234", "–"]
    assert [p_value(x, "sv") for x in ps] == [p_value(x, "nb") for x in ps] == ["<\u00a00,001", "<\u00a00,001", "0,001", "0,0234",
                                                                               "–"]
    assert local_time("2026-11-20 16:00:00", ZoneInfo("Europe/Stockholm")) == "2026-11-20 17:00 CET"
    assert local_time("2026-07-20 16:00:00", ZoneInfo("Europe/Oslo")) == "2026-07-20 18:00 CEST"
    assert local_time("2026-01-20 18:45:00", ZoneInfo("Asia/Kolkata")) == "2026-01-21 00:15 IST"


def test_the_scatters_corner_labels_do_not_touch():
    """The x axis's first value, centred on the corner, touched the y axis's lowest ("50" "55")."""
    chart = str(svg.scatter_chart("s", "t", [(57.5, 60.7, "a"), (81.2, 84.8, "b")], "x", "y", "-", lang="sv"))
    below = re.findall(r'<text x="([\d.]+)" y="([\d.]+)" font-size="12" text-anchor="(\w+)"[^>]*>(\d+)</text>', chart)
    xs = [(float(x), anchor) for x, y, anchor, _v in below if float(y) > 270 and anchor != "end"]
    ys = [float(x) for x, y, anchor, _v in below if anchor == "end"]
    first_x, anchor = min(xs)
    assert anchor == "start" and first_x > max(ys) + 4, (xs, ys)


@pytest.mark.parametrize("hours", [1, 8])
@pytest.mark.parametrize("lang", ["sv", "nb", "en"])
def test_the_heatmap_legend_names_its_metric_inside_the_chart(lang, hours):
    """The metric's name stood 10 to the right of a 300-wide bar, at 348 in a 400-wide chart:
    with up to 8 opening hours "Happy Index", "Nöjdindex" and "Fornøydindeks" ran off its edge."""
    from server_sync.analysis.metrics import SCALES
    from server_sync.report.i18n import t
    cells = [{"weekday": 0, "hour": 8 + j, "n": 30, "value": 70.0} for j in range(hours)]
    for metric in sorted({s.primary_metric for s in SCALES.values()}):
        name = t(metric, lang)
        chart = str(svg.heatmap_chart("h", "t", cells, list("MTWTFSS"), (0, 100), "-", "n", name, lang=lang))
        width = float(re.search(r'viewBox="0 0 ([\d.]+) ', chart).group(1))
        x = float(re.search(rf'<text x="([\d.]+)"[^>]*>{re.escape(name)}</text>', chart).group(1))
        assert x + svg._text_width(name, 11) <= width, (metric, lang, hours)


@pytest.mark.parametrize("few", [False, True])
def test_a_heatmap_is_as_wide_as_its_hours_and_its_legend_need(few):
    """One hour's column was drawn 400 wide: it scrolled on a 412 px phone, behind a "swipe" hint,
    its legend's "Happy Index" cut at the box's edge. A heatmap is its columns' width, or its
    legend's where that is more; it says it scrolls only where it is wider than a 320 px phone's
    box."""
    from server_sync.report import html
    from server_sync.report.i18n import t
    n = 4 if few else 30
    widths = {}
    for hours in (1, 8, 14):
        cells = [{"weekday": d, "hour": 8 + j, "n": n, "value": 70.0} for j in range(hours) for d in range(7)]
        chart = str(svg.heatmap_chart("h", "t", cells, list("MTWTFSS"), (0, 100), "-", "n", "Happy Index",
                                      t("heatmap_few", "en", n=svg.FEW_ANSWERS), lang="en"))
        widths[hours] = float(re.search(r'viewBox="0 0 ([\d.]+) ', chart).group(1))
        for x, text in re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="start"[^>]*>([^<]+)</text>', chart):
            assert float(x) + svg._text_width(text, 11) <= widths[hours], (hours, text)
        report = {"questions": [{"id": "visit", "audience": "customer", "scale": "smiley4", "metric": "happy_index",
                                 "text": {}}], "heatmap": [{"question_id": "visit", "metric": "happy_index",
                                                            "cells": cells}],
                  "summary": [], "trends": [], "generated_at": "2026-11-23T12:00:00+00:00", "pulse": {"sites": []}}
        section = html.ENV.get_template("report/sections/heatmap.html").render(html.context(report, "en"))
        assert ("scroll-hint" in section) == (widths[hours] > svg.PHONE_BOX), (hours, widths[hours])
    assert widths[8] == 38 + 40 * 8 + 8 and widths[14] == 38 + 40 * 14 + 8
    assert widths[1] <= (svg.PHONE_BOX + 80 if few else svg.PHONE_BOX), widths


@pytest.mark.parametrize("lang", ["sv", "nb", "en"])
def test_the_pulse_section_draws_no_scatter_when_it_says_too_little_data(lang):
    """One store's dot, on axes of 49–51, under "too little data": no chart then."""
    from server_sync.report import html
    from server_sync.report.i18n import t
    sites = [{"site_id": f"s{i}", "name": f"S{i}", "employee": {"value": 60.0 + 5 * i, "n": 20},
              "customer": {"value": 70.0 + 3 * i + (i % 2), "n": 80}} for i in range(4)]
    for shown, expect_chart in ((sites[:1], False), (sites, True)):
        points = [(s["employee"]["value"], s["employee"]["n"], s["customer"]["value"], s["customer"]["n"])
                  for s in shown]
        report = {"questions": [], "summary": [], "trends": [], "generated_at": "2026-11-23T12:00:00+00:00",
                  "pulse": {"sites": shown, "correlation": correlation(points, 5), "min_n": 5}}
        section = html.ENV.get_template("report/sections/pulse.html").render(html.context(report, lang))
        assert ('data-chart="pulse-scatter"' in section) == expect_chart, (lang, len(shown))
        assert (t("too_little_data", lang) in section) != expect_chart, (lang, len(shown))
