"""At most one large Excel download built at a time in a web worker process. openpyxl builds a
workbook in Python, holding the GIL throughout (95 000 comments: 13-15 s), so a few built together
stalled every other page on that worker, each request thread waiting its turn for the
interpreter (a review: page views up to 3-5 s). A stopgap, not a queue: a second large one waits
`wait_s`, then is refused (SheetBusy: guard answers 503 with Retry-After and a text saying so).
A small sheet and a CSV (written far faster) never wait. Each worker process has its own gate."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

LARGE_ROWS = 10_000        # rows from which a workbook takes seconds to build (about 7 000 a second)
WAIT_S = 2.0               # how long a second large one waits for the first to finish
RETRY_AFTER_S = 15         # the 503's Retry-After: about one large build


class SheetBusy(Exception):
    """Another large workbook is being built in this worker and did not finish in time."""


class SheetGate:
    def __init__(self, large_rows: int = LARGE_ROWS, wait_s: float = WAIT_S) -> None:
        self.large_rows = large_rows
        self.wait_s = wait_s
        self._slot = threading.BoundedSemaphore(1)

    @contextmanager
    def building(self, rows: int) -> Iterator[None]:
        """Around the build of a workbook of `rows` rows: a large one holds the worker's one
        slot, waiting for it at most `wait_s` (else SheetBusy)."""
        if rows <= self.large_rows:
            yield
            return
        if not self._slot.acquire(timeout=self.wait_s):
            raise SheetBusy
        try:
            yield
        finally:
            self._slot.release()


GATE = SheetGate()
