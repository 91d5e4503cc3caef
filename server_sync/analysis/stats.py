"""Distribution functions the metrics need (Student t, normal, binomial), the adjusted-mean interval
of a bounded mean (Happy Index, CSAT, NPS), a test's result, and Pearson's r.

Pure functions on numbers, standard library only: the reference for every figure (the one numpy
speed trick, `effects_batch`, calls these for its tests and is held to the plain version).
Never reads the database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

from server_sync.protocol import rounding

_NORMAL = NormalDist()
ALPHA = 0.05                # two-sided p below this is significant (1 - 0.95 is 0.05000000000000004)
CONFIDENCE = 1 - ALPHA
# The decimals a report keeps of a figure (its JSON and CSV): a reader sees one, written from
# these. Kept to two, a figure was rounded twice and 3 % of those shown were 0.1 off (82.3529 kept
# as 82.35, whose float is 82.3499…, shown as 82.3; an independent recomputation found them).
KEPT_DIGITS = 4
# The most decimals a page shows a kept figure at (the best-vs-rest rates, a correlation's r; an
# estimate has one): `kept` keeps a figure that reads at each of them as the figure computed.
SHOWN_DIGITS = 2
T_EXACT_MAX_DF = 1e7      # t_sf: the exact incomplete beta up to here, the normal tail beyond


def kept(x: float, digits: int = KEPT_DIGITS) -> float:
    """A figure as a report keeps it: `digits` decimals that a page rounds to the figure `x`
    itself reads as (`rounding.kept`: 97.04995863 is 97.0499, read 97.0, not 97.05, read 97.1)."""
    return rounding.kept(x, digits, SHOWN_DIGITS)


@lru_cache(maxsize=256)
def z_quantile(p: float) -> float:
    # Cached: a report asks for the same few quantiles some ten thousand times (every interval).
    return _NORMAL.inv_cdf(p)


def normal_sf(z: float) -> float:
    """P(Z > z), from the complementary error function: `1 - cdf(z)` cancels to exactly 0 from
    z ≈ 8.3 (every p-value of a large change became 0), erfc keeps full relative precision."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _betacf(a: float, b: float, x: float) -> float:
    # Continued fraction of the incomplete beta function (modified Lentz).
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                + a * math.log(x) + b * math.log1p(-x))
    front = math.exp(ln_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X binomial with `n` trials of probability `p`."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return incomplete_beta(k, n - k + 1, p)


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom."""
    if math.isinf(df) or df > T_EXACT_MAX_DF:
        # Beyond 10⁷ degrees of freedom the log-gamma front of the exact form loses precision,
        # and the normal tail is within (t⁴ + 2t²) / (4 df) of the t tail: 7e-5 relative at t = 7.
        return normal_sf(t)
    # The exact regularized incomplete beta for every other df. An approximation (Abramowitz &
    # Stegun 26.7.8) was used from 100 df: its small absolute error is a large relative one in
    # the tail, 5 % at t = 5 and 31 % at t = 7 with 100 df. The exact form agrees with scipy to
    # 2e-8 relative up to 10⁷ df and costs some 50 µs a call.
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


@lru_cache(maxsize=4096)
def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t: the Cornish-Fisher expansion from 30 degrees of freedom
    (error below 1e-6 there, Abramowitz & Stegun 26.7.5); below, Halley's method on the exact
    CDF from that expansion, kept inside a bracket (a bisection step whenever a step leaves it):
    two or three CDF evaluations where bisection took forty."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile: p must be in (0, 1), got {p}")
    if math.isinf(df) or df > 1e7:
        return z_quantile(p)
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if df >= 30:
        return _cornish_fisher(p, df)
    lo, hi = 0.0, math.inf
    log_density = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    x = max(_cornish_fisher(p, df), 1e-3)
    for _ in range(200):
        gap = 1.0 - t_sf(x, df) - p
        if gap < 0:
            lo = x
        else:
            hi = x
        u = gap / math.exp(log_density - (df + 1) / 2 * math.log1p(x * x / df))
        # Halley's step (the density's slope over itself is -(df + 1) x / (df + x²)): the error
        # cubes, so once this step is below 1e-6 the next point is exact to rounding.
        step = x - u / (1.0 + u * (df + 1) * x / (2.0 * (df + x * x)))
        x_next = step if lo < step < hi else (2.0 * x if math.isinf(hi) else (lo + hi) / 2.0)
        if abs(u) < 1e-6 * max(1.0, x) and x_next == step or hi - lo < 1e-12:
            return x_next
        x = x_next
    return x


def _cornish_fisher(p: float, df: float) -> float:
    z = z_quantile(p)
    z2 = z * z
    g1 = (z2 + 1) * z / 4
    g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
    g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
    g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4


def adjusted_mean_interval(n: int, total: float, total_sq: float,
                           confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Confidence interval of the mean of n values in [0, 1], given their sum and sum of squares.

    The one interval method of every rate and score Kundpuls reports (CSAT as the mean of 0/1,
    the Happy Index as the mean of the scaled faces, NPS as the mean of detractor 0, passive ½,
    promoter 1): add z²/2 pseudo-answers at each end of the scale, the adjustment Agresti & Coull
    (1998) made for proportions, and take a Student t quantile with n - 1 degrees of freedom.
    The pseudo-answers keep the interval away from zero width when every answer is the same and
    pull it off the edge of the scale, where a plain t or Wald interval badly under-covers (Wald
    NPS at n = 5 with 95 % promoters: 22 %). Simulated coverage of the nominal 95 % is at least
    93 % at n = 5 … 1000, at the edges and in the middle (tests/analysis/test_coverage.py,
    docs/analysis.md#intervals). Clipped to [0, 1].
    """
    if n <= 0:
        return None
    q = z_quantile(0.5 + confidence / 2.0)
    pseudo = q * q / 2.0
    size = n + 2 * pseudo
    mean = (total + pseudo) / size                     # the pseudo-answers: `pseudo` at 1, `pseudo` at 0
    var = max(0.0, (total_sq + pseudo) / size - mean * mean)
    half = t_quantile(0.5 + confidence / 2.0, max(n - 1, 1)) * math.sqrt(var / size)
    return max(0.0, mean - half), min(1.0, mean + half)


@dataclass(frozen=True)
class TestResult:
    """A two-sample comparison: difference (b - a), its CI, the two-sided p-value, which test."""
    diff: float
    low: float
    high: float
    p_value: float
    test: str

    def significant(self, alpha: float = ALPHA) -> bool:
        return self.p_value < alpha

    def as_dict(self) -> dict:
        return {"diff": self.diff, "low": self.low, "high": self.high, "p_value": self.p_value,
                "test": self.test, "significant": self.significant()}


def pearson(xs: list[float], ys: list[float], confidence: float = CONFIDENCE) -> dict | None:
    """Pearson r with a Fisher-z confidence interval and a t-test p-value; None below 3 pairs,
    and None (too little data) when the pairs lie exactly on a line. Indices from a few answers
    take few values, so a few sites fall on a line by chance now and then; the t-test would then
    call the correlation certain (p = 0) and Fisher's interval would have zero width (atanh(±1) is
    infinite), while each index still carries its answers' sampling error: no figure claims that."""
    n = len(xs)
    if n < 3 or n != len(ys):
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    if sxx == 0 or syy == 0:
        return None
    r = max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))
    if 1.0 - abs(r) < 1e-12:                             # on a line, up to rounding
        return None
    t = r * math.sqrt((n - 2) / (1 - r * r))
    p_value = min(1.0, 2 * t_sf(abs(t), n - 2))
    if n > 3:
        zr, se = math.atanh(r), 1 / math.sqrt(n - 3)
        q = z_quantile(0.5 + confidence / 2.0)
        low, high = math.tanh(zr - q * se), math.tanh(zr + q * se)
    else:
        low, high = -1.0, 1.0
    return {"r": r, "low": low, "high": high, "n": n, "p_value": p_value}
