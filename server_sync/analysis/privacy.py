"""The employee pulse is shown only for groups large enough that no one's answer can be picked out.

Measuring staff through a questionnaire is a control measure in Nordic working life; answers of
four colleagues on an evening shift are close to personal. Every figure that comes from employee
questions (audience `employee`) is shown only when its group holds at least `min_group` answers
(default 5, configurable, never lower than 5): a smaller group is left out of the report, its
count never shown, and any figure that would let it be worked out (a daily point, a heatmap cell,
a site's reasons) goes with it. No customer score is ever attributed to an employee: answers
carry no person at all.

Leaving the small groups out is not enough where the report also shows what they are part of:
the chain's week minus the sites shown is the site left out, and the week minus its days shown is
the day left out. So wherever parts of a shown total are left out, the parts left out together
must hold at least `min_group` answers too; if they hold fewer, the smallest parts still shown
are left out with them until they do (complementary suppression: Cox 1980, "Suppression
methodology and statistical disclosure control", J. Amer. Statist. Assoc. 75:377-385; Hundepool
et al. 2012, Statistical Disclosure Control, Wiley, ch. 4). The totals and their parts here:
the chain's (or the report's sites') total and its sites, and the pulse's sites; each site and
its kiosks; the period and its ISO weeks, each week and its days; each weekday and its hours in
the heatmap (a weekday's total is its days'); a store's pulse and its employee questions' rows
(the pulse is all of them together); the reasons of the chain and of each store, and each
reason's mentions and complaints over the stores (`_protect_site_reasons`).

Sections counting the same answers another way are tied as well. The heatmap's weekday is the
sum of its days in the daily trend, so a weekday with a day left out there loses all its cells:
its total is then known nowhere, and the heatmap says nothing of the days left out (those of a
weekday still shown are all shown, and its cells left out are one group of at least
`min_group`). An action's windows are 28 days from its date, not the report's period, weeks or
days: an employee action shows its verdict and effect, never its windows' figures
(`protect_action`, also for the actions read without a report). The web overview's answers today
keep to the same page's report (`protect_today`). A week-on-week change whose earlier week is
left out goes too. What this does not cover (differences between two reports, or a report and
the BI views, and an action's effect set against the figures) docs/privacy.md says.

`protect_employees` applies the rule to a built report (analysis.chain_report), the one place
every report, export and web page goes through; the BI views apply the same rule in SQL
(migration m0012). Pure.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Callable, Iterable, Mapping, Sequence

from server_sync.analysis.pulse import correlation
from server_sync.analysis.trends import week_start
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
        elif key not in ("n", "question_id", "audience", "scale", "site_id", "name", "metric", "suppressed"):
            out[key] = None
        else:
            out.setdefault(key, value)
    return out


def complementary(ns: Sequence[int | None], min_group: int, left_out: Iterable[int] = ()) -> set[int]:
    """The positions of a shown total's parts (their answer counts `ns`, None: already left out)
    to leave out: `left_out`, those under `min_group`, and, while the parts left out hold some
    but fewer than `min_group` answers together, the smallest still shown (the earliest of
    equals)."""
    out = set(left_out) | {i for i, n in enumerate(ns) if n is not None and 0 < n < min_group}
    shown = sorted((n, i) for i, n in enumerate(ns) if n and i not in out)
    while 0 < sum(ns[i] or 0 for i in out) < min_group and shown:
        out.add(shown.pop(0)[1])
    return out


def _left_out(rows: list[dict], min_group: int, key: Callable[[dict], Any] = lambda r: None,
              whole: bool = False, gone: Callable[[dict], bool] = lambda r: False) -> list[dict]:
    """`rows` without their left-out parts: each group of rows with the same `key` is one
    total's parts; `whole`: all of them together are another's (a period's days, each week's
    too); `gone`: rows left out whatever their size. Leaving out more of one total's parts never
    gives away another's: every part still shown holds at least `min_group` answers."""
    ns = [row.get("n") for row in rows]
    groups: dict[Any, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(key(row), []).append(i)
    drop: set[int] = set()
    for members in groups.values():
        drop |= {members[j] for j in complementary([ns[i] for i in members], min_group,
                                                   [j for j, i in enumerate(members) if gone(rows[i])])}
    if whole:
        drop = complementary(ns, min_group, drop)
    return [row for i, row in enumerate(rows) if i not in drop]


def protect_employees(report: dict[str, Any], min_group: int = MIN_EMPLOYEE_GROUP) -> dict[str, Any]:
    """`report` with every employee figure of a group under `min_group` answers, or one that the
    figures shown would give away by difference, left out (a list row) or blanked (a single
    figure); `report["filters"]["min_employee_group"]` says so."""
    check_min_group(min_group)
    employee = {q["id"] for q in report.get("questions", []) if q.get("audience") == "employee"}
    report.setdefault("filters", {})["min_employee_group"] = min_group
    if not employee:
        return report

    def emp(row: dict) -> bool:
        return row.get("question_id") in employee

    report["summary"] = [_blank(r) if emp(r) and _small(r, min_group) else r for r in report.get("summary", [])]
    employee_sites = [r for r in report.get("sites", []) if emp(r)]
    shown_sites = {(r["question_id"], r["site_id"]) for r in
                   _left_out(employee_sites, min_group, key=lambda r: r["question_id"])}
    hidden_sites = {(r["question_id"], r["site_id"]) for r in employee_sites} - shown_sites
    for key in ("sites", "ranking"):
        report[key] = [r for r in report.get(key, []) if not emp(r) or (r["question_id"], r["site_id"]) in shown_sites]
    # A ranking row's previous period (its rank, and what its rank change's verdict was decided
    # on) is a group this rule never saw: ranked from `min_ranked_n` answers (30), below a higher
    # minimum. Its rank says where that group stood against the others, so it goes too.
    for r in report["ranking"]:
        if emp(r):
            r.update(previous_rank=None, rank_change=None, previous_shrunk=None, previous_low=None,
                     previous_high=None, previous_vs_leader=None, rank_change_verdict=None)
    kiosks = [r for r in report.get("kiosks", []) if not emp(r) or (r["question_id"], r["site_id"]) in shown_sites]
    kept = {id(r) for r in _left_out([r for r in kiosks if emp(r)], min_group,
                                     key=lambda r: (r["question_id"], r["site_id"]))}
    report["kiosks"] = [r for r in kiosks if not emp(r) or id(r) in kept]
    days_out: dict[str, set[int]] = {}          # question -> weekdays of its days left out
    for trend in report.get("trends", []):
        if trend.get("question_id") in employee:
            weeks = _left_out(trend.get("weekly", []), min_group)
            shown_weeks = {w["from"] for w in weeks}
            every_day = trend.get("daily", [])
            days = [d for d in every_day if _week(d["date"]) in shown_weeks]
            trend["daily"] = _left_out(days, min_group, key=lambda d: _week(d["date"]), whole=True)
            shown_days = {d["date"] for d in trend["daily"]}
            days_out[trend["question_id"]] = {date.fromisoformat(d["date"]).weekday() for d in every_day
                                              if d.get("n") and d["date"] not in shown_days}
            for w in weeks:
                earlier = (date.fromisoformat(w["from"]) - timedelta(days=7)).isoformat()
                if w.get("change") is not None and earlier not in shown_weeks:
                    w["change"] = None          # the test's figures would show the week left out
            trend["weekly"] = weeks
            _protect_change(trend.get("change"), min_group)
    for cells in report.get("heatmap", []):
        q = cells.get("question_id")
        if q in employee:
            # A weekday's cells add up to its days in the daily trend: with one of those days left
            # out, the cells minus the days shown would be the days left out (the review's case:
            # Mondays 13, one Monday shown 10, the other 3). Its cells all go, so its total is
            # known nowhere and its days left out stay as hidden as the daily trend leaves them.
            out = days_out.get(q, set())
            cells["cells"] = _left_out(cells.get("cells", []), min_group, key=lambda c: c["weekday"], whole=True,
                                       gone=lambda c: c["weekday"] in out)
    chain_n = {r["question_id"]: r.get("n") for r in report.get("summary", [])}
    for drivers in report.get("drivers", []):
        q = drivers.get("question_id")
        if q in employee:
            if chain_n.get(q) is None or chain_n[q] < min_group:
                drivers["pareto"], drivers["praise"], drivers["uplift"] = [], [], []
            chain_total = sum(r.get("n") or 0 for r in drivers.get("pareto") or [])   # its shares give it
            _protect_reasons(drivers, min_group)
            # The praise is of other answers than the complaints: a total of its own.
            praise = drivers.get("praise") or []
            drop = complementary([r.get("n") for r in praise], min_group)
            drivers["praise"] = [r for i, r in enumerate(praise) if i not in drop]
            drivers["sites"] = [s for s in drivers.get("sites", []) if (q, s["site_id"]) in shown_sites]
            _protect_site_reasons(drivers, min_group, chain_total)
    for action in report.get("actions", []):
        # Judged on the series of its day (actions.with_effects), whose audience may not be the
        # question's current one.
        series = action.get("series_id", action.get("question_id"))
        if series in employee or action.get("audience") == "employee":
            # A site left out of the sites section keeps its verdict out of its actions too.
            protect_action(action, min_group, hide=(series, action.get("site_id")) in hidden_sites)
    pulse = report.get("pulse") or {}
    sites = pulse.get("sites", [])
    # A store's pulse is all its employee smiley questions together, so it is the total of that
    # store's rows in the sites section: those left out there must hold 0 or min_group answers
    # between them, or the pulse goes too.
    pulse_parts = {q["id"] for q in report.get("questions", []) if q.get("audience") == "employee"
                   and q.get("scale") == "smiley4"}
    shown_n: dict[str, int] = {}
    for r in report.get("sites", []):
        if r.get("question_id") in pulse_parts:
            shown_n[r["site_id"]] = shown_n.get(r["site_id"], 0) + (r.get("n") or 0)
    gives_away = {i for i, s in enumerate(sites)
                  if 0 < ((s.get("employee") or {}).get("n") or 0) - shown_n.get(s["site_id"], 0) < min_group}
    hide = complementary([(s.get("employee") or {}).get("n") for s in sites], min_group, gives_away)
    min_n = max(pulse.get("min_n") or 0, min_group)
    # Did a site that entered the correlation (both sides from at least min_n answers) go?
    entered = any(min((sites[i].get("employee") or {}).get("n") or 0, (sites[i].get("customer") or {}).get("n") or 0)
                  >= min_n for i in hide)
    for i in hide:
        sites[i]["employee"] = _blank(sites[i].get("employee") or {})
    if entered:
        # Then r is of the rest, from their figures as shown (rounded as shown).
        pulse["correlation"] = correlation(((s["employee"].get("value"), s["employee"].get("n"),
                                             s["customer"].get("value"), s["customer"].get("n")) for s in sites),
                                           min_n)
    pulse["min_n"] = min_n
    return report


def protect_today(counts: Mapping[tuple[str, str], int], days: Iterable[str], min_group: int,
                  report: dict[str, Any] | None = None) -> dict[str, Any]:
    """The web overview's answers so far today, {"total", "by_question"}, from the count of each
    (series, audience) on the sites' own todays `days` (one per zone); a series as the report
    keys it (`question`, or `question@scale` on an earlier scale). An employee question's
    answers are counted only when they are at least `min_group` and `report` (the same page's,
    of the same sites), if its daily trend of the question has `days` in its period, shows that
    one day: a day it left out (to cover a smaller one of the same week) would be shown here, and
    while the sites' zones lie either side of midnight the count is only some sites' day, which
    the report's day less it would give away for the others. What is not shown is not in the
    total either: the total minus the questions shown would be it."""
    period = (report or {}).get("period") or {}
    inside = sorted({d for d in days if period and period["from"] <= d <= period["to"]})
    trend_days = {t["question_id"]: {d["date"] for d in t.get("daily", [])} for t in (report or {}).get("trends", [])}

    def left_out(q: str, n: int) -> bool:
        if n < min_group:
            return True
        if q not in trend_days or not inside:
            return False                    # the report shows no day of it today
        return len(inside) > 1 or inside[0] not in trend_days[q]
    by_question: dict[str, int] = {}
    for (q, audience), n in counts.items():
        if audience == "employee" and left_out(q, n):
            continue
        by_question[q] = by_question.get(q, 0) + n
    return {"total": sum(by_question.values()), "by_question": dict(sorted(by_question.items()))}


def _protect_site_reasons(drivers: dict[str, Any], min_group: int, chain_total: int = 0) -> None:
    """The stores' reasons are parts of the chain's: a store shows only reasons the chain shows
    (when it shows any); for each of those, what the stores shown leave of its mentions (and of
    its complaints, for the uplift) must be 0 or at least `min_group`, or the reason goes from
    every store's rows; then each store's own rows as in `_protect_reasons`; and the stores'
    totals are parts of the chain's (`chain_total`): again until nothing more goes."""
    chain_n = {r["reason"]: r.get("n") or 0 for r in drivers.get("pareto") or []}
    chain_c = {u["reason"]: u.get("complaints") or 0 for u in drivers.get("uplift") or []}
    sites = drivers.get("sites") or []
    site_total = {s["site_id"]: sum(r.get("n") or 0 for r in s.get("pareto") or []) for s in sites}
    # The chain's shares give its total, so its reasons left out are one more group: a store
    # showing one of them would leave the rest of that group (found by a review: chain A 20
    # shown, X 7 and Y 2 left out; a store's X 7 then gave Y's 2 away). They go at every store,
    # counted there among what it leaves out.
    only = set(chain_n) if chain_n else None
    while True:
        before = sum(len(s.get("pareto") or []) + len(s.get("uplift") or []) for s in sites)
        for site in sites:
            _protect_reasons(site, min_group, only)
        for reason, n in chain_n.items():
            if 0 < n - sum(r.get("n") or 0 for s in sites for r in s["pareto"] if r["reason"] == reason) < min_group:
                for site in sites:
                    site["pareto"] = [r for r in site["pareto"] if r["reason"] != reason]
        for reason, c in chain_c.items():
            if 0 < c - sum(u.get("complaints") or 0 for s in sites for u in s["uplift"]
                           if u["reason"] == reason) < min_group:
                for site in sites:
                    site["uplift"] = [u for u in site["uplift"] if u["reason"] != reason]
        # A store's shares give its total as the chain's give the chain's: the stores showing
        # none hold the rest (a review's case: chain 12, store a 11 by its team's 45.45 %, the
        # other store's lone complaint). The smallest shown store's go with them.
        shown = [s for s in sites if s["pareto"]]
        if chain_n and shown and 0 < chain_total - sum(site_total[s["site_id"]] for s in shown) < min_group:
            min(shown, key=lambda s: (site_total[s["site_id"]], s["site_id"]))["pareto"] = []
        if sum(len(s.get("pareto") or []) + len(s.get("uplift") or []) for s in sites) == before:
            return


def _week(day: str) -> str:
    return week_start(date.fromisoformat(day)).isoformat()


def _protect_change(change: dict[str, Any] | None, min_group: int, hide: bool = False) -> None:
    """A before/after comparison in which a period, or the control group's (an action's: the
    rest of the chain), is too small, or which is to be hidden, says only that."""
    if not change:
        return
    control = change.get("control") or {}
    small = hide or any(_small(group or {}, min_group) for group in
                        (change.get("previous"), change.get("current"), control.get("previous"), control.get("current")))
    if small:
        for side in ("previous", "current"):
            if side in change:
                change[side] = _blank(change[side] or {})
            if side in control:
                control[side] = _blank(control[side] or {})
        change["test"] = change["csat_test"] = None
        change["verdict"] = "too_little_data"


def protect_action(action: dict[str, Any], min_group: int, hide: bool = False) -> dict[str, Any]:
    """An evaluated action on an employee question (analysis.actions), as it may be shown: its
    verdict and effect only when the store's and the control's windows all hold at least
    `min_group` answers (and it is not to be hidden), and never the windows' own figures (counts,
    values, intervals). Its windows are 28 days from the action's date, not the report's period,
    weeks or days: the store's period in the sites section minus its after-window was the
    store's days before the action (two answers, found by a review), and the store's and the
    control's windows together are the chain's days, to set against the daily trend."""
    _protect_change(action, min_group, hide)
    control = action.get("control") or {}
    for side in ("previous", "current"):
        if side in action:
            action[side] = _blank(action[side] or {})
        if side in control:
            control[side] = _blank(control[side] or {})
    return action


def _protect_reasons(drivers: dict[str, Any], min_group: int, only: set[str] | None = None) -> None:
    """Reasons of employee answers (the chain's or a store's Pareto and uplift): a reason cited by
    fewer than `min_group` is a small group, and so are the reasons left out together
    (`complementary`: their shares of the mentions shown would give their sum away). An uplift
    ("the index without the complaints citing it") of fewer complaints gives away their answers.
    `only`: the reasons that may be shown at all; the others are left out from the start."""
    pareto = drivers.get("pareto") or []
    drop = complementary([r.get("n") for r in pareto], min_group,
                         [i for i, r in enumerate(pareto) if only is not None and r["reason"] not in only])
    drivers["pareto"] = [r for i, r in enumerate(pareto) if i not in drop]
    kept = {r["reason"] for r in drivers["pareto"]}
    drivers["uplift"] = [u for u in drivers.get("uplift") or []
                         if u["reason"] in kept and (u.get("complaints") or 0) >= min_group]
