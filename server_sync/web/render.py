"""How the web app turns figures into pages and downloads: one Jinja2 environment (autoescape on)
that finds the web's templates and the report's, so pages include the report's own sections and
charts; the web's words in sv/nb/en (server_sync/web/locale, the one translation scheme); the
filters that say what the store keeps as codes in the reader's terms (`local`: a site's time on its
wall clock; `question`: a question's wording; `audit_detail`; `with_period`: a link that keeps the
page's period and question); comment text with the kiosk's scrub
marks shown as removed data; CSV and JSON of what a page shows.

Never queries the database; never marks text from the store as safe (only `svg` charts, which
escape their own text, and `scrubbed`, which escapes every part it does not replace).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from functools import partial
from importlib.resources import files
from typing import Any, Iterable, Sequence
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from server_sync.analysis.chain_report import local_time, utc_instant
from server_sync.analysis.stats import CONFIDENCE
from server_sync.program.i18n import Catalogues
from server_sync.program.spreadsheet import list_cell, text_cell
from server_sync.protocol.scales import SCALES
from server_sync.protocol.vocabulary import LANGUAGES, SCRUB_MARKS
from server_sync.report import html as report_html
from server_sync.report import svg
from server_sync.report.figures import figure
from server_sync.report.nowrap import unbroken

WEB_TEXTS = Catalogues(files(__package__) / "locale", LANGUAGES, what="web")

# auto_reload off: the templates are the installed package's; with it on, every page asked the
# file system for the modification time of each template it includes (a tenth of a worker's
# thread time under 50 users, measured with py-spy).
ENV = Environment(loader=ChoiceLoader([PackageLoader("server_sync.web", "templates"),
                                       PackageLoader("server_sync.report", "templates")]),
                  autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                  auto_reload=False)
ENV.filters.update(report_html.ENV.filters)          # num, pval, tone: figures look as in the report
ENV.globals.update(report_html.ENV.globals)       # svg, alert_text, alert_kind


def site_time(utc: str | datetime | None, zone: str | ZoneInfo) -> Markup:
    """A stored UTC time as a `<time>` read on the site's wall clock with its zone's abbreviation
    ("2026-12-03 18:21 CET", chain_report.local_time: as the report and the comments show it),
    its `datetime` the UTC instant. Every time of a site on a page goes through here (the `local`
    filter), so a manager never reads UTC as their own clock. Its date and its time with the zone
    are each kept whole (`unbroken`: the fleet's State column left "CET" alone on a line). None:
    empty."""
    if not utc:
        return Markup("")
    zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return Markup('<time datetime="{iso}">{shown}</time>').format(iso=utc_instant(utc).isoformat(),
                                                                 shown=unbroken(local_time(utc, zone)))


@pass_context
def _question(ctx: Context, question_id: str) -> Markup:
    """A question as the reader reads it: its wording in the page's language (`question_names`,
    queries.question_words), else its id; a wording standing in from another language marked."""
    return report_html.marked(ctx["question_names"].get(question_id, question_id), ctx["lang"])


# The audit detail's keys (audit.record's callers: guard.export, the comments and site pages) →
# the web's word for each; a key not here is shown as it is stored.
AUDIT_DETAIL_WORDS = {"filters": "detail_filters", "format": "detail_format", "page": "detail_page",
                      "shown": "detail_shown", "site": "detail_site",
                      # audit.detail_text / audit._read: a detail too long to keep, one stored cut
                      "cut": "detail_cut", "unreadable": "detail_unreadable"}


def _detail_value(value: Any) -> str:
    """A detail's value as a person reads it: filters as `key=value` (as in the address, but not
    percent- or JSON-escaped: "q=kö"), a list joined, anything else as it is."""
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items()) or "–"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


@pass_context
def _audit_detail(ctx: Context, detail: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An audit entry's detail as (label in the page's language, value) pairs; its site by its
    name (`site_names` of the page's context), one no longer in the register by its id."""
    names = ctx.get("site_names") or {}
    return [(text(AUDIT_DETAIL_WORDS[k], ctx["lang"]) if k in AUDIT_DETAIL_WORDS else k,
             names.get(v, v) if k == "site" and isinstance(v, str) else _detail_value(v))
            for k, v in (detail or {}).items()]


@pass_context
def _notice_event(ctx: Context, event: str) -> str:
    """A webhook delivery's event ("alert.raised": docs/notifications.md) in the page's language,
    its text `notice_<event>`; one the catalogue has no word for, as it is stored."""
    key = "notice_" + event.replace(".", "_")
    return text(key, ctx["lang"]) if key in WEB_TEXTS.strings(ctx["lang"]) else event


# What a link to another page of figures carries from the page it is on: the period and question
# the page was read for, those it was asked for only (none: the other page's own default).
PERIOD_PARAMS = ("from", "to", "question")


@pass_context
def _with_period(ctx: Context, path: str, **first: str) -> str:
    """`path` with `first` (e.g. site=s001) and the page's period and question as its query: moving
    from the ranking to a store, or from a store to its comments, lost them."""
    params = ctx.get("params") or {}
    query = list(first.items()) + [(k, params[k]) for k in PERIOD_PARAMS if params.get(k)]
    return path + ("?" + urlencode(query) if query else "")


ENV.filters.update(local=site_time, question=_question, audit_detail=_audit_detail, notice_event=_notice_event,
                   with_period=_with_period)
# A comment's score is said with its scale's top ("4 of 5"): the same number is another face on
# another scale, and a question may have been asked on two.
ENV.globals["scale_top"] = {name: s.highest for name, s in SCALES.items()}
# The level of every interval shown without its own (an action's before and after; an effect
# has its evaluation's `confidence`).
ENV.globals["interval_level"] = CONFIDENCE

_MARK = re.compile("(" + "|".join(re.escape(m) for m in SCRUB_MARKS.values()) + ")")
_KIND = {mark: kind for kind, mark in SCRUB_MARKS.items()}


def text(key: str, lang: str, *, counted: int | None = None, **values: object) -> str:
    """The web's text `key` in `lang` (`counted`: the number it is about, program.i18n)."""
    return WEB_TEXTS.text(key, lang, counted=counted, **values)


def flag_words(kiosk: dict[str, Any], lang: str) -> str:
    """What a flagged kiosk (a row of `analysis.fleet`) needs, in `lang`: the fleet page's flag
    column and the notices about a kiosk (`workflow.kiosk_watch`) say it alike. "" for a kiosk
    with no flag."""
    kind = kiosk.get("flag_kind")
    if kind in ("never", "silent", "twin", "config"):
        return text("flag_" + kind, lang)
    if kind == "disk":
        return text("flag_disk", lang, mb=figure(kiosk["disk_free_mb"], lang))
    if kind == "held":
        return text("flag_held", lang, n=figure(kiosk["rejected"], lang), counted=kiosk["rejected"])
    if kind == "backlog":
        return text("flag_backlog", lang, h=figure((kiosk["oldest_unacked_s"] or 0) / 3600, lang))
    return ""


def marks_named(words: str | None, lang: str) -> tuple[str, ...]:
    """The scrub marks (`[phone]`, …) whose badge, as `lang` reads it, holds `words` ("telefon"
    finds "telefonnummer borttaget"): a comment search finds those too, since a reader searches
    for what the page shows, not for the stored mark."""
    if not words or not words.strip():
        return ()
    wanted = words.strip().casefold()
    return tuple(mark for mark, kind in _KIND.items()
                 if wanted in text("scrubbed_" + kind.replace("-", "_"), lang).casefold())


def scrubbed(comment: str | None, lang: str) -> Markup:
    """A comment with each scrub mark (`[phone]`, …) shown as a labelled "removed" badge and
    every other character escaped."""
    if not comment:
        return Markup("")
    parts = []
    for piece in _MARK.split(comment):
        if piece in _KIND:
            label = text("scrubbed_" + _KIND[piece].replace("-", "_"), lang)
            parts.append(Markup('<span class="scrubbed" title="{t}">{label}</span>').format(
                t=text("scrubbed_note", lang), label=label))
        else:
            parts.append(escape(piece))
    return Markup("").join(parts)


# What the base layout reads, for pages that have no person, navigation or downloads.
_BASE_DEFAULTS = {"user": None, "nav": (), "csrf": "", "live_sites": None, "downloads": {}, "path": "/",
                  "params": {}, "title_key": "app_name", "page_title": None,
                  "question_names": {}, "idle_seconds": None}


def page(template: str, lang: str, report: dict | None = None, **context: Any) -> str:
    """Render a page; with a report, the report's own template context comes along, so the
    report's sections can be included as they are."""
    ctx: dict[str, Any] = report_html.context(report, lang) if report is not None else {
        "t": partial(report_html.t, lang=lang), "reasons": report_html.reason_labels(lang), "lang": lang}
    ctx.update(_BASE_DEFAULTS)
    ctx.update(context, lang=lang, text=partial(text, lang=lang), scrubbed=partial(scrubbed, lang=lang),
               flag_words=partial(flag_words, lang=lang))
    return ENV.get_template(template).render(ctx)


def compile_templates() -> int:
    """Compile every page template now (a web worker does it at start-up): the first requests of
    a fresh worker, 50 users at once, otherwise compiled the same templates in every thread
    while the users waited. Returns how many."""
    names = [n for n in ENV.list_templates() if n.endswith(".html")]
    for name in names:
        ENV.get_template(name)
    return len(names)


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any] | dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_cell(row.get(c) if isinstance(row, dict) else v)
                    for c, v in zip(columns, row if not isinstance(row, dict) else columns)])
    return buf.getvalue()


def _cell(v: Any) -> Any:
    if isinstance(v, bool):                  # 0/1, as the kiosk's export writes them (not True/False)
        return int(v)
    if isinstance(v, (list, tuple)):
        return list_cell(v)
    return text_cell(v) if isinstance(v, str) else v


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"


def report_css() -> str:
    """The report's stylesheet, served as it is so sections look the same on the web."""
    return (files("server_sync.report") / "templates" / "report" / "report.css").read_text(encoding="utf-8")
