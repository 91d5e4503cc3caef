"""Tables as an Excel workbook, beside their CSV: a web page's table (its `xlsx` download) and
the report's rows, a sheet per section (`kiosk-central report --format xlsx`).

A CSV opened in a Swedish or Norwegian Excel lands in one column (the list separator there is ';')
and, without a byte-order mark, reads "SÃ¶dermalm"; a workbook has neither problem. Every cell is
what its value is: numbers are numbers (sums and charts work), text is text, and text that looks
like a formula (a comment starting with "=") is stored as text, never as a formula: the cell's
type says so, no apostrophe is added. Lists are joined with ';' as in the CSV. Characters XML
cannot hold (control characters a kiosk's comment should never have) are shown as U+FFFD.
"""

from __future__ import annotations

import io
import math
import re
from typing import IO, Any, Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

# What XML 1.0 cannot hold (openpyxl refuses the whole workbook for one such character).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
SHEET_TITLE_MAX = 31                     # Excel's limit on a sheet's name
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def to_xlsx(columns: Sequence[str], rows: Iterable[Sequence[Any] | dict], sheet: str = "Kundpuls") -> bytes:
    """The table (`columns`, then each row: a sequence in column order or a dict by column) as the
    bytes of an .xlsx file with one sheet named `sheet`: a bold, frozen header with a filter."""
    return to_workbook([(sheet, columns, rows)])


def to_workbook(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence[Any] | dict]]]) -> bytes:
    """Each (name, columns, rows) as a sheet of one .xlsx file, in order (see to_xlsx)."""
    out = io.BytesIO()
    write_workbook(sheets, out)
    return out.getvalue()


def write_workbook(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence[Any] | dict]]],
                   target: str | IO[bytes]) -> None:
    """to_workbook's file written to `target` (a path or a binary file), each sheet's rows read
    as it is written (a large web download, sheet_child.py: they arrive through a pipe)."""
    book = Workbook(write_only=True)
    for sheet, columns, rows in sheets:
        _write_sheet(book, sheet, columns, rows)
    book.save(target)


def _write_sheet(book: Workbook, sheet: str, columns: Sequence[str], rows: Iterable[Sequence[Any] | dict]) -> None:
    ws = book.create_sheet(_SHEET_FORBIDDEN.sub(" ", sheet)[:SHEET_TITLE_MAX] or "Kundpuls")
    ws.freeze_panes = "A2"
    header = []
    for name in columns:
        cell = WriteOnlyCell(ws, value=_text(name))
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    n = 0
    for row in rows:
        values = [row.get(c) for c in columns] if isinstance(row, dict) else list(row)
        ws.append([_cell(ws, v) for v in values])
        n += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{n + 1}" if columns else None


def _cell(ws: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):              # 0/1, as in the CSV and the kiosk's export
        return int(value)
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, (list, tuple)):
        value = ";".join(str(item) for item in value)
    cell = WriteOnlyCell(ws, value=_text(str(value)))
    cell.data_type = "s"                     # text, whatever it starts with: never a formula
    return cell


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)
