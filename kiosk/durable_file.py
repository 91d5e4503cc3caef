"""Replacing a small file on the kiosk's card so that a power cut leaves the old or the new one,
never a torn one: a temp file of its own beside it, fsync, rename, fsync of the directory."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from server_sync.program.files import replace_with_temp


def replace_file(path: Path, text: str) -> None:
    """Write `text` to `path` atomically and durably. Raises OSError when it cannot (a full or
    read-only card) and then leaves no temp file behind."""
    # A temp name of its own each time: nothing already at a fixed name (a directory, a file
    # left by a crash) can stand in the way.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    replace_with_temp(fd, tmp, path, text)
    # The rename made durable too; a card that cannot fsync a directory still has the file.
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
