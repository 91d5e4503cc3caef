"""Whether this user may use the kiosk's data directory: the one message for a command run as
another user than the kiosk's (a permissions mistake, never damage: `kiosk repair` cannot help).
What the user may not do is server_sync.program.file_access's (the centre says it too).
"""

from __future__ import annotations

import os
from pathlib import Path

from kiosk.exc import StoreError
from server_sync.program.file_access import denied, this_user, too_long
from server_sync.program.files import not_a_file

AS_KIOSK_USER = "run it as the kiosk's user (sudo -u kundpuls /opt/kundpuls/venv/bin/kiosk …)"

__all__ = ["AS_KIOSK_USER", "database_exists", "file_in_the_way", "no_access", "this_user"]


def no_access(path: Path | str) -> StoreError | None:
    """The error to give when this user may not use the database at `path` (enter its
    directory, read it, or write beside it); None when permissions are not what is wrong."""
    why = denied(path, "kiosk database")
    return StoreError(f"{why}: {AS_KIOSK_USER}") if why else None


def database_exists(path: Path | str) -> bool:
    """Whether the database at `path` is there; StoreError (`no_access`) when this user cannot
    even tell (a directory it may not enter), and when something else stands where the file or
    its directory belongs (a directory or a FIFO named kiosk.db, a file named as the data
    directory): a mistake to undo by hand, never damage for `kiosk repair` (which read a FIFO as
    an empty database and failed on a directory with a traceback)."""
    path = Path(path)
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        raise StoreError(f"there can be no kiosk database in {path.parent}: {file_in_the_way(path.parent)} "
                         "(check --data-dir or data_dir in the config)") from None
    except OSError as e:
        raise no_access(path) or StoreError(f"cannot look for {path}: {e.strerror}") from None
    if kind := not_a_file(path):
        raise StoreError(f"{path} is {kind}, not a database file: something was put where the kiosk's database "
                         "belongs. Move it aside (the kiosk then makes a new database, whose sequence continues "
                         "above every seq that left the kiosk), or check --data-dir or data_dir in the config")
    return True


def file_in_the_way(directory: Path) -> str | None:
    """What stands where `directory` (or one above it) must be: a file (mkdir says only 'File
    exists' or 'Not a directory'), or a name no directory can have (file_access.too_long), or None."""
    if why := too_long(directory):
        return why
    for p in (directory, *directory.parents):
        # os.path's exists, not Path's: Python 3.11's Path.exists raises PermissionError below a
        # directory this user may not enter (no_access says that, not this).
        if os.path.exists(p):
            return None if os.path.isdir(p) else f"{p} is a file, not a directory"
    return None
