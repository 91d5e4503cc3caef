"""The one progress bar of every long-running command (simulate, import, report, the history
generator): tqdm on stderr when stderr is a terminal, and nothing otherwise, so scripts and
logs stay clean."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm import tqdm


def progress_bar(total: int | None, *, unit: str, desc: str | None = None, enabled: bool = True,
                 stream: TextIO | None = None) -> Any:
    """A tqdm bar: `.update(n)`, `.set_postfix_str(text)`, `.close()`; also a context manager.
    Disabled (every call a no-op) unless `enabled` and the stream is a terminal."""
    stream = stream or sys.stderr        # looked up now: stderr may have been replaced
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tqdm(total=total, unit=unit, desc=desc, file=stream, disable=not (enabled and tty),
                unit_scale=unit != "step", dynamic_ncols=True, leave=True, mininterval=0.1)
