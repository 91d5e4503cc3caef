"""Every action's before/after at once: `effects.action_effect` for a whole chain's actions, with
numpy. A speed trick, kept apart from the method: `effects.py` is the plain version, and
tests/analysis/test_effects_batch.py holds this one to it (the same windows, tallies, tests and
verdicts, on random series and on a generated chain).

Why: a report judges every action whose after-window overlaps its period. Over the 200-site,
2-year benchmark chain that is 953 actions; one at a time, each read as `{date: Tally}` dicts
and walked day by day, they took 1.6 s of the report's 2.2 s. Here the days of every action sit
in one array, `(actions, SPAN_DAYS, 5)`: column 0 is the first day `effects.span` reads, and
`ACTION_AT` the action's own day; the five fields are a Tally's (n, Σv, Σv², top two, negative).
Each window is a fixed number of days from a per-action offset, summed day by day across all
actions in the plain version's order and with the same operations (products, not powers), so
the results are the same floats, bit for bit. The windows' metrics come from
`metrics_batch` (held to `metrics_dict` the same way); what is left per action is the t test,
the plain version's function (and, where no day differs from another, its test by answers,
`effects.by_answers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Sequence

import numpy as np

from server_sync.analysis import stats_batch
from server_sync.analysis.effects import (ALPHA, DIFFERENCE_TEST, DIP_T, DIP_T_APART, GUARD_DAYS, LOOKBACK_DAYS,
                                          MIN_WEEK_DAYS, SAME_GAP, WEEK, WINDOW_DAYS, WindowMean, after_length,
                                          by_answers, effect_dict, metric_value, testable)
from server_sync.analysis.metrics import Tally, primary_metric
from server_sync.analysis.metrics_batch import N, NEGATIVE, SUM_V, TOP2, metrics_dicts
from server_sync.analysis.stats import TestResult, t_quantile

ACTION_AT = LOOKBACK_DAYS + WEEK + WINDOW_DAYS     # the action's day, as an offset from span()'s first
SPAN_DAYS = ACTION_AT + WINDOW_DAYS                 # span()'s days


@dataclass(frozen=True)
class ActionDays:
    """One action as the batch reads it: its question's scale, its day, the linked alert's day,
    the first day its question was asked on another scale (None: still on this one)."""
    scale: str
    action: date
    alert_day: date | None = None
    scale_until: date | None = None


def action_effects(actions: Sequence[ActionDays], site: np.ndarray, chain: np.ndarray | None,
                   today: date | Sequence[date]) -> list[dict]:
    """`effects.action_effect` of each action (same order). `site[i]`, `chain[i]`: the site's and
    the whole chain's daily tallies over `span(actions[i].action)` (int arrays, shape
    `(len(actions), SPAN_DAYS, 5)`); `chain` None: no control, a plain before/after. `today`:
    the first day not yet over, one for all or each action's own (its site's date: sites in
    different zones are in different days at the same instant)."""
    todays = [today] * len(actions) if isinstance(today, date) else list(today)
    out: dict[int, dict] = {}
    by_scale: dict[str, list[int]] = {}
    for i, a in enumerate(actions):
        by_scale.setdefault(a.scale, []).append(i)
    for scale, rows in by_scale.items():
        idx = np.array(rows)
        for i, effect in zip(rows, _effects(scale, [actions[i] for i in rows], site[idx],
                                            None if chain is None else chain[idx], [todays[i] for i in rows])):
            out[i] = effect
    return [out[i] for i in range(len(actions))]


def _effects(scale: str, actions: list[ActionDays], site: np.ndarray, chain: np.ndarray | None,
             todays: list[date]) -> list[dict]:
    """`action_effects` for actions of one scale: the daily gaps, the dip's start, the windows'
    tallies and means as arrays over the actions; then each action's result by `effect_dict`."""
    metric = primary_metric(scale)
    count = len(actions)
    n = site[:, :, N]
    has_site = n > 0
    if chain is None:
        control = np.zeros(count, dtype=bool)
    else:
        rest = chain - site
        with_rest = has_site & (rest[:, :, N] > 0)
        # A chain of one site (no day with answers elsewhere): nothing to compare against.
        control = with_rest.any(axis=1) | ~has_site.any(axis=1)
    valid = np.where(control[:, None], with_rest if chain is not None else has_site, has_site)
    gaps = {}
    for m in {metric, "csat"}:
        own = _value(m, scale, site)
        if chain is not None:
            own = np.where(control[:, None], own - _value(m, scale, rest), own)
        gaps[m] = np.where(valid, own, 0.0)
    weights = np.where(valid, n, 0)

    def mean(m: str, first: np.ndarray, days: int, length: np.ndarray | None = None) -> "_Windows":
        return _Windows.over(gaps[m], valid, weights, first, days, length)

    start = _dip_start(mean, metric, count)
    alert = np.array([(a.alert_day - a.action).days + ACTION_AT if a.alert_day is not None else -1
                      for a in actions])
    from_alert = (alert >= ACTION_AT - LOOKBACK_DAYS - WEEK) & (alert < start)
    source = np.where(from_alert, "alert", np.where(start < ACTION_AT - GUARD_DAYS, "series", ""))
    start = np.where(from_alert, alert, start)
    first = start - WINDOW_DAYS
    after = np.full(count, ACTION_AT)
    full = np.full(count, WINDOW_DAYS)
    length = np.array([after_length(a.action, WINDOW_DAYS, a.scale_until) for a in actions])
    sums = np.concatenate([np.zeros((count, 1, 5), dtype=np.int64), np.cumsum(site, axis=1)], axis=1)
    site_tallies = (_window_sums(sums, first, full), _window_sums(sums, after, length))
    if chain is not None:
        chain_sums = np.concatenate([np.zeros((count, 1, 5), dtype=np.int64), np.cumsum(chain, axis=1)], axis=1)
        control_tallies = (_window_sums(chain_sums, first, full) - site_tallies[0],
                           _window_sums(chain_sums, after, length) - site_tallies[1])

    def answers_test(m: str, i: int) -> TestResult | None:       # effects.action_effect's by_answers
        site_i = tuple(Tally(scale, *(int(v) for v in rows[i])) for rows in site_tallies)
        return by_answers(m, site_i, chain is not None and bool(control[i]))

    tests = {m: _window_tests(mean(m, first, WINDOW_DAYS), mean(m, after, WINDOW_DAYS, length),
                              lambda i, m=m: answers_test(m, i)) for m in gaps}
    groups = site_tallies + (control_tallies if chain is not None else ())
    # Every group's metrics in one pass: site before, site after (control before, control after).
    shown = metrics_dicts(scale, np.concatenate(groups))
    out = []
    for i, a in enumerate(actions):
        day = a.action + timedelta(days=int(start[i]) - ACTION_AT)
        site_metrics = (shown[i], shown[count + i])
        ctrl = (shown[2 * count + i], shown[3 * count + i]) if chain is not None and control[i] else None
        out.append(effect_dict(scale, a.action, todays[i], day, str(source[i]) or None, WINDOW_DAYS, site_metrics,
                               ctrl, lambda m, i=i: tests[m].get(i), a.scale_until))
    return out


def _window_tests(before: "_Windows", after: "_Windows",
                  answers_test: Callable[[int], TestResult | None]) -> dict[int, TestResult]:
    """`effects.window_test` of each action's two windows, {action: test} for those that allow
    one: `effects.difference` over arrays, its t tails by `stats_batch`; `answers_test(action)`
    where neither window's days differ (few: each alone)."""
    pairs = {i: (b, a) for i in range(len(before.days))
             if testable(b := before.at(i), a := after.at(i))}
    if not pairs:
        return {}
    rows = list(pairs)
    field = (lambda side, name: np.array([getattr(pairs[i][side], name) for i in rows], dtype=float))
    b_var, a_var = field(0, "variance"), field(1, "variance")
    b_days, a_days = field(0, "days"), field(1, "days")
    diff = field(1, "mean") - field(0, "mean")
    se = np.sqrt(b_var + a_var)
    # (a + b) ** 2 is C's pow() in the plain version, which need not round as a product does.
    squared = np.array([v ** 2 for v in (b_var + a_var).tolist()])
    with np.errstate(divide="ignore", invalid="ignore"):
        df = squared / (np.where(b_var != 0, b_var * b_var / (b_days - 1), 0.0)
                        + np.where(a_var != 0, a_var * a_var / (a_days - 1), 0.0))
        t = diff / se
        tails = 2 * stats_batch.t_sf(np.abs(t), df)
    p_values = np.where(tails < 1.0, tails, 1.0)
    confidence = 1 - ALPHA
    out = {}
    for k, i in enumerate(rows):
        b, a = pairs[i]
        if se[k] == 0:
            if (found := answers_test(i)) is not None:
                out[i] = found
            continue
        q, d, s = t_quantile(0.5 + confidence / 2, float(df[k])), float(diff[k]), float(se[k])
        out[i] = TestResult(d, d - q * s, d + q * s, float(p_values[k]), DIFFERENCE_TEST)
    return out


def _value(metric: str, scale: str, t: np.ndarray) -> np.ndarray:
    """`effects.metric_value` over arrays of tallies (0 where there are no answers)."""
    n = t[:, :, N]
    safe = np.where(n > 0, n, 1)
    return metric_value(metric, scale)(safe, t[:, :, SUM_V], t[:, :, TOP2], t[:, :, NEGATIVE])


def _window_sums(sums: np.ndarray, first: np.ndarray, days: np.ndarray) -> np.ndarray:
    rows = np.arange(len(first))
    return sums[rows, first + days] - sums[rows, first]


def _dip_start(mean: Callable[[str, np.ndarray, int], "_Windows"], metric: str, count: int) -> np.ndarray:
    """`effects.dip_start` without the alert: the start offset, `GUARD_DAYS` before the action,
    moved back to the earliest week before it, up to the look-back, below the site's normal
    (joined to the guard by weeks below it, or further below)."""
    normal = mean(metric, np.full(count, ACTION_AT - LOOKBACK_DAYS - WINDOW_DAYS), WINDOW_DAYS)
    start = np.full(count, ACTION_AT - GUARD_DAYS)
    joined = normal.days > 0
    # The plain version looks back while week_start - WEEK >= action - LOOKBACK_DAYS: that many weeks.
    for k in range(1, (LOOKBACK_DAYS - GUARD_DAYS) // WEEK + 1):
        first = np.full(count, ACTION_AT - GUARD_DAYS - k * WEEK)
        week = mean(metric, first, WEEK)
        with np.errstate(invalid="ignore", divide="ignore"):
            se = np.sqrt(week.variance + normal.variance)
            t = (week.mean - normal.mean) / np.where(se > 0, se, 1)
        known = (normal.days > 0) & (week.days >= MIN_WEEK_DAYS) & (se > 0) & np.isfinite(se)
        joined &= known & (t < DIP_T)
        start = np.where(joined | (known & (t < DIP_T_APART)), first, start)
    return start


@dataclass(frozen=True)
class _Windows:
    """`effects.window_mean` of each action's window (arrays over the actions)."""
    mean: np.ndarray
    variance: np.ndarray
    days: np.ndarray
    n: np.ndarray

    @classmethod
    def over(cls, gaps: np.ndarray, valid: np.ndarray, weights: np.ndarray, first: np.ndarray,
             days: int, length: np.ndarray | None = None) -> "_Windows":
        """The windows of `days` days from `first` (per action: the first `length` of them)."""
        rows = np.arange(len(first))[:, None]
        cols = first[:, None] + np.arange(days)
        g, ok, w = gaps[rows, cols], valid[rows, cols], weights[rows, cols]
        if length is not None:
            inside = np.arange(days)[None, :] < length[:, None]
            ok, w = ok & inside, np.where(inside, w, 0)
        count = ok.sum(axis=1)
        total = w.sum(axis=1)
        safe_total = np.where(total > 0, total, 1)
        weighted = np.zeros(len(first))
        for j in range(days):                   # day by day, as the plain sum adds them
            weighted = weighted + w[:, j] * g[:, j]
        mean = weighted / safe_total
        first_gap = g[np.arange(len(first)), ok.argmax(axis=1)]
        same = np.all(~ok | (np.abs(g - first_gap[:, None]) <= SAME_GAP * np.maximum(1.0, np.abs(first_gap))[:, None]),
                      axis=1)
        spread = np.zeros(len(first))
        for j in range(days):
            share, off = w[:, j] / safe_total, g[:, j] - mean
            spread = spread + np.where(ok[:, j], share * share * (off * off), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = np.where(count > 1, spread * count / (count - 1), np.inf)
        mean = np.where(same, first_gap, mean)
        variance = np.where(same & (count > 1), 0.0, variance)
        return cls(mean, variance, count, total)

    def at(self, i: int) -> WindowMean | None:
        if self.days[i] == 0 or self.n[i] == 0:
            return None
        return WindowMean(float(self.mean[i]), float(self.variance[i]), int(self.days[i]), int(self.n[i]))
