"""The answer-by-answer change intervals of trends (`trends.compare`, `compare_csat`) cover the
true change as promised and do not contradict their own test: simulated at sides of 5 against 50,
3 against 30, 10 against 10, 31 against 1,000 and 100 against 100, near the top of the scale and
in the middle, with and without a change, for the Happy Index, NPS and CSAT, every 95 % interval
contains the true change in at least 93 % of pairs and lies outside 0 while the test says "no
significant change" in at most 1 % of them. The Welch interval these replaced covered 55-70 % at
3 against 30 and 5 against 50 near the top, and excluded 0 in 39 % of unchanged pairs whose test
said p >= 0.05 (docs/analysis.md#trends-and-change)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from server_sync.analysis.trends import compare, compare_csat
from server_sync.protocol.tally import Tally

REPS = 400
SMILEY = {"top": [0.01, 0.02, 0.12, 0.85], "middle": [0.15, 0.3, 0.35, 0.2]}
NPS = {"top": [0.005] * 7 + [0.02, 0.045, 0.2, 0.7], "middle": [0.05] * 7 + [0.15, 0.15, 0.2, 0.15]}
SIZES = [(5, 50), (3, 30), (10, 10), (31, 1000), (100, 100)]


def true_value(scale: str, p: list[float], metric: str) -> float:
    p = np.array(p) / sum(p)
    if metric == "csat":
        return 100 * p[-2:].sum()
    if scale == "smiley4":
        return float(p @ np.arange(4)) * 100 / 3
    return 100 * float(p[9:].sum() - p[:7].sum())


def samples(rng: np.random.Generator, scale: str, p: list[float], n: int) -> list[Tally]:
    values = range(1, 5) if scale == "smiley4" else range(0, 11)
    counts = rng.multinomial(n, np.array(p) / sum(p), REPS)
    return [Tally.from_counts(scale, {v: int(c) for v, c in zip(values, row) if c}) for row in counts]


CASES = [(metric, scale, before, after)
         for metric, scale, mixes in (("headline", "smiley4", SMILEY), ("csat", "smiley4", SMILEY),
                                      ("headline", "nps11", NPS))
         for before, after in (("top", "top"), ("middle", "middle"), ("top", "middle"))]


@pytest.mark.parametrize("metric, scale, before, after", CASES)
@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: f"{s[0]}v{s[1]}")
def test_change_interval_covers_and_agrees_with_its_test(metric, scale, before, after, sizes):
    mixes = SMILEY if scale == "smiley4" else NPS
    rng = np.random.default_rng(sum(sizes) + len(before) + len(after) + len(metric))
    truth = true_value(scale, mixes[after], metric) - true_value(scale, mixes[before], metric)
    test = compare_csat if metric == "csat" else compare
    results = [r for r in (test(b, a) for b, a in zip(samples(rng, scale, mixes[before], sizes[0]),
                                                      samples(rng, scale, mixes[after], sizes[1])))
               if r is not None]
    covered = sum(r.low <= truth <= r.high for r in results) / len(results)
    contradicted = sum((r.low > 0 or r.high < 0) and not r.significant() for r in results) / len(results)
    print(metric, scale, before, after, sizes, round(covered, 3), round(contradicted, 3))
    assert covered >= 0.93 and contradicted <= 0.01, (covered, contradicted)
    span = 200 if scale == "nps11" and metric == "headline" else 100
    assert all(-span <= r.low < r.high <= span for r in results)                 # within the scale, never zero-width


def tally(scale: str, values: list[int]) -> Tally:
    return Tally.from_counts(scale, Counter(values))


@pytest.mark.parametrize("before, after", [
    (tally("smiley4", [1, 1]), tally("smiley4", [2, 3, 3])),       # Welch: [7.7, 103.4] while p = 0.2
    (tally("nps11", [10, 8]), tally("nps11", [0, 8])),             # Welch: [-404, 204], beyond the scale
    (tally("smiley4", [4, 4]), tally("smiley4", [3, 3])),          # [-33.3, 0]: the change's own end
    (tally("smiley4", [4] * 3), tally("smiley4", [4] * 3)),        # [0, 0]: zero width
])
def test_small_sides_get_an_interval_within_the_scale_that_agrees_with_the_test(before, after):
    r = compare(before, after)
    span = 200 if before.scale == "nps11" else 100
    assert -span <= r.low < min(0.0, r.diff) and max(0.0, r.diff) < r.high <= span
    assert not r.significant()


def test_csat_of_small_sides_no_longer_claims_a_change_its_test_denies():
    r = compare_csat(Tally("smiley4", 2, 0, 0, 0, 0), Tally("smiley4", 3, 0, 0, 2, 0))   # Wald: [13.3, 120.0]
    assert -100 <= r.low < 0 < r.high <= 100 and not r.significant()
