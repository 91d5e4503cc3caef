"""Whether this user may use the kiosk's data directory: the one message for a command run as
another user than the kiosk's (a permissions mistake, never damage: `kiosk repair` cannot help).
What the user may not do is server_sync.program.file_access's (the centre says it too).
"""

from __future__ import annotations

from pathlib import Path

from kiosk.exc import StoreError
from server_sync.program.file_access import denied, this_user

AS_KIOSK_USER = "run it as the kiosk's user (sudo -u kundpuls /opt/kundpuls/venv/bin/kiosk …)"

__all__ = ["AS_KIOSK_USER", "database_exists", "no_access", "this_user"]


def no_access(path: Path | str) -> StoreError | None:
    """The error to give when this user may not use the database at `path` (enter its
    directory, read it, or write beside it); None when permissions are not what is wrong."""
    why = denied(path, "kiosk database")
    return StoreError(f"{why}: {AS_KIOSK_USER}") if why else None


def database_exists(path: Path | str) -> bool:
    """Whether the database at `path` is there; StoreError (`no_access`) when this user cannot
    even tell (a directory it may not enter)."""
    try:
        return Path(path).exists()
    except OSError as e:
        raise no_access(path) or StoreError(f"cannot look for {path}: {e.strerror}") from None
