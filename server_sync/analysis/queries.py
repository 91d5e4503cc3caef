"""Every SQL query behind the reports, written once for SQLite and PostgreSQL.

Reads the rollups (daily and monthly summaries, the chain's hourly table; rollup_hourly only for
chosen sites' heatmap and kiosks), never raw answers, so a report's cost grows with sites × days.
Returns plain Python values (Tally, ReasonCount, dicts) so the statistics stay pure; integer
sums are converted with int() because PostgreSQL hands back Decimal for SUM(bigint).
Never writes.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.analysis.drivers import ReasonCount
from server_sync.analysis.metrics import Tally
from server_sync.central import registry, rollups
from server_sync.central.dialect import dialect_of, fetch_numbers, in_list
from server_sync.exc import CentralConfigError
from server_sync.protocol.catalogue import QUESTIONS as CATALOGUE
from server_sync.protocol.catalogue import built_in
from server_sync.protocol.codec import short

if TYPE_CHECKING:
    import numpy

STATS = ", ".join(f"SUM({s})" for s in rollups.STATS)      # over summary rows
HOURLY_STATS = rollups.stats_sql()                         # the same from rollup_hourly


@dataclass(frozen=True)
class ReportFilter:
    """What a report covers; empty tuples mean every site / question. Dates are site-local."""
    sites: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    min_ranked_n: int = 30             # sites with fewer answers are listed, not ranked
    min_employee_group: int | None = None   # None: the centre's setting (analysis.privacy)

    def period(self, date_from: str, date_to: str) -> "ReportFilter":
        return replace(self, date_from=date_from, date_to=date_to)


def where_clause(db: Database, f: ReportFilter, site_col: str | None = "site_id", date_col: str = "local_date",
           question_col: str = "question_id") -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, values in ((site_col, f.sites), (question_col, f.questions)):
        if values and column:
            clause, values_params = in_list(db, column, values)
            clauses.append(clause)
            params += values_params
    if f.date_from:
        clauses.append(f"{date_col} >= {db.param}")
        params.append(f.date_from)
    if f.date_to:
        clauses.append(f"{date_col} <= {db.param}")
        params.append(f.date_to)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def tally_of(scale: str, row: Iterable) -> Tally:
    n, s1, s2, top2, neg = (int(x or 0) for x in row)
    return Tally(scale, n, s1, s2, top2, neg)


def data_range(db: Database, f: ReportFilter = ReportFilter(),
               until: str | None = None) -> tuple[str | None, str | None]:
    """The first and last site-local day with answers (of `f`'s sites and questions), none
    after `until`: a kiosk clock gone wrong must not define a period."""
    where, params = where_clause(db, ReportFilter(f.sites, f.questions, date_to=until))
    # Two statements: SQLite answers a lone MIN or MAX from the index, both together by a scan.
    return tuple(db.execute_sql(f"SELECT {fn}(local_date) FROM rollup_daily{where}", params).fetchone()[0]
                 for fn in ("MIN", "MAX"))


def _candidates(db: Database, key: str, condition: str = "", params: tuple = ()) -> tuple[str, list]:
    """(SQL, parameters) of the register's rows that may name their `key` ("id", or "id, audience,
    scale"), with whether the centre defined each: per key its newest version (grouped by the
    database), every version the centre defined (its few rows) and the catalogue's versions
    (`_built_in`); `_naming` picks among them. `condition`: on the register's rows, with its
    `params`. Kiosks' answers add a row per unknown version, so the register can hold many
    times more rows than a report names; reading them all (and parsing each one's wording) made
    every report slower as it filled. (One maximum over the defined and all versions together
    read every row: 1.2 s instead of 0.15 s over 200,000.)"""
    on = " AND ".join(f"q.{k} = n.{k}" for k in key.split(", "))
    where, also = (f" WHERE {condition}", f" AND {condition}") if condition else ("", "")
    shipped, shipped_params = catalogue_rows(db)
    # The defined rows through their times: SQLite, without statistics, reads every row for
    # `defined_at IS NOT NULL` unless the index covers the query (0.12 s over 200,000 rows);
    # the times alone it takes from the index, and each time's rows by it (CROSS JOIN: in
    # that order). PostgreSQL plans it as the join it is.
    return (f"SELECT q.id, q.version, q.scale, q.audience, q.text, q.defined_at IS NOT NULL FROM question q"
            f" JOIN (SELECT {key}, MAX(version) AS version FROM question{where} GROUP BY {key}) n"
            f" ON {on} AND q.version = n.version"
            f" UNION ALL SELECT q.id, q.version, q.scale, q.audience, q.text, TRUE"
            f" FROM (SELECT DISTINCT defined_at FROM question WHERE defined_at IS NOT NULL) t CROSS JOIN question q"
            f" WHERE q.defined_at = t.defined_at{also}"
            f" UNION ALL SELECT q.id, q.version, q.scale, q.audience, q.text, FALSE FROM question q"
            f" WHERE q.defined_at IS NULL AND ({shipped}){also}"), [*params, *params, *shipped_params, *params]


def catalogue_rows(db: Database, table: str = "q") -> tuple[str, list]:
    """(SQL, parameters): a register row is one of the catalogue's versions (its few keys)."""
    keys = [(q["id"], q["version"]) for q in CATALOGUE.values()]
    return (" OR ".join(f"({table}.id = {db.param} AND {table}.version = {db.param})" for _ in keys),
            [x for key in keys for x in key])


def _built_in(row: dict) -> dict:
    """A register row (`_naming`'s) as the reports take it: a catalogue version on the catalogue's
    scale and audience (catalogue.built_in), which every kiosk may ask unconfigured and the
    centre holds to that meaning, names its question as a defined one does (`built_in`), in the
    catalogue's words where the register has none (only seen in answers, or defined by
    `question define`, which gives none). The centre's own wording wins."""
    shipped = built_in(row["id"], row["version"], row["scale"], row["audience"])
    if shipped is None:
        return dict(row, built_in=False)
    text = row["text"] if _wording(row["text"]) else json.dumps(shipped["text"], ensure_ascii=False)
    return dict(row, text=text, built_in=not row["defined"], defined=True)


def _naming(db: Database, key: str, condition: str = "", params: tuple = ()) -> dict[tuple, dict]:
    """Per `key` (a tuple of its columns' values): the version that names it, the newest the
    centre defined (a catalogue version counts as defined: `_built_in`), else (none defined) the
    newest only seen in answers. A version only seen in answers never takes over one the centre
    defined: a kiosk may answer any version up to MAX_INT32 (central/questions.py registers it,
    within its daily allowance), so "the newest wins" let one answer redefine a question's
    scale, audience and wording for the whole chain, past any version the centre could give."""
    columns = key.split(", ")
    chosen: dict[tuple, dict] = {}
    worded: dict[tuple, dict] = {}          # per key, the version that names it among those with wording
    for qid, version, scale, audience, text, defined in db.execute_sql(*_candidates(db, key, condition, params)):
        row = _built_in({"id": qid, "version": version, "scale": scale, "audience": audience, "text": text,
                         "defined": bool(defined)})
        k = tuple(row[c] for c in columns)
        if k not in chosen or (row["defined"], version) > (chosen[k]["defined"], chosen[k]["version"]):
            chosen[k] = row
        if _wording(row["text"]) and (k not in worded or (row["defined"], version) > (worded[k]["defined"], worded[k]["version"])):
            worded[k] = row
    # A version defined by hand (`question define`) carries no wording: the question keeps the
    # words of its newest version that has some (the report and the digest named it by its id).
    for k, row in chosen.items():
        if not _wording(row["text"]) and k in worded:
            chosen[k] = dict(row, text=worded[k]["text"])
    return chosen


def _wording(text: str | None) -> dict:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return {}


def _named(row: dict) -> dict:
    """What a report says of a question version (`_naming`'s row): `defined` by the centre or
    `built_in` (the catalogue's, `_built_in`), or neither, only seen in answers (a series shown
    after the defined ones and named so)."""
    return {"id": row["id"], "version": row["version"], "scale": row["scale"], "audience": row["audience"],
            "text": _wording(row["text"]), "defined": row["defined"], "built_in": row.get("built_in", False)}


def questions(db: Database) -> dict[str, dict]:
    """Questions known to the store (named as `_naming` says) and any only seen in the rollups."""
    out = {qid: _named(row) for (qid,), row in _naming(db, "id").items()}
    for qid, audience, scale in db.execute_sql(
            "SELECT DISTINCT question_id, audience, scale FROM rollup_monthly"):
        out.setdefault(qid, _named({"id": qid, "version": None, "scale": scale, "audience": audience,
                                    "text": None, "defined": False}))
    return out


def question(db: Database, question_id: str) -> dict | None:
    """One question as `questions` names it; None when the register does not know it."""
    row = _naming(db, "id", f"id = {db.param}", (question_id,)).get((question_id,))
    return None if row is None else _named(row)


def earlier_versions(db: Database) -> dict[tuple[str, str, str], dict]:
    """(question, audience, scale) -> the version that names the question's series of that
    audience and scale (`_naming`: the centre's newest definition of it, else the newest seen):
    what a series of another scale is called in a report."""
    return {key: _named(row) for key, row in _naming(db, "id, audience, scale").items()}


def question_versions(db: Database, question_ids: Iterable[str]) -> dict[str, list[dict]]:
    """Each question's versions in the register: `version`, `scale`, `audience`, `first_seen`
    (when the register first held it, UTC: a definition's `defined_at` moves with every push,
    `first_seen` never), `defined` (by the centre, or the catalogue's, as `_naming` takes it).
    For the version in force on an action's day (actions.kind_on)."""
    ids = sorted(set(question_ids))
    out: dict[str, list[dict]] = {}
    if not ids:
        return out
    where, params = in_list(db, "id", ids)
    for qid, version, scale, audience, first_seen, defined in db.execute_sql(
            f"SELECT id, version, scale, audience, first_seen, defined_at IS NOT NULL FROM question WHERE {where}",
            params):
        shipped = built_in(qid, int(version), scale, audience) is not None
        out.setdefault(qid, []).append({"version": int(version), "scale": scale, "audience": audience,
                                        "first_seen": first_seen, "defined": bool(defined) or shipped})
    return out


def kinds_began(db: Database, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[tuple[str, str], date]]:
    """(site, question) -> {(audience, scale): the site-local day of the site's first answer on
    it}: when a site began answering a question on a scale, from its answers (the register's
    `first_seen` is when the centre first held the version, days later for answers that came on
    a USB stick or after an outage). For where an action's series ends (actions.kind_until)."""
    wanted = set(pairs)
    out: dict[tuple[str, str], dict[tuple[str, str], date]] = {}
    if not wanted:
        return out
    sites, site_params = in_list(db, "site_id", sorted({s for s, _q in wanted}))
    questions, question_params = in_list(db, "question_id", sorted({q for _s, q in wanted}))
    for site, question, audience, scale, first in db.execute_sql(
            f"SELECT site_id, question_id, audience, scale, MIN(local_date) FROM rollup_daily WHERE {sites}"
            f" AND {questions} GROUP BY site_id, question_id, audience, scale", site_params + question_params):
        if (site, question) in wanted:
            out.setdefault((site, question), {})[(audience, scale)] = date.fromisoformat(first)
    return out


def site_names(db: Database) -> dict[str, str]:
    return {sid: name for sid, name in db.execute_sql("SELECT id, name FROM site")}


def require_sites(db: Database, sites: Iterable[str]) -> None:
    """Refuse a site id nobody registered: a typo would read as 'nothing there' (a report, a
    list of alerts or actions, an erasure)."""
    wanted = list(sites)
    if not wanted:
        return
    known = site_names(db)
    missing = [s for s in wanted if s not in known]
    if missing:
        raise CentralConfigError(f"unknown site {short(missing[0])}")


def full_months(date_from: str, date_to: str) -> tuple[str, str] | None:
    """The first and last whole calendar month inside [date_from, date_to], or None."""
    a, b = date.fromisoformat(date_from), date.fromisoformat(date_to)
    first = a if a.day == 1 else (a.replace(day=28) + timedelta(days=4)).replace(day=1)
    after_b = b + timedelta(days=1)
    last_end = after_b if after_b.day == 1 else b.replace(day=1)       # exclusive end of the last whole month
    last = last_end - timedelta(days=1)
    if first > last:
        return None
    return first.isoformat()[:7], last.isoformat()[:7]


def _months_and_days(db: Database, f: ReportFilter, keys: str, sums: str, daily: str, monthly: str,
                     ) -> Iterable[tuple]:
    """The period's rows of `daily` summed per `keys` (`sums`: the SUM(...) columns): whole months
    from `monthly` and the remaining days from `daily`, so a report over years reads about 30
    times fewer rows. One grouped query per part, so a key may come back twice: the caller adds.
    (Grouped apart, the months are read in key order from their index, with no sort: over the
    2-year benchmark chain the reasons' 58k monthly rows took 0.05 s instead of 0.2 s as one
    grouped UNION ALL.)"""
    months = full_months(f.date_from, f.date_to) if f.date_from and f.date_to else None
    if months is None:
        where, params = where_clause(db, f)
        yield from db.execute_sql(f"SELECT {keys}, {sums} FROM {daily}{where} GROUP BY {keys}", params)
        return
    undated = ReportFilter(f.sites, f.questions)
    where_m, params_m = where_clause(db, undated)
    where_m += (" AND " if where_m else " WHERE ") + f"month >= {db.param} AND month <= {db.param}"
    yield from db.execute_sql(f"SELECT {keys}, {sums} FROM {monthly}{where_m} GROUP BY {keys}", params_m + list(months))
    # The days before the first whole month and after the last one, as two ranges (an OR of
    # two ranges keeps the date index usable; "outside the months" would scan them all).
    where_d, params_d = where_clause(db, undated)
    where_d += (" AND " if where_d else " WHERE ") + (
        f"((local_date >= {db.param} AND local_date < {db.param}) OR (local_date > {db.param} AND local_date <= {db.param}))")
    yield from db.execute_sql(f"SELECT {keys}, {sums} FROM {daily}{where_d} GROUP BY {keys}",
                              params_d + [f.date_from, months[0] + "-01", months[1] + "-31", f.date_to])


def site_tallies(db: Database, f: ReportFilter) -> dict[tuple[str, str, str, str], Tally]:
    """(site, question, audience, scale) -> Tally over the period."""
    out: dict[tuple[str, str, str, str], Tally] = {}
    for s, q, a, sc, *r in _months_and_days(db, f, "site_id, question_id, audience, scale", STATS,
                                            "rollup_daily", "rollup_monthly"):
        t = tally_of(sc, r)
        out[s, q, a, sc] = out[s, q, a, sc] + t if (s, q, a, sc) in out else t
    return out


def daily_tallies(db: Database, f: ReportFilter) -> dict[tuple[str, str, str, str], Tally]:
    """(question, audience, scale, local_date) -> Tally, over the chain (from the small chain
    table) or the chosen sites (their daily rows, through the site index)."""
    if f.sites:
        where, params = where_clause(db, f)
        table = "rollup_daily"
    else:
        where, params = where_clause(db, f, site_col=None)
        table = "rollup_chain_hourly"
    rows = db.execute_sql(f"SELECT question_id, audience, scale, local_date, {STATS} FROM {table}{where}"
                          " GROUP BY question_id, audience, scale, local_date", params)
    return {(q, a, sc, d): tally_of(sc, r) for q, a, sc, d, *r in rows}


def series_spans(db: Database, f: ReportFilter) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(question, audience, scale) -> the first and last site-local day with answers on it, of
    any day (not only `f`'s period), over the chain (the small chain table) or the chosen sites
    (their daily rows, through the site index), as `daily_tallies` reads them: the days a series
    was asked (trends.weekly_series)."""
    if f.sites:
        where, params = where_clause(db, ReportFilter(f.sites, f.questions))
        table = "rollup_daily"
    else:
        where, params = where_clause(db, ReportFilter(questions=f.questions), site_col=None)
        table = "rollup_chain_hourly"
    rows = db.execute_sql(f"SELECT question_id, audience, scale, MIN(local_date), MAX(local_date) FROM {table}{where}"
                          " GROUP BY question_id, audience, scale", params)
    return {(q, a, sc): (first, last) for q, a, sc, first, last in rows}


def heatmap_tallies(db: Database, f: ReportFilter) -> dict[tuple[str, str, str, int, int], Tally]:
    """(question, audience, scale, weekday, local_hour) -> Tally. The chain-wide table when no
    site is chosen, else the chosen sites' hourly rollup (small through its site index)."""
    if f.sites:
        where, params = where_clause(db, f)
        sql = (f"SELECT question_id, audience, scale, weekday, local_hour, {HOURLY_STATS} FROM rollup_hourly{where}"
               " GROUP BY question_id, audience, scale, weekday, local_hour")
    else:
        where, params = where_clause(db, f, site_col=None)
        sql = (f"SELECT question_id, audience, scale, weekday, local_hour, {STATS} FROM rollup_chain_hourly{where}"
               " GROUP BY question_id, audience, scale, weekday, local_hour")
    return {(q, a, sc, int(wd), int(h)): tally_of(sc, r) for q, a, sc, wd, h, *r in db.execute_sql(sql, params)}


def kiosk_tallies(db: Database, f: ReportFilter) -> dict[tuple[str, str, str, str, str], Tally]:
    """(site, kiosk, question, audience, scale) -> Tally; only sensible with chosen sites."""
    where, params = where_clause(db, f)
    rows = db.execute_sql(f"SELECT site_id, kiosk_id, question_id, audience, scale, {HOURLY_STATS}"
                          f" FROM rollup_hourly{where} GROUP BY site_id, kiosk_id, question_id, audience, scale",
                          params)
    return {(s, k, q, a, sc): tally_of(sc, r) for s, k, q, a, sc, *r in rows}


def reason_counts(db: Database, f: ReportFilter) -> dict[tuple[str, str, str, str, str], ReasonCount]:
    """(site, question, audience, scale, reason) -> ReasonCount over the period: per series, as
    the tallies (a question's reasons on a smiley scale are not those of its NPS version)."""
    out: dict[tuple[str, str, str, str, str], ReasonCount] = {}
    for s, q, a, sc, r, n, neg, nsv in _months_and_days(
            db, f, "site_id, question_id, audience, scale, reason", "SUM(n), SUM(negative), SUM(negative_sum_v)",
            "rollup_reason_daily", "rollup_reason_monthly"):
        c = ReasonCount(int(n), int(neg), int(nsv))
        out[s, q, a, sc, r] = out[s, q, a, sc, r] + c if (s, q, a, sc, r) in out else c
    return out


def actions(db: Database, f: ReportFilter) -> list[dict]:
    """Logged actions of the chosen sites and questions (all dates: an old action still tells)."""
    where, params = where_clause(db, ReportFilter(f.sites, f.questions), date_col="action_date")
    rows = db.execute_sql("SELECT id, site_id, question_id, action_date, note, created_at, alert_id FROM action"
                          f"{where} ORDER BY action_date, id", params)
    # alert_id: the alert the action answers (the workflow, m0041); its dip is the baseline's end.
    return [{"id": int(i), "site_id": s, "question_id": q, "date": d, "note": note, "created_at": str(c),
             "alert_id": None if alert is None else int(alert)}
            for i, s, q, d, note, c, alert in rows]


def action_series(db: Database, acts: list[dict], kinds: Mapping[int, tuple[str, str]],
                  span: Callable[[date], tuple[date, date]]) -> dict[int, dict[str, dict[date, Tally]]]:
    """For each action: {"site": its site's daily tallies, "chain": the whole chain's} of its
    series (`kinds`: action id -> the (audience, scale) it is judged on, the question's version
    in force on its day: a series never mixes scales) over `span(action_date)` (first, last day;
    the chain's dict is shared by the actions of a series and covers all their spans).
    The site's days: one query per 300 actions, the windows a VALUES list joined on the whole
    primary-key prefix of rollup_daily, so each is an index range. The chain's days: one query per
    series over the union of the spans, from the small chain-wide table. (`action_arrays`: the
    same as arrays, for many actions at once.)"""
    out: dict[int, dict[str, dict[date, Tally]]] = {}
    acts = [a for a in acts if a["id"] in kinds]
    spans = {a["id"]: span(date.fromisoformat(a["date"])) for a in acts}
    # Plain integer columns (no SUM): the rows become Tallies directly, thousands per report.
    columns = f"w.action_id, d.scale, d.local_date, {', '.join(f'd.{c}' for c in rollups.STATS)}"
    windows = [dict(a, audience=kinds[a["id"]][0], scale=kinds[a["id"]][1]) for a in acts]
    for sql, params in _site_windows(db, windows, [a["id"] for a in acts], spans, columns, ""):
        for action_id, scale, day, n, sum_v, sum_v2, top2, negative in db.execute_sql(sql, params):
            out.setdefault(int(action_id), {"site": {}, "chain": {}})["site"][_day(day)] = \
                Tally(scale, n, sum_v, sum_v2, top2, negative)
    for group, days in _chain_days(db, acts, kinds, spans):
        for i in group:                 # one shared dict: each action reads only its own days
            out.setdefault(acts[i]["id"], {"site": {}, "chain": {}})["chain"] = days
    return out


def action_arrays(db: Database, acts: list[dict], kinds: Mapping[int, tuple[str, str]],
                  span: Callable[[date], tuple[date, date]]) -> "tuple[numpy.ndarray, numpy.ndarray]":
    """`action_series` as two int arrays (numpy), `(len(acts), days, 5)`: per action (in order),
    the site's and the chain's tallies (n, Σv, Σv², top two, negative) on each day of its span,
    zero where there were no answers (or the action is not in `kinds`); every span has as many
    days as the first. For `effects_batch`. The site's days come back as plain integer rows
    (the run of spans and the day's offset in it as one number, the tally) that numpy places in
    one step: over the benchmark chain's 84k site-days, half the time of having the engine join
    each action's days into one string and of building a Tally per row."""
    import numpy as np
    spans = {a["id"]: span(date.fromisoformat(a["date"])) for a in acts}
    length = (span(date(2000, 1, 1))[1] - span(date(2000, 1, 1))[0]).days + 1
    site = np.zeros((len(acts), length, 5), dtype=np.int64)
    chain = np.zeros((len(acts), length, 5), dtype=np.int64)
    rows = [i for i, a in enumerate(acts) if a["id"] in kinds]
    known = [acts[i] for i in rows]
    # The site's days: each run of overlapping spans of one site and series read once (the
    # benchmark chain's 87k action-days are 68k site-days), into one table of all the runs' days.
    runs, run_of = _span_runs(known, kinds, spans)
    run_days = [(last - first).days + 1 for _key, first, last in runs]
    run_start = np.concatenate([[0], np.cumsum(run_days)]).astype(np.int64)
    table = np.zeros((int(run_start[-1]), 5), dtype=np.int64)
    stride = max(run_days, default=1)
    offset = dialect_of(db).days_between.format(later="d.local_date", earlier="w.first_day")
    # One number for the run and the day (run · stride + day): a column less to fetch per row.
    columns = f"w.action_id * {stride} + {offset}, {', '.join(f'd.{c}' for c in rollups.STATS)}"
    windows = [{"id": r, "site_id": key[0], "question_id": key[1], "audience": key[2], "scale": key[3]}
               for r, (key, _f, _l) in enumerate(runs)]
    for sql, params in _site_windows(db, windows, list(range(len(runs))),
                                     {r: (first, last) for r, (_k, first, last) in enumerate(runs)}, columns, ""):
        rows_of = fetch_numbers(db, sql, params)
        # fromiter over the flattened rows: half the time of np.array(list of tuples) (~30 of 60 ms).
        values = np.fromiter(itertools.chain.from_iterable(rows_of), dtype=np.int64, count=6 * len(rows_of)).reshape(-1, 6)
        run, day = np.divmod(values[:, 0], stride)
        table[run_start[run] + day] = values[:, 1:]
    if known:
        first_row = np.array([run_start[r] + off for r, off in run_of], dtype=np.int64)
        site[rows] = table[first_row[:, None] + np.arange(length)]
    for group, days in _chain_days(db, known, kinds, spans):
        starts = [spans[known[i]["id"]][0] for i in group]
        first, last = min(starts), max(spans[known[i]["id"]][1] for i in group)
        table = np.zeros(((last - first).days + 1, 5), dtype=np.int64)
        for day, t in days.items():
            table[(day - first).days] = (t.n, t.sum_v, t.sum_v2, t.top2, t.negative)
        offsets = np.array([(start - first).days for start in starts])
        chain[[rows[i] for i in group]] = table[offsets[:, None] + np.arange(length)]
    return site, chain


def _span_runs(acts: list[dict], kinds: Mapping[int, tuple[str, str]], spans: dict[int, tuple[date, date]],
               ) -> tuple[list[tuple[tuple[str, str, str, str], date, date]], list[tuple[int, int]]]:
    """The spans of `acts` merged per (site, question, audience, scale) where they overlap or
    touch: the runs ((site, question, audience, scale), first, last day), and for each action (in
    order) its run and the offset of its span's first day in it."""
    by_key: dict[tuple[str, str, str, str], list[int]] = {}
    for i, a in enumerate(acts):
        by_key.setdefault((a["site_id"], a["question_id"], *kinds[a["id"]]), []).append(i)
    runs: list[tuple[tuple[str, str, str, str], date, date]] = []
    run_of: list[tuple[int, int]] = [(0, 0)] * len(acts)
    for key, members in by_key.items():
        members.sort(key=lambda i: spans[acts[i]["id"]][0])
        for i in members:
            first, last = spans[acts[i]["id"]]
            if not runs or runs[-1][0] != key or first > runs[-1][2] + timedelta(days=1):
                runs.append((key, first, last))
            elif last > runs[-1][2]:
                runs[-1] = (key, runs[-1][1], last)
            run_of[i] = (len(runs) - 1, (first - runs[-1][1]).days)
    return runs, run_of


def _site_windows(db: Database, acts: list[dict], keys: list[int], spans: dict[int, tuple[date, date]],
                  columns: str, tail: str) -> Iterable[tuple[str, list]]:
    """The queries of the actions' site days, 300 actions each: `columns` of the windows `w`
    (`w.action_id`: the action's entry in `keys`; each of `acts` names its site, question,
    audience and scale) joined to their rollup_daily rows `d`, then `tail`."""
    p = db.param
    for i in range(0, len(acts), 300):
        values, params = [], []
        for a, key in zip(acts[i:i + 300], keys[i:i + 300]):
            audience, scale = a["audience"], a["scale"]
            first, last = spans[a["id"]]
            values.append(f"({p}, {p}, {p}, {p}, {p}, {p}, {p})")
            params += [key, a["site_id"], a["question_id"], audience, scale, first.isoformat(), last.isoformat()]
        yield (f"WITH w (action_id, site_id, question_id, audience, scale, first_day, last_day) AS"
               f" (VALUES {', '.join(values)})"
               f" SELECT {columns}"
               " FROM w JOIN rollup_daily d ON d.site_id = w.site_id AND d.question_id = w.question_id"
               " AND d.audience = w.audience AND d.scale = w.scale"
               f" AND d.local_date >= w.first_day AND d.local_date <= w.last_day{tail}"), params


def _chain_days(db: Database, acts: list[dict], kinds: Mapping[int, tuple[str, str]],
                spans: dict[int, tuple[date, date]]) -> Iterable[tuple[list[int], dict[date, Tally]]]:
    """Per series (question, audience, scale) of `acts`: its actions (positions in `acts`) and
    the chain's daily tallies over all their spans."""
    p = db.param
    by_series: dict[tuple[str, str, str], list[int]] = {}
    for i, a in enumerate(acts):
        by_series.setdefault((a["question_id"], *kinds[a["id"]]), []).append(i)
    for (q, audience, scale), group in by_series.items():
        first = min(spans[acts[i]["id"]][0] for i in group).isoformat()
        last = max(spans[acts[i]["id"]][1] for i in group).isoformat()
        rows = db.execute_sql(f"SELECT local_date, {STATS} FROM rollup_chain_hourly WHERE question_id = {p}"
                              f" AND audience = {p} AND scale = {p} AND local_date >= {p} AND local_date <= {p}"
                              " GROUP BY local_date", (q, audience, scale, first, last))
        yield group, {_day(d): tally_of(scale, r) for d, *r in rows}


def action_alert_days(db: Database, acts: list[dict], lookback_days: int) -> dict[int, date]:
    """For each action: the site-local day of the alert it was logged from (`alert_id`, when the
    action row carries one), else of the earliest alert on its site and question raised in the
    `lookback_days` before its date (the dip that made the site act), if any."""
    out: dict[int, date] = {}
    if not acts:
        return out
    p = db.param
    zones = registry.site_zones(db, {a["site_id"] for a in acts})
    first = min(date.fromisoformat(a["date"]) for a in acts) - timedelta(days=lookback_days + 1)
    last = max(date.fromisoformat(a["date"]) for a in acts) + timedelta(days=1)
    sites = sorted({a["site_id"] for a in acts})
    clause, params = in_list(db, "site_id", sites)
    raised: dict[tuple[str, str], list[date]] = {}
    for site, question, at in db.execute_sql(f"SELECT site_id, question_id, raised_at FROM alert WHERE {clause}"
                                             f" AND raised_at >= {p} AND raised_at < {p}",
                                             params + [first.isoformat(), last.isoformat()]):
        raised.setdefault((site, question), []).append(local_date(at, zones[site]))
    for a in acts:
        d = date.fromisoformat(a["date"])
        days = [r for r in raised.get((a["site_id"], a["question_id"]), ()) if d - timedelta(days=lookback_days) <= r <= d]
        if days:
            out[a["id"]] = min(days)
    # An action logged from an alert (`alert_id`, the alert→action workflow) names its dip itself.
    linked = {int(a["alert_id"]): a["id"] for a in acts if a.get("alert_id") is not None}
    if linked:
        clause, params = in_list(db, "id", sorted(linked))
        rows = db.execute_sql(f"SELECT id, site_id, raised_at FROM alert WHERE {clause}", params).fetchall()
        zones.update(registry.site_zones(db, {site for _id, site, _at in rows} - zones.keys()))
        for alert_id, site, at in rows:
            out[linked[int(alert_id)]] = local_date(at, zones[site])
    return out


def local_date(stored_utc: Any, zone: ZoneInfo) -> date:
    """The local date in `zone` of a time the store keeps in UTC (naive, or as text)."""
    when = stored_utc if isinstance(stored_utc, datetime) else datetime.fromisoformat(str(stored_utc))
    return when.replace(tzinfo=timezone.utc).astimezone(zone).date()


def _day(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(v if isinstance(v, str) else str(v))


# Every UTC offset in use lies within a day of UTC: the stored (UTC) times of a site-local date
# range lie within this much of its ends, and the exact local date is taken per site after.
_ZONE_SLACK = timedelta(days=1)


def alerts(db: Database, f: ReportFilter) -> list[dict]:
    """The alerts raised on the filter's days, each day the site's own local one (as every
    figure of the report), on its sites and questions."""
    where, params = where_clause(db, ReportFilter(f.sites, f.questions))
    clauses = [where[7:]] if where else []
    if f.date_from:
        clauses.append(f"raised_at >= {db.param}")
        params.append((date.fromisoformat(f.date_from) - _ZONE_SLACK).isoformat())
    if f.date_to:
        clauses.append(f"raised_at < {db.param}")
        params.append((date.fromisoformat(f.date_to) + timedelta(days=1) + _ZONE_SLACK).isoformat())
    sql = ("SELECT id, site_id, question_id, kind, raised_at, last_seen_at, n, negative, value, baseline,"
           " p_value, message, acked_at, ack_comment, detail FROM alert"
           + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY raised_at, id")
    cols = ("id", "site_id", "question_id", "kind", "raised_at", "last_seen_at", "n", "negative", "value",
            "baseline", "p_value", "message", "acked_at", "ack_comment", "detail")
    rows = [dict(zip(cols, row)) for row in db.execute_sql(sql, params)]
    zones = registry.site_zones(db, {d["site_id"] for d in rows})
    lo = date.fromisoformat(f.date_from) if f.date_from else date.min
    hi = date.fromisoformat(f.date_to) if f.date_to else date.max
    out = []
    for d in rows:
        if not lo <= local_date(d["raised_at"], zones[d["site_id"]]) <= hi:
            continue
        for k in ("raised_at", "last_seen_at", "acked_at"):
            d[k] = _iso(d[k])
        d["detail"] = json_object(d["detail"])
        out.append(d)
    return out


def json_object(stored: Any) -> dict | None:
    """A stored JSON object (an alert's facts); None when absent or unreadable."""
    try:
        value = json.loads(stored) if stored else None
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _iso(v: Any) -> str | None:
    if v is None:
        return None
    return v.isoformat(sep=" ") if hasattr(v, "isoformat") else str(v)
