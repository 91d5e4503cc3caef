"""The cyclic garbage collector paused while a report is built.

A chain report makes about a million small objects (dicts, tuples, Tallies) that reference
counting frees; none form cycles. Python's collector still walks every live container each time
700 more have been allocated than freed, and the older generations ever more of them: 0.1-0.15 s
of the benchmark chain's ~1.1 s report on PostgreSQL (median of 5, with and without). Paused for
the build; whoever paused it starts it again, so with several reports at once in a web
server's threads it is never left off.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def gc_paused() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
