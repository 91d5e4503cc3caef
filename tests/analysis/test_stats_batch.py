"""`stats_batch.t_sf` (many t tails at once, numpy) against the plain `stats.t_sf`, one at a time:
the same floats, bit for bit, over t from far below to far above 0 and degrees of freedom from
fractions of one to beyond the exact form's limit and infinity."""

from __future__ import annotations

import math
import random

import numpy as np

from server_sync.analysis import stats, stats_batch


def test_every_t_and_df_gives_the_plain_tail():
    rng = random.Random(7)
    ts = [0.0, -0.0, 1e-9, 0.5, 1.96, 2.58, 7.0, 40.0, -1.0, -3.3]
    dfs = [0.3, 1.0, 1.5, 2.0, 6.7, 13.0, 29.99, 30.0, 54.2, 1e3, 1e6, 2e7, math.inf]
    pairs = [(t, df) for t in ts for df in dfs]
    pairs += [(rng.uniform(-8, 8), rng.choice([rng.uniform(0.5, 30), rng.uniform(30, 400), 10 ** rng.uniform(2, 8)]))
              for _ in range(3000)]
    t, df = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    batch = stats_batch.t_sf(t, df).tolist()
    for (ti, dfi), got in zip(pairs, batch):
        assert got == stats.t_sf(ti, dfi), (ti, dfi, got, stats.t_sf(ti, dfi))


def test_the_incomplete_beta_at_its_edges_is_the_plain_one():
    a = np.array([2.0, 2.0, 0.5, 30.0, 0.5])
    b = np.array([0.5, 0.5, 3.0, 0.5, 0.5])
    x = np.array([0.0, 1.0, 0.999, 1e-12, 0.5])
    assert stats_batch.incomplete_beta(a, b, x).tolist() == [stats.incomplete_beta(*v) for v in zip(a, b, x)]
