"""Trends: daily and weekly series of a question's metrics, the change against the previous
period with a significance test, and the weekday × hour heatmap. Pure; rows come from `queries`.

Tests used (docs/analysis.md#trends-and-change): Welch's t on the Happy Index (answers are ordinal
scores with unequal variances between periods); on NPS the exact permutation test of the answers'
scores (+100, 0, -100) while the smaller period has at most `NPS_EXACT_MAX_N` answers, the
pooled-variance normal test (its large-sample form) above; a two-proportion z-test on CSAT. When
neither period varies inside itself (all 4s against all 3s) the exact permutation test, never a
division by zero.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from typing import Iterable, Mapping

from server_sync.analysis.metrics import (SMILEY_POINTS, Tally, csat, happy_index_scale, metrics_dict,
                                          primary)
from server_sync.analysis.stats import TestResult, normal_sf, signs_permutation_p, two_proportion_z, welch_t

NPS_EXACT_MAX_N = 30       # NPS: the exact permutation test up to this many answers on the smaller side


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


def change_dict(before: Tally, after: Tally) -> dict:
    """JSON form of a period comparison: both periods' metrics, the tests, a verdict."""
    test = compare(before, after)
    out = {"previous": metrics_dict(before), "current": metrics_dict(after),
           "metric": "nps" if before.scale == "nps11" else "happy_index",
           "test": test.as_dict() if test else None,
           "csat_test": (lambda r: r.as_dict() if r else None)(compare_csat(before, after))}
    out["verdict"] = verdict(test)
    return out


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


def weekly_series(rows: Iterable[tuple[str, Tally]], scale: str) -> list[dict]:
    """Daily tallies summed into ISO weeks, each with the change against the week before."""
    weeks: dict[date, Tally] = {}
    for day, t in rows:
        start = week_start(date.fromisoformat(day))
        weeks[start] = weeks.get(start, Tally(scale)) + t
    out, previous = [], None
    for start in sorted(weeks):
        t = weeks[start]
        e = primary(t)
        row = {"week": iso_week(start), "from": start.isoformat(), "n": t.n, "value": _round(e.value),
               "low": _round(e.low), "high": _round(e.high), "change": None}
        if previous is not None and previous[0] == start - timedelta(days=7):
            test = compare(previous[1], t)
            row["change"] = test.as_dict() if test else None
        out.append(row)
        previous = (start, t)
    return out


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
