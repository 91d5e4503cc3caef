"""The alert rules as pure functions (thresholds are data, not code). Never touches the
database: `analysis.alerts` reads the tallies and keeps the alerts.

- Dip (the realtime rule, run by ingest after every commit and by `alerts check`): a site's
  headline metric of a question (Happy Index, NPS on nps11) over the last days, against the
  site's own baseline of the `baseline_days` days before them. The windows are today so far,
  the last two and the last `window_days` site-local days (a large dip shows within today, a
  small one once a few days of answers carry it). A window fires when
  - it holds at least the traffic-aware minimum n: `min_answers`, or `min_day_share` of the
    site's usual day of answers to the question when that is more (a busy site must show it
    over more answers than one unhappy group);
  - its value is at least `min_drop` points below the baseline's;
  - the drop is beyond chance: z = (window − baseline) / √(s²·(1/n_w + 1/n_b) + τ²/k) ≤ −`z`,
    where s is the per-answer spread of the baseline (what the window's answers spread like if
    nothing changed: a window of a few identical answers cannot fake a tiny variance) and τ² how
    much the site's days differ from each other beyond their answers' spread (robustly, from
    the day-to-day differences of the baseline, so that an earlier dip in the baseline does not
    make every later day look ordinary), for a window of k days.
  Without `min_baseline` answers in the baseline a site is still learning: no alert.
- Trend: today's answers so far against the site's baseline of the previous `baseline_days`
  days over the same hours of the day; a drop of at least `min_drop` points that is significant
  at `alpha` (Welch t on the Happy Index, normal test on NPS).
- One dip, one alert: while a rule keeps firing for the same site and question, the open
  alert's `last_seen_at` moves on; a new alert is raised only after `cooldown_min` quiet minutes
  (the dip rule's 24 hours span the night: a dip of several days stays one alert).

How the dip rule compares with the rule it replaced (half of at least 4 answers negative within
15 minutes) on generated chains with known dips: benchmarks/alert_quality.py.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

from server_sync.analysis.metrics import Tally, sum_tallies, unit_variance
from server_sync.analysis.stats import TestResult, normal_sf
from server_sync.analysis.trends import compare


@dataclass(frozen=True)
class DipRule:
    baseline_days: int = 28          # the site's own trailing weeks, before the windows
    window_days: int = 3             # windows: today so far, the last 2 days, … the last window_days
    min_answers: int = 20            # the floor of the minimum n of a window (below it the normal
                                     # approximation of a skewed scale fires too often)
    min_answers_nps: int = 40        # the floor on nps11: a three-valued score (−100, 0, 100) with
                                     # a long tail; at 20-30 answers it made a third of the false
                                     # alerts on the benchmark's chain
    min_day_share: float = 0.25      # … raised to this share of the site's usual day of answers
    min_baseline: int = 100          # fewer answers in the baseline: the site is still learning
    # Index points (NPS points on nps11); the target is dips of 10 points or more. 5 instead of 7:
    # one false alert more on the benchmark's chain, the same recall.
    min_drop: float = 7.0
    # One-sided, per window and look (p ≈ 0.00005): the rule looks after every commit, hundreds of
    # times a day per site and question; at 3.3 (p ≈ 0.0005) chance alone made a fifth of the
    # alerts on a trial chain (docs/analysis.md#the-dip-rule).
    z: float = 3.9
    cooldown_min: int = 24 * 60


@dataclass(frozen=True)
class Dip:
    """What a firing dip rule found: the window that showed it most clearly."""
    days: int                        # the window: the last `days` site-local days (1 = today so far)
    n: int
    negative: int
    value: float
    baseline: float
    baseline_n: int
    min_n: int
    z: float
    p_value: float                   # one-sided

    @property
    def drop(self) -> float:
        return self.baseline - self.value


def headline(t: Tally) -> float | None:
    """The point value of the question's headline metric: NPS on nps11, else the Happy Index."""
    return t.nps() if t.scale == "nps11" else t.happy_index()


def minimum_n(baseline: Tally, rule: DipRule = DipRule()) -> int:
    """The traffic-aware minimum n of a window: the floor, or a share of the site's usual day."""
    per_day = baseline.n / rule.baseline_days
    floor = rule.min_answers_nps if baseline.scale == "nps11" else rule.min_answers
    return max(floor, math.ceil(rule.min_day_share * per_day))


def between_days(days: Sequence[Tally], spread: float) -> float:
    """τ²: the variance of the days' values beyond what their answers' spread explains, from the
    day-to-day differences of the baseline's days in date order: the median absolute difference
    (×1.4826, the normal's scale, /√2 for a difference of two days). A difference is robust where
    a deviation from the mean is not: an earlier dip (or a lasting improvement) in the baseline
    is a shift of a block of days, which moves two differences, not every deviation."""
    values = [(headline(d), d.n) for d in days if d.n]
    if len(values) < 8:
        return 0.0
    steps = [abs(b - a) for (a, _), (b, _) in zip(values, values[1:])]
    scale = 1.4826 * statistics.median(steps) / math.sqrt(2)
    return max(0.0, scale * scale - spread * statistics.median(1 / n for _, n in values))


def dip_breach(baseline_days: Sequence[Tally], windows: Sequence[Tally], rule: DipRule = DipRule()) -> Dip | None:
    """The clearest firing window of `windows` (windows[k]: the last k + 1 days) against the
    baseline (one tally per day of it, in date order), or None. All tallies are of one site, question and scale."""
    scale = next((d.scale for d in baseline_days if d.n), None)
    if scale is None:
        return None
    baseline = sum_tallies(baseline_days, scale)
    if baseline.n < max(rule.min_baseline, 2):
        return None
    base = headline(baseline)
    spread = unit_variance(baseline)
    if base is None or not spread:
        return None
    min_n = minimum_n(baseline, rule)
    tau2: float | None = None
    best: Dip | None = None
    for days, window in enumerate(windows[:rule.window_days], start=1):
        value = headline(window) if window.n >= min_n else None
        if value is None or base - value < rule.min_drop:
            continue
        if tau2 is None:                      # only where a window comes close: the hook stays cheap
            tau2 = between_days(baseline_days, spread)
        z = (value - base) / math.sqrt(spread * (1 / window.n + 1 / baseline.n) + tau2 / days)
        if z <= -rule.z and (best is None or z < best.z):
            best = Dip(days, window.n, window.negative, value, base, baseline.n, min_n, z, normal_sf(-z))
    return best


@dataclass(frozen=True)
class TrendRule:
    baseline_days: int = 28
    alpha: float = 0.01
    min_answers: int = 20
    min_drop: float = 5.0            # index points (NPS points on nps11)
    cooldown_min: int = 24 * 60


def trend_breach(baseline: Tally, current: Tally, rule: TrendRule = TrendRule()) -> TestResult | None:
    """The test result when today is significantly and materially below the baseline, else None."""
    if current.n < rule.min_answers or baseline.n < rule.min_answers:
        return None
    test = compare(baseline, current)
    if test is None or test.p_value >= rule.alpha or test.diff > -rule.min_drop:
        return None
    return test
