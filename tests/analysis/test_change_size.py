"""The period tests of trends (`trends.compare`, `compare_csat`) keep their promised size: with no
change between the periods, "significant at 5 %" comes up in at most 6.5 % of simulated pairs
(about 5 %; fewer near the edge of the scale, where the CSAT z-test is conservative), for the Happy Index (Welch t), NPS (normal test of the difference) and CSAT
(two-proportion z), at n = 30 and 300 a side, in the middle and near the top of the scale."""

from __future__ import annotations

import numpy as np
import pytest

from server_sync.analysis.trends import compare, compare_csat
from server_sync.protocol.tally import Tally

REPS = 2000
CASES = [("smiley4", [0.1, 0.2, 0.4, 0.3]), ("smiley4", [0.01, 0.02, 0.12, 0.85]),
         ("nps11", [0.04] * 7 + [0.1, 0.12, 0.2, 0.3])]


def tallies(rng: np.random.Generator, scale: str, p: list[float], n: int) -> list[Tally]:
    values = range(1, 5) if scale == "smiley4" else range(0, 11)
    counts = rng.multinomial(n, np.array(p) / sum(p), REPS)
    return [Tally.from_counts(scale, {v: int(c) for v, c in zip(values, row) if c}) for row in counts]


@pytest.mark.parametrize("scale, p", CASES)
@pytest.mark.parametrize("n", [30, 300])
def test_no_change_is_significant_in_at_most_6_5_percent(scale, p, n):
    rng = np.random.default_rng(n + len(p))
    before, after = tallies(rng, scale, p, n), tallies(rng, scale, p, n)
    for test in (compare, compare_csat):
        results = [test(b, a) for b, a in zip(before, after)]
        rate = sum(1 for r in results if r is not None and r.significant()) / REPS
        print(test.__name__, scale, p[-1], n, rate)
        assert rate <= 0.065, (test.__name__, scale, n, rate)
