"""JSON and CSV renderings of the report dict (analysis.chain_report).

JSON is the dict itself (stable keys, docs/analysis.md). CSV is one tidy table for
spreadsheets and pivot tables: one row per figure with its section, question, site, time key,
n, metric, value, interval and p-value. A figure that is a word or a date (a ranking's
`vs_leader`, an action's windows) has its row too, the word or date in `value`.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Iterable

from server_sync.program.spreadsheet import text_cell
from server_sync.protocol.vocabulary import WEEKDAYS

CSV_COLUMNS = ("section", "question_id", "site_id", "site_name", "key", "n", "metric", "value", "low", "high",
               "p_value")
# The counts a group of answers carries beside its estimates (the NPS's two only on an NPS question).
COUNTS = ("negative", "promoters", "detractors")
# Which CSV sections carry the figures of each part of the report's JSON (a part is also the id
# of the report's HTML section that shows it, `section("trends", …)`). Said once: the web app's
# pages download the rows of the parts they show (`rows_of`), and
# tests/analysis/test_report_csv.py checks every figure of each part against these sections.
PART_SECTIONS: dict[str, tuple[str, ...]] = {
    "period": ("period",), "summary": ("summary",), "sites": ("site",), "ranking": ("ranking",), "kiosks": ("kiosk",),
    "trends": ("daily", "weekly", "weekly_change", "change", "change_previous", "change_current", "change_same_sites",
               "change_same_sites_previous", "change_same_sites_current"),
    "heatmap": ("heatmap",),
    "drivers": ("pareto", "praise", "uplift", "site_pareto", "site_uplift", "best_vs_rest"),
    "actions": ("action", "action_window", "action_before", "action_after", "control_before", "control_after"),
    "pulse": ("pulse_employee", "pulse_customer", "correlation"),
    "alerts": ("alert",),
}


def render_json(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def csv_rows(report: dict) -> list[dict]:
    """Every figure of the report as a row (tests/analysis/test_report_csv.py walks the JSON and
    fails on a figure without its row): estimates with their interval, tests as their difference
    with interval and p-value, shares, uplifts, the correlation and the alerts."""
    rows: list[dict] = []

    def add(section: str, q: str, metric: str, e: dict | None, n: int | None, site: str = "", name: str = "",
            key: str = "", p_value: float | None = None) -> None:
        e = e or {}
        if e.get("value") is None:                # a figure that is not there has no row
            return
        rows.append({"section": section, "question_id": q, "site_id": site, "site_name": name, "key": key, "n": n,
                     "metric": metric, "value": e.get("value"), "low": e.get("low"), "high": e.get("high"),
                     "p_value": p_value})

    def test(section: str, q: str, metric: str, r: dict | None, n: int | None, site: str = "", name: str = "",
             key: str = "") -> None:
        """A comparison: value = the difference (after − before), its interval and p-value."""
        if r:
            add(section, q, metric + "_diff", {"value": r["diff"], "low": r["low"], "high": r["high"]}, n, site,
                name, key, r["p_value"])

    def metrics(section: str, q: str, head: str, m: dict, site: str = "", name: str = "", key: str = "") -> None:
        """A group's estimates, then its counts (negative answers; NPS promoters and detractors)."""
        for k in (head, "csat"):
            add(section, q, k, m.get(k), m["n"], site, name, key)
        for k in COUNTS:
            add(section, q, k, {"value": m.get(k)}, m["n"], site, name, key)

    # The period and the one it is compared with: a file of changes that never named the earlier
    # period compared with an unnamed one (an independent check).
    for key in ("from", "to", "days", "previous_from", "previous_to"):
        add("period", "", key, {"value": (report.get("period") or {}).get(key)}, None)
    metric_of = {q["id"]: q["metric"] for q in report["questions"]}
    for s in report["summary"]:
        metrics("summary", s["question_id"], metric_of[s["question_id"]], s)
    for s in report["sites"]:
        metrics("site", s["question_id"], metric_of[s["question_id"]], s, s["site_id"], s["name"])
    for r in report["ranking"]:
        add("ranking", r["question_id"], r["metric"] + "_shrunk",
            {"value": r["shrunk"], "low": r["low"], "high": r["high"]}, r["n"], r["site_id"], r["name"],
            "" if r["rank"] is None else str(r["rank"]))
        # vs_leader: `leader`, `no_detectable_difference`, `below_leader` or `not_ranked` (a word);
        # rank_change_verdict, whether the intervals back the move (`moved`, `within_noise`, …), and
        # what it was decided on: last period's group and its shrunk value with interval.
        for k, metric in (("raw", r["metric"] + "_raw"), ("weight", "shrinkage_weight"),
                          ("previous_rank", "previous_rank"), ("rank_change", "rank_change"),
                          ("rank_change_verdict", "rank_change_verdict"), ("vs_leader", "vs_leader"),
                          ("previous_vs_leader", "previous_vs_leader")):
            add("ranking", r["question_id"], metric, {"value": r.get(k)}, r["n"], r["site_id"], r["name"],
                "" if r["rank"] is None else str(r["rank"]))
        add("ranking", r["question_id"], r["metric"] + "_previous_shrunk",
            {"value": r.get("previous_shrunk"), "low": r.get("previous_low"), "high": r.get("previous_high")},
            None, r["site_id"], r["name"], "" if r["rank"] is None else str(r["rank"]))
    for k in report.get("kiosks", []):
        metrics("kiosk", k["question_id"], metric_of.get(k["question_id"], "happy_index"), k, k["site_id"],
                k["kiosk_id"])
    for tr in report["trends"]:
        q, m = tr["question_id"], tr["metric"]
        for d in tr["daily"]:
            # A day not over yet (chain_report: `partial`), its answers so far: "2026-12-06 partial".
            day = f'{d["date"]} partial' if d.get("partial") else d["date"]
            add("daily", q, m, d, d["n"], key=day)
            add("daily", q, "csat", {"value": d.get("csat")}, d["n"], key=day)
            add("daily", q, "negative", {"value": d.get("negative")}, d["n"], key=day)
        for w in tr["weekly"]:
            # A week the period cuts: "2026-W44 partial 2026-10-31/2026-11-01" (its days in the period).
            week = f'{w["week"]} partial {w["first_day"]}/{w["last_day"]}' if w.get("partial") else w["week"]
            add("weekly", q, m, w, w["n"], key=week)         # its change (and p-value): weekly_change
            test("weekly_change", q, m, w["change"], w["n"], key=week)
        change = tr["change"]
        # The verdict has its own row: `too_little_data` has no test row to carry it in its key.
        add("change", q, "verdict", {"value": change["verdict"]}, change["current"]["n"], key=change["verdict"])
        test("change", q, m, change["test"], change["current"]["n"], key=change["verdict"])
        test("change", q, "csat", change.get("csat_test"), change["current"]["n"], key=change["verdict"])
        metrics("change_previous", q, m, change["previous"])
        metrics("change_current", q, m, change["current"])
        same = tr.get("change_same_sites")
        if same:                 # where some sites answered in one period only: the others' change
            c = same["change"]
            add("change_same_sites", q, "sites", {"value": same["sites"]}, None, key=c["verdict"])
            for side in ("only_now", "only_before"):
                for site in same[side]:
                    add("change_same_sites", q, side, {"value": site["n"]}, site["n"], site["site_id"], site["name"])
            add("change_same_sites", q, "verdict", {"value": c["verdict"]}, c["current"]["n"], key=c["verdict"])
            test("change_same_sites", q, m, c["test"], c["current"]["n"], key=c["verdict"])
            test("change_same_sites", q, "csat", c.get("csat_test"), c["current"]["n"], key=c["verdict"])
            metrics("change_same_sites_previous", q, m, c["previous"])
            metrics("change_same_sites_current", q, m, c["current"])
    for hm in report["heatmap"]:
        for c in hm["cells"]:
            # "mon 08" (the weekday's code, 0 = Monday, as opening hours name it), not "0-08": a
            # spreadsheet reads "1-08" as the 8th of January.
            cell = f"{WEEKDAYS[c['weekday']]} {c['hour']:02d}"
            add("heatmap", hm["question_id"], hm["metric"], {"value": c["value"]}, c["n"], key=cell)
            add("heatmap", hm["question_id"], "negative_share", {"value": c.get("negative_share")}, c["n"], key=cell)
    for d in report["drivers"]:
        q = d["question_id"]
        uplift_metric = metric_of[q] + "_uplift"
        chain = {"site_id": "", "name": "", "pareto": d["pareto"], "praise": d.get("praise") or [], "uplift": d["uplift"]}
        for s in [chain, *d["sites"]]:
            prefix = "site_" if s["site_id"] else ""
            for section in ("pareto", "praise"):
                for p in s.get(section) or []:
                    for k, metric in (("share", "share"), ("cumulative", "cumulative_share")):
                        add(prefix + section, q, metric, {"value": p.get(k)}, p["n"], s["site_id"], s["name"],
                            p["reason"])
            for u in s["uplift"]:
                # uplift = without − current: the metric with the reason's complaints left out, and now.
                for k, metric in (("uplift", uplift_metric), ("without", metric_of[q] + "_without"),
                                  ("current", metric_of[q])):
                    add(prefix + "uplift", q, metric, {"value": u.get(k)}, u["complaints"], s["site_id"], s["name"],
                        u["reason"])
        bvr = d.get("best_vs_rest") or {}
        for site in bvr.get("best_sites", []):         # which sites are "best" (the rest: all others)
            add("best_vs_rest", q, "best_site", {"value": site}, None, site, key="best")
        # How many sites are in the rest, how many of each group mention a reason at all, and the
        # ways to choose the best group that the mix's test draws from: a count that can pass
        # 2^63 (a chain of hundreds of sites), so written as text, which a workbook keeps exact.
        for k in ("rest_sites", "best_sites_with_reasons", "rest_sites_with_reasons"):
            add("best_vs_rest", q, k, {"value": bvr.get(k)}, None)
        if bvr.get("share_splits") is not None:
            add("best_vs_rest", q, "share_splits", {"value": str(bvr["share_splits"])}, None)
        if bvr.get("adjusted_by"):                    # the levels of unhappiness the mix's test holds apart
            add("best_vs_rest", q, "adjusted_by", {"value": bvr["adjusted_by"]}, None)
        # Too few ways to choose the best group to single out a reason (the HTML says so beside
        # the mix), or no best quarter to tell apart: a reader of the rows' p-values must know.
        for flag in ("share_few_splits", "tied"):
            if flag in bvr:
                add("best_vs_rest", q, flag, {"value": "true" if bvr[flag] else "false"}, None)
        for r in bvr.get("reasons", []):
            # Mentions per 100 answers: the best quarter's minus the rest's (described, not
            # tested: drivers.py says why), then each group's rate.
            add("best_vs_rest", q, "per_100_difference", {"value": r["difference"]}, bvr.get("best_answers"),
                key=r["reason"])
            add("best_vs_rest", q, "best_per_100", {"value": r["best_per_100"]}, bvr.get("best_answers"),
                key=r["reason"])
            add("best_vs_rest", q, "rest_per_100", {"value": r["rest_per_100"]}, bvr.get("rest_answers"),
                key=r["reason"])
            # The mix: its share of each group's reason mentions, best minus rest; the like-for-like
            # difference with its p-value, and that p adjusted across the question's reasons
            # (which decides "significant"); then
            # each group's share (no rows when a group mentions no reason: its shares are None).
            add("best_vs_rest", q, "share_difference", {"value": r.get("share_difference")}, bvr.get("best_mentions"),
                key=r["reason"])
            # What the test is of, with its p: the difference left when each group's reasons are set
            # against those its answers' unhappiness leads one to expect (drivers.expected_by_face).
            add("best_vs_rest", q, "share_difference_adjusted", {"value": r.get("share_difference_adjusted")},
                bvr.get("best_mentions"), key=r["reason"], p_value=r.get("share_p_value"))
            add("best_vs_rest", q, "share_p_adjusted", {"value": r.get("share_p_adjusted")}, bvr.get("best_mentions"),
                key=r["reason"])
            add("best_vs_rest", q, "best_share", {"value": r.get("best_share")}, bvr.get("best_mentions"),
                key=r["reason"])
            add("best_vs_rest", q, "rest_share", {"value": r.get("rest_share")}, bvr.get("rest_mentions"),
                key=r["reason"])
    for a in report["actions"]:
        # The series it was judged on (`visit@smiley4` once the question is asked on another scale).
        q, m, site, name = a.get("series_id", a["question_id"]), a["metric"], a["site_id"], a.get("name", a["site_id"])
        # Its date, verdict and id: two actions of a site on one day are told apart by their id,
        # as an alert's rows are.
        key = f'{a["date"]} {a["verdict"]} #{a["id"]}'
        # The verdict, and the level of the effect's interval (99 %: every other interval is 95 %).
        for k in ("verdict", "confidence"):
            add("action", q, k, {"value": a.get(k)}, a["current"]["n"], site, name, key)
        test("action", q, m, a["test"], a["current"]["n"], site, name, key)
        test("action", q, "csat", a.get("csat_test"), a["current"]["n"], site, name, key)
        # "pending, 23 of 28 days": the days of the after-window over, and its length.
        for k in ("days_observed", "window_days"):
            add("action", q, k, {"value": a.get(k)}, a["current"]["n"], site, name, key)
        # Which days were compared: the baseline's and the after-window's first and last day,
        # where the dip that made the site act began (and what found it: `alert` or `series`), and
        # the day its question moved to another scale when that cut the after-window short.
        dip = a.get("dip") or {}
        for metric, value in (("baseline_from", (a.get("baseline") or {}).get("from")),
                              ("baseline_to", (a.get("baseline") or {}).get("to")),
                              ("after_from", (a.get("after") or {}).get("from")),
                              ("after_to", (a.get("after") or {}).get("to")),
                              ("dip_start", dip.get("start")), ("dip_source", dip.get("source")),
                              ("scale_ended", a.get("scale_ended"))):
            add("action_window", q, metric, {"value": value}, None, site, name, key)
        # Pending or too little data has no test row; the verdict is in the key of the windows' rows.
        metrics("action_before", q, m, a["previous"], site, name, key)
        metrics("action_after", q, m, a["current"], site, name, key)
        if a.get("control"):
            metrics("control_before", q, m, a["control"]["previous"], site, name, key)
            metrics("control_after", q, m, a["control"]["current"], site, name, key)
    for s in report["pulse"]["sites"]:
        add("pulse_employee", "", "happy_index", s["employee"], s["employee"]["n"], s["site_id"], s["name"])
        add("pulse_customer", "", "happy_index", s["customer"], s["customer"]["n"], s["site_id"], s["name"])
    # The least answers a site needs on each side to count in the correlation.
    add("correlation", "", "min_answers", {"value": report["pulse"].get("min_n")}, None, key="employee-customer")
    corr = report["pulse"].get("correlation")
    if corr:
        add("correlation", "", "pearson_r", {"value": corr["r"], "low": corr["low"], "high": corr["high"]},
            corr["n"], key="employee-customer", p_value=corr["p_value"])
    for al in report["alerts"]:
        key = f'{al["raised_at"]} #{al["id"]}'
        add("alert", al["question_id"], al["kind"], {"value": al["value"]}, al["n"], al["site_id"],
            al.get("site_name", ""), key, al.get("p_value"))
        add("alert", al["question_id"], al["kind"] + "_baseline", {"value": al.get("baseline")}, None,
            al["site_id"], al.get("site_name", ""), key)
        add("alert", al["question_id"], al["kind"] + "_negative", {"value": al.get("negative")}, al["n"],
            al["site_id"], al.get("site_name", ""), key)
    return rows


def rows_of(report: dict | None, parts: Iterable[str]) -> list[dict]:
    """The CSV rows of the report's `parts` (PART_SECTIONS' keys), in csv_rows' order: what a
    page that shows those parts downloads."""
    if report is None:
        return []
    sections = {s for part in ("period", *parts) for s in PART_SECTIONS[part]}      # every page says its period
    return [r for r in csv_rows(report) if r["section"] in sections]


def render_xlsx(report: dict) -> bytes:
    """The CSV's rows as an Excel workbook, a sheet per section in the CSV's order (each with the
    CSV's columns but `section`): numbers as numbers, text as text (report.workbook)."""
    from server_sync.report.workbook import to_workbook
    sections: dict[str, list[dict]] = {}
    for row in csv_rows(report):
        sections.setdefault(row["section"], []).append(row)
    columns = [c for c in CSV_COLUMNS if c != "section"]
    return to_workbook([(name, columns, rows) for name, rows in sections.items()] or [("report", columns, [])])


def render_csv(report: dict) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    # Every text cell as text (a site's name is typed by a person; a word or date in `value`
    # too); the figures stay numbers.
    w.writerows({k: text_cell(v) if isinstance(v, str) else v for k, v in row.items()}
                for row in csv_rows(report))
    return buf.getvalue()
