"""The exact permutation test of `studentized`: its splits are every count vector of the smaller
side with its multivariate hypergeometric chance (against a plain enumeration of the whole grid),
and its p-value and critical value agree: the observed |z| is beyond the critical value exactly
when p < alpha."""

from __future__ import annotations

import itertools
import math

import numpy as np

from server_sync.analysis.change_interval import pooled_statistic
from server_sync.analysis.studentized import _splits, permutation_test


def plain_splits(pooled: list[int], m: int) -> dict[tuple[int, ...], float]:
    """Every vector of the grid of counts that sums to m, with its chance."""
    total = sum(pooled)
    return {c: math.prod(math.comb(p, k) for p, k in zip(pooled, c)) / math.comb(total, m)
            for c in itertools.product(*[range(min(p, m) + 1) for p in pooled]) if sum(c) == m}


def test_the_splits_are_every_count_vector_with_its_chance():
    rng = np.random.default_rng(1)
    for _ in range(300):
        pooled = [int(x) for x in rng.integers(0, 12, int(rng.integers(2, 6)))]
        if not sum(pooled):
            continue
        m = int(rng.integers(0, sum(pooled) + 1))
        rows, weights = _splits(np.array(pooled), m)
        got = {tuple(int(x) for x in r): float(w) for r, w in zip(rows, weights)}
        want = plain_splits(pooled, m)
        assert got.keys() == want.keys() and len(rows) == len(want), (pooled, m)
        assert all(abs(got[c] - w) < 1e-12 for c, w in want.items()) and abs(sum(got.values()) - 1) < 1e-9


def test_p_and_the_critical_value_agree():
    """The observed |z| is beyond the critical value exactly when p < 0.05 (or there is none and
    p >= 0.05), with and without the mid-p; two 4s against two 3s: p = 1/3 (2 of 6 splits)."""
    values = [0.0, 1 / 3, 2 / 3, 1.0]
    z = pooled_statistic(values)
    p, critical = permutation_test([0, 0, 0, 2], [0, 0, 2, 0], z)
    assert abs(p - 1 / 3) < 1e-12 and critical is None
    rng = np.random.default_rng(2)
    for _ in range(400):
        first, second = (rng.multinomial(int(n), rng.dirichlet([0.5] * 4)) for n in rng.integers(2, 25, 2))
        observed = abs(float(z(first[None, :], second[None, :])[0]))
        for mid_p in (False, True):
            p, critical = permutation_test(first, second, z, mid_p=mid_p)
            assert (p < 0.05) == (critical is not None and observed > critical), (first, second, p, critical)
