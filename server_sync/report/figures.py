"""A figure as a person reads it in their language: the one rule for every number the centre shows
to a reader (the HTML report, the web pages, the SVG charts' labels and tooltips, alert texts,
mails). Swedish and Norwegian write a decimal comma ("76,5", "< 0,001"), English a point. In
Swedish and Norwegian a count of five digits or more is grouped by thousands with a narrow
no-break space ("12 345"; "1234" is not); English is not grouped ("12345"), so every English
text (the webhooks' and the kiosks' included) reads exactly as before. Swedish and Norwegian write
the minus sign U+2212 ("−3,5", as CLDR and Språkrådet have it, and as the kiosk's staff view does);
English keeps the hyphen-minus Python writes ("-3.5"). A percentage is one figure too (`percent`): Swedish and
Norwegian put a no-break space before "%" ("31,6 %"), English none ("31.6%").

Only for what a person reads: JSON, CSV, the API, webhooks, MQTT, `alert.message` and every value
code reads (HTML attributes, SVG coordinates, CSS widths) keep Python's own formatting.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal
from numbers import Integral, Real

from server_sync.protocol.rounding import rounded

# One entry per language of server_sync.protocol.vocabulary.LANGUAGES (a test checks).
DECIMAL_MARK = {"sv": ",", "nb": ",", "en": "."}
THOUSANDS_MARK = {"sv": "\u202f", "nb": "\u202f", "en": ""}     # U+202F NARROW NO-BREAK SPACE; en: none
MINUS = {"sv": "\u2212", "nb": "\u2212", "en": "-"}             # U+2212 MINUS SIGN; en: the hyphen-minus
GROUP_FROM = 10_000          # 1234 stays as it is, 12345 is grouped (Språkrådet's and the SI's rule)


def figure(v: object, lang: str, digits: int = 1, *, signed: bool = False, significant: bool = False) -> str:
    """`v` written for a reader of `lang`: a whole number (an int, a count) as it is, any other
    real number to `digits` decimals, a half away from zero (`protocol.rounding`; `significant`:
    to `digits` significant digits, as "%g" does); `signed` writes a "+" before a positive one. None is a dash; anything else (a text)
    is shown as it is."""
    if v is None:
        return "–"
    if isinstance(v, bool) or not isinstance(v, Real):
        return str(v)
    sign = "+" if signed else ""
    group = "," if abs(v) >= GROUP_FROM else ""
    if isinstance(v, Integral):
        text = f"{int(v):{sign}{group}d}"
    else:
        # To `digits` decimals a half away from zero; significant digits (and inf) as Python writes them.
        shown = float(v) if significant or not math.isfinite(v) else rounded(float(v), digits)
        text = f"{shown:{sign}{group}.{digits}{'g' if significant else 'f'}}"
        if text[:1] in "+-" and not any(c in "123456789" for c in text):
            text = text[1:]              # -0.04 at one decimal is "0,0", not "−0,0" (nor +0.04 "+0,0")
    return text.translate({ord("."): DECIMAL_MARK[lang], ord(","): THOUSANDS_MARK[lang], ord("-"): MINUS[lang]})


# What stands between a percentage and its "%": U+00A0 NO-BREAK SPACE in Swedish and Norwegian
# (Språkrådet's rule; it never breaks the sign onto the next line), nothing in English.
PERCENT_SPACE = {"sv": "\u00a0", "nb": "\u00a0", "en": ""}


def percent(v: object, lang: str, digits: int = 1) -> str:
    """A percentage (`v` already in percent: 31.6, not 0.316) with its sign, as `lang` writes it:
    "31,6 %" in Swedish and Norwegian, "31.6%" in English. None is a dash, without a sign."""
    if v is None:
        return "–"
    return figure(v, lang, digits) + PERCENT_SPACE[lang] + "%"


def interval(low: object, high: object, lang: str, digits: int = 1, *, signed: bool = False) -> str:
    """A confidence interval as every page writes one: "69,1–71,9", an en dash between the bounds
    (the report used "–" in one place and "…" in another). Where a bound carries a sign the dash is
    spaced, "−3,1 – −1,2", so the minus is not read as part of it. A missing bound: a dash."""
    if low is None or high is None:
        return "–"
    a, b = figure(low, lang, digits, signed=signed), figure(high, lang, digits, signed=signed)
    gap = " " if a[0] in "+-\u2212" or b[0] in "+-\u2212" else ""
    return f"{a}{gap}–{gap}{b}"


P_FLOOR = 0.001       # below it a p-value is "< 0.001": its digits say nothing a reader can use
P_DIGITS = 3          # significant digits of a p-value shown
# Between "<" and the floor: U+00A0 NO-BREAK SPACE, so a narrow cell or line never leaves the "<"
# at a line's end and the number on the next (a phone's table showed "<" over "0,001").
P_BELOW = "<\u00a0"


def p_value(p: float | None, lang: str) -> str:
    """A p-value as a reader takes it: "< 0.001" (a no-break space, P_BELOW) below P_FLOOR (never "0", "0.000" or "1.8e-06"),
    else P_DIGITS significant digits, cut rather than rounded and without trailing zeros
    ("0.00996", "0.0499", "0.05", "1"); with `lang`'s decimal mark. Cut, so a shown p is never on
    the other side of a verdict's threshold of at most P_DIGITS digits (0.05, 0.01): three decimals
    rounded showed an action "better" at p < 0.01 as "p-value 0.010"."""
    if p is None:
        return "–"
    if p < P_FLOOR:
        return P_BELOW + figure(P_FLOOR, lang, 3)
    # The float's shortest decimal (0.0496, not its binary 0.049599…): it is below a threshold's
    # float exactly when the float is, and so is what is cut from it.
    shortest = Decimal(repr(float(p)))
    cut = shortest.quantize(Decimal(1).scaleb(shortest.adjusted() - P_DIGITS + 1), rounding=ROUND_FLOOR)
    return format(cut.normalize(), "f").replace(".", DECIMAL_MARK[lang])


def p_statement(p: float, lang: str) -> str:
    """"p < 0.001" or "p = 0.004", for a sentence (an alert's text and message)."""
    text = p_value(p, lang)
    return f"p {text}" if text.startswith("<") else f"p = {text}"
