"""Coverage of the ranking's 95 % intervals, by simulation on the chain shapes of the statistics
review: k sites of n answers each, the sites' true answers shifted on the log scale by a normal
of sd `spread`, so that the between-site variance is small and often estimated as 0. Coverage is
measured over all sites and for the site with the truly highest and the truly lowest value, the
ones a reader of a ranking looks at.

History: the empirical-Bayes interval alone (shrunk value ± Morris's variance) covered 92-99 %
averaged over the sites but 65-95 % at the truly best and worst site, which it pulls toward the
mean; before Morris's term for the estimated shrinkage factor it covered 89 % on average at 20
sites of 50. The interval is now its union with the site's own interval (ranking.py). Seeded;
some 5 s."""

from __future__ import annotations

import numpy as np
import pytest

from server_sync.analysis.metrics import Tally
from server_sync.analysis.ranking import rank_sites

# The answers of a typical site, lowest first: the faces 1-4 (Happy Index ~72), and NPS
# detractor / passive / promoter (NPS ~+30), drawn as 1-4 and as 3, 8, 10.
BASE = {"smiley4": (np.array([0.08, 0.12, 0.35, 0.45]), (1, 2, 3, 4)),
        "nps11": (np.array([0.2, 0.3, 0.5]), (3, 8, 10))}
AVERAGE_SHAPES = [(20, 50, 0.15), (20, 50, 0.3), (10, 200, 0.1), (40, 30, 0.2), (20, 50, 0.0)]
EXTREME_SHAPES = [("smiley4", 20, 50, 0.15), ("smiley4", 20, 50, 0.3), ("smiley4", 40, 30, 0.3),
                  ("smiley4", 10, 200, 0.15), ("smiley4", 5, 100, 0.3), ("nps11", 20, 50, 0.3),
                  ("nps11", 40, 30, 0.5)]
CHAINS = 250


def _truth(scale: str, p: np.ndarray) -> np.ndarray:
    if scale == "nps11":
        return 100 * (p[:, 2] - p[:, 0])
    return 100 * (p @ np.arange(4)) / 3


def coverage(k: int, n: int, spread: float, rng: np.random.Generator,
             scale: str = "smiley4") -> tuple[float, float, float]:
    """Shares, over CHAINS simulated chains, of intervals holding the true value: of all sites,
    of the truly best site's and of the truly worst site's."""
    base, values = BASE[scale]
    steps = np.arange(len(base))
    covered = best = worst = 0
    for _ in range(CHAINS):
        p = base * np.exp(np.outer(rng.normal(0.0, spread, k), steps))
        p /= p.sum(axis=1, keepdims=True)
        truth = _truth(scale, p)
        tallies = {f"s{i:02d}": Tally.from_counts(scale, dict(zip(values, map(int, rng.multinomial(n, q)))))
                   for i, q in enumerate(p)}
        hit = {int(r.site_id[1:]): r.low <= truth[int(r.site_id[1:])] <= r.high
               for r in rank_sites(tallies, scale, min_n=1)}
        covered += sum(hit.values())
        best += hit[int(np.argmax(truth))]
        worst += hit[int(np.argmin(truth))]
    return covered / (CHAINS * k), best / CHAINS, worst / CHAINS


def test_intervals_cover_at_least_95_percent_averaged_over_the_sites():
    rng = np.random.default_rng(1983)
    found = {shape: coverage(*shape, rng)[0] for shape in AVERAGE_SHAPES}
    # Measured with this seed: 0.975-1.000 per shape (conservative: the union of two intervals).
    assert min(found.values()) >= 0.95, found


@pytest.mark.parametrize("scale, k, n, spread", EXTREME_SHAPES)
def test_the_truly_best_and_worst_sites_are_covered(scale, k, n, spread):
    # Each site's own interval covers at least 93 % whatever its true value (test_coverage.py),
    # so the union does at the extremes too; the empirical-Bayes interval alone: 65-95 % here.
    _all, best, worst = coverage(k, n, spread, np.random.default_rng(k * n), scale)
    assert best >= 0.93 and worst >= 0.93, (best, worst)
