"""The child process that builds a large Excel download (server_sync/web/sheet_build.py): openpyxl
holds the GIL for the whole build (95 000 comments: 13-15 s), which in the web worker stalled every
other page it served. Run as `python -m server_sync.report.sheet_child OUT_PATH`; reads pickled
frames from stdin: (sheet name, columns), then lists of rows (each in column order), then None;
writes the workbook to OUT_PATH (workbook.write_workbook) and exits 0. It reads nothing else: the
rows it is given are the ones the person may see, chosen by the web worker."""

from __future__ import annotations

import pickle
import sys
from typing import Any, BinaryIO, Iterator

from server_sync.report.workbook import write_workbook


def _rows(source: BinaryIO) -> Iterator[list[Any]]:
    while (chunk := pickle.load(source)) is not None:
        yield from chunk


def main(argv: list[str]) -> int:
    source = sys.stdin.buffer
    sheet, columns = pickle.load(source)
    # A pipe cut short (the worker gone) raises EOFError here: no complete workbook, a non-zero exit.
    write_workbook([(sheet, columns, _rows(source))], argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
