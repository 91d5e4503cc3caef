"""How many threads numpy's OpenBLAS may use in a Kundpuls process: one, unless the operator said.

The centre's figures multiply small matrices (a few answer values by at most 20,000 splits of a
permutation test): OpenBLAS's extra threads gain nothing on them and spin a core while they wait
(measured: the ranking and drivers tests took 19 s with 38 s of CPU at two threads, 19 s with
19 s at one), a core a web request or another process needed. OpenBLAS reads its setting once,
when numpy is first imported, so this runs before any module that imports numpy
(`server_sync.analysis`, `seeds`)."""

from __future__ import annotations

import os
from collections.abc import MutableMapping

# What OpenBLAS reads, in its order of precedence: any of them set is the operator's choice.
SETTINGS = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def one_thread_unless_set(environ: MutableMapping[str, str] = os.environ) -> None:
    if not any(environ.get(name) for name in SETTINGS):
        environ["OPENBLAS_NUM_THREADS"] = "1"
