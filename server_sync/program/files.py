"""Reading a file a person names (a config, a password or ACL file, a push): only a regular file
is read, and TOML in it is parsed without a traceback however deeply it nests. A character device such as /dev/zero never ends and was read until memory ran out; a
FIFO waits for a writer that may never come. No command documents reading these from standard
input or a pipe, so anything else is refused with the OSError every reader already reports.
"""

from __future__ import annotations

import errno
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

NOT_REGULAR = "not a regular file"


def read_regular_file(path: Path | str) -> bytes:
    """The bytes of the regular file at `path`; OSError (strerror NOT_REGULAR) when it is a
    directory, a device, a FIFO or a socket, and the usual OSError when it cannot be opened."""
    # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer (no effect on a file).
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, NOT_REGULAR, str(path))
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        return f.read()


def parse_toml(text: str) -> dict[str, Any]:
    """`tomllib.loads`, with a document nested too deeply for Python's recursion limit (arrays
    within arrays, thousands deep) raised as the TOMLDecodeError a syntax error is."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError("nested too deeply (arrays or tables within each other) to be read") from None
