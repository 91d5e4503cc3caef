"""`stats.t_sf` of many t values at once, with numpy. A speed trick, kept apart from the method:
`stats.py` is the plain version, and tests/analysis/test_stats_batch.py holds this one to it,
bit for bit.

Why: a chain report tests every judged action twice (its headline metric and CSAT): over the
200-site, 2-year benchmark chain some 1,900 t tails, each a continued fraction of about a dozen
steps in Python. Here the continued fraction runs over arrays, step by step with the plain
version's operations in its order (numpy's +, -, ×, ÷ are IEEE's, as Python's), each value
leaving the loop at the step the plain loop would stop at; the log-gamma front stays Python's
`math` per value (numpy's logarithms and exponentials need not round as the C library's do).
"""

from __future__ import annotations

import math

import numpy as np

from server_sync.analysis.stats import T_EXACT_MAX_DF, normal_sf

_TINY = 1e-300
_STEPS = 300              # stats._betacf's most


def t_sf(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """`stats.t_sf(t[i], df[i])` for each i."""
    t, df = np.asarray(t, dtype=float), np.asarray(df, dtype=float)
    out = np.empty(len(t))
    exact = ~(np.isinf(df) | (df > T_EXACT_MAX_DF))
    for i in np.flatnonzero(~exact).tolist():
        out[i] = normal_sf(float(t[i]))
    te, de = t[exact], df[exact]
    tail = 0.5 * incomplete_beta(de / 2.0, np.full(len(de), 0.5), de / (de + te * te))
    out[exact] = np.where(te >= 0, tail, 1.0 - tail)
    return out


def incomplete_beta(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`stats.incomplete_beta(a[i], b[i], x[i])` for each i."""
    out = np.where(x <= 0.0, 0.0, 1.0)
    inside = np.flatnonzero((x > 0.0) & (x < 1.0))
    if not len(inside):
        return out
    a, b, x = a[inside], b[inside], x[inside]
    front = np.array([math.exp(math.lgamma(ai + bi) - math.lgamma(ai) - math.lgamma(bi)
                               + ai * math.log(xi) + bi * math.log1p(-xi))
                      for ai, bi, xi in zip(a.tolist(), b.tolist(), x.tolist())])
    direct = x < (a + 1.0) / (a + b + 2.0)
    # The plain version's two branches: I_x(a, b) directly, or 1 - I_{1-x}(b, a).
    fraction = _betacf(np.where(direct, a, b), np.where(direct, b, a), np.where(direct, x, 1.0 - x))
    out[inside] = np.where(direct, front * fraction / a, 1.0 - front * fraction / b)
    return out


def _betacf(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`stats._betacf` of each (a, b, x): the same steps; a value stops where the plain loop breaks."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones(len(a))
    d = 1.0 - qab * x / qap
    d = 1.0 / np.where(np.abs(d) > _TINY, d, _TINY)
    h = d.copy()
    going = np.arange(len(a))               # the values still in the loop
    for m in range(1, _STEPS):
        m2 = 2 * m
        ga, gb, gx, gd, gc = a[going], b[going], x[going], d[going], c[going]
        aa = m * (gb - m) * gx / ((qam[going] + m2) * (ga + m2))
        gd = 1.0 + aa * gd
        gd = 1.0 / np.where(np.abs(gd) > _TINY, gd, _TINY)
        gc = 1.0 + aa / gc
        gc = np.where(np.abs(gc) > _TINY, gc, _TINY)
        gh = h[going] * (gd * gc)
        aa = -(ga + m) * (qab[going] + m) * gx / ((ga + m2) * (qap[going] + m2))
        gd = 1.0 + aa * gd
        gd = 1.0 / np.where(np.abs(gd) > _TINY, gd, _TINY)
        gc = 1.0 + aa / gc
        gc = np.where(np.abs(gc) > _TINY, gc, _TINY)
        delta = gd * gc
        h[going], d[going], c[going] = gh * delta, gd, gc
        going = going[~(np.abs(delta - 1.0) < 1e-15)]
        if not len(going):
            break
    return h
