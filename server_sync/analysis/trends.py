"""Trends: daily and weekly series of a question's metrics, the change against the previous
period (and each week's against the week before) with a significance test, and the weekday × hour
heatmap. Pure; rows come from `queries`.

Tests used (docs/analysis.md#trends-and-change):
- Days as the units when both sides have answers on at least `MIN_DAYS_AS_UNITS` days: answers of
  one day share it (staff, weather, a queue), so a busy site's day-to-day swing, not its answer
  count, sets the noise. The site's daily values, weighted by their answers, with the cluster-robust
  variance over days and a Welch-Satterthwaite t: the action effects' method (`effects`), on the
  site's own days, for the headline metric and CSAT alike.
- Else answer by answer: Welch's t on the Happy Index; on NPS the exact permutation test of the
  answers' scores (+100, 0, -100) while the smaller side has at most `NPS_EXACT_MAX_N` answers,
  the pooled-variance normal test (its large-sample form) above; a two-proportion z-test on CSAT.
  When neither side varies inside itself (all 4s against all 3s) the exact permutation test, never
  a division by zero.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from typing import Iterable, Mapping

from server_sync.analysis.effects import daily_gaps, difference, window_mean
from server_sync.analysis.metrics import (SMILEY_POINTS, Tally, csat, happy_index_scale, metrics_dict,
                                          primary, primary_metric, sum_tallies)
from server_sync.analysis.stats import (CONFIDENCE, TestResult, normal_sf, signs_permutation_p,
                                        two_proportion_z, welch_t)

MIN_DAYS_AS_UNITS = 5      # days with answers each side needs for days to be the test's units
NPS_EXACT_MAX_N = 30       # NPS: the exact permutation test up to this many answers on the smaller side
Days = Mapping[date, Tally]


def compare(before: Tally, after: Tally) -> TestResult | None:
    """Change of the headline metric from `before` to `after` (after - before), in its points,
    answer by answer."""
    if before.scale == "nps11":
        return compare_nps(before, after)
    if before.scale not in SMILEY_POINTS:
        return None
    vb, va = before.value_variance(), after.value_variance()
    if vb is None or va is None:
        return None
    k = happy_index_scale(before.scale)
    return welch_t(primary(before).value, vb * k * k, before.n, primary(after).value, va * k * k, after.n)


def compare_nps(before: Tally, after: Tally) -> TestResult | None:
    """The NPS change, answer by answer: each answer scores +100, 0 or -100 and NPS is their mean.
    The p-value is the permutation test's: exact while the smaller side has at most
    `NPS_EXACT_MAX_N` answers, its normal form with the pooled variance (what the groups share under
    no change, as the two-proportion z pools) above. A normal test with each side's own plug-in
    variance said "worse, p = 0.046" for 10, 8 against 0, 8 (exact: 0.67), and it and Welch's t
    call a change that is not there in up to 20 % and 40 % of small or unequal periods. The
    interval is Welch's. None below two answers a side."""
    if before.n < 2 or after.n < 2:
        return None
    interval = welch_t(*_nps_scores(before), before.n, *_nps_scores(after), after.n)
    if min(before.n, after.n) <= NPS_EXACT_MAX_N:
        return replace(interval, p_value=signs_permutation_p(_signs(before), _signs(after)), test="exact permutation")
    n = before.n + after.n
    plus_minus = before.promoters + before.detractors + after.promoters + after.detractors
    total = before.promoters - before.detractors + after.promoters - after.detractors
    pooled = 1e4 * (plus_minus - total * total / n) / (n - 1)
    se = math.sqrt(max(0.0, pooled) * (1 / before.n + 1 / after.n))
    p_value = 1.0 if se == 0 else min(1.0, 2 * normal_sf(abs(interval.diff) / se))
    return replace(interval, p_value=p_value, test="nps pooled z")


def _nps_scores(t: Tally) -> tuple[float, float]:
    """Mean and sample variance of the answers' NPS scores (+100, 0, -100); n >= 2."""
    total, squares = 100 * (t.promoters - t.detractors), 1e4 * (t.promoters + t.detractors)
    return total / t.n, max(0.0, (squares - total * total / t.n) / (t.n - 1))


def _signs(t: Tally) -> tuple[int, int, int]:
    return t.promoters, t.n - t.promoters - t.detractors, t.detractors


def compare_csat(before: Tally, after: Tally) -> TestResult | None:
    r = two_proportion_z(before.top2, before.n, after.top2, after.n)
    if r is None:
        return None
    return TestResult(r.diff * 100, r.low * 100, r.high * 100, r.p_value, r.test)


def change_tests(before: Days, after: Days, scale: str) -> tuple[TestResult | None, TestResult | None]:
    """The tests of the headline metric and of CSAT from `before`'s days to `after`'s
    ({day: Tally}): with days as the units when each side has answers on `MIN_DAYS_AS_UNITS` days,
    else answer by answer (`compare`, `compare_csat`)."""
    gaps = [daily_gaps(side, None, scale, primary_metric(scale), "csat") for side in (before, after)]
    if min(len(g[0]) for g in gaps) >= MIN_DAYS_AS_UNITS:
        return _days_test(gaps[0][0], gaps[1][0]), _days_test(gaps[0][1], gaps[1][1])
    b, a = sum_tallies(before.values(), scale), sum_tallies(after.values(), scale)
    return compare(b, a), compare_csat(b, a)


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
    A whole week has the change against the whole week before (`change_tests`)."""
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
            test = change_tests(weeks[earlier], days, scale)[0]
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
