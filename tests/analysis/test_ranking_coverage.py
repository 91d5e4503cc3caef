"""Coverage of the ranking's shrunk 95 % intervals, by simulation on the reviewer's chain shapes
(/tmp/review-stats/ranking_coverage.py in the statistics review): k sites of n answers each, the
sites' true faces shifted on the log scale by a normal of sd `spread`, so that the between-site
variance is small and often estimated as 0. Before Morris's term for the estimated shrinkage
factor (and with the variance of another chain mean than the one shrunk toward), the intervals
covered 89 % (20 sites of 50) and 90 % (10 of 200) here, 93 % on average: the shrinkage was taken
as known. Seeded; some 2 s."""

from __future__ import annotations

import numpy as np
from server_sync.analysis.metrics import Tally
from server_sync.analysis.ranking import rank_sites

BASE = np.array([0.08, 0.12, 0.35, 0.45])          # the faces 1-4 of a typical site: Happy Index ~72
SHAPES = [(20, 50, 0.15), (20, 50, 0.3), (10, 200, 0.1), (40, 30, 0.2), (20, 50, 0.0)]
CHAINS = 250


def coverage(k: int, n: int, spread: float, rng: np.random.Generator) -> float:
    """Share of sites, over CHAINS simulated chains, whose interval holds their true Happy Index."""
    covered = 0
    for _ in range(CHAINS):
        faces = BASE * np.exp(np.outer(rng.normal(0.0, spread, k), np.arange(4)))
        faces /= faces.sum(axis=1, keepdims=True)
        truth = 100 * (faces @ np.arange(4)) / 3
        tallies = {f"s{i:02d}": Tally.from_counts("smiley4", dict(zip(range(1, 5), map(int, rng.multinomial(n, p)))))
                   for i, p in enumerate(faces)}
        covered += sum(r.low <= truth[int(r.site_id[1:])] <= r.high for r in rank_sites(tallies, "smiley4", min_n=1))
    return covered / (CHAINS * k)


def test_shrunk_intervals_cover_about_95_percent_averaged_over_the_sites():
    rng = np.random.default_rng(1983)
    found = {shape: coverage(*shape, rng) for shape in SHAPES}
    # Measured with this seed: 0.917-0.992 per shape, 0.945 on average. The plug-in shrinkage factor still shrinks a
    # little too far when the sites differ slightly (docs/analysis.md#site-ranking-empirical-bayes).
    assert min(found.values()) >= 0.91, found
    assert sum(found.values()) / len(found) >= 0.93, found
