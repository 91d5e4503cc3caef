"""The one progress bar of every long-running command (simulate, import, report, the history
generator): tqdm on stderr when stderr is a terminal, and nothing otherwise, so scripts and
logs stay clean."""

from __future__ import annotations

import sys
from typing import Any, Callable, TextIO


def progress_bar(total: int | None, *, unit: str, desc: str | None = None, enabled: bool = True,
                 stream: TextIO | None = None) -> Any:
    """A tqdm bar: `.update(n)`, `.set_postfix_str(text)`, `.close()`; also a context manager.
    Disabled (every call a no-op) unless `enabled` and the stream is a terminal."""
    from tqdm import tqdm                # here: commands import this module while their parser is built
    stream = stream or sys.stderr        # looked up now: stderr may have been replaced
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    # Bytes and large counts read better scaled (12.3MB, 1.50M); small counts exact (3/7, not 3.00/7.00).
    scaled = unit == "B" or (total or 0) >= 10_000
    return tqdm(total=total, unit=unit, desc=desc, file=stream, disable=not (enabled and tty),
                unit_scale=scaled, dynamic_ncols=True, leave=True, mininterval=0.1)


def progress_callback(*, unit: str, desc: str | None = None, enabled: bool = True,
                      detail: Callable[..., str] | None = None,
                      stream: TextIO | None = None) -> Callable[..., None]:
    """The bar as a `(done, total, *more)` callback, the form in which domain code (the import,
    the report's steps, the history generator) reports how far it is without knowing of bars.
    The bar is made at the first call, when the total is known, and closed when `done` reaches
    it; `detail(*more)` is shown after the bar."""
    bar = None

    def report(done: int, total: int | None, *more: Any) -> None:
        nonlocal bar
        if bar is None:     # a total not known (a pipe's size): a counter, closed when told done == total
            bar = progress_bar(total, unit=unit, desc=desc, enabled=enabled, stream=stream)
        if detail is not None:
            bar.set_postfix_str(detail(*more), refresh=False)
        bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()
            bar = None
    return report
