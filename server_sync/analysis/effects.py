"""Did an action work? Difference-in-differences of a site against the rest of the chain, with the
baseline taken from before the dip that made the site act. Pure: functions over daily tallies
(`{date: Tally}`), tested without a database; `queries.action_series` reads them, `actions` joins
the two. Never reads or writes the store.

Why not "28 days before against 28 days after": a site acts after a bad spell, so the days right
before the action are low by selection and the days after regress to the mean on their own. Such a
comparison credited an action without any effect with "+6.88, p 1.8e-6" (true change +1.8). Three
things make the effect real:

1. **Control.** Each day the site's value minus the rest of the chain's (same question and scale,
   same local date): what the whole chain went through (season, a campaign, a holiday) cancels.
2. **Baseline before the dip.** The `GUARD_DAYS` before the action never belong to the baseline; a
   longer dip (earlier weeks clearly below the site's normal, or a linked alert) moves it back
   further. The baseline is the `window` days before that.
3. **Honest variance, no early verdict.** Answers of one day share that day (staff, weather, a
   queue), so days, not answers, are the independent units: the variance of each window's mean is
   the cluster-robust one over its days, and the test a t with Welch-Satterthwaite degrees of
   freedom. The verdict waits until the after-window is over ("pending, 5 of 28 days"), and it is
   read at `ALPHA` (1 %): a chain evaluates many actions, and a verdict is what a decision is
   bet on.

References: Angrist & Pischke (2009), Mostly Harmless Econometrics, ch. 5 (difference-in-differences);
Bertrand, Duflo & Mullainathan (2004), "How much should we trust differences-in-differences
estimates?", QJE 119:249-275 (collapse to periods, cluster the errors); Barnett, van der Pols &
Dobson (2005), "Regression to the mean: what it is and how to deal with it", Int J Epidemiol
34:215-220. Coverage by simulation: tests/analysis/test_effects.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Mapping

from server_sync.analysis.answer_change import compare, compare_csat
from server_sync.analysis.metrics import metrics_dict, primary_metric
from server_sync.analysis.stats import TestResult, t_quantile, t_sf
from server_sync.protocol.scales import SCALES
from server_sync.protocol.tally import Tally

WINDOW_DAYS = 28          # each side of the comparison
GUARD_DAYS = 7            # the week before an action made the site act: never its baseline
LOOKBACK_DAYS = 28        # how far back a dip that triggered the action is looked for
MIN_DAYS = 7              # days with answers a window needs for a verdict
ALPHA = 0.01              # an action's verdict: two-sided p below this
DIP_T = -2.0              # a week this far below the site's normal (t) belongs to the dip…
DIP_T_APART = -2.5        # …and one with a normal week between it and the action, this far
WEEK = 7                  # the dip is followed back a week at a time…
MIN_WEEK_DAYS = 3         # …through weeks with answers on at least this many days
SAME_GAP = 1e-9           # daily gaps this close (relative) are equal: no spread between days
DIFFERENCE_TEST = "difference-in-differences t"
VERDICTS = ("better", "no_detectable_effect", "worse", "pending", "too_little_data")

Series = Mapping[date, Tally]


def metric_value(metric: str, scale: str) -> Callable[[int, int, int, int], float]:
    """The point value of `metric` (happy_index, nps, csat) from a group's n, Σv, top-two and
    negative counts (the Tally's fields, without building one: a report evaluates every action of
    a chain, thousands of days each). Each metric is the mean of a score per answer, so a window's
    value is the n-weighted mean of its days' values."""
    if metric == "happy_index":
        sc = SCALES[scale]
        low, span = sc.lowest, (sc.highest - sc.lowest) / 100
        return lambda n, sum_v, top2, negative: (sum_v / n - low) / span
    if metric == "nps":
        return lambda n, sum_v, top2, negative: (top2 - negative) * 100 / n
    return lambda n, sum_v, top2, negative: top2 * 100 / n


def daily_gaps(site: Series, chain: Series | None, scale: str,
               *metrics: str) -> list[dict[date, tuple[int, float]]]:
    """Per metric, {day: (site answers, site value - control value)} for the days with answers at
    the site (and, with a chain, in the rest of it: the chain's day minus the site's own): the
    series whose change is the effect. Without a chain the gap is the site's value. One pass for
    all `metrics`."""
    values = [metric_value(m, scale) for m in metrics]
    out: list[dict[date, tuple[int, float]]] = [{} for _m in metrics]
    for d, t in site.items():
        n = t.n
        if n <= 0:
            continue
        if chain is None:
            for value, gaps in zip(values, out):
                gaps[d] = (n, value(n, t.sum_v, t.top2, t.negative))
            continue
        c = chain.get(d)
        rest = 0 if c is None else c.n - n
        if rest <= 0:
            continue
        rest_v, rest_top2, rest_neg = c.sum_v - t.sum_v, c.top2 - t.top2, c.negative - t.negative
        for value, gaps in zip(values, out):
            gaps[d] = (n, value(n, t.sum_v, t.top2, t.negative) - value(rest, rest_v, rest_top2, rest_neg))
    return out


@dataclass(frozen=True)
class WindowMean:
    """The n-weighted mean of daily (site - control) values over a window, and the cluster-robust
    variance of that mean with days as clusters."""
    mean: float
    variance: float
    days: int
    n: int


def window_mean(gaps: Mapping[date, tuple[int, float]], first: date, days: int) -> WindowMean | None:
    """Weighted mean of the daily gaps of the `days` days from `first` (weights: the site's answers
    that day, so the site's part is exactly its value over the window) and its variance, clustered
    by day: D/(D-1) · Σ (n_d/N)² (g_d - ḡ)². None without answers."""
    picked = [g for g in (gaps.get(first + timedelta(days=i)) for i in range(days)) if g is not None]
    total = sum(n for n, _g in picked)
    if not picked or total == 0:
        return None
    mean = sum(n * g for n, g in picked) / total
    d = len(picked)
    # No spread: every gap equal, up to the last bits a difference of two means leaves (a site one
    # face above the chain every day made gaps of 33.333333333333336 and ...33, "worse" at p 5e-6
    # with an interval 1e-14 wide; a review).
    if all(abs(g - picked[0][1]) <= SAME_GAP * max(1.0, abs(picked[0][1])) for _n, g in picked):
        return WindowMean(picked[0][1], 0.0 if d > 1 else math.inf, d, total)
    # Squares as products: what numpy computes (effects_batch), where `** 2` here is C's pow(),
    # which differs from x * x in the last bit for about one value in a thousand.
    spread = sum((n / total) * (n / total) * ((g - mean) * (g - mean)) for n, g in picked)
    return WindowMean(mean, spread * d / (d - 1) if d > 1 else math.inf, d, total)


def difference(before: WindowMean, after: WindowMean, confidence: float = 1 - ALPHA,
               test: str = DIFFERENCE_TEST) -> TestResult | None:
    """after - before with a Welch-Satterthwaite t test over days (named `test`: the report's
    period change uses it too, on the site's own days). None when neither window has any spread
    between its days: they cannot say how much days vary (a test over them has no variance to
    divide by, and an exact one over the days gave p without an interval: [-33.3, 0] beside
    "worse", [0, 0] for all 4s; a review), so `window_test` goes answer by answer."""
    diff = after.mean - before.mean
    a, b = before.variance, after.variance
    se = math.sqrt(a + b)
    if se == 0:
        return None
    df = (a + b) ** 2 / ((a * a / (before.days - 1) if a else 0) + (b * b / (after.days - 1) if b else 0))
    t = diff / se
    q = t_quantile(0.5 + confidence / 2, df)
    return TestResult(diff, diff - q * se, diff + q * se, min(1.0, 2 * t_sf(abs(t), df)), test)


def testable(before: WindowMean | None, after: WindowMean | None, min_days: int = MIN_DAYS) -> bool:
    """Do two windows allow a verdict: both with answers on at least `min_days` days?"""
    return before is not None and after is not None and min(before.days, after.days) >= min_days


def window_test(before: WindowMean | None, after: WindowMean | None,
                by_answers: Callable[[], TestResult | None] | None = None, confidence: float = 1 - ALPHA, *,
                min_days: int = MIN_DAYS, test: str = DIFFERENCE_TEST) -> TestResult | None:
    """`difference` of two windows (at `confidence`) when they allow a verdict (`testable`), else
    None; where no day differs from another in either window, `by_answers()`: the test answer by
    answer of the same change (`answer_change`), whose interval is never of zero width, or None
    when there is none to give."""
    if not testable(before, after, min_days):
        return None
    found = difference(before, after, confidence, test)
    return found if found is not None or by_answers is None else by_answers()


def dip_start(gaps: Mapping[date, tuple[int, float]], action: date, alert_day: date | None = None,
              window: int = WINDOW_DAYS) -> tuple[date, str | None]:
    """Where the spell that made the site act began: the start of the baseline's exclusion.
    `gaps`: the headline metric's `daily_gaps`.

    At least `GUARD_DAYS` before the action. Going back a week at a time (up to `LOOKBACK_DAYS`),
    a week whose gap to the control is clearly below the site's normal (t < `DIP_T` against the
    `window` days before the look-back) belongs to the dip too; so does an earlier one with a week
    not below normal between it and the action, if further below (t < `DIP_T_APART`): a dip over
    a week or two before the action made the site act as well (the search stopped at the first
    week back that was not below normal, left such a dip in the baseline, and called an action
    without effect better in 2.5-6.5 % of chains at a 1 % test, 7.5-14 % in a review's own
    simulation; now 0-2.5 %: docs/analysis.md), while a week below normal by chance among three
    moves the baseline back in 5 % of chains (8 % at `DIP_T` for every week). The earliest such
    week starts the dip. A linked alert raised earlier moves the start back to its day. Returns
    (start, source): source `alert`, `series` or None (only the guard)."""
    start, source = action - timedelta(days=GUARD_DAYS), None
    normal = window_mean(gaps, action - timedelta(days=LOOKBACK_DAYS + window), window)
    week_start, joined = start, True
    while normal is not None and week_start - timedelta(days=WEEK) >= action - timedelta(days=LOOKBACK_DAYS):
        week_start -= timedelta(days=WEEK)
        week, t = window_mean(gaps, week_start, WEEK), None
        if week is not None and week.days >= MIN_WEEK_DAYS:
            se = math.sqrt(week.variance + normal.variance)
            if se > 0 and not math.isinf(se):
                t = (week.mean - normal.mean) / se
        joined = joined and t is not None and t < DIP_T
        if joined or (t is not None and t < DIP_T_APART):
            start, source = week_start, "series"
    if alert_day is not None and action - timedelta(days=LOOKBACK_DAYS + WEEK) <= alert_day < start:
        start, source = alert_day, "alert"
    return start, source


def action_effect(site: Series, chain: Series | None, scale: str, action: date, today: date, *,
                  alert_day: date | None = None, window: int = WINDOW_DAYS, scale_until: date | None = None) -> dict:
    """The before/after of one action as the report shows it (keys documented in docs/analysis.md):
    `previous`/`current` (the site's metrics over the baseline and the after-window), `control`
    (the rest of the chain's, over the same days), `test` (the difference-in-differences of the
    headline metric, in its points, at 1 - ALPHA confidence; without a control the site's own
    change, by answers where no day differs from another, `by_answers`; None beside a control
    whose gaps do not vary: too little data), `csat_test`, `verdict` and the
    windows. `chain`: the whole chain's daily tallies of the question, the site's own included
    (None: no control, a plain before/after). `today`: the first day not yet over. `scale_until`:
    the first day the question was asked on another scale (its answers on `scale` end there).
    (`effects_batch.action_effects`: the same for many actions at once, tested against this.)"""
    metric = primary_metric(scale)
    gaps = dict(zip((metric, "csat"), daily_gaps(site, chain, scale, metric, "csat")))
    if chain is not None and not gaps[metric] and any(t.n for t in site.values()):
        chain = None                            # a chain of one site: nothing to compare against
        gaps = dict(zip((metric, "csat"), daily_gaps(site, None, scale, metric, "csat")))
    start, source = dip_start(gaps[metric], action, alert_day, window)
    first = start - timedelta(days=window)
    length = after_length(action, window, scale_until)
    before_days, after_days = _days(first, window), _days(action, length)
    site_before, site_after = _sum(site, before_days, scale), _sum(site, after_days, scale)
    control = None if chain is None else (_sum(chain, before_days, scale) - site_before,
                                          _sum(chain, after_days, scale) - site_after)
    return effect_dict(scale, action, today, start, source, window, (metrics_dict(site_before), metrics_dict(site_after)),
                       None if control is None else (metrics_dict(control[0]), metrics_dict(control[1])),
                       lambda m: window_test(window_mean(gaps[m], first, window), window_mean(gaps[m], action, length),
                                             lambda: by_answers(m, (site_before, site_after), control is not None)),
                       scale_until)


def by_answers(metric: str, site: tuple[Tally, Tally], controlled: bool) -> TestResult | None:
    """An action's test answer by answer, at 1 - ALPHA, for windows whose days have no spread: the
    site's own before and after where there is no control (a plain before-after); `controlled`, None
    (too little data): no test of the answers measures a difference in differences, and the
    site's own change is not it (an unchanged gap read as +54.5 where the site's answers moved
    between days the control was like it; a review)."""
    if controlled:
        return None
    return (compare_csat if metric == "csat" else compare)(*site, alpha=ALPHA)


def effect_dict(scale: str, action: date, today: date, start: date, source: str | None, window: int,
                site: tuple[dict, dict], control: tuple[dict, dict] | None,
                test_of: Callable[[str], TestResult | None], scale_until: date | None = None) -> dict:
    """`action_effect`'s result from what it found: the dip's `start` (and `source`), the site's
    and the control's metrics (`metrics_dict` of their tallies) over the baseline and the
    after-window, and `test_of(metric)`, the `window_test` of the daily gaps' means over the two
    (read only once the windows are over).

    A question asked on another scale from `scale_until` on has no more answers on `scale`: the
    after-window ends the day before (`scale_ended`: that day; `after.to` moves back), and
    `days_observed` counts its days on `scale`, so "14 of 28 days" says what the verdict rests on."""
    metric = primary_metric(scale)
    first = start - timedelta(days=window)
    length = after_length(action, window, scale_until)
    observed = min(length, max(0, (today - action).days))
    out: dict = {
        "window_days": window, "days_observed": observed,
        "scale_ended": scale_until.isoformat() if length < window else None,
        "baseline": {"from": first.isoformat(), "to": (start - timedelta(days=1)).isoformat()},
        "after": {"from": action.isoformat(), "to": (action + timedelta(days=length - 1)).isoformat()},
        "dip": {"start": start.isoformat() if source else None, "source": source},
        "method": "difference-in-differences" if control is not None else "before-after",
        "confidence": 1 - ALPHA,
        "previous": site[0], "current": site[1],
        "control": None if control is None else {"previous": control[0], "current": control[1]},
        "metric": metric, "test": None, "csat_test": None}
    if observed < length:
        out["verdict"] = "pending"
        return out
    tests = {}
    for key, m in (("test", metric), ("csat_test", "csat")):
        found = test_of(m)
        if found is not None:
            tests[key] = found
            out[key] = dict(found.as_dict(), significant=found.p_value < ALPHA)
    out["verdict"] = verdict(tests.get("test"))
    return out


def after_length(action: date, window: int, scale_until: date | None) -> int:
    """The after-window's days: `window`, or up to the day before `scale_until` (the question
    asked on another scale from then on), at least the action's own day. Its tallies and test
    read those days only: answers on the old scale after it (a kiosk of the site still asking it)
    would move a verdict already given."""
    return window if scale_until is None else max(1, min(window, (scale_until - action).days))


def verdict(test: TestResult | None) -> str:
    """An action's verdict from its difference-in-differences test (pending is decided before)."""
    if test is None:
        return "too_little_data"
    if test.p_value >= ALPHA:
        return "no_detectable_effect"
    return "better" if test.diff > 0 else "worse"


def span(action: date, window: int = WINDOW_DAYS) -> tuple[date, date]:
    """First and last day `action_effect` may read: the normal before the look-back, to the end of
    the after-window."""
    return action - timedelta(days=LOOKBACK_DAYS + WEEK + window), action + timedelta(days=window - 1)


def _sum(series: Series, days: list[date], scale: str) -> Tally:
    ts = [t for t in (series.get(d) for d in days) if t is not None]
    return Tally(scale, sum(t.n for t in ts), sum(t.sum_v for t in ts), sum(t.sum_v2 for t in ts),
                 sum(t.top2 for t in ts), sum(t.negative for t in ts))


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]
