"""Whether this user may use the kiosk's data directory: the one message for a command run as
another user than the kiosk's (a permissions mistake, never damage: `kiosk repair` cannot help).

SQLite writes beside the database even to read it (its -wal and -shm files), so the directory
must be writable as well as searchable. The check is made only once opening or examining the
database failed, to say why; root passes every check, as it passes every file mode.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from kiosk.exc import StoreError

AS_KIOSK_USER = "run it as the kiosk's user (sudo -u kundpuls /opt/kundpuls/venv/bin/kiosk …)"


def this_user() -> str:
    """The name of the user this process runs as (its uid when it has no name)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def no_access(path: Path | str) -> StoreError | None:
    """The error to give when this user may not use the database at `path` (enter its
    directory, read it, or write beside it); None when permissions are not what is wrong."""
    path = Path(path)
    directory = path.parent
    if not os.access(directory, os.X_OK):
        what = "enter"
    elif path.exists() and not os.access(path, os.R_OK):
        what = "read the kiosk database in"
    elif not os.access(directory, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        what = "write to"
    else:
        return None
    return StoreError(f"user {this_user()} may not {what} {directory}: {AS_KIOSK_USER}")


def database_exists(path: Path | str) -> bool:
    """Whether the database at `path` is there; StoreError (`no_access`) when this user cannot
    even tell (a directory it may not enter)."""
    try:
        return Path(path).exists()
    except OSError as e:
        raise no_access(path) or StoreError(f"cannot look for {path}: {e.strerror}") from None
