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


# Linux's limits (NAME_MAX, PATH_MAX): past them os.stat and Path.exists raise ENAMETOOLONG
# instead of saying "not there", a traceback wherever a person's path was first looked at.
NAME_MAX, PATH_MAX = 255, 4095


def too_long(path: Path | str) -> str | None:
    """Why no file can have the name `path` (a part longer than NAME_MAX bytes, or the whole
    longer than PATH_MAX), or None."""
    raw = os.fsencode(str(path))
    if len(raw) > PATH_MAX:
        return f"the path {str(path)[:40]}… is {len(raw)} bytes; a path has at most {PATH_MAX}"
    part = max(raw.split(b"/"), key=len)
    if len(part) > NAME_MAX:
        return f"a part of the path {str(path)[:40]}… is {len(part)} bytes; a file name has at most {NAME_MAX}"
    return None


def denied(path: Path | str, what: str = "database") -> str | None:
    """What this user may not do with the SQLite file at `path` ("may not enter /d", "may not
    write to /d", …, naming the user), or None when permissions are not what is wrong. `what`
    names the file in the sentence ("read the kiosk database in /d"). A name no file can have is
    said too (too_long)."""
    if why := too_long(path):
        return why
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
