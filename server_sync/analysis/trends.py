"""Trends: daily and weekly series of a question's metrics, the change against the previous
period with a significance test, and the weekday × hour heatmap. Pure; rows come from `queries`.

Tests used: Welch's t on the Happy Index (answers are ordinal scores with unequal variances
between periods), a normal test on the NPS difference with the textbook NPS variances, and a
two-proportion z-test on CSAT; when neither period varies inside itself (all 4s against all 3s)
the exact permutation test, never a division by zero.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Iterable, Mapping

from server_sync.analysis.metrics import (SMILEY_POINTS, Tally, csat, happy_index_scale, metrics_dict,
                                          nps, nps_variance, primary)
from server_sync.analysis.stats import (TestResult, constant_groups_test, two_proportion_z, welch_t,
                                        z_difference)


def compare(before: Tally, after: Tally) -> TestResult | None:
    """Change of the headline metric from `before` to `after` (after - before), in its points."""
    if before.scale == "nps11":
        vb, va = nps_variance(before), nps_variance(after)
        if vb is None or va is None or before.n < 2 or after.n < 2:
            return None
        if vb == 0 and va == 0:               # every answer the same score inside each period
            return constant_groups_test(nps(after).value - nps(before).value, before.n, after.n)
        return z_difference(nps(before).value, vb * 1e4, nps(after).value, va * 1e4, test="nps z")
    if before.scale not in SMILEY_POINTS:
        return None
    vb, va = before.value_variance(), after.value_variance()
    if vb is None or va is None:
        return None
    k = happy_index_scale(before.scale)
    return welch_t(primary(before).value, vb * k * k, before.n, primary(after).value, va * k * k, after.n)


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
