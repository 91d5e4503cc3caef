"""The HTML report: ONE self-contained file (inline CSS and SVG, no script, no CDN, no web font)
that reads well on a phone. Takes the report dict from analysis.chain_report; never queries.
"""

from __future__ import annotations

from html import escape
from typing import Any

from server_sync.report import svg
from server_sync.report.i18n import reason_labels, t, weekdays

CSS = """
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#f5f7fa;color:#1f2933;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
header{background:#1e3a8a;color:#fff;padding:18px 16px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;opacity:.85;font-size:13px}
main{max-width:980px;margin:0 auto;padding:12px}
section{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:14px 16px;margin:12px 0}
h2{font-size:18px;margin:0 0 10px}
h3{font-size:15px;margin:14px 0 6px;color:#334e68}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:10px}
.card{border:1px solid #e4e7eb;border-radius:8px;padding:10px 12px}
.card .label{font-size:12px;color:#52606d}
.card .value{font-size:28px;font-weight:700}
.card .ci{font-size:12px;color:#7b8794}
.good{color:#16a34a}.bad{color:#dc2626}.flat{color:#7b8794}
.small{display:inline-block;font-size:11px;background:#fde68a;color:#7c2d12;border-radius:4px;padding:0 5px;margin-left:4px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e4e7eb;white-space:nowrap}
th{color:#52606d;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{width:100%;max-width:720px;height:auto;display:block;margin:6px auto}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}
.note{font-size:12px;color:#7b8794}
footer{font-size:12px;color:#7b8794;text-align:center;padding:16px}
"""


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _est(e: dict | None, lang: str) -> str:
    if not e or e.get("value") is None:
        return "–"
    ci = f" ({_fmt(e['low'])}–{_fmt(e['high'])})" if e.get("low") is not None else ""
    small = f'<span class="small">{escape(t("small", lang))}</span>' if e.get("small") else ""
    return f"{_fmt(e['value'])}{ci}{small}"


def _bounds(metric: str) -> tuple[float, float]:
    return (-100.0, 100.0) if metric == "nps" else (0.0, 100.0)


def _qtext(q: dict, lang: str) -> str:
    return q.get("text", {}).get(lang) or q["id"]


def render(report: dict, lang: str = "sv") -> str:
    questions = {q["id"]: q for q in report["questions"]}
    reasons = reason_labels(lang)
    period = report.get("period")
    parts = [f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
             '<meta name="viewport" content="width=device-width,initial-scale=1">'
             f"<title>{escape(t('title', lang))}</title><style>{CSS}</style></head><body>"]
    sites = report["filters"]["sites"]
    scope = ", ".join(sites) if sites else t("sites_all", lang)
    when = f"{period['from']} – {period['to']}" if period else t("no_data", lang)
    parts.append(f"<header><h1>{escape(t('title', lang))}</h1><p>{escape(scope)} · {escape(t('period', lang))}"
                 f" {escape(when)} · {escape(t('generated', lang))} {escape(report['generated_at'])}</p></header><main>")
    parts.append(_summary(report, questions, lang))
    parts.append(_trends(report, questions, lang))
    parts.append(_heatmaps(report, questions, lang))
    parts.append(_ranking(report, questions, lang))
    parts.append(_drivers(report, questions, reasons, lang))
    parts.append(_actions(report, questions, lang))
    parts.append(_pulse(report, lang))
    parts.append(_alerts(report, lang))
    if report.get("kiosks"):
        parts.append(_kiosks(report, lang))
    parts.append(f"</main><footer>{escape(t('footer', lang))} · {escape(report['generator'])}</footer></body></html>")
    return "".join(parts)


def _summary(report: dict, questions: dict, lang: str) -> str:
    cards = []
    changes = {tr["question_id"]: tr["change"] for tr in report.get("trends", [])}
    for s in report["summary"]:
        q = questions[s["question_id"]]
        metric = q["metric"]
        e = s.get(metric) or {}
        ch = changes.get(s["question_id"]) or {}
        test = ch.get("test")
        verdict = ch.get("verdict", "too_little_data")
        cls = {"better": "good", "worse": "bad"}.get(verdict, "flat")
        delta = f"{test['diff']:+.1f} · " if test else ""
        cards.append(
            f'<div class="card"><div class="label">{escape(_qtext(q, lang))}</div>'
            f'<div class="value">{_fmt(e.get("value"))}</div>'
            f'<div class="ci">{escape(t(metric, lang))} · {escape(t("ci", lang))} {_fmt(e.get("low"))}–{_fmt(e.get("high"))}'
            f' · n={s["n"]}</div><div class="ci">CSAT {_fmt(s["csat"]["value"])}%</div>'
            f'<div class="ci {cls}">{escape(t("change", lang))}: {delta}{escape(t(verdict, lang))}</div></div>')
    body = "".join(cards) if cards else f'<p class="note">{escape(t("no_data", lang))}</p>'
    return f'<section id="summary"><h2>{escape(t("summary", lang))}</h2><div class="cards">{body}</div></section>'


def _trends(report: dict, questions: dict, lang: str) -> str:
    out = [f'<section id="trends"><h2>{escape(t("trend", lang))}</h2>']
    for tr in report.get("trends", []):
        q = questions[tr["question_id"]]
        out.append(f"<h3>{escape(_qtext(q, lang))} · {escape(t(tr['metric'], lang))}</h3>")
        out.append(svg.trend_chart(f"trend-{q['id']}", f"{t('trend', lang)}: {_qtext(q, lang)}", tr["daily"],
                                   tr["weekly"], _bounds(tr["metric"]), t("no_data", lang),
                                   (t("daily", lang), t("weekly", lang), t("band", lang))))
    out.append("</section>")
    return "".join(out)


def _heatmaps(report: dict, questions: dict, lang: str) -> str:
    out = [f'<section id="heatmap"><h2>{escape(t("heatmap", lang))}</h2>'
           f'<p class="note">{escape(t("heatmap_note", lang))}</p>']
    for hm in report.get("heatmap", []):
        q = questions[hm["question_id"]]
        if q["audience"] != "customer":
            continue
        out.append(f"<h3>{escape(_qtext(q, lang))} · {escape(t(hm['metric'], lang))}</h3>")
        out.append(svg.heatmap_chart(f"heatmap-{q['id']}", f"{t('heatmap', lang)}: {_qtext(q, lang)}", hm["cells"],
                                     weekdays(lang), _bounds(hm["metric"]), t("no_data", lang)))
    out.append("</section>")
    return "".join(out)


def _ranking(report: dict, questions: dict, lang: str) -> str:
    out = [f'<section id="ranking"><h2>{escape(t("ranking", lang))}</h2>'
           f'<p class="note">{escape(t("ranking_note", lang))}</p>']
    summary = {s["question_id"]: s for s in report["summary"]}
    for qid, q in questions.items():
        rows = [r for r in report.get("ranking", []) if r["question_id"] == qid]
        if q["audience"] != "customer":
            continue
        shown = rows if len(rows) <= 20 else rows[:10] + rows[-10:]
        chain = (summary.get(qid, {}).get(q["metric"]) or {}).get("value")
        label = "" if len(rows) <= 20 else f" ({t('top', lang)} 10 / {t('bottom', lang)} 10 · {len(rows)})"
        out.append(f"<h3>{escape(_qtext(q, lang))} · {escape(t(q['metric'], lang))}{escape(label)}</h3>")
        out.append(svg.ranking_chart(f"ranking-{qid}", f"{t('ranking', lang)}: {_qtext(q, lang)}", shown,
                                     _bounds(q["metric"]), chain, t("no_data", lang)))
    out.append("</section>")
    return "".join(out)


def _drivers(report: dict, questions: dict, reasons: dict, lang: str) -> str:
    out = [f'<section id="drivers"><h2>{escape(t("drivers", lang))}</h2>']
    for d in report.get("drivers", []):
        q = questions[d["question_id"]]
        if not d["pareto"]:
            continue
        out.append(f"<h3>{escape(_qtext(q, lang))} · {escape(t('pareto', lang))}</h3>")
        out.append(svg.pareto_chart(f"pareto-{q['id']}", f"{t('pareto', lang)}: {_qtext(q, lang)}", d["pareto"],
                                    reasons, t("no_data", lang)))
        if d["uplift"]:
            rows = "".join(f"<tr><td>{escape(reasons.get(u['reason'], u['reason']))}</td>"
                           f"<td class=num>{u['complaints']}</td><td class=num>{_fmt(u['current'])}</td>"
                           f"<td class=num>{_fmt(u['without'])}</td><td class='num good'>{u['uplift']:+.1f}</td></tr>"
                           for u in d["uplift"])
            out.append(f"<div class=scroll><table><caption class=note>{escape(t('uplift', lang))}</caption><tr>"
                       f"<th>{escape(t('reason', lang))}</th><th class=num>{escape(t('complaints', lang))}</th>"
                       f"<th class=num>{escape(t(q['metric'], lang))}</th><th class=num>→</th><th class=num>Δ</th></tr>"
                       f"{rows}</table></div>")
        bvr = d.get("best_vs_rest")
        if bvr and bvr.get("reasons"):
            rows = "".join(f"<tr><td>{escape(reasons.get(r['reason'], r['reason']))}</td>"
                           f"<td class=num>{_fmt(r['best_per_100'], 2)}</td><td class=num>{_fmt(r['rest_per_100'], 2)}</td>"
                           f"<td class=num>{_fmt(r['difference'], 2)}</td><td class=num>{_fmt(r['p_value'], 3)}</td></tr>"
                           for r in bvr["reasons"])
            out.append(f"<h3>{escape(t('best_vs_rest', lang))}</h3><div class=scroll><table><tr>"
                       f"<th>{escape(t('reason', lang))}</th><th class=num>{escape(t('best', lang))}"
                       f" ({len(bvr['best_sites'])})</th><th class=num>{escape(t('rest', lang))} ({bvr['rest_sites']})</th>"
                       f"<th class=num>{escape(t('difference', lang))}</th><th class=num>{escape(t('p_value', lang))}</th>"
                       f"</tr>{rows}</table></div>")
    out.append("</section>")
    return "".join(out)


def _actions(report: dict, questions: dict, lang: str) -> str:
    out = [f'<section id="actions"><h2>{escape(t("actions", lang))}</h2>']
    acts = report.get("actions", [])
    if not acts:
        out.append(f'<p class="note">{escape(t("none", lang))}</p>')
    cards = []
    for a in acts[-12:]:
        q = questions.get(a["question_id"], {"id": a["question_id"], "metric": a["metric"]})
        m = a["metric"]
        test = a.get("test")
        cls = {"better": "good", "worse": "bad"}.get(a["verdict"], "flat")
        delta = (f"{test['diff']:+.1f} ({_fmt(test['low'])}…{_fmt(test['high'])}), {t('p_value', lang)}"
                 f" {test['p_value']:.3f}") if test else ""
        cards.append(f'<div class="card"><div class="label">{escape(a["name"])} · {escape(a["date"])} · '
                     f'{escape(_qtext(q, lang) if "text" in q else q["id"])}</div><div>{escape(a["note"])}</div>'
                     + svg.before_after_chart(f"action-{a['id']}", a["note"], a["previous"].get(m) or {},
                                              a["current"].get(m) or {}, (t("before", lang), t("after", lang)),
                                              _bounds(m))
                     + f'<div class="ci {cls}">{escape(t(a["verdict"], lang))} {escape(delta)}</div>'
                     f'<div class="ci">n {a["previous"]["n"]} → {a["current"]["n"]}</div></div>')
    out.append(f'<div class="grid2">{"".join(cards)}</div></section>')
    return "".join(out)


def _pulse(report: dict, lang: str) -> str:
    p = report.get("pulse") or {}
    pts = [(s["employee"]["value"], s["customer"]["value"], s["name"]) for s in p.get("sites", [])
           if s["employee"]["value"] is not None and s["customer"]["value"] is not None]
    corr = p.get("correlation")
    note = (f"{t('correlation', lang)}: r = {corr['r']:.2f} ({corr['low']:.2f}…{corr['high']:.2f}),"
            f" n = {corr['n']}, {t('p_value', lang)} {corr['p_value']:.3f}") if corr else t("too_little_data", lang)
    return (f'<section id="pulse"><h2>{escape(t("pulse", lang))}</h2><p class="note">{escape(note)}</p>'
            + svg.scatter_chart("pulse-scatter", t("pulse", lang), pts, t("employee", lang), t("customer", lang),
                                t("no_data", lang)) + "</section>")


def _alerts(report: dict, lang: str) -> str:
    rows = "".join(f"<tr><td>{escape(str(a['raised_at']))}</td><td>{escape(a['site_id'])}</td>"
                   f"<td>{escape(a['kind'])}</td><td>{escape(a['message'])}</td>"
                   f"<td>{escape(a['ack_comment'] or ('✓' if a['acked_at'] else ''))}</td></tr>"
                   for a in report.get("alerts", [])[-50:])
    if not rows:
        return (f'<section id="alerts"><h2>{escape(t("alerts", lang))}</h2>'
                f'<p class="note">{escape(t("none", lang))}</p></section>')
    return (f'<section id="alerts"><h2>{escape(t("alerts", lang))}</h2><div class=scroll><table><tr>'
            f"<th>{escape(t('raised', lang))}</th><th>{escape(t('site', lang))}</th><th>{escape(t('kind', lang))}</th>"
            f"<th></th><th>{escape(t('acked', lang))}</th></tr>{rows}</table></div></section>")


def _kiosks(report: dict, lang: str) -> str:
    rows = "".join(f"<tr><td>{escape(k['site_id'])}</td><td>{escape(k['kiosk_id'])}</td><td>{escape(k['question_id'])}</td>"
                   f"<td class=num>{k['n']}</td><td class=num>{_est(k.get('happy_index') or k.get('nps'), lang)}</td></tr>"
                   for k in report["kiosks"])
    return (f'<section id="kiosks"><h2>{escape(t("kiosks", lang))}</h2><div class=scroll><table><tr>'
            f"<th>{escape(t('site', lang))}</th><th>{escape(t('kiosk', lang))}</th><th>{escape(t('question', lang))}</th>"
            f"<th class=num>n</th><th class=num></th></tr>{rows}</table></div></section>")


def expected_charts(report: dict) -> list[str]:
    """The data-chart names an HTML rendering of `report` must contain (tests check them)."""
    questions = {q["id"]: q for q in report["questions"]}
    names = [f"trend-{tr['question_id']}" for tr in report.get("trends", [])]
    names += [f"heatmap-{h['question_id']}" for h in report.get("heatmap", [])
              if questions[h["question_id"]]["audience"] == "customer"]
    names += [f"ranking-{q}" for q, v in questions.items() if v["audience"] == "customer"]
    names += [f"pareto-{d['question_id']}" for d in report.get("drivers", []) if d["pareto"]]
    names += [f"action-{a['id']}" for a in report.get("actions", [])[-12:]]
    names.append("pulse-scatter")
    return names
