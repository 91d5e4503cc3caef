"""An alert as a person reads it, in their language: made from the facts the rule stored
(`alert.detail`, server_sync.analysis.alerts) with the report's catalogue, the question's wording
in that language when the centre has it (else its id) and the complaint's reason label.

The web pages, the HTML report, the digest and the notice mails all show alerts through
`alert_text`, so an alert reads the same everywhere in one language. An alert without readable
facts (raised before they were kept, or of a shape this code does not know) shows its stored
`message`, which stays English for the MQTT payload and the webhooks. Figures look as in the
report: one decimal, written as the reader's language writes it (server_sync.report.figures: "4,5"
in Swedish and Norwegian, "4.5" in English). Pure: never queries.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from server_sync.report.figures import figure, p_statement, percent
from server_sync.protocol.vocabulary import Worded, in_nearest
from server_sync.report.i18n import reason_labels, t

DETAIL_VERSION = 1           # the shape this code reads (analysis.alerts.DETAIL_VERSION)


def _one(v: Any, lang: str) -> str:
    return figure(float(v), lang)


def _question(detail: Mapping[str, Any], lang: str) -> str:
    text = in_nearest(detail.get("question_text"), lang)       # as the pages name a question
    return t("alert_question", lang, question=text or detail["question"])


def _window(days: int, lang: str) -> str:
    return t("alert_window_today", lang) if days == 1 else t("alert_window_days", lang, days=days)


def _dip(d: Mapping[str, Any], lang: str) -> str:
    values = dict(question=_question(d, lang), metric=t(d["metric"], lang), window=_window(int(d["days"]), lang),
                  value=_one(d["value"], lang), baseline=_one(d["baseline"], lang), drop=_one(d["drop"], lang),
                  n=figure(int(d["n"]), lang), p=p_statement(float(d["p_value"]), lang))
    if int(d.get("questions") or 1) > 1:
        text = t("alert_dip_together", lang, questions=int(d["questions"]), **values)
    else:
        text = t("alert_dip", lang, **values)
    c = d.get("complaint")
    if c:
        reason = reason_labels(lang).get(c["reason"], c["reason"])
        text += "; " + t("alert_complaint", lang, reason=t("alert_question", lang, question=reason),
                         count=figure(int(c["count"]), lang), mentions=figure(int(c["mentions"]), lang),
                         share=percent(100 * float(c["usual_share"]), lang, 0))
    return text


def _trend(d: Mapping[str, Any], lang: str) -> str:
    return t("alert_trend", lang, question=_question(d, lang), metric=t(d["metric"], lang),
             drop=_one(d["drop"], lang), days=int(d["baseline_days"]), n=figure(int(d["n"]), lang),
             p=p_statement(float(d["p_value"]), lang))


_RULES = {"dip": _dip, "trend": _trend}


KINDS = ("realtime", "trend")     # what the rules store in `alert.kind` (analysis.alerts)


def alert_kind(kind: str, lang: str) -> str:
    """The kind of an alert in `lang` ("realtime" is the dip rule's); one this code does not
    know, as stored."""
    # Written out, so that the catalogue's test sees each key asked for.
    if kind == "realtime":
        return t("alert_kind_realtime", lang)
    if kind == "trend":
        return t("alert_kind_trend", lang)
    return kind


def alert_text(alert: Mapping[str, Any], lang: str) -> str:
    """The alert's text in `lang`; its stored message when its facts cannot be read."""
    worded = _worded(alert, lang)
    return str(alert.get("message") or "") if worded is None else worded


def alert_language(alert: Mapping[str, Any], lang: str) -> str:
    """The language `alert_text(alert, lang)` is in: `lang`, or English for the stored message (an
    alert raised before m0044, or whose facts cannot be read), which a page marks as such."""
    return lang if _worded(alert, lang) is not None else MESSAGE_LANGUAGE


MESSAGE_LANGUAGE = "en"         # the stored `message` is one English sentence


def _detail(alert: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The alert's facts, when this code can read them."""
    detail = alert.get("detail")
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            detail = None
    if not isinstance(detail, Mapping) or detail.get("v") != DETAIL_VERSION or detail.get("rule") not in _RULES:
        return None
    return detail


def _worded(alert: Mapping[str, Any], lang: str) -> str | None:
    """The alert's text made from its facts in `lang`, or None when they cannot be read."""
    detail = _detail(alert)
    if detail is None:
        return None
    try:
        return _RULES[detail["rule"]](detail, lang)
    except (KeyError, TypeError, ValueError):
        # A detail edited or damaged in the store: the message still says what happened.
        return None


def alert_question(alert: Mapping[str, Any], lang: str) -> Worded | None:
    """The question's wording that `alert_text(alert, lang)` quotes, in the language it is
    written in (it may stand in from another: a page marks it); None when the text quotes none."""
    detail = _detail(alert)
    return None if detail is None or _worded(alert, lang) is None else in_nearest(detail.get("question_text"), lang)
