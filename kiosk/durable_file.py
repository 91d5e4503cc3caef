"""Replacing a small file on the kiosk's card so that a power cut leaves the old or the new one,
never a torn one: a temp file of its own beside it, fsync, rename, fsync of the directory."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def replace_file(path: Path, text: str) -> None:
    """Write `text` to `path` atomically and durably. Raises OSError when it cannot (a full or
    read-only card) and then leaves no temp file behind."""
    # A temp name of its own each time: nothing already at a fixed name (a directory, a file
    # left by a crash) can stand in the way.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    try:
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):       # the write's own error is the one to report
            os.unlink(tmp)
        raise
    # The rename made durable too; a card that cannot fsync a directory still has the file.
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
