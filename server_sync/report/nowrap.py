"""Runs of a page's text that a line break must not split, kept whole by a `nowrap` span (the
report's stylesheet, which the web app's pages load too).

Chromium breaks an ISO date at its hyphens where a cell or card is narrow ("2026-10-" over "23"
in an action's before/after row on a 320 px phone), a site's time leaves its zone alone on the
next line ("20:59" over "CET"), and a p statement its "p" at a line's end ("p" over "< 0,001").
No stylesheet rule stops a break at a hyphen, so such runs are marked where the page is written:
in a catalogue's sentence with a date in it, in an alert's text (stored messages included) and in
a site's time. Pure text work; never changes what is stored or sent, only how a page wraps it.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# A date (2026-10-23), a time with its zone (20:59 CET), a p statement as the text of a page
# holds it, its "<" escaped (p < 0,001; p = 0.04).
KEPT_WHOLE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}[ \u00a0][A-Z]{2,5}\b"
                        r"|\bp[ \u00a0]?(?:&lt;|=)[ \u00a0]?\d[\d.,]*")
_TAG = re.compile(r"(<[^>]*>)")


def unbroken(text: str | None) -> Markup:
    """`text` escaped (markup as it is), each KEPT_WHOLE run of its text, outside any tag, in a
    `<span class="nowrap">`."""
    if text is None:
        return Markup("")
    parts = _TAG.split(escape(text))
    return Markup("").join(Markup(part) if part.startswith("<") else
                           Markup(KEPT_WHOLE.sub(r'<span class="nowrap">\g<0></span>', part)) for part in parts)
