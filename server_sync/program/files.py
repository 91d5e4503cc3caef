"""Reading and writing a file a person names. Reading (a config, a password or ACL file, a
push): only a regular file is read, and TOML or JSON in it is parsed without a traceback however
deeply it nests. A character device such as /dev/zero never ends and was read until memory ran
out; a FIFO waits for a writer that may never come. No command documents reading these from
standard input or a pipe, so anything else is refused with the OSError every reader already
reports. Writing (`write_output`: a report's --output): whole or not at all.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import secrets
import tomllib
from pathlib import Path
from typing import Any, Callable

NOT_REGULAR = "not a regular file"

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def not_a_file(path: Path | str) -> str | None:
    """What stands at `path` when it is there but not a regular file ("a directory", "a named pipe
    (FIFO)", …), following symlinks; None for a regular file or nothing there. For a path that
    must be a file before anything opens it (a FIFO's open waits for a writer)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return next((kind for test, kind in _KINDS if test(mode)), None)


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


def read_text(path: Path | str) -> str:
    """The UTF-8 text of the regular file at `path` (read_regular_file), without a leading
    byte-order mark: Windows' editors write one, which TOML and JSON parsers refuse as a syntax
    error at line 1, column 1, naming nothing a person can see. UnicodeDecodeError for other
    bytes."""
    return read_regular_file(path).decode("utf-8-sig")


def write_output(path: Path | str, text: str | bytes, *, new_mode: int | None = None,
                 new_group: int | None = None) -> None:
    """Write `text` (UTF-8; or bytes as they are: a workbook) to the file a person named, so that a reader of it (a web server publishing
    the weekly report, a mail job attaching it, the broker reading its password file) finds the
    old file or the new one, never half of it, also when the writer is killed or the disk fills:
    a temp file of its own beside the file, fsynced, renamed over it. A symlink's target is what
    gets replaced (as a plain write would write through the link); an existing file keeps its
    mode (and, written as root, its owner); a new one gets `new_mode` exactly, else what the
    umask gives, and as root the group `new_group`. A device or a FIFO (`-o /dev/stdout`) is
    written into: renaming over it would replace the device itself. Where no file can be made
    beside it (a directory the person may not write), the file is written in place. Raises
    OSError; leaves no temp file behind."""
    target = Path(os.path.realpath(path))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    data = text.encode("utf-8") if isinstance(text, str) else text
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(target, "wb") as f:
            f.write(data)
        return
    # A name of its own (O_EXCL, never through a symlink), made with 0666 so the umask applies.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except PermissionError:
        target.write_bytes(data)
        return
    replace_with_temp(fd, tmp, target, data, before_write=lambda f: _take_over(f, st, new_mode, new_group))


def replace_with_temp(fd: int, tmp: Path | str, target: Path | str, text: str | bytes,
                      before_write: Callable[[int], None] | None = None) -> None:
    """Write `text` (UTF-8, or bytes as they are) into the new temp file `tmp` (open as `fd`),
    fsync it and rename it over `target`; on any failure the temp file is removed and the error
    raised. `before_write` gets the descriptor first (a mode or owner to set)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        with open(fd, "wb") as f:
            if before_write is not None:
                before_write(f.fileno())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):      # the write's own error is the one to report
            os.unlink(tmp)
        raise


def _take_over(fd: int, existing: os.stat_result | None, new_mode: int | None, new_group: int | None) -> None:
    """Give the temp file the mode (and, as root, the owner) of the file it replaces, or a new
    file's."""
    root = os.geteuid() == 0
    if existing is not None:
        os.fchmod(fd, stat.S_IMODE(existing.st_mode))
        if root:
            os.fchown(fd, existing.st_uid, existing.st_gid)
        return
    if new_mode is not None:
        os.fchmod(fd, new_mode)
    if root and new_group is not None:
        os.fchown(fd, -1, new_group)


NESTED_TOO_DEEPLY = "nested too deeply (arrays or tables within each other) to be read"
# A kiosk.toml nests 4 deep (the file, [[questions]], one question, its text). What reads a
# parsed file after the parser (copy.deepcopy, the config checks, json.dumps) recurses once or
# twice a level, so a document the parser still read (tomllib about 480 deep, json about 990)
# could end in a RecursionError there: refused here, far below either.
MAX_NESTING = 64


def parse_toml(text: str) -> dict[str, Any]:
    """`tomllib.loads`, with a document nested more than MAX_NESTING deep (arrays within arrays)
    raised as the TOMLDecodeError a syntax error is."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError(NESTED_TOO_DEEPLY) from None
    if _too_deep(data):
        raise tomllib.TOMLDecodeError(NESTED_TOO_DEEPLY)
    return data


def parse_json(text: str) -> Any:
    """`json.loads`, with a document nested more than MAX_NESTING deep raised as the ValueError
    a syntax error is."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(NESTED_TOO_DEEPLY) from None
    if _too_deep(data):
        raise ValueError(NESTED_TOO_DEEPLY)
    return data


def _too_deep(value: Any) -> bool:
    """Whether arrays and tables nest more than MAX_NESTING deep in `value` (the document itself
    is level 1); walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            if level > MAX_NESTING:
                return True
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False
