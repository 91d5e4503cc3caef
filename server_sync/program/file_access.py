"""Whether this user may use a SQLite database file: what it may not do, said once for the kiosk
(kiosk.access) and the centre (central.db), each of which names its own remedy.

SQLite writes beside the database even to read it (its -wal and -shm files), so the directory must
be writable as well as searchable. Asked only once opening or using the file failed, to say why;
root passes every check, as it passes every file mode.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path


def this_user() -> str:
    """The name of the user this process runs as (its uid when it has no name)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def denied(path: Path | str, what: str = "database") -> str | None:
    """What this user may not do with the SQLite file at `path` ("may not enter /d", "may not
    write to /d", …, naming the user), or None when permissions are not what is wrong. `what`
    names the file in the sentence ("read the kiosk database in /d")."""
    path = Path(path)
    directory = path.parent
    if not os.path.exists(directory):
        # Not there, or hidden by a directory above that this user may not enter: the nearest
        # one this user can see says which.
        up = directory.parent
        while up != up.parent and not os.path.exists(up):
            up = up.parent
        return None if os.access(up, os.X_OK) else f"user {this_user()} may not enter {up}"
    if not os.access(directory, os.X_OK):
        doing = "enter"
    elif path.exists() and not os.access(path, os.R_OK):
        doing = f"read the {what} in"
    elif not os.access(directory, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        doing = "write to"
    else:
        return None
    return f"user {this_user()} may not {doing} {directory}"
