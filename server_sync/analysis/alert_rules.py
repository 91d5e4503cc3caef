"""The alert rules as pure functions (thresholds are data, not code).

- Realtime: within the last `window_min` minutes at least `min_answers` answers and at least
  `negative_share` of them negative (default: half of at least 4 within 15 minutes).
- Trend: today's answers so far against the site's baseline of the previous `baseline_days`
  days over the same hours of the day; a drop of at least `min_drop` points that is significant
  at `alpha` (Welch t on the Happy Index, normal test on NPS).
- One dip, one alert: while a rule keeps firing for the same site and question, the open
  alert's `last_seen_at` moves on; a new alert is raised only after `cooldown_min` quiet minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

from server_sync.analysis.metrics import Tally
from server_sync.analysis.stats import TestResult
from server_sync.analysis.trends import compare


@dataclass(frozen=True)
class RealtimeRule:
    window_min: int = 15
    min_answers: int = 4
    negative_share: float = 0.5
    cooldown_min: int = 60


@dataclass(frozen=True)
class TrendRule:
    baseline_days: int = 28
    alpha: float = 0.01
    min_answers: int = 20
    min_drop: float = 5.0            # index points (NPS points on nps11)
    cooldown_min: int = 24 * 60


def realtime_breach(n: int, negative: int, rule: RealtimeRule = RealtimeRule()) -> bool:
    return n >= rule.min_answers and negative >= rule.negative_share * n


def trend_breach(baseline: Tally, current: Tally, rule: TrendRule = TrendRule()) -> TestResult | None:
    """The test result when today is significantly and materially below the baseline, else None."""
    if current.n < rule.min_answers or baseline.n < rule.min_answers:
        return None
    test = compare(baseline, current)
    if test is None or test.p_value >= rule.alpha or test.diff > -rule.min_drop:
        return None
    return test
