"""At most one large Excel download built at a time in a web worker process. A large workbook is
built by a child process (sheet_build.py: openpyxl holds the GIL for the whole build, 95 000
comments 13-15 s, and built in the worker it stalled every other page there); each child costs
memory (its copy of the rows and openpyxl's) and a core, so a worker runs one at a time. Not a
queue: a second large one waits `wait_s`, then is refused (SheetBusy: guard answers 503 with
Retry-After and a text saying so). A small sheet (built in the worker: a child's start costs more)
and a CSV never wait. Each worker process has its own gate."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

LARGE_ROWS = 10_000        # rows from which a workbook takes seconds to build (about 7 000 a second): in a child
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
    def building(self, rows: int) -> Iterator[bool]:
        """Around the build of a workbook of `rows` rows, saying whether it is large: a large one
        holds the worker's one slot, waiting for it at most `wait_s` (else SheetBusy)."""
        if rows <= self.large_rows:
            yield False
            return
        if not self._slot.acquire(timeout=self.wait_s):
            raise SheetBusy
        try:
            yield True
        finally:
            self._slot.release()


GATE = SheetGate()
