"""Hold a kiosk database so that no other program has it open (`kiosk repair` needs this).

Every SQLite connection in WAL mode (the kiosk's store, the sync agent, `kiosk stats`) holds a
read lock on the database file's lock bytes from its first statement until it closes, idle or
not. A write lock on those bytes is therefore granted only when no connection has the file open,
and while it is held no new connection can read or write it (SQLite answers "database is
locked"). The lock is taken on the bytes themselves rather than through SQLite so that a file
too damaged for SQLite to open can be held all the same.

The lock is an open file description lock (Linux): unlike a classic POSIX lock it also meets a
connection of this same process, and it lives on the file, not its name, so it keeps holding
the damaged file after `kiosk repair` has renamed it aside. Elsewhere a POSIX lock is used, which
meets other processes only.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from kiosk.access import AS_KIOSK_USER, no_access
from kiosk.exc import StoreError

# SQLite's unix locking (os_unix.c, and the lock-byte page of its file format): the PENDING byte,
# the RESERVED byte and the 510 SHARED bytes, all held by a connection somewhere in this range.
LOCK_BYTES_START = 0x40000000
LOCK_BYTES_LENGTH = 512

# What a kiosk runs that opens its database (firmware_config/systemd/).
SERVICES = "sudo systemctl stop kundpuls-kiosk kundpuls-sync (kundpuls-kiosk-headless on a kiosk without a screen)"

_SET_LOCK = getattr(fcntl, "F_OFD_SETLK", fcntl.F_SETLK)


class InUse(StoreError):
    """Another program has the database open."""


@contextmanager
def held_alone(path: Path, *, wait: float = 2.0) -> Iterator[None]:
    """Hold `path` so no other connection can use it until the block ends; raise InUse when one
    has it open. `wait` seconds allow for a short command (`kiosk stats`) that is about to end;
    a running service never lets go, so waiting longer would not help."""
    try:
        fd = os.open(path, os.O_RDWR)         # a write lock needs a file open for writing
    except PermissionError as e:
        raise no_access(path) or StoreError(f"cannot open {path} for writing ({e.strerror}): {AS_KIOSK_USER}") from None
    try:
        deadline = time.monotonic() + wait
        while not _lock(fd):
            if time.monotonic() >= deadline:
                raise InUse(f"{path} is in use by another program (the kiosk app or the sync agent still "
                            f"running?): `kiosk repair` must have the database to itself, or the answers they "
                            f"record meanwhile are lost with the replaced file. Stop them first: {SERVICES}; "
                            "then run kiosk repair again")
            time.sleep(0.05)
        yield
    finally:
        os.close(fd)    # releases the lock


def _lock(fd: int) -> bool:
    """Take a write lock on SQLite's lock bytes; False if a connection holds any of them."""
    # struct flock: l_type, l_whence, l_start, l_len, l_pid (0, as open file description locks require)
    request = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, LOCK_BYTES_START, LOCK_BYTES_LENGTH, 0)
    try:
        fcntl.fcntl(fd, _SET_LOCK, request)
        return True
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
