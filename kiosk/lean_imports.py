"""The kiosk's start-up memory and time trick, kept apart from the domain code: load the local
store (peewee) without the PostgreSQL drivers.

peewee imports psycopg (3) and psycopg2 at import time whenever they are installed, as they are
on a laptop or CI machine with the `central` extra: 16-20 MB resident and ~0.15 s of start-up
that the kiosk never uses, since it only opens its SQLite file (a Pi with only the `kiosk` extra
has neither). A None entry in sys.modules makes those imports fail the documented way
(ImportError, which peewee expects); the entries are removed afterwards, so the process can still
import a driver itself. The plain version is `import kiosk.capture`; tests/ui/test_faces.py
checks both give a working store and that this one leaves the drivers out.

`postgres_drivers_hidden()` covers a whole `kiosk` command (kiosk.cli.main); `import_store()` is
for the app when it is started some other way (the tests, the benchmarks).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

POSTGRES_DRIVERS = ("psycopg", "psycopg2")


@contextmanager
def postgres_drivers_hidden() -> Iterator[None]:
    """While inside, importing a PostgreSQL driver not yet loaded fails with ImportError."""
    hidden = [name for name in POSTGRES_DRIVERS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None          # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def import_store() -> None:
    """Import kiosk.capture (and with it kiosk.store and peewee) without the PostgreSQL drivers.
    A no-op when peewee is already loaded."""
    if "peewee" in sys.modules:
        return
    with postgres_drivers_hidden():
        import kiosk.capture  # noqa: F401  (kiosk.store, peewee)
