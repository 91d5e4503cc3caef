"""The filters a page, a download and an API call take from the query string, checked once here:
dates, question, region, site, reason, score, search text, page. A malformed value is a 400
with a message saying which, in the person's language (the API's: English), naming the field by
its label in the filter form ("Från", not `from`, nor the command line's `--from`); a site or
region the person may not see is a 404 (scope.py). A day is one by the rule of analysis.days
(the command line's too).

Values are only ever passed on as query parameters, never written into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from server_sync.analysis.days import check_order, parse_day
from server_sync.exc import CentralConfigError, FieldError
from server_sync.program.numbers import plain_whole_number
from server_sync.protocol.vocabulary import ID_RE
from server_sync.web import render

MAX_SEARCH_CHARS = 200


# The web's text of the label each query parameter has in the filter forms: a refusal names the
# field by it (one without a label, such as `page`, by its own name).
LABELS = {"from": "from", "to": "to", "question": "question", "region": "region", "site": "site",
          "reason": "reason", "score": "score", "q": "search", "state": "state", "event": "event"}
# What the library found wrong with a value (exc.FieldError.problem) -> the web's text saying it.
# A person who may not act at the site is not one of the owners a form offers, and is said as any
# name not offered: told apart, a store manager could learn which names have an account (which the
# sign-in page does not tell) by assigning an alert to them (a security review).
PROBLEMS = {"bad_day": "bad_day", "empty": "field_empty", "too_long": "field_too_long", "not_offered": "not_offered",
            "not_a_number": "field_not_a_number", "not_at_site": "field_not_at_site",
            "may_not_act": "not_offered", "closed": "alert_closed", "before": "field_before",
            "after": "field_after", "itself": "field_itself", "not_for_outcome": "field_not_for_outcome",
            "both_actions": "field_both_actions"}


class BadFilter(ValueError):
    """A query parameter (or a form's field) that is not what it should be: the page answers 400
    with this text, given as a function of the language (the web's texts, e.g. refusal()): said
    in the person's language, and in English for the API (str())."""

    def __init__(self, message: Callable[[str], str]) -> None:
        self.words = message
        super().__init__(self.words("en"))

    def said_in(self, lang: str) -> str:
        return self.words(lang)


def refusal(key: str, field: str | None = None, labels: Mapping[str, str] = LABELS, within: str | None = None,
            **values: object) -> BadFilter:
    """A refusal in the web's own words, in the person's language: its text `key`, naming `field`
    by its label (`labels`: a field -> the web's text of its label) as {name}, and echoing the
    value from the request ({value}) at most 40 characters long; `within`: a text that frames it
    as its {problem} (e.g. form_refused)."""
    if "value" in values:
        values["value"] = shown(str(values["value"]))

    def said(lang: str) -> str:
        name = render.text(labels[field], lang) if field in labels else field or ""
        text = render.text(key, lang, name=name, **values)
        return render.text(within, lang, problem=text) if within else text
    return BadFilter(said)


def refused(e: FieldError) -> BadFilter:
    """What the library refused of a query parameter (a FieldError, worded for the command line:
    e.g. chain_report's unknown question) in the web's words."""
    return refusal(PROBLEMS[e.problem], e.field, **e.values)


# Every query parameter any page or API call reads, with its meaning (the OpenAPI description
# and the docs are made from this).
PARAMETERS: dict[str, str] = {
    "from": "first day, site-local (YYYY-MM-DD); default: 28 days before `to`",
    "to": "last day, site-local (YYYY-MM-DD); default: the last day with answers",
    "question": "a question id",
    "region": "only the sites of this region",
    "site": "only this site",
    "reason": "only comments citing this reason code",
    "score": "only comments on answers with this value (smiley 1-4/1-5, NPS 0-10); with `question`, a value of its"
             " current scale (its answers on an earlier scale are another series), without, of any scale",
    "q": f"search text in comments (at most {MAX_SEARCH_CHARS} characters)",
    "page": "page number, from 1",
    "state": "alerts: active (open or acknowledged), open, acknowledged, closed or overdue; actions: open, closed or overdue",
    "flagged": "fleet: 1 for silent kiosks only",
    "format": "download what the page shows: csv, xlsx (the same table as an Excel workbook), json or report (the HTML report for the same filters)",
    "done": "account: what was just changed",
    "error": "account: what went wrong",
    "event": "audit log: only this event",
}


def takes(*names: str):
    """Declare the query parameters a page reads (besides `format`); any other is a 400, and the
    OpenAPI description lists these."""
    unknown = [n for n in names if n not in PARAMETERS]
    if unknown:
        raise ValueError(f"undeclared query parameters {unknown}: add them to PARAMETERS")

    def mark(fn):
        fn.params = names
        return fn
    return mark


def control_character(text: str, allowed: str = "") -> str | None:
    """The first C0 or C1 control character of `text` not in `allowed`, as "U+XXXX", or None. A
    NUL is what no PostgreSQL text can hold (the query failed: a 500, even at sign-in); an escape
    sequence acts on the terminal of whoever lists what was saved (`kiosk-central alerts list`)."""
    found = next((c for c in text if (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) and c not in allowed), None)
    return None if found is None else f"U+{ord(found):04X}"


def check_text(fields: Iterable[tuple[str, Any]], allowed: str = "", labels: Mapping[str, str] = LABELS,
               within: str | None = None) -> None:
    """Every (name, value) is text (a form's field may be a file) without a control character
    outside `allowed`; refused (400) naming the first that is not by its label (`labels`, and
    `within` framing it: refusal)."""
    for name, value in fields:
        if not isinstance(value, str):
            raise refusal("field_not_text", name, labels, within)
        if code := control_character(value, allowed):
            raise refusal("field_control", name, labels, within, code=code)


def check_known(params: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(params) - set(allowed) - {"format"})
    if unknown:
        raise refusal("param_unknown" if allowed else "param_none", value=unknown[0], allowed=", ".join(allowed))
    check_text(params.multi_items() if hasattr(params, "multi_items") else params.items())
    # Every parameter takes one value: a second one was read as the last (the first silently
    # dropped, and which site a store manager saw depended on the order).
    keys = [k for k, _v in params.multi_items()] if hasattr(params, "multi_items") else list(params)
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise refusal("param_repeated", repeated[0])


def _one(params: Mapping[str, str], key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    value = value.strip()
    return value or None


def day(params: Mapping[str, str], key: str) -> str | None:
    """A day as analysis.days.parse_day takes it, refused naming the field by its label."""
    value = _one(params, key)
    if value is None:
        return None
    try:
        return parse_day(value)
    except FieldError as e:
        raise refusal("bad_day", key, **e.values) from None


def ident(params: Mapping[str, str], key: str) -> str | None:
    """A site, region, question or reason id: letters, digits, '-' and '_'."""
    value = _one(params, key)
    if value is not None and not ID_RE.fullmatch(value):
        raise refusal("bad_value", key, value=value)
    return value


def integer(params: Mapping[str, str], key: str, low: int, high: int) -> int | None:
    value = _one(params, key)
    if value is None:
        return None
    n = plain_whole_number(value, len(str(high)))
    if n is None or not low <= n <= high:
        raise refusal("bad_number", key, value=value, low=low, high=high)
    return n


def search(params: Mapping[str, str], key: str = "q") -> str | None:
    value = _one(params, key)
    if value is not None and len(value) > MAX_SEARCH_CHARS:
        raise refusal("field_too_long", key, length=len(value), most=MAX_SEARCH_CHARS)
    return value


def choice(params: Mapping[str, str], key: str, allowed: tuple[str, ...]) -> str | None:
    value = _one(params, key)
    if value is not None and value not in allowed:
        raise refusal("bad_choice", key, value=value, allowed=", ".join(allowed))
    return value


def shown(value: str) -> str:
    """A value from the request as a message echoes it: at most 40 characters."""
    return value if len(value) <= 40 else value[:40] + "…"


@dataclass(frozen=True)
class Period:
    date_from: str | None = None
    date_to: str | None = None
    question: str | None = None


def period(params: Mapping[str, str]) -> Period:
    p = Period(day(params, "from"), day(params, "to"), ident(params, "question"))
    try:
        check_order(p.date_from, p.date_to)
    except CentralConfigError:
        raise BadFilter(lambda lang: render.text("day_order", lang, from_label=render.text("from", lang),
                                                 first=p.date_from, to_label=render.text("to", lang),
                                                 last=p.date_to)) from None
    return p
