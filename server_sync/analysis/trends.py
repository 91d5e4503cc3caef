"""Trends: daily and weekly series of a question's metrics, the change against the previous
period (and each week's against the week before) with a significance test, and the weekday × hour
heatmap. Pure; rows come from `queries`.

Tests used (docs/analysis.md#trends-and-change):
- Days as the units when both sides have answers on at least `MIN_DAYS_AS_UNITS` days: answers of
  one day share it (staff, weather, a queue), so a busy site's day-to-day swing, not its answer
  count, sets the noise. The site's daily values, weighted by their answers, with the cluster-robust
  variance over days and a Welch-Satterthwaite t: the action effects' method (`effects`), on the
  site's own days, for the headline metric and CSAT alike.
- Else answer by answer (`answer_change`), as also where no day differs from another on either
  side (the days cannot say how much days vary): the score z of the difference in the answers' mean
  scores (the faces' values; NPS +1, 0, -1; CSAT 1 in the top two, else 0), each side with its own
  spread, moderated up towards the pooled one where below it; exact by permutation for small
  sides (and the t besides where the smaller side spreads more than the pooled answers), a t above,
  never a division by zero (all 4s against all 3s: p = 1/3 at two a side). The interval inverts
  the same test (`change_interval`): it leaves out 0 exactly when the test calls the change
  significant.
- The trend alert's own question, whether today's answers moved from the baseline's (`shift`): the
  permuted difference in means with the pooled spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Mapping

from server_sync.analysis.answer_change import compare, compare_csat, counts_of, scores_of, unit
from server_sync.analysis.change_interval import pooled_p, pooled_statistic
from server_sync.analysis.effects import daily_gaps, window_mean, window_test
from server_sync.analysis.metrics import Tally, csat, metrics_dict, primary, primary_metric, sum_tallies
from server_sync.analysis.stats import CONFIDENCE, KEPT_DIGITS, TestResult, kept
from server_sync.analysis.studentized import permutation_test
from server_sync.protocol.scales import SCALES

SHIFT_EXACT_MAX_N = 30     # the trend alert's exact test up to this many answers on the smaller side
MIN_DAYS_AS_UNITS = 5      # days with answers each side needs for days to be the test's units
Days = Mapping[date, Tally]


@dataclass(frozen=True)
class Shift:
    """How far a period's headline metric moved (after - before, in its points) and the p-value
    of `shift`'s test."""
    diff: float
    p_value: float


def shift(before: Tally, after: Tally) -> Shift | None:
    """Did the answers move from `before`'s to `after`'s: the trend alert's question (today against
    its baseline), not the report's. The permutation test of the difference in mean scores with
    the pooled spread, exact up to `SHIFT_EXACT_MAX_N` answers on the smaller side (`studentized`),
    the normal test with the pooled variance above (exact at 31-47 answers near the top of the
    scale, it found 4-5 points fewer drops at the same false-alarm rate). Exact when the answers
    are alike, and quick to see a day whose drop comes as a few very unhappy answers, which also
    spreads today's answers (the report's `compare`, which keeps each side's own spread, found a 9.7-point drop of that kind
    at 40 answers on 58 % of days, this test on 70 %). The alert asks for a material drop of the
    mean besides (`alert_rules.TrendRule.min_drop`). None below two answers a side."""
    if before.scale not in SCALES or before.n < 2 or after.n < 2:
        return None
    values = unit(scores_of(before.scale)[0])
    counts = counts_of(before), counts_of(after)
    if min(before.n, after.n) <= SHIFT_EXACT_MAX_N:
        p_value, _ = permutation_test(*counts, pooled_statistic(values))
    else:
        p_value = pooled_p(*counts, values)
    return Shift(primary(after).value - primary(before).value, p_value)


def change_tests(before: Days, after: Days, scale: str) -> tuple[TestResult | None, TestResult | None]:
    """The tests of the headline metric and of CSAT from `before`'s days to `after`'s
    ({day: Tally}): `change_test` of each."""
    return change_test(before, after, scale, primary_metric(scale)), change_test(before, after, scale, "csat")


def change_test(before: Days, after: Days, scale: str, metric: str) -> TestResult | None:
    """The test of `metric` (the headline metric or "csat") from `before`'s days to `after`'s:
    with days as the units when each side has answers on `MIN_DAYS_AS_UNITS` days, else answer
    by answer (`compare`, `compare_csat`), as also where no day differs from another on either
    side (the days cannot say how much days vary). (The weekly series tests only the headline
    metric: one test a week, not two.)"""
    gaps = [daily_gaps(side, None, scale, metric)[0] for side in (before, after)]
    b, a = sum_tallies(before.values(), scale), sum_tallies(after.values(), scale)
    by_answers = (lambda: compare_csat(b, a) if metric == "csat" else compare(b, a))
    if min(len(g) for g in gaps) >= MIN_DAYS_AS_UNITS:
        b_days, a_days = (window_mean(g, min(g), (max(g) - min(g)).days + 1) for g in gaps)
        return window_test(b_days, a_days, by_answers, CONFIDENCE, min_days=MIN_DAYS_AS_UNITS, test="days t")
    return by_answers()


def change_dict(before: Days, after: Days, scale: str) -> dict:
    """JSON form of a period comparison ({day: Tally} each): both periods' metrics, the tests, a
    verdict."""
    test, csat_test = change_tests(before, after, scale)
    return {"previous": metrics_dict(sum_tallies(before.values(), scale)),
            "current": metrics_dict(sum_tallies(after.values(), scale)),
            "metric": primary_metric(scale), "test": test.as_dict() if test else None,
            "csat_test": csat_test.as_dict() if csat_test else None, "verdict": verdict(test)}


def verdict(test: TestResult | None) -> str:
    if test is None:
        return "too_little_data"
    if not test.significant():
        return "no_significant_change"
    return "better" if test.diff > 0 else "worse"


def iso_week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def daily_series(rows: Iterable[tuple[str, Tally]], last_whole_day: str | None = None) -> list[dict]:
    """[(local_date, Tally)] -> [{date, n, value, low, high, negative, partial}] in date order; a
    day after `last_whole_day` is `partial` (not over yet: its answers so far)."""
    out = []
    for day, t in sorted(rows, key=lambda r: r[0]):
        e = primary(t)
        out.append({"date": day, "n": t.n, "value": _round(e.value), "low": _round(e.low),
                    "high": _round(e.high), "csat": _round(csat(t).value), "negative": t.negative,
                    "partial": last_whole_day is not None and day > last_whole_day})
    return out


def weekly_series(rows: Iterable[tuple[str, Tally]], scale: str, period: tuple[str, str],
                  last_whole_day: str | None = None,
                  asked: tuple[str | None, str | None] = (None, None)) -> list[dict]:
    """Daily tallies of `period` (first, last day) summed into ISO weeks (Monday first). `asked`:
    the first and last day the series is asked on (None: open that side; chain_report's
    `_asked`). `from` is the week's Monday, `first_day`/`last_day` its days in the period on
    which the series is asked; a week the period cuts, or the series' first or last days cut (a
    scale changed on a Saturday: that weekend is the new series' week), or one with a day after
    `last_whole_day` (not over yet: its answers so far), is `partial` and has no `change`: its
    days are not the week's (a weekend against a whole week). A whole week has the change against
    the whole week before (`change_test`)."""
    first, last = (date.fromisoformat(d) for d in period)
    if asked[0]:
        first = max(first, date.fromisoformat(asked[0]))
    if asked[1]:
        last = min(last, date.fromisoformat(asked[1]))
    over = min(last, date.fromisoformat(last_whole_day)) if last_whole_day else last
    weeks: dict[date, dict[date, Tally]] = {}
    for day, t in rows:
        d = date.fromisoformat(day)
        weeks.setdefault(week_start(d), {})[d] = t
    out = []
    for start in sorted(weeks):
        days = weeks[start]
        t = sum_tallies(days.values(), scale)
        e = primary(t)
        row = {"week": iso_week(start), "from": start.isoformat(), "first_day": max(start, first).isoformat(),
               "last_day": min(start + timedelta(days=6), last).isoformat(), "partial": _partial(start, first, over),
               "n": t.n, "value": _round(e.value), "low": _round(e.low), "high": _round(e.high), "change": None}
        earlier = start - timedelta(days=7)
        if earlier in weeks and not row["partial"] and not _partial(earlier, first, over):
            test = change_test(weeks[earlier], days, scale, primary_metric(scale))
            row["change"] = test.as_dict() if test else None
        out.append(row)
    return out


def _partial(monday: date, first: date, last: date) -> bool:
    """Do the days [first, last] (the period's, where the series is asked) cut the week from
    `monday`?"""
    return monday < first or monday + timedelta(days=6) > last


def heatmap(cells: Mapping[tuple[int, int], Tally]) -> list[dict]:
    """{(weekday, local_hour): Tally} -> cells with the headline metric and n."""
    out = []
    for (weekday, hour), t in sorted(cells.items()):
        e = primary(t)
        out.append({"weekday": weekday, "hour": hour, "n": t.n, "value": _round(e.value),
                    "negative_share": _round(100 * t.negative / t.n) if t.n else None})
    return out


def _round(x: float | None, digits: int = KEPT_DIGITS) -> float | None:
    return None if x is None or math.isnan(x) else kept(x, digits)
