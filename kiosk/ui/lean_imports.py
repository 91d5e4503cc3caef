"""The kiosk app's start-up memory trick, kept apart from the app's code: import the local store
(peewee) without the PostgreSQL drivers.

peewee imports psycopg (3) and psycopg2 at import time whenever they are installed, as they are
on a laptop or CI machine with the `central` extra: 16-20 MB resident that the kiosk app never
uses, since it only opens its SQLite file (a Pi with only the `kiosk` extra has neither). A None
entry in sys.modules makes those imports fail the documented way (ImportError, which peewee
expects); the entries are removed right after, so the process can still import a driver itself.
The plain version is `import kiosk.capture`; tests/ui/test_faces.py checks both give a working
store and that this one leaves the drivers out.
"""

from __future__ import annotations

import sys

POSTGRES_DRIVERS = ("psycopg", "psycopg2")


def import_store() -> None:
    """Import kiosk.capture (and with it kiosk.store and peewee) without the PostgreSQL drivers.
    A no-op when peewee is already loaded."""
    if "peewee" in sys.modules:
        return
    hidden = [name for name in POSTGRES_DRIVERS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None          # type: ignore[assignment]
    try:
        import kiosk.capture  # noqa: F401  (kiosk.store, peewee)
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
