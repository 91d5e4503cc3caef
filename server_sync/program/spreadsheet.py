"""A text cell as a spreadsheet may show it, for every CSV Kundpuls writes (the kiosk's export,
the web app's downloads): a cell starting with one of FORMULA_STARTS is run as a formula by
Excel, LibreOffice and Google Sheets (CSV injection, OWASP), and a comment is a customer's text,
so such a cell gets a leading apostrophe and shows as the text it is. A list (an answer's reason
codes) is one cell of its items joined with ';', in every file alike."""

from __future__ import annotations

from collections.abc import Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def list_cell(items: Sequence[object]) -> str:
    # Each item, not only the first: a reader who splits the cell at ';' gets text, not formulas.
    return ";".join(text_cell(str(item)) for item in items)
