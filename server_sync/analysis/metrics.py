"""The centre's metrics with 95% intervals, from sufficient statistics.

A `Tally` (server_sync.protocol.tally, where the point values are defined once) holds what the
rollups store per group (n, sum and sum of squares of the raw values, top-two count, negative
count), so every metric and its interval is exact without raw answers:
- Happy Index 0-100: mean of smiley answers mapped linearly (the scale's `happy_points`);
- CSAT %: share of the top two answers (9-10 on nps11);
- NPS: %promoters - %detractors.
Every interval is `stats.adjusted_mean_interval` (docs/analysis.md#intervals): honest coverage
at small n and at the edges of the scale, never zero width. Scale rules (what is negative, top
two, the Happy Index weights) come from server_sync.protocol.scales.
Pure: never touches the database; flagged presses are already left out by the rollups.
"""

from __future__ import annotations

from dataclasses import dataclass

from server_sync.analysis.stats import CONFIDENCE, KEPT_DIGITS, adjusted_mean_interval, kept
from server_sync.protocol.scales import SCALES, is_negative, is_top2
from server_sync.protocol.tally import Tally, sum_tallies

SMILEY_POINTS = {name: s.points for name, s in SCALES.items() if s.smiley}
SMALL_SAMPLE = 30          # below this an estimate is marked "small" in every report


def primary_metric(scale: str) -> str:
    return SCALES[scale].primary_metric


@dataclass(frozen=True)
class Estimate:
    """A metric with its confidence interval and sample size; `small` marks n < SMALL_SAMPLE."""
    value: float | None
    low: float | None
    high: float | None
    n: int

    @property
    def small(self) -> bool:
        return self.n < SMALL_SAMPLE

    def as_dict(self, digits: int = KEPT_DIGITS) -> dict:
        r = (lambda x: None if x is None else kept(x, digits))
        return {"value": r(self.value), "low": r(self.low), "high": r(self.high), "n": self.n,
                "small": self.small}


EMPTY = Estimate(None, None, None, 0)


def happy_index_scale(scale: str) -> float:
    """Index points per raw step (100 / (points - 1))."""
    return 100.0 / (SMILEY_POINTS[scale] - 1)


def happy_index(t: Tally, confidence: float = CONFIDENCE) -> Estimate:
    """The mean face on the 0-100 line; interval: `adjusted_mean_interval` of the scaled faces."""
    if t.scale not in SMILEY_POINTS or t.n == 0:
        return Estimate(None, None, None, t.n)
    scale = SCALES[t.scale]
    span = scale.highest - scale.lowest
    total = (t.sum_v - t.n * scale.lowest) / span
    total_sq = (t.sum_v2 - 2 * scale.lowest * t.sum_v + t.n * scale.lowest ** 2) / span ** 2
    low, high = adjusted_mean_interval(t.n, total, total_sq, confidence)
    return Estimate(t.happy_index(), low * 100, high * 100, t.n)


def happy_index_variance(t: Tally) -> float | None:
    """Variance of the Happy Index estimate (index points squared)."""
    var = t.value_variance()
    if var is None or t.scale not in SMILEY_POINTS:
        return None
    return var * happy_index_scale(t.scale) ** 2 / t.n


def csat(t: Tally, confidence: float = CONFIDENCE) -> Estimate:
    """Share of the top two answers; interval: `adjusted_mean_interval` of 0/1."""
    if t.n == 0:
        return EMPTY
    low, high = adjusted_mean_interval(t.n, t.top2, t.top2, confidence)
    return Estimate(t.csat(), low * 100, high * 100, t.n)


def nps_variance(t: Tally) -> float | None:
    """Textbook variance of the NPS estimate on the -1..1 scale: (p+ + p- - (p+ - p-)^2) / n."""
    if t.n == 0 or t.scale != "nps11":
        return None
    pp, pm = t.promoters / t.n, t.detractors / t.n
    return (pp + pm - (pp - pm) ** 2) / t.n


def nps(t: Tally, confidence: float = CONFIDENCE) -> Estimate:
    """% promoters - % detractors; interval: `adjusted_mean_interval` of detractor 0, passive ½,
    promoter 1, mapped back to -100..100."""
    if t.scale != "nps11" or t.n == 0:
        return Estimate(None, None, None, t.n)
    passives = t.n - t.promoters - t.detractors
    low, high = adjusted_mean_interval(t.n, t.promoters + passives / 2, t.promoters + passives / 4, confidence)
    return Estimate(t.nps(), low * 200 - 100, high * 200 - 100, t.n)


def primary(t: Tally) -> Estimate:
    """The headline metric of a question: NPS on nps11, else the Happy Index."""
    return nps(t) if t.scale == "nps11" else happy_index(t)


def primary_variance(t: Tally) -> float | None:
    """Variance of the headline metric, in its own points (NPS points or index points)."""
    if t.scale == "nps11":
        v = nps_variance(t)
        return None if v is None else v * 10000
    return happy_index_variance(t)


def unit_variance(t: Tally) -> float | None:
    """Per-answer variance of the headline metric (variance × n): what shrinkage pools."""
    v = primary_variance(t)
    return None if v is None else v * t.n


def metrics_dict(t: Tally) -> dict:
    """Every metric that applies to the tally's scale, as JSON-ready dicts."""
    out = {"n": t.n, "negative": t.negative, "csat": csat(t).as_dict()}
    if t.scale == "nps11":
        out["nps"] = nps(t).as_dict()
        out["promoters"], out["detractors"] = t.promoters, t.detractors
    else:
        out["happy_index"] = happy_index(t).as_dict()
    return out
