"""JSON and CSV renderings of the report dict (analysis.chain_report).

JSON is the dict itself (stable keys, docs/analysis.md). CSV is one tidy table for
spreadsheets and pivot tables: one row per figure with its section, question, site, time key,
n, metric, value, interval and p-value.
"""

from __future__ import annotations

import csv
import io
import json

CSV_COLUMNS = ("section", "question_id", "site_id", "site_name", "key", "n", "metric", "value", "low", "high",
               "p_value")


def render_json(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def csv_rows(report: dict) -> list[dict]:
    rows: list[dict] = []

    def add(section: str, q: str, metric: str, e: dict | None, n: int, site: str = "", name: str = "",
            key: str = "", p_value: float | None = None) -> None:
        e = e or {}
        rows.append({"section": section, "question_id": q, "site_id": site, "site_name": name, "key": key, "n": n,
                     "metric": metric, "value": e.get("value"), "low": e.get("low"), "high": e.get("high"),
                     "p_value": p_value})

    metric_of = {q["id"]: q["metric"] for q in report["questions"]}
    for s in report["summary"]:
        for m in (metric_of[s["question_id"]], "csat"):
            add("summary", s["question_id"], m, s.get(m), s["n"])
    for s in report["sites"]:
        for m in (metric_of[s["question_id"]], "csat"):
            add("site", s["question_id"], m, s.get(m), s["n"], s["site_id"], s["name"])
    for r in report["ranking"]:
        add("ranking", r["question_id"], r["metric"] + "_shrunk",
            {"value": r["shrunk"], "low": r["low"], "high": r["high"]}, r["n"], r["site_id"], r["name"], "" if r["rank"] is None else str(r["rank"]))
    for tr in report["trends"]:
        for d in tr["daily"]:
            add("daily", tr["question_id"], tr["metric"], d, d["n"], key=d["date"])
        for w in tr["weekly"]:
            add("weekly", tr["question_id"], tr["metric"], w, w["n"], key=w["week"],
                p_value=(w["change"] or {}).get("p_value"))
        test = tr["change"]["test"]
        if test:
            add("change", tr["question_id"], tr["metric"] + "_diff", test, tr["change"]["current"]["n"],
                key=tr["change"]["verdict"], p_value=test["p_value"])
    for hm in report["heatmap"]:
        for c in hm["cells"]:
            add("heatmap", hm["question_id"], hm["metric"], {"value": c["value"]}, c["n"],
                key=f"{c['weekday']}-{c['hour']:02d}")
    for d in report["drivers"]:
        for p in d["pareto"]:
            add("pareto", d["question_id"], "share", {"value": p["share"]}, p["n"], key=p["reason"])
        for u in d["uplift"]:
            add("uplift", d["question_id"], metric_of[d["question_id"]] + "_uplift", {"value": u["uplift"]},
                u["complaints"], key=u["reason"])
        for s in d["sites"]:
            for p in s["pareto"]:
                add("site_pareto", d["question_id"], "share", {"value": p["share"]}, p["n"], s["site_id"],
                    s["name"], p["reason"])
    for a in report["actions"]:
        test = a["test"]
        add("action", a["question_id"], a["metric"] + "_diff", test, a["current"]["n"], a["site_id"], a["name"],
            a["date"], (test or {}).get("p_value"))
    for s in report["pulse"]["sites"]:
        add("pulse_employee", "", "happy_index", s["employee"], s["employee"]["n"], s["site_id"], s["name"])
        add("pulse_customer", "", "happy_index", s["customer"], s["customer"]["n"], s["site_id"], s["name"])
    return rows


def render_csv(report: dict) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(csv_rows(report))
    return buf.getvalue()
