"""The exact permutation test of a studentized statistic of two groups of answers: every split of
the pooled answers into groups of the two sizes, weighted by how many ways it can be drawn, and the
statistic computed on each (Janssen 1997, "Studentized permutation tests for non-i.i.d. hypotheses
and the generalized Behrens-Fisher problem", Statistics & Probability Letters 36:9-21; Chung &
Romano 2013, "Exact and asymptotically robust permutation tests", Annals of Statistics
41:484-507). Exact when the groups' answers are alike; with a statistic that carries each group's
own spread, still right in large samples when only the means are alike and the spreads differ,
where permuting a plain difference in means is not.

The splits are the smaller group's counts per answer value (multivariate hypergeometric), all of
them: `EXACT_MAX_SPLITS` bounds how many. Pure (numpy); the statistic comes from the caller.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Sequence

import numpy as np

from server_sync.analysis.stats import ALPHA

EXACT_MAX_SPLITS = 20_000      # count vectors of the smaller group: the exact test up to this many
TIE = 1e-9                     # |statistic| values this close are the same outcome (rounding)

Statistic = Callable[[np.ndarray, np.ndarray], np.ndarray]   # (counts first, counts second) -> z


def exact_fits(smaller: int, values: int) -> bool:
    """Are there at most EXACT_MAX_SPLITS ways to count `smaller` answers over `values` values?"""
    return math.comb(smaller + values - 1, values - 1) <= EXACT_MAX_SPLITS


def permutation_test(first: Sequence[int], second: Sequence[int], statistic: Statistic,
                     alpha: float = ALPHA, mid_p: bool = False) -> tuple[float, float | None]:
    """(p, critical) of the two-sided permutation test of `statistic` (a z: first vs second): p,
    the chance of a split at least as far out as the observed one (`mid_p`: those exactly as far
    out count half, Lancaster 1961); critical, the |z| halfway between the largest outcome the
    test does not call significant at `alpha` and the smallest it does (None when no split is),
    so that the observed |z| is beyond it exactly when p < alpha."""
    first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    pooled = first + second
    small_first = first.sum() <= second.sum()
    splits, weights = _splits(pooled, int(min(first.sum(), second.sum())))
    rest = pooled - splits
    z = statistic(splits, rest) if small_first else statistic(rest, splits)
    outcome = np.round(np.abs(z) / TIE) * TIE
    mine = first if small_first else second
    observed = float(outcome[np.nonzero((splits == mine).all(axis=1))[0][0]])     # the observed split's
    keys, inverse = np.unique(outcome, return_inverse=True)        # ascending
    mass = np.bincount(inverse.ravel(), weights=weights, minlength=len(keys))
    beyond = np.concatenate([np.cumsum(mass[::-1])[::-1][1:], [0.0]])     # P(outcome > key)
    half = 0.5 if mid_p else 1.0
    tail = beyond + half * mass                                        # the p of each outcome
    at = int(np.searchsorted(keys, observed))
    p_value = float(min(1.0, tail[min(at, len(keys) - 1)]))
    significant = np.nonzero(tail < alpha)[0]
    if len(significant) == 0:
        return p_value, None
    first_significant = int(significant[0])
    if first_significant == 0:
        return p_value, float(keys[0]) / 2.0
    return p_value, float(keys[first_significant] + keys[first_significant - 1]) / 2.0


def _splits(pooled: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Every count vector of m answers drawn from `pooled` (answers per value), and its chance
    Π C(pooled_j, c_j) / C(N, m). Built value by value, each partial vector extended by every
    count that still leaves the later values room for the rest, so no vector is made and thrown
    away (a grid over the values' ranges is 19 times larger at 23 answers on five faces)."""
    room_after = np.concatenate([np.cumsum(pooled[::-1])[::-1][1:], [0]])     # answers the later values hold
    rows = np.zeros((1, 0), dtype=np.int64)
    used = np.zeros(1, dtype=np.int64)
    for j, p in enumerate(pooled):
        low = np.maximum(0, m - used - room_after[j])
        high = np.minimum(int(p), m - used)
        widths = np.maximum(0, high - low + 1)
        parent = np.repeat(np.arange(len(rows)), widths)
        offset = np.arange(len(parent)) - np.repeat(np.cumsum(widths) - widths, widths)
        count = low[parent] + offset
        rows = np.concatenate([rows[parent], count[:, None]], axis=1)
        used = used[parent] + count
    total = int(pooled.sum())
    log_weight = np.full(len(rows), -_log_choose(total, m))
    for j, p in enumerate(pooled):
        log_weight += _log_choose_row(int(p), m)[rows[:, j]]
    return rows, np.exp(log_weight)


@functools.lru_cache(maxsize=4096)
def _log_choose_row(n: int, m: int) -> np.ndarray:
    """log C(n, i) for i = 0..m (-inf above n), read-only: kept, since a chain's tests and the
    simulations ask for the same few rows many thousand times (a fifth of a change test's time
    went into making them)."""
    row = np.array([_log_choose(n, i) for i in range(m + 1)])
    row.flags.writeable = False
    return row


def _log_choose(n: int, k: int) -> float:
    if k < 0 or k > n:
        return -math.inf
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
