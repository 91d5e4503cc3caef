"""`metrics.metrics_dict` of many tallies of one scale at once, with numpy. A speed trick, kept
apart from the method: `metrics.py` (with `stats.adjusted_mean_interval`) is the plain version,
and tests/analysis/test_metrics_batch.py holds this one to it, float for float.

Why: a report over a chain judges every action, and each judgement shows four groups (the site
and the rest of the chain, before and after): over the 200-site, 2-year benchmark chain 3,812
dicts, some 60 ms one at a time, most of it the interval's arithmetic and the objects around it.
Here the arithmetic runs over arrays, with the plain version's operations in its order (numpy's
+, -, ×, ÷ and square root are IEEE's, as Python's), the t quantile is the plain function's for
each distinct n, and the rounding is `stats.kept` on Python floats (numpy's rounds by
scaling, which differs in the last digit now and then).
"""

from __future__ import annotations

import numpy as np

from server_sync.analysis.metrics import SMALL_SAMPLE
from server_sync.analysis.stats import CONFIDENCE, kept, t_quantile, z_quantile
from server_sync.protocol.scales import SCALES

N, SUM_V, SUM_V2, TOP2, NEGATIVE = range(5)       # a row's fields: a Tally's, in its order


def metrics_dicts(scale: str, tallies: np.ndarray) -> list[dict]:
    """`metrics_dict(Tally(scale, *row))` for each row of `tallies` (int array `(m, 5)`: n, Σv,
    Σv², top two, negative)."""
    t = np.asarray(tallies, dtype=np.int64)
    n, top2, negative = t[:, N], t[:, TOP2], t[:, NEGATIVE]
    has = n > 0
    safe = np.where(has, n, 1)
    sc = SCALES[scale]
    csat = _estimates(n, top2 / safe * 100, *_interval(n, top2, top2), 100, 0)
    if sc.smiley:
        span = sc.highest - sc.lowest
        value = (t[:, SUM_V] / safe - sc.lowest) / span * 100
        total = (t[:, SUM_V] - n * sc.lowest) / span
        total_sq = (t[:, SUM_V2] - 2 * sc.lowest * t[:, SUM_V] + n * sc.lowest ** 2) / span ** 2
        headline = "happy_index", _estimates(n, value, *_interval(n, total, total_sq), 100, 0)
    else:
        passives = n - top2 - negative
        value = (top2 - negative) / safe * 100
        headline = "nps", _estimates(n, value, *_interval(n, top2 + passives / 2, top2 + passives / 4), 200, -100)
    out = []
    for i, (count, neg, promoters) in enumerate(zip(n.tolist(), negative.tolist(), top2.tolist())):
        row = {"n": count, "negative": neg, "csat": csat[i]}
        if sc.smiley:
            row[headline[0]] = headline[1][i]
        else:
            row["nps"] = headline[1][i]
            row["promoters"], row["detractors"] = promoters, neg
        out.append(row)
    return out


def _interval(n: np.ndarray, total: np.ndarray, total_sq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`stats.adjusted_mean_interval` (at `CONFIDENCE`) of each group; meaningless where n is 0."""
    q = z_quantile(0.5 + CONFIDENCE / 2.0)
    pseudo = q * q / 2.0
    size = n + 2 * pseudo
    mean = (total + pseudo) / size
    var = (total_sq + pseudo) / size - mean * mean
    var = np.where(var > 0.0, var, 0.0)                # max(0.0, x): 0.0 unless x is above it
    quantiles = {int(k): t_quantile(0.5 + CONFIDENCE / 2.0, max(int(k) - 1, 1)) for k in np.unique(n)}
    half = np.array([quantiles[k] for k in n.tolist()], dtype=float) * np.sqrt(var / size)
    low, high = mean - half, mean + half
    return np.where(low > 0.0, low, 0.0), np.where(high < 1.0, high, 1.0)


def _estimates(n: np.ndarray, value: np.ndarray, low: np.ndarray, high: np.ndarray, scale: float,
               shift: float) -> list[dict]:
    """`Estimate(value, low·scale + shift, high·scale + shift, n).as_dict()` of each group; all
    None without answers."""
    low, high = (low * scale, high * scale) if not shift else (low * scale + shift, high * scale + shift)
    rows = zip(n.tolist(), value.tolist(), low.tolist(), high.tolist())
    return [{"value": kept(v), "low": kept(lo), "high": kept(hi), "n": k,
             "small": k < SMALL_SAMPLE}
            if k > 0 else {"value": None, "low": None, "high": None, "n": k, "small": k < SMALL_SAMPLE}
            for k, v, lo, hi in rows]
