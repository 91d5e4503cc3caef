"""Standard output while a `kiosk` or `kiosk-central` command runs, so that every command that
prints fails alike when it cannot; `CommandLine.main` installs it once and says what failed (no
command handles it).

It remembers why a write failed and lets the error go on, so the command stops where it is: a
full disk, a stream closed at start (`>&-`) or an I/O error becomes `prog: error: cannot write
to standard output: …`, exit 1. A reader that went away (`| head`, EPIPE) is no error of ours:
the command stops quietly and exits 141, what a shell shows for a Unix tool killed by SIGPIPE,
so a script with `set -o pipefail` still sees the output was cut short. It never prints.
"""

from __future__ import annotations

import errno
import os
from typing import Any, Callable, TextIO, TypeVar

READER_GONE = 128 + 13          # 128 + SIGPIPE
T = TypeVar("T")


class StandardOutput:
    """Stands in for `sys.stdout` (None when the process started with it closed); every other
    attribute is the stream's own (`isatty`, `fileno`, `encoding`)."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.reader_gone = False
        self.error: str | None = None          # why a write failed (not a reader gone)

    @property
    def failed(self) -> bool:
        return self.reader_gone or self.error is not None

    def write(self, text: str) -> int:
        return self._do(lambda s: s.write(text))

    def writelines(self, lines: Any) -> None:
        self._do(lambda s: s.writelines(lines))

    def flush(self) -> None:
        if self.stream is not None:            # closed from the start: nothing was buffered
            self._do(lambda s: s.flush())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def _do(self, op: Callable[[TextIO], T]) -> T:
        if self.stream is None:
            self.error = "it is closed"
            raise OSError(errno.EBADF, self.error)
        try:
            return op(self.stream)
        except BrokenPipeError:
            self.reader_gone = True
            raise
        except OSError as e:
            self.error = e.strerror or str(e)
            raise

    def discard(self) -> None:
        """Send what the failed stream still buffers to /dev/null: Python flushes it again at
        exit, and would print `Exception ignored … OSError` and exit 120 instead."""
        try:
            fd = self.stream.fileno()       # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            return                          # not a file (a test's capture): nothing flushes it at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
