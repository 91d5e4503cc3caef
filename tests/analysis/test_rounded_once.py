"""A figure a reader sees is rounded once, from the figure as computed. A statistician found
"60.0 (14.3–97.1)" for a day of five answers (faces 1, 4, 2, 4, 3): its interval's high end is
97.04995863, 97.0 at one decimal, but the report kept it as 97.05 (four decimals, the JSON's)
and the pages rounded that again. A kept figure is still four decimals, within one unit of the
last, and reads at the decimals a page shows (0 to 2) as the figure as computed does."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server_sync.analysis import chain_report, metrics, metrics_batch
from server_sync.analysis.queries import ReportFilter
from server_sync.analysis.stats import KEPT_DIGITS, SHOWN_DIGITS, kept
from server_sync.protocol.rounding import rounded
from server_sync.protocol.tally import Tally
from server_sync.report import html
from server_sync.report.figures import interval
from tests.analysis.seeding import add_question, add_site, answer, commit

FACES = [1, 4, 2, 4, 3]
HIGH = 97.04995863              # the day's interval's high end, as computed


def test_the_days_interval_reads_as_computed():
    tally = Tally.from_counts("smiley4", Counter(FACES))
    e = metrics.happy_index(tally)
    assert e.high == pytest.approx(HIGH, abs=1e-8)
    plain = e.as_dict()
    batch = metrics_batch.metrics_dicts("smiley4", np.array([[tally.n, tally.sum_v, tally.sum_v2, tally.top2,
                                                              tally.negative]]))[0]["happy_index"]
    for d in (plain, batch):
        assert interval(d["low"], d["high"], "en") == "14.3–97.0"
        assert d["high"] == round(d["high"], KEPT_DIGITS) and abs(d["high"] - e.high) < 10 ** -KEPT_DIGITS


def test_the_report_shows_the_days_interval_rounded_once(central_db):
    add_site(central_db, "s1")
    add_question(central_db)
    commit(central_db, [answer("s1", datetime(2026, 8, 3, 9, i), v) for i, v in enumerate(FACES)])
    report = chain_report.build(central_db, ReportFilter(("s1",), date_from="2026-08-03", date_to="2026-08-09"),
                                now=datetime(2026, 8, 12, 12, tzinfo=timezone.utc))
    page = html.render(report, "en")
    assert "60.0 (14.3–97.0)" in page and "97.1" not in page


# Any figure, and figures within a kept unit of a half of a figure shown (0.005 apart), where
# rounding twice goes wrong.
NEAR_HALVES = st.builds(lambda j, e: j / 200 + e, st.integers(-20_000_000, 20_000_000), st.floats(-2e-4, 2e-4))


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False) | NEAR_HALVES)
def test_a_kept_figure_reads_as_the_figure_computed(x):
    k = kept(x)
    assert k == round(k, KEPT_DIGITS) and abs(k - x) <= 10 ** -KEPT_DIGITS
    assert all(rounded(k, d) == rounded(x, d) for d in range(SHOWN_DIGITS + 1)), x


@pytest.mark.parametrize("x, expected", [(HIGH, 97.0499), (-HIGH, -97.0499), (97.05, 97.05), (97.04994, 97.0499),
                                         (60.49996, 60.4999), (0.12495, 0.1249), (0.124951, 0.1249), (0.1249499, 0.1249), (0.125, 0.125),
                                         (82.35294117647, 82.3529), (56.25, 56.25)])
def test_kept_figures(x, expected):
    assert kept(x) == expected
