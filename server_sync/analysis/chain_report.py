"""Builds the report (a JSON-ready dict with stable keys, documented in docs/analysis.md) for the
chain or chosen sites, questions and period: summary, sites, ranking, trends, heatmap, drivers,
actions with before/after, employee pulse, alerts.

Reads through `queries` (rollups only), computes with the pure modules. Renderers (JSON, CSV,
HTML) take the dict and never query the database themselves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync import __version__
from server_sync.analysis import queries
from server_sync.analysis.actions import site_dates, with_effects
from server_sync.analysis.days import check_order, parse_day
from server_sync.analysis.drivers import ReasonCount, best_vs_rest, pareto, sum_reasons, uplift
from server_sync.analysis.effects import WINDOW_DAYS
from server_sync.analysis.gc_pause import gc_paused
from server_sync.analysis.metrics import Tally, metrics_dict, primary_metric, sum_tallies
from server_sync.analysis.privacy import MAX_EMPLOYEE_GROUP, MIN_EMPLOYEE_GROUP, check_min_group, protect_employees
from server_sync.analysis.pulse import pulse
from server_sync.analysis.queries import ReportFilter
from server_sync.analysis.ranking import rank_sites
from server_sync.analysis.trends import change_dict, daily_series, heatmap, weekly_series
from server_sync.central import registry
from server_sync.central.setting import get_setting, stored_number
from server_sync.exc import FieldError
from server_sync.protocol.codec import short

SCHEMA = 1
DEFAULT_DAYS = 28
SERIES_MARK = "@"          # "visit@smiley4": no question id holds it (protocol ID_PATTERN)
ACTION_WINDOW_DAYS = WINDOW_DAYS        # kept for callers of the name; the window lives in effects
STEPS = ("period", "sites", "trends", "heatmap", "drivers", "actions", "alerts")

Progress = Callable[[int, int, str], None]


def resolve_period(db: Database, f: ReportFilter, now: datetime | None = None) -> tuple[str, str] | None:
    """(from, to): given dates, else the last DEFAULT_DAYS days with data up to the centre's
    today (the latest site-local date at `now`): an answer dated in the future by a kiosk's
    clock never moves the default period."""
    # The command line's rule for a typed day, for library callers too, in the words of the
    # ReportFilter they passed (the command line and the web app check their from/to first and say
    # it in their own: commands/_argtypes.py, web/filters.py): a day outside the century overflows
    # `date` in the previous period and the action windows.
    for name in ("date_from", "date_to"):
        if value := getattr(f, name):
            parse_day(value, name, name)
    check_order(f.date_from, f.date_to)
    first, last = queries.data_range(db, f, until=None if now is None else centre_today(db, now, f.sites))
    if last is None and not f.date_to:
        return None
    to = f.date_to or max(last, f.date_from or last)       # --from after the last answer: an empty period
    earliest = (date.fromisoformat(to) - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    # From the first answer when it is later, but never after `to` (--to before the first answer:
    # the period ran backwards, from the first answer's day, which an employee question's is not
    # to be shown).
    start = f.date_from or (max(first, earliest) if first and first <= to else earliest)
    return start, to


def centre_today(db: Database, now: datetime, sites: tuple[str, ...] = ()) -> str:
    """The latest site-local date at `now` of `sites` (empty: every site; UTC's date when there
    are none). A site's zone edited by hand is an error naming it (registry.stored_zone), not
    left out: its answers' days would be read in a zone they were not counted in."""
    at = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    days = [at.date()]
    for zone in set(registry.site_zones(db, sites or None).values()):
        days.append(at.astimezone(zone).date())
    return max(days).isoformat()


def last_whole_day(db: Database, now: datetime, sites: tuple[str, ...] = ()) -> str:
    """The last site-local day that is over at every one of `sites` (empty: every site; UTC's
    date's eve when there are none) at `now`: the day before the earliest of their todays. A
    later day's figures are its answers so far."""
    at = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    zones = set(registry.site_zones(db, sites or None).values()) or {timezone.utc}
    return (min(at.astimezone(zone).date() for zone in zones) - timedelta(days=1)).isoformat()


def _same_sites_change(db: Database, f: ReportFilter, question: str, key: tuple[str, str],
                       by_site: dict, previous_sites: dict, names: dict[str, str], span: tuple[str, str],
                       start: str) -> dict | None:
    """The period change over the sites that answered in both periods, when some answered in one
    only (None otherwise, and for an employee question, whose small groups it would show). The
    chain's change sums whichever sites answered: a store that opened in the period (72 answers
    before, 824 now, at NPS 29) moved a chain whose every store held still by 9.6 points, a
    change of the mix, not of any store. `only_now` and `only_before` name those sites with their
    answers; `change` is `change_dict` over the others' days."""
    audience, scale = key
    if audience != "customer":
        return None

    def answered(tallies: dict) -> dict[str, int]:
        return {s: t.n for (s, q, a, sc), t in tallies.items() if (q, a, sc) == (question, audience, scale) and t.n}

    now_sites, before_sites = answered(by_site), answered(previous_sites)
    both = sorted(set(now_sites) & set(before_sites))
    if not both or len(both) == len(now_sites) == len(before_sites):
        return None
    daily = queries.daily_tallies(db, replace(f, sites=tuple(both), questions=(question,)).period(*span))
    days = [(d, t) for (q, a, sc, d), t in daily.items() if (q, a, sc) == (question, audience, scale)]

    def listed(counts: dict[str, int], other: dict[str, int]) -> list[dict]:
        return [{"site_id": s, "name": names.get(s, s), "n": counts[s]} for s in sorted(set(counts) - set(other))]

    return {"sites": len(both), "only_now": listed(now_sites, before_sites),
            "only_before": listed(before_sites, now_sites),
            "change": change_dict({date.fromisoformat(d): t for d, t in days if d < start},
                                  {date.fromisoformat(d): t for d, t in days if d >= start}, scale)}


def build(db: Database, f: ReportFilter = ReportFilter(), *, now: datetime | None = None,
          progress: Progress | None = None, brief: bool = False) -> dict:
    """The report; `brief`: only its summary, sites, ranking and trends (what an overview and a
    ranking show), the kiosks and every later section empty (the kiosks read the hourly rollup:
    1.5 s of a region's 1.9 s brief report on SQLite over the 10 M-answer chain)."""
    now = now or datetime.now(timezone.utc)
    step = _stepper(progress)
    step("period")
    catalogue = queries.questions(db)
    unknown = [q for q in f.questions if q not in catalogue]
    if unknown:
        raise FieldError(f"unknown question {short(unknown[0])}; known: {', '.join(sorted(catalogue)) or 'none'}",
                         "question", "not_offered", value=unknown[0])
    queries.require_sites(db, f.sites)
    names = queries.site_names(db)
    period = resolve_period(db, f, now)
    min_group = employee_group(db, f)
    report: dict = {"schema": SCHEMA, "generator": f"kundpuls {__version__}",
                    "generated_at": now.astimezone(timezone.utc).replace(microsecond=0).isoformat(),
                    "timezone": report_zone(db, f.sites),
                    "filters": {"sites": list(f.sites), "questions": list(f.questions),
                                "from": f.date_from, "to": f.date_to, "min_ranked_n": f.min_ranked_n},
                    "questions": []}           # the series, once the period says which scales were asked
    # Customer questions first (what the report is mostly about), then the employee pulse.
    asked = sorted((q for q in catalogue if not f.questions or q in f.questions),
                   key=lambda q: (catalogue[q]["audience"] != "customer", q))
    if period is None:
        report["questions"] = list(_defined_first(
            {q: dict(catalogue[q], metric=primary_metric(catalogue[q]["scale"]), series_of=q) for q in asked}).values())
        report.update(period=None, summary=[], sites=[], ranking=[], kiosks=[], trends=[], heatmap=[],
                      drivers=[], actions=[], pulse=pulse({}, {}, min_n=min_group), alerts=[])
        return protect_employees(report, min_group)
    start, end = period
    days = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
    prev_end = (date.fromisoformat(start) - timedelta(days=1)).isoformat()
    prev_start = (date.fromisoformat(start) - timedelta(days=days)).isoformat()
    report["period"] = {"from": start, "to": end, "days": days, "previous_from": prev_start, "previous_to": prev_end}
    with gc_paused():
        return _build(db, f, report, step, catalogue, asked, names, min_group, period, prev_start, prev_end, now,
                      brief)


def _build(db: Database, f: ReportFilter, report: dict, step: Callable[[str], None], catalogue: dict[str, dict],
           asked: list[str], names: dict[str, str], min_group: int, period: tuple[str, str], prev_start: str,
           prev_end: str, now: datetime, brief: bool) -> dict:
    """`build`'s sections, from its period on."""
    start, end = period
    pf = f.period(start, end)
    step("sites")
    by_site = queries.site_tallies(db, pf)
    previous_sites = queries.site_tallies(db, f.period(prev_start, prev_end))
    # A series is (question, scale): a question asked on another scale before (a new version)
    # has that scale's answers as a series of its own, never summed with the current one.
    series = _series(catalogue, asked, set(by_site) | set(previous_sites), queries.earlier_versions(db))
    wanted = list(series)
    keys = {q: (c["audience"], c["scale"]) for q, c in series.items()}
    of = {q: c["series_of"] for q, c in series.items()}
    report["questions"] = [dict(series[q], metric=primary_metric(keys[q][1])) for q in wanted]
    per_q_site = {q: {s: t for (s, qq, a, sc), t in by_site.items() if qq == of[q] and (a, sc) == keys[q]}
                  for q in wanted}
    report["summary"] = [dict(question_id=q, audience=keys[q][0], scale=keys[q][1],
                              **metrics_dict(sum_tallies(per_q_site[q].values(), keys[q][1]))) for q in wanted]
    report["sites"] = [dict(site_id=s, name=names.get(s, s), question_id=q, **metrics_dict(t))
                       for q in wanted for s, t in sorted(per_q_site[q].items())]
    ranking = {}
    for q in wanted:
        before = rank_sites({s: t for (s, qq, a, sc), t in previous_sites.items()
                             if qq == of[q] and (a, sc) == keys[q]}, keys[q][1], min_n=f.min_ranked_n)
        ranking[q] = rank_sites(per_q_site[q], keys[q][1], min_n=f.min_ranked_n,
                                previous={r.site_id: r for r in before})
    report["ranking"] = [dict(question_id=q, metric=primary_metric(keys[q][1]), **r.as_dict(names))
                         for q in wanted for r in ranking[q]]
    series_of_key = {(of[q], *keys[q]): q for q in wanted}
    report["kiosks"] = ([dict(site_id=s, name=names.get(s, s), kiosk_id=k, question_id=series_of_key[(q, a, sc)], **metrics_dict(t))
                         for (s, k, q, a, sc), t in sorted(queries.kiosk_tallies(db, pf).items())
                         if (q, a, sc) in series_of_key] if f.sites and not brief else [])

    step("trends")
    daily = queries.daily_tallies(db, f.period(prev_start, end))
    # A day not over at every site yet (today, where the period holds it) is its answers so far:
    # a daily row is `partial`, so that a chart does not join a few answers (n = 2, NPS 100
    # beside a series around 65) to the line as if they were a day's, and so is its week.
    whole = last_whole_day(db, now, f.sites)
    spans = queries.series_spans(db, f)
    report["trends"] = []
    for q in wanted:
        a, sc = keys[q]
        rows = [(d, t) for (qq, aa, ss, d), t in daily.items() if (qq, aa, ss) == (of[q], a, sc)]
        current = [(d, t) for d, t in rows if d >= start]
        before = {date.fromisoformat(d): t for d, t in rows if d < start}
        # A series of an earlier scale: its sites stopped answering on it when the scale changed.
        same_sites = None if series[q].get("earlier_scale") else _same_sites_change(
            db, f, of[q], keys[q], by_site, previous_sites, names, (prev_start, end), start)
        asked = _asked(series[q], spans.get((of[q], a, sc)))
        report["trends"].append({"question_id": q, "metric": primary_metric(sc),
                                 "daily": daily_series(current, whole),
                                 "weekly": weekly_series(current, sc, period, whole, asked),
                                 "change": change_dict(before, {date.fromisoformat(d): t for d, t in current}, sc),
                                 "change_same_sites": same_sites})
    if brief:
        # The web app's overview and ranking: the same rule for small employee groups as the rest.
        report.update(heatmap=[], drivers=[], actions=[], pulse=pulse({}, {}, min_n=min_group), alerts=[])
        return protect_employees(report, min_group)

    step("heatmap")
    cells = queries.heatmap_tallies(db, pf)
    report["heatmap"] = [{"question_id": q, "metric": primary_metric(keys[q][1]),
                          "cells": heatmap({(wd, h): t for (qq, a, sc, wd, h), t in cells.items()
                                            if qq == of[q] and (a, sc) == keys[q]})} for q in wanted]

    step("drivers")
    reasons = queries.reason_counts(db, pf)
    report["drivers"] = []
    for q in wanted:
        a, sc = keys[q]
        site_reasons: dict[str, dict[str, ReasonCount]] = {}
        for (s, qq, ra, rsc, r), c in reasons.items():
            if (qq, ra, rsc) == (of[q], a, sc):
                site_reasons.setdefault(s, {})[r] = c
        chain_reasons = sum_reasons(site_reasons.values())
        total = sum_tallies(per_q_site[q].values(), sc)
        ranked = [r.site_id for r in ranking[q] if r.rank is not None]
        report["drivers"].append({
            "question_id": q,
            "pareto": pareto(chain_reasons),
            "praise": pareto(chain_reasons, "praise"),
            "uplift": uplift(total, chain_reasons),
            "sites": [{"site_id": s, "name": names.get(s, s), "pareto": pareto(site_reasons[s]),
                       "uplift": uplift(per_q_site[q].get(s, Tally(sc)), site_reasons[s])}
                      for s in sorted(site_reasons)],
            "best_vs_rest": best_vs_rest(ranked, {s: t.n for s, t in per_q_site[q].items()}, site_reasons,
                                         ranks={r.site_id: r.rank for r in ranking[q] if r.rank is not None},
                                         scale=sc)
            if a == "customer" else None,
        })

    step("actions")
    # The actions whose after-window overlaps the period: what the period's figures can show.
    # (Every action with its verdict: `kiosk-central action list`, the web app's actions page.)
    first_day = (date.fromisoformat(start) - timedelta(days=WINDOW_DAYS)).isoformat()
    acts = [a for a in queries.actions(db, f) if first_day < a["date"] <= end]
    report["actions"] = [dict(a, name=names.get(a["site_id"], a["site_id"]))
                         for a in with_effects(db, acts, catalogue,
                                               site_dates(db, {a["site_id"] for a in acts}, now))]

    report["pulse"] = pulse(_by_site_scale(by_site, "customer", f), _by_site_scale(by_site, "employee", f), names,
                            min_n=min_group)

    step("alerts")
    raised = queries.alerts(db, pf)
    zones = registry.site_zones(db, {a["site_id"] for a in raised})
    report["alerts"] = [dict(a, site_name=names.get(a["site_id"], a["site_id"]), timezone=zones[a["site_id"]].key,
                             raised_local=local_time(a["raised_at"], zones[a["site_id"]]))
                        for a in raised]
    return protect_employees(report, min_group)


def _asked(series: dict, span: tuple[str, str] | None) -> tuple[str | None, str | None]:
    """The first and last day `series` (a `_series` value) is asked on, for its weeks
    (trends.weekly_series), from `span` (queries.series_spans: its first and last day with
    answers). A version is in force at a site from the site's first answer on its scale
    (actions.kind_on: defining it changes nothing a kiosk asks until its config arrives), so the
    series is asked from its first answer; a series of an earlier scale until its last one, the
    question's current series on (a quiet day at its end is not its end)."""
    if span is None:
        return None, None
    return span[0], span[1] if series.get("earlier_scale") else None


def utc_instant(utc: str | datetime) -> datetime:
    """A stored time as an aware UTC instant: naive ones ("2026-11-20 16:00:00", as the store
    keeps them, or a driver's datetime) are UTC; an aware one is converted."""
    stamp = utc if isinstance(utc, datetime) else datetime.fromisoformat(str(utc))
    return stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp.astimezone(timezone.utc)


def local_time(utc: str | datetime | None, zone: ZoneInfo) -> str | None:
    """A stored UTC time ("2026-11-20 16:00:00") as the site's wall clock with its zone's
    abbreviation ("2026-11-20 17:00 CET"): what a store manager reads an alert's time as."""
    if not utc:
        return None
    local = utc_instant(utc).astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or zone.key)


def _series(catalogue: dict[str, dict], asked: list[str], seen: set[tuple[str, str, str, str]],
            versions: dict[tuple[str, str, str], dict]) -> dict[str, dict]:
    """The report's series, keyed by the id its sections use: each asked question on its current
    scale (its own id), then, for each other (audience, scale) it has answers on in the period or
    the previous one, a series `question@scale` (`@audience` too if that differs) marked
    `earlier_scale`, with `series_of` naming the question and the version naming it (`versions`:
    queries.earlier_versions: the centre's definition of that audience and scale, else the
    newest version seen on it). Those the centre defined first (`_defined_first`)."""
    out: dict[str, dict] = {}
    for q in asked:
        current = (catalogue[q]["audience"], catalogue[q]["scale"])
        out[q] = dict(catalogue[q], series_of=q)
        others = {series_id(q, (a, sc), current): (a, sc)
                  for a, sc in sorted({(a, sc) for (_s, qq, a, sc) in seen if qq == q and (a, sc) != current})}
        for sid, (a, sc) in others.items():
            # No register row of that audience and scale (only in the rollups): nobody defined it.
            named = versions.get((q, a, sc), {"version": None, "defined": False, "built_in": False})
            out[sid] = {**catalogue[q], **named, "id": sid, "audience": a, "scale": sc, "series_of": q,
                        "earlier_scale": True}
        if others:
            out[q]["other_series"] = list(others)
    return _defined_first(out)


def series_id(question_id: str, kind: tuple[str, str], current: tuple[str, str]) -> str:
    """The report's id of `question_id`'s series of `kind` (audience, scale), the question's
    `current` one being the question's own id: `question@scale`, `@audience` too if that
    differs (`_series`; an action names the series it was judged on by it)."""
    if kind == current:
        return question_id
    audience, scale = kind
    return f"{question_id}{SERIES_MARK}{scale}" + (f"{SERIES_MARK}{audience}" if audience != current[0] else "")


def report_zone(db: Database, sites: tuple[str, ...] | list[str]) -> str:
    """The zone a report's own times are read in (when it was made): the one most of its sites
    keep (`sites`, or every site), the alphabetically first of equally many; the sites' default
    (registry.DEFAULT_ZONE) for a chain without sites. Its days are each site's own."""
    zones = Counter(str(z) for z in registry.site_zones(db, sites or None).values())
    if not zones:
        return registry.DEFAULT_ZONE
    return min(zones, key=lambda z: (-zones[z], z))


def _defined_first(series: dict[str, dict]) -> dict[str, dict]:
    """`series` in their order, those the centre defined before those only seen in answers: a
    question a kiosk made up (or a version of a defined one on a scale the centre never gave it)
    is its own series, shown after the chain's own questions, never among or before them."""
    return dict(sorted(series.items(), key=lambda item: not item[1]["defined"]))


def employee_group(db: Database, f: ReportFilter) -> int:
    """The minimum employee group of this report: the filter's, else the centre's setting; never
    below the floor (analysis.privacy)."""
    if f.min_employee_group is not None:
        return check_min_group(f.min_employee_group)
    return centre_employee_group(db)


def centre_employee_group(db: Database) -> int:
    """The centre's minimum employee group (`kiosk-central privacy set`); StoredSettingError
    naming the setting when the stored value is one that command would not store."""
    text = get_setting(db, "min_employee_group", str(MIN_EMPLOYEE_GROUP))
    return stored_number("min_employee_group", text, MIN_EMPLOYEE_GROUP, MAX_EMPLOYEE_GROUP, kind="privacy",
                         fix="kiosk-central privacy set --min-employee-group N")


def _by_site_scale(by_site: dict, audience: str, f: ReportFilter) -> dict[str, Tally]:
    """Smiley answers of one audience per site, all questions of the same 4-point scale together."""
    out: dict[str, Tally] = {}
    for (s, q, a, sc), t in by_site.items():
        if a == audience and sc == "smiley4" and (audience == "employee" or not f.questions or q in f.questions):
            out[s] = out.get(s, Tally(sc)) + t
    return out


def _stepper(progress: Progress | None) -> Callable[[str], None]:
    state = {"i": 0}

    def step(label: str) -> None:
        state["i"] += 1
        if progress:
            progress(state["i"], len(STEPS), label)
    return step
