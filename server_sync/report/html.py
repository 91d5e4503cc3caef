"""The HTML report: ONE self-contained file (inline CSS and SVG, no script, no CDN, no web font)
that reads well on a phone. Takes the report dict from analysis.chain_report; never queries.

The page is Jinja2 templates under templates/report/ (autoescaped: every text from the store or a
catalogue is escaped there, the SVG charts of `svg` arrive as ready markup). Each section is its own
template, so the web app renders the same sections by including them with `context(report, lang)`.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from markupsafe import Markup, escape
from jinja2.runtime import Context

from server_sync.analysis.chain_report import local_time
from server_sync.central.registry import DEFAULT_ZONE
from server_sync.protocol.vocabulary import Worded, in_nearest
from server_sync.report import svg
from server_sync.report.alert_text import alert_kind, alert_language, alert_question, alert_text
from server_sync.report.figures import figure, interval, p_value, percent
from server_sync.report.i18n import reason_labels, t, weekdays
from server_sync.report.nowrap import unbroken


# The templates' filters: each writes a figure in the language of the page it is on (every
# template context has `lang`), so no template ever asks which language it is in.
@pass_context
def _num(ctx: Context, v: Any, digits: int = 1, signed: bool = False) -> str:
    return figure(v, ctx["lang"], digits, signed=signed)


@pass_context
def _percent(ctx: Context, v: Any, digits: int = 1) -> str:
    return percent(v, ctx["lang"], digits)


@pass_context
def _interval(ctx: Context, e: dict | None, digits: int = 1, signed: bool = False) -> str:
    """An estimate's (or a test's) interval, from its `low` and `high`."""
    e = e or {}
    return interval(e.get("low"), e.get("high"), ctx["lang"], digits, signed=signed)


@pass_context
def _pval(ctx: Context, p: float | None) -> str:
    return p_value(p, ctx["lang"])


def tone(verdict: str) -> str:
    """The CSS class of a change's verdict."""
    return {"better": "good", "worse": "bad"}.get(verdict, "flat")


def marked(text: str, lang: str) -> Markup:
    """`text` escaped for a page in `lang`, marked `lang="…"` when it is a `Worded` text in
    another language (WCAG 3.1.2: a screen reader reads it with that language's sounds)."""
    said = getattr(text, "lang", lang)
    return escape(text) if said == lang else Markup('<span lang="{}">{}</span>').format(said, text)


def lang_attr(text: str, lang: str) -> Markup:
    """A ` lang="…"` attribute for an element holding only `text` (an `<option>`, which holds no
    markup), when it is a `Worded` text in another language than the page's `lang`; else nothing."""
    said = getattr(text, "lang", lang)
    return Markup("") if said == lang else Markup(' lang="{}"').format(said)


def alert_html(alert: Any, lang: str) -> Markup:
    """`alert_text` for a page in `lang`, its parts in another language marked: the stored English
    message, when that is what it is, or the question's wording it quotes when that stands in
    from another language. Its dates and p statement are kept whole (`unbroken`: a phone's card
    left "p" at a line's end, "< 0,001" on the next)."""
    return unbroken(_alert_marked(alert, lang))


def _alert_marked(alert: Any, lang: str) -> Markup:
    said = alert_language(alert, lang)
    text = alert_text(alert, lang)
    if said != lang:
        return marked(Worded(text, said), lang)
    question = alert_question(alert, lang)
    if question is None or question.lang == lang:
        return escape(text)
    # The catalogue's sentence is plain text; its quoted question is found as the catalogue
    # quotes it ("'{question}'"), so a wording that also occurs elsewhere is not the one marked.
    quoted = escape(t("alert_question", lang, question=question))
    return escape(text).replace(quoted, quoted.replace(escape(question), marked(question, lang), 1), 1)


ENV = Environment(loader=PackageLoader("server_sync.report", "templates"), autoescape=True,
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters.update(num=_num, percent=_percent, interval=_interval, tone=tone, pval=_pval, unbroken=unbroken)
ENV.globals.update(svg=svg, alert_text=alert_text, alert_html=alert_html, alert_kind=alert_kind, marked=marked,
                   lang_attr=lang_attr)


def _bounds(metric: str) -> tuple[float, float]:
    return (-100.0, 100.0) if metric == "nps" else (0.0, 100.0)


def _scale_note(q: dict, lang: str) -> str:
    """What follows a question's wording: a series the centre never defined (only seen in
    answers: a kiosk may have made it up) says so, and so does a series of an earlier scale
    (chain_report: a question asked on smiley4 and later nps11), or each would read as the
    question's figures."""
    if q.get("defined", True) is False:
        return f" ({t('not_defined', lang, scale=q['scale'])})"
    return f" ({t('earlier_scale', lang, scale=q['scale'])})" if q.get("earlier_scale") else ""


def _wording(q: dict, lang: str) -> str:
    return in_nearest(q.get("text"), lang) or q["id"]        # as the pages and alerts name it


def question_text(q: dict, lang: str) -> str:
    """A question as a chart's title or a label names it: its wording and `_scale_note`, a
    `Worded` text in the language of its wording (a stand-in's, which `lang_attr` marks)."""
    wording = _wording(q, lang)
    return Worded(wording + _scale_note(q, lang), getattr(wording, "lang", lang))


def question_html(q: dict, lang: str) -> Markup:
    """`question_text` in a page's text, a wording standing in from another language marked."""
    return marked(_wording(q, lang), lang) + _scale_note(q, lang)


def generated(report: dict) -> str:
    """When the report was made, as a reader reads a time: on a wall clock with its zone
    ("2026-12-05 05:49 CET", as the alerts are shown), not the stored UTC ISO stamp. The clock is
    the report's `timezone` (its sites'); a report saved before it named one: the zone most of
    its alerts' sites keep, else the site table's default zone."""
    zones = Counter(a["timezone"] for a in report.get("alerts") or () if a.get("timezone"))
    zone = report.get("timezone") or (zones.most_common(1)[0][0] if zones else DEFAULT_ZONE)
    return local_time(report["generated_at"], ZoneInfo(zone)) or "–"


def context(report: dict, lang: str) -> dict[str, Any]:
    """What the report's templates read: the report, its language, the language's words, and the
    report's rows indexed by question."""
    return {
        "report": report,
        "lang": lang,
        "t": partial(t, lang=lang),
        "qtext": partial(question_text, lang=lang),
        "qhtml": partial(question_html, lang=lang),
        "questions": {q["id"]: q for q in report["questions"]},
        "summaries": {s["question_id"]: s for s in report["summary"]},
        "changes": {tr["question_id"]: tr["change"] for tr in report["trends"]},
        "same_sites": {tr["question_id"]: tr.get("change_same_sites") for tr in report["trends"]},
        "reasons": reason_labels(lang),
        "weekdays": weekdays(lang),
        "bounds": _bounds,
        "generated": generated(report),
        "pulse_points": [(s["employee"]["value"], s["customer"]["value"], s["name"]) for s in report["pulse"]["sites"]
                         if s["employee"]["value"] is not None and s["customer"]["value"] is not None],
    }


def render(report: dict, lang: str = "sv") -> str:
    return ENV.get_template("report/page.html").render(context(report, lang))

