"""The employee pulse is shown only for groups large enough that no one's answer can be picked out.

Measuring staff through a questionnaire is a control measure in Nordic working life; answers of
four colleagues on an evening shift are close to personal. Every figure that comes from employee
questions (audience `employee`) is shown only when its group holds at least `min_group` answers
(default 5, configurable, never lower than 5): a smaller group is left out of the report, its
count never shown, and any figure that would let it be worked out (a daily point, a heatmap cell,
a site's reasons) goes with it. No customer score is ever attributed to an employee: answers
carry no person at all.

`protect_employees` applies the rule to a built report (analysis.chain_report), the one place
every report, export and web page goes through; the BI views apply the same rule in SQL
(migration m0012). Pure.
"""

from __future__ import annotations

from typing import Any

from server_sync.exc import CentralConfigError

MIN_EMPLOYEE_GROUP = 5
# The largest `kiosk-central privacy set --min-employee-group` takes: PostgreSQL's INTEGER, which
# the BI views CAST the stored setting to (migration m0012).
MAX_EMPLOYEE_GROUP = 2 ** 31 - 1


def check_min_group(value: int) -> int:
    """A minimum group size as set by a user: an integer of at least MIN_EMPLOYEE_GROUP."""
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_EMPLOYEE_GROUP:
        raise CentralConfigError(f"the minimum employee group is at least {MIN_EMPLOYEE_GROUP} answers, got {value!r}")
    return value


def _small(row: dict[str, Any], min_group: int) -> bool:
    """A group with answers, but fewer than `min_group` (nobody answered: nothing to hide)."""
    n = row.get("n")
    return n is not None and 0 < n < min_group


def _blank(metrics: dict[str, Any]) -> dict[str, Any]:
    """A metrics dict of a group too small to show: no values, no count."""
    out: dict[str, Any] = {"n": None, "suppressed": True}
    for key, value in metrics.items():
        if isinstance(value, dict) and "value" in value:
            out[key] = {k: None for k in value} | {"small": True}
        elif key not in ("n", "question_id", "audience", "scale", "site_id", "name", "metric"):
            out[key] = None
        else:
            out.setdefault(key, value)
    return out


def protect_employees(report: dict[str, Any], min_group: int = MIN_EMPLOYEE_GROUP) -> dict[str, Any]:
    """`report` with every employee figure of a group under `min_group` answers left out (a
    list row) or blanked (a single figure); `report["filters"]["min_employee_group"]` says so."""
    check_min_group(min_group)
    employee = {q["id"] for q in report.get("questions", []) if q.get("audience") == "employee"}
    report.setdefault("filters", {})["min_employee_group"] = min_group
    if not employee:
        return report

    def emp(row: dict) -> bool:
        return row.get("question_id") in employee

    report["summary"] = [_blank(r) if emp(r) and _small(r, min_group) else r for r in report.get("summary", [])]
    for key in ("sites", "kiosks", "ranking"):
        report[key] = [r for r in report.get(key, []) if not (emp(r) and _small(r, min_group))]
    for trend in report.get("trends", []):
        if trend.get("question_id") in employee:
            trend["daily"] = [d for d in trend.get("daily", []) if not _small(d, min_group)]
            trend["weekly"] = [w for w in trend.get("weekly", []) if not _small(w, min_group)]
            _protect_change(trend.get("change"), min_group)
    for cells in report.get("heatmap", []):
        if cells.get("question_id") in employee:
            cells["cells"] = [c for c in cells.get("cells", []) if not _small(c, min_group)]
    shown_sites = {(r["question_id"], r["site_id"]) for r in report.get("sites", [])}
    chain_n = {r["question_id"]: r.get("n") for r in report.get("summary", [])}
    for drivers in report.get("drivers", []):
        q = drivers.get("question_id")
        if q in employee:
            if chain_n.get(q) is None or chain_n[q] < min_group:
                drivers["pareto"], drivers["uplift"] = [], []
            drivers["sites"] = [s for s in drivers.get("sites", []) if (q, s["site_id"]) in shown_sites]
    for action in report.get("actions", []):
        if action.get("question_id") in employee:
            _protect_change(action, min_group)
    pulse = report.get("pulse") or {}
    for site in pulse.get("sites", []):
        if _small(site.get("employee") or {}, min_group):
            site["employee"] = _blank(site.get("employee") or {})
    pulse["min_n"] = max(pulse.get("min_n") or 0, min_group)
    return report


def _protect_change(change: dict[str, Any] | None, min_group: int) -> None:
    """A before/after comparison in which either period is too small says only that."""
    if not change:
        return
    small = any(_small(change.get(side) or {}, min_group) for side in ("previous", "current"))
    if small:
        for side in ("previous", "current"):
            if side in change:
                change[side] = _blank(change[side] or {})
        change["test"] = change["csat_test"] = None
        change["verdict"] = "too_little_data"
