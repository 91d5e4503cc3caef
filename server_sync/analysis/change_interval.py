"""A period's change (after - before) as one family of score tests: the test's statistic is its
z at a true difference of 0, its interval the differences it does not reject, so a verdict and its
interval never disagree: the interval leaves out 0 exactly when the test calls the change
significant.

Every metric of a change is a mean of answers scaled to [0, 1] (CSAT: 0 or 1; the Happy Index: the
faces; NPS: detractor 0, passive ½, promoter 1). Against a true difference δ:

    z(δ) = (observed difference - δ) / sqrt(φ_b μ_b(1 - μ_b) / n_b + φ_a μ_a(1 - μ_a) / n_a)

with μ_b, μ_a the two means fitted under μ_a - μ_b = δ (the restricted maximum of the binomial
quasi-likelihood, Farrington & Manning 1990, Statistics in Medicine 9:1447-1454, closed form;
Wedderburn 1974, Biometrika 61:439-447) and φ_b, φ_a each period's own dispersion (its variance
over x̄(1 - x̄): 1 for CSAT's 0/1 answers, where this is the score interval of two proportions,
Miettinen & Nurminen 1985, Statistics in Medicine 4:213-226), moderated towards the pooled
answers' by the weight of `PRIOR_ANSWERS` answers (Smyth 2004, Statistical Applications in
Genetics and Molecular Biology 3:3) when its own is the smaller, never when it is the larger: a
small period near the top of the scale without a low answer does not read as certain, and a period
whose answers spread more than the pooled ones (a bad day against a calm baseline) keeps its own
spread in full, worth its answers less one in degrees of freedom (`Side.own`). Fitting both means
under each δ keeps the interval off the edges of the scale.

The critical value is the test's (`answer_change.answer_test`): the normal quantile, or for the exact
permutation test of z(0) (`studentized`) the |z| halfway between the largest outcome it does not
call significant and the smallest it does. Where no outcome at the sides' sizes is significant,
the normal quantile, widened to reach 0 if it does not.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import numpy as np

from server_sync.analysis.roots import false_position
from server_sync.analysis.stats import CONFIDENCE, normal_sf, z_quantile

PRIOR_ANSWERS = 10              # the pooled dispersion's weight in a period's own, in answers
WIDER = 1e-9                    # a period's own dispersion above the pooled one by more than rounding


class Side(NamedTuple):
    """A period as the change's statistic sees it."""
    n: float            # answers
    mean: float         # their mean on [0, 1]
    phi: float          # their dispersion φ: their own, or moderated up towards the pooled one
    own: bool = False   # φ is the period's own, wider than the pooled answers' (not moderated)


def fitted_means(before: tuple[float, float], after: tuple[float, float], delta: float) -> tuple[float, float]:
    """(μ_b, μ_a): the restricted maximum-likelihood means under μ_a - μ_b = δ (|δ| < 1) of two
    sides of (size, mean), the closed form of Farrington & Manning (1990), solving the likelihood
    equations' cubic. With dispersions the sizes are n / φ (the quasi-likelihood's weights)."""
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
    above 0 when every answer is the same. 1 for answers of 0 and 1 only. The pooled answers'
    dispersion each period's own is moderated towards (`sides`)."""
    pseudo = z_quantile(0.5 + confidence / 2.0) ** 2 / 2.0
    size = sum(counts) + 2 * pseudo
    mean = (sum(k * v for k, v in zip(counts, values)) + pseudo) / size
    var = (sum(k * v * v for k, v in zip(counts, values)) + pseudo) / size - mean * mean
    return max(0.0, var) / (mean * (1.0 - mean))


def sides(before: Sequence[int], after: Sequence[int], values: Sequence[float]) -> tuple[Side, Side]:
    """Each period's `Side` from its answers per value (`values` on [0, 1]): `_side`'s figures of
    the one pair."""
    vals = np.asarray(values, dtype=float)
    prior = adjusted_dispersion([b + a for b, a in zip(before, after)], values)
    figures = [_side(np.asarray([counts]), vals, prior) for counts in (before, after)]
    return tuple(Side(float(n[0]), float(mean[0]), float(phi[0]), bool(own[0]))   # type: ignore[return-value]
                 for n, mean, phi, own in figures)


def _side(counts: np.ndarray, vals: np.ndarray, prior: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(answers, mean, φ, own) of periods (one a row of answers per value): φ the variance over
    x̄(1 - x̄) (`prior` where the mean sits at an end); where that is below `prior`, moderated up
    towards it by the weight of `PRIOR_ANSWERS` answers; where above (`own`), kept, with the
    variance over n - 1 (its degrees of freedom): pulling a period that spreads more than the
    pooled answers down towards them made a side of 15 answers split between the two ends against
    1,000 in the middle, at the same mean, a change in 20 % of pairs."""
    n = counts.sum(axis=1).astype(float)
    mean = counts @ vals / n
    spread = mean * (1.0 - mean)
    var = np.maximum(0.0, counts @ (vals * vals) / n - mean * mean)
    dispersion = np.where(spread > 0, var / np.where(spread > 0, spread, 1.0), prior)
    own = dispersion > prior * (1.0 + WIDER)
    unbiased = dispersion * n / np.maximum(n - 1.0, 1.0)
    return n, mean, np.where(own, unbiased, (n * dispersion + PRIOR_ANSWERS * prior) / (n + PRIOR_ANSWERS)), own


def statistic(values: Sequence[float], pooled: Sequence[int]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """z(0) of many pairs of periods at once, for the permutation test (`studentized`): a function
    of the two periods' answers per value (arrays, one pair a row) whose pooled answers are
    `pooled`. The same figures as `sides` and `score_z` at δ = 0, where the fitted means are the
    periods' means weighted by n / φ."""
    vals = np.asarray(values, dtype=float)
    prior = adjusted_dispersion(list(pooled), list(values))

    def z(before: np.ndarray, after: np.ndarray) -> np.ndarray:
        (n_b, x_b, f_b, _), (n_a, x_a, f_a, _) = _side(before, vals, prior), _side(after, vals, prior)
        w_b, w_a = n_b / f_b, n_a / f_a
        mu = (w_b * x_b + w_a * x_a) / (w_b + w_a)
        var = mu * (1.0 - mu) * (f_b / n_b + f_a / n_a)
        return np.where(var > 0, (x_a - x_b) / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    return z


def degrees_of_freedom(before: Side, after: Side) -> float:
    """The Welch-Satterthwaite degrees of freedom of z's variance at δ = 0, each side worth its
    answers less one, plus the pooled dispersion's `PRIOR_ANSWERS` where it was moderated (Smyth
    2004): a small side's own spread is itself uncertain, and its t quantile says so."""
    mu = (before.n / before.phi * before.mean + after.n / after.phi * after.mean) / (
        before.n / before.phi + after.n / after.phi)
    parts = [(s.phi * mu * (1.0 - mu) / s.n, s.n - 1 + (0 if s.own else PRIOR_ANSWERS)) for s in (before, after)]
    total = sum(v for v, _ in parts)
    if total <= 0.0:
        return sum(df for _, df in parts)
    return total * total / sum(v * v / df for v, df in parts)


def pooled_statistic(values: Sequence[float]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The difference in means over the pooled answers' spread, of many pairs at once (for
    `studentized.permutation_test`): the permutation test of the plain difference in means (the
    pooled spread is the same in every split), the trend alert's test (`trends.shift`)."""
    vals = np.asarray(values, dtype=float)

    def z(before: np.ndarray, after: np.ndarray) -> np.ndarray:
        n_b, n_a = before.sum(axis=1).astype(float), after.sum(axis=1).astype(float)
        s_b, s_a = before @ vals, after @ vals
        q = before @ (vals * vals) + after @ (vals * vals)
        n = n_b + n_a
        var = np.maximum(0.0, (q - (s_b + s_a) ** 2 / n) / (n - 1)) * (1 / n_b + 1 / n_a)
        diff = s_a / n_a - s_b / n_b
        return np.where(var > 0, diff / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    return z


def pooled_p(before: Sequence[int], after: Sequence[int], values: Sequence[float]) -> float:
    """The two-sided normal p of `pooled_statistic` (1 when nothing varies): its large-sample form."""
    z = float(pooled_statistic(values)(np.array([before]), np.array([after]))[0])
    return min(1.0, 2 * normal_sf(abs(z))) if z else 1.0


def score_z(before: Side, after: Side, delta: float) -> float:
    """The score statistic z(δ) of the observed difference against a true difference δ."""
    mu_b, mu_a = fitted_means((before.n / before.phi, before.mean), (after.n / after.phi, after.mean), delta)
    var = before.phi * mu_b * (1.0 - mu_b) / before.n + after.phi * mu_a * (1.0 - mu_a) / after.n
    gap = after.mean - before.mean - delta
    if var <= 0.0:
        return 0.0 if gap == 0.0 else math.copysign(math.inf, gap)
    return gap / math.sqrt(var)


def inverted_interval(before: Side, after: Side, critical: float | None, significant: bool,
                      confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The differences δ (on [0, 1]) whose |z(δ)| is below `critical` (the test's, on z's
    scale; None: the normal quantile), moved by at most the rounding of the last digit so that 0
    is outside exactly when the test said `significant` (and, with no critical value of its own,
    widened to reach 0 when the test cannot call any outcome significant)."""
    c = critical if critical is not None else z_quantile(0.5 + confidence / 2.0)
    z0 = abs(score_z(before, after, 0.0))
    if significant and z0 <= c:
        c = z0 * (1.0 - 1e-9)
    elif not significant and z0 >= c:
        c = z0 * (1.0 + 1e-9)
    diff = after.mean - before.mean
    low, high = _end(before, after, c, diff, -1.0), _end(before, after, c, diff, 1.0)
    # The nudged c puts the crossing within about 1e-9 * |diff| of 0, closer than the ends are
    # found where |diff| is tiny (millions of answers): there the verdict places 0.
    if not significant:
        return min(low, 0.0), max(high, 0.0)
    if low <= 0.0 <= high:
        return (math.nextafter(0.0, 1.0), high) if diff > 0 else (low, math.nextafter(0.0, -1.0))
    return low, high


def _end(before: Side, after: Side, c: float, diff: float, way: float) -> float:
    """The end of the interval on `way`'s side of the observed difference: the δ where |z(δ)|
    reaches c, between the difference (z = 0) and the edge of the scale (|δ| = 1, where a fitted
    mean reaches 0 or 1 and |z| grows without bound); found by `roots.false_position` within 2^-41
    of where the computed |z| crosses c, on the side it does not reject (the computed z's own
    round-off, up to about 1e-8 where a fitted mean nears 0 or 1, bounds how near that is to
    the exact crossing)."""
    edge = way * (1.0 - 1e-12)
    if abs(score_z(before, after, edge)) < c:
        return way * 1.0
    return false_position(lambda delta: abs(score_z(before, after, delta)) - c, diff, edge)
