"""Trends: daily and weekly series of a question's metrics, the change against the previous
period (and each week's against the week before) with a significance test, and the weekday × hour
heatmap. Pure; rows come from `queries`.

Tests used (docs/analysis.md#trends-and-change):
- Days as the units when both sides have answers on at least `MIN_DAYS_AS_UNITS` days: answers of
  one day share it (staff, weather, a queue), so a busy site's day-to-day swing, not its answer
  count, sets the noise. The site's daily values, weighted by their answers, with the cluster-robust
  variance over days and a Welch-Satterthwaite t: the action effects' method (`effects`), on the
  site's own days, for the headline metric and CSAT alike.
- Else answer by answer: Welch's t of the answers on the metric's [0, 1] line with a quarter of a
  pseudo-answer at each end on each side (`stats.adjusted_difference`), the Happy Index, NPS and
  CSAT alike; its interval and its p-value are one statistic's, so they never disagree, and a
  side without spread (all 4s against all 3s) still has one: never p = 0 from a division.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Iterable, Mapping

from server_sync.analysis.effects import daily_gaps, difference, window_mean
from server_sync.analysis.metrics import (UNIT_POINTS, Tally, csat, metrics_dict, primary, primary_metric, sum_tallies,
                                          unit_sums)
from server_sync.analysis.stats import CONFIDENCE, TestResult, adjusted_difference
from server_sync.protocol.scales import SCALES

MIN_DAYS_AS_UNITS = 5      # days with answers each side needs for days to be the test's units
Days = Mapping[date, Tally]


def compare(before: Tally, after: Tally) -> TestResult | None:
    """Change of the headline metric from `before` to `after` (after - before), in its points,
    answer by answer: `stats.adjusted_difference` of the answers on the metric's [0, 1] line
    (`metrics.unit_sums`). None below two answers a side."""
    if before.scale not in SCALES or before.n < 2 or after.n < 2:
        return None
    return _adjusted(before, after, primary_metric(before.scale))


def compare_csat(before: Tally, after: Tally) -> TestResult | None:
    """Change of CSAT (percentage points) answer by answer, as `compare`."""
    if before.n < 2 or after.n < 2:
        return None
    return _adjusted(before, after, "csat")


def _adjusted(before: Tally, after: Tally, metric: str) -> TestResult | None:
    return adjusted_difference(unit_sums(before, metric), unit_sums(after, metric), UNIT_POINTS[metric][0])


def change_tests(before: Days, after: Days, scale: str) -> tuple[TestResult | None, TestResult | None]:
    """The tests of the headline metric and of CSAT from `before`'s days to `after`'s
    ({day: Tally}): `change_test` of each."""
    return change_test(before, after, scale, primary_metric(scale)), change_test(before, after, scale, "csat")


def change_test(before: Days, after: Days, scale: str, metric: str) -> TestResult | None:
    """The test of `metric` (the headline metric or "csat") from `before`'s days to `after`'s:
    with days as the units when each side has answers on `MIN_DAYS_AS_UNITS` days, else answer
    by answer (`compare`, `compare_csat`). (The weekly series tests only the headline metric:
    one test a week, not two.)"""
    gaps = [daily_gaps(side, None, scale, metric)[0] for side in (before, after)]
    if min(len(g) for g in gaps) >= MIN_DAYS_AS_UNITS:
        return _days_test(*gaps)
    b, a = sum_tallies(before.values(), scale), sum_tallies(after.values(), scale)
    return compare_csat(b, a) if metric == "csat" else compare(b, a)


def _days_test(before: Mapping[date, tuple[int, float]], after: Mapping[date, tuple[int, float]]) -> TestResult:
    """`effects.difference` of the two sides' days ({day: (answers, value)}) at the report's confidence."""
    b, a = (window_mean(g, min(g), (max(g) - min(g)).days + 1) for g in (before, after))
    return difference(b, a, CONFIDENCE, test="days t")


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


def daily_series(rows: Iterable[tuple[str, Tally]]) -> list[dict]:
    """[(local_date, Tally)] -> [{date, n, value, low, high, negative}] in date order."""
    out = []
    for day, t in sorted(rows, key=lambda r: r[0]):
        e = primary(t)
        out.append({"date": day, "n": t.n, "value": _round(e.value), "low": _round(e.low),
                    "high": _round(e.high), "csat": _round(csat(t).value), "negative": t.negative})
    return out


def weekly_series(rows: Iterable[tuple[str, Tally]], scale: str, period: tuple[str, str]) -> list[dict]:
    """Daily tallies of `period` (first, last day) summed into ISO weeks (Monday first). `from` is
    the week's Monday, `first_day`/`last_day` its days in the period; a week the period cuts is
    `partial` and has no `change`: its days are not the week's (a weekend against a whole week).
    A whole week has the change against the whole week before (`change_test`)."""
    first, last = (date.fromisoformat(d) for d in period)
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
               "last_day": min(start + timedelta(days=6), last).isoformat(), "partial": _partial(start, first, last),
               "n": t.n, "value": _round(e.value), "low": _round(e.low), "high": _round(e.high), "change": None}
        earlier = start - timedelta(days=7)
        if earlier in weeks and not row["partial"] and not _partial(earlier, first, last):
            test = change_test(weeks[earlier], days, scale, primary_metric(scale))
            row["change"] = test.as_dict() if test else None
        out.append(row)
    return out


def _partial(monday: date, first: date, last: date) -> bool:
    """Does the period [first, last] cut the week from `monday`?"""
    return monday < first or monday + timedelta(days=6) > last


def heatmap(cells: Mapping[tuple[int, int], Tally]) -> list[dict]:
    """{(weekday, local_hour): Tally} -> cells with the headline metric and n."""
    out = []
    for (weekday, hour), t in sorted(cells.items()):
        e = primary(t)
        out.append({"weekday": weekday, "hour": hour, "n": t.n, "value": _round(e.value),
                    "negative_share": _round(100 * t.negative / t.n) if t.n else None})
    return out


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None or math.isnan(x) else round(x, digits)
