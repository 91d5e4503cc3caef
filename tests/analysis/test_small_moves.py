"""Small moves look small: the overview's sparklines and an action's before/after mini-chart
zoomed to their own figures (`_nice_range` without a minimum span), so a 3-point move filled a
sparkline's height and a 0.9-point change looked large. Both now span at least MIN_SPAN of the
scale, as the trend's axis does, and the mini-chart draws and states its range."""

from __future__ import annotations

import re

import pytest

from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.report import svg
from server_sync.report.i18n import t


def _floats(s: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", s)]


def test_a_three_point_move_does_not_fill_a_sparkline():
    daily = [{"date": f"2026-11-{d:02d}", "value": v} for d, v in ((1, 70.0), (2, 71.5), (3, 73.0))]
    chart = str(svg.sparkline("s", "Trend", daily, (0, 100), "–", lang="sv"))
    ys = _floats(re.search(r'<polyline points="([^"]+)"', chart).group(1))[1::2]
    plot = 44 - 6 - 6                                   # the sparkline's height less its margins
    # 3 of at least 20 points (MIN_SPAN of 0-100): at most 15 % of the height (it was all of it).
    assert max(ys) - min(ys) <= plot * 3 / 20 + 0.1, ys


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_actions_mini_chart_spans_a_fifth_of_the_scale_and_says_so(lang):
    before = {"value": 75.0, "low": 74.2, "high": 75.8}
    after = {"value": 75.9, "low": 75.1, "high": 76.7}
    note = t("scale_range", lang, lo="{lo}", hi="{hi}", min=0, max=100)
    chart = str(svg.before_after_chart("a", "Åtgärd", before, after, ("före", "efter"), (0, 100), note, lang=lang))
    cx = [float(v) for v in re.findall(r'<circle cx="([\d.]+)"', chart)]
    plot = 300 - 70 - 40
    assert len(cx) == 2 and cx[1] - cx[0] <= plot * 0.9 / 20 + 0.1, cx
    stated = re.search(r">([^<]*{}[^<]*)</text>".format(re.escape(note.split("{lo}")[0])), chart).group(1)
    lo, hi = _floats(stated.split(note.split("{lo}")[0], 1)[1])[:2]
    assert hi - lo >= 20 and lo <= 74.2 and hi >= 76.7, stated
    assert stated.endswith(" 0–100") and f">{lo:g}</text>" in chart and f">{hi:g}</text>" in chart

