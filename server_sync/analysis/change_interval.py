"""The confidence interval of a period's change (after - before) that inverts the change's own test,
so that a verdict and its interval never disagree: the interval leaves out 0 exactly when the test
calls the change significant.

Every metric of a change is a mean of answers scaled to [0, 1] (CSAT: 0 or 1; the Happy Index: the
faces; NPS: detractor 0, passive ½, promoter 1). The interval is the set of differences δ that a
score test does not reject (Miettinen & Nurminen 1985, "Comparative analysis of two rates",
Statistics in Medicine 4:213-226; Farrington & Manning 1990, Statistics in Medicine 9:1447-1454):

    z(δ) = (observed difference - δ) / sqrt(φ · (μ_b(1 - μ_b) / n_b + μ_a(1 - μ_a) / n_a))

where μ_b, μ_a are the two means fitted under μ_a - μ_b = δ (the restricted maximum of the
binomial likelihood, Farrington & Manning's closed form; a quasi-likelihood for answers between 0
and 1, Wedderburn 1974) and φ a dispersion common to both sides. Fitting both means under each δ
is what keeps the interval honest near the top of a scale: a small side without a low answer is
not read as certain, as the plug-in (Welch, Wald) variance reads it.

The critical value is the test's smallest significant difference, as a z at δ = 0: for the pooled
z its normal quantile (so φ cancels: on CSAT this is Miettinen & Nurminen's interval), for the
exact permutation test the difference halfway between the largest its splits do not call
significant and the smallest they do, so that z(0) falls on the same side of it as the exact
p-value falls of alpha. Where no outcome at the sides' sizes is significant, or nothing varies,
the normal quantile with φ from the answers and the z²/2 pseudo-answers at each end
(`adjusted_dispersion`), widened to reach 0 if it does not.

What it shares with its test: one spread for both periods. Where a period's answers spread much
more than the other's (a bad day of 40 answers against a calm baseline of 1,120), the interval
is too narrow (docs/analysis.md#trends-and-change has the numbers).
"""

from __future__ import annotations

import math
from typing import Sequence

from server_sync.analysis.stats import CONFIDENCE, z_quantile

Side = tuple[int, float]        # (answers, their mean on [0, 1])
BISECTIONS = 42                 # halvings of an end's bracket: within 1e-12 of the scale


def fitted_means(before: Side, after: Side, delta: float) -> tuple[float, float]:
    """(μ_b, μ_a): the restricted maximum-likelihood means under μ_a - μ_b = δ (|δ| < 1), the
    closed form of Farrington & Manning (1990), solving the likelihood equations' cubic."""
    (n_b, x_b), (n_a, x_a) = before, after
    theta = n_b / n_a
    a = 1.0 + theta
    b = -(1.0 + theta + x_a + theta * x_b + delta * (theta + 2.0))
    c = delta * delta + delta * (2.0 * x_a + theta + 1.0) + x_a + theta * x_b
    d = -x_a * delta * (1.0 + delta)
    v = b ** 3 / (3.0 * a) ** 3 - b * c / (6.0 * a * a) + d / (2.0 * a)
    u = math.copysign(math.sqrt(max(0.0, b * b / (3.0 * a) ** 2 - c / (3.0 * a))), v)
    if u == 0.0:
        mu_a = -b / (3.0 * a)
    else:
        w = (math.pi + math.acos(max(-1.0, min(1.0, v / u ** 3)))) / 3.0
        mu_a = 2.0 * u * math.cos(w) - b / (3.0 * a)
    mu_a = min(max(mu_a, max(0.0, delta)), min(1.0, 1.0 + delta))
    return mu_a - delta, mu_a


def adjusted_dispersion(counts: Sequence[int], values: Sequence[float],
                        confidence: float = CONFIDENCE) -> float:
    """φ of answers on [0, 1] (`counts[i]` answers at `values[i]`): their variance over x̄(1 - x̄),
    with the z²/2 pseudo-answers at each end of `stats.adjusted_mean_interval`, so that it is
    above 0 when every answer is the same. 1 for answers of 0 and 1 only. For the interval's
    normal fallback (`inverted_interval`); the test's own critical value makes it cancel."""
    pseudo = z_quantile(0.5 + confidence / 2.0) ** 2 / 2.0
    size = sum(counts) + 2 * pseudo
    mean = (sum(k * v for k, v in zip(counts, values)) + pseudo) / size
    var = (sum(k * v * v for k, v in zip(counts, values)) + pseudo) / size - mean * mean
    return max(0.0, var) / (mean * (1.0 - mean))


def _variance(before: Side, after: Side, delta: float) -> float:
    """μ_b(1 - μ_b) / n_b + μ_a(1 - μ_a) / n_a at the means fitted under δ (before the dispersion)."""
    mu_b, mu_a = fitted_means(before, after, delta)
    return mu_b * (1.0 - mu_b) / before[0] + mu_a * (1.0 - mu_a) / after[0]


def score_z(before: Side, after: Side, dispersion: float, delta: float) -> float:
    """The score statistic z(δ) of the observed difference against a true difference δ."""
    var = dispersion * _variance(before, after, delta)
    gap = after[1] - before[1] - delta
    if var <= 0.0:
        return 0.0 if gap == 0.0 else math.copysign(math.inf, gap)
    return gap / math.sqrt(var)


def inverted_interval(before: Side, after: Side, dispersion: float, critical: float | None,
                      significant: bool, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The differences δ (on [0, 1]) whose |z(δ)| is below the test's critical value. `critical` is
    the smallest |difference| the test calls significant, on [0, 1] (None when no outcome at these
    sizes is, or nothing varies): its z(0) is the critical value, so the dispersion cancels, else
    the normal quantile with `dispersion`. Moved by at most the rounding of the last digit so that
    0 is outside exactly when the test said `significant`."""
    spread = math.sqrt(dispersion * _variance(before, after, 0.0))
    if critical is not None and math.isfinite(critical) and spread > 0.0:
        c = critical / spread
    else:
        c = z_quantile(0.5 + confidence / 2.0)
    z0 = abs(score_z(before, after, dispersion, 0.0))
    if significant and z0 <= c:
        c = z0 * (1.0 - 1e-9)
    elif not significant and z0 >= c:
        c = z0 * (1.0 + 1e-9)
    diff = after[1] - before[1]
    return _end(before, after, dispersion, c, diff, -1.0), _end(before, after, dispersion, c, diff, 1.0)


def _end(before: Side, after: Side, dispersion: float, c: float, diff: float, way: float) -> float:
    """The end of the interval on `way`'s side of the observed difference: the δ where |z(δ)|
    reaches c, by bisection between the difference (z = 0) and the edge of the scale (|δ| = 1,
    where a fitted mean reaches 0 or 1 and |z| grows without bound)."""
    inside, outside = diff, way * 1.0
    if abs(score_z(before, after, dispersion, outside * (1.0 - 1e-12))) < c:
        return outside
    for _ in range(BISECTIONS):
        mid = (inside + outside) / 2.0
        if abs(score_z(before, after, dispersion, mid)) < c:
            inside = mid
        else:
            outside = mid
    return inside
