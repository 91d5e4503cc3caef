"""The kiosk's start-up memory and time tricks, kept apart from the domain code: load the local
store (peewee) without the PostgreSQL drivers, and make Kivy's clock without asyncio
(`import_kivy_clock`, below).

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


class _NoEvent:
    """What Kivy's clock makes of `asyncio.Event()` while `import_kivy_clock` hides asyncio;
    dropped again before the clock is used."""

    def set(self) -> None:
        """Nothing waits on it: the kiosk never runs Kivy's async mode."""


def import_kivy_clock() -> None:
    """Make Kivy's clock (import kivy.clock) without importing asyncio.

    Creating the clock calls `init_async_lib('asyncio')`, which imports asyncio (and with it ssl
    and concurrent.futures: ~4 MB of the app's resident memory at start, docs/ui.md) and
    makes an asyncio.Event, all only for Kivy's async mode (`async_runTouchApp`). The kiosk runs
    Kivy's ordinary loop (`App.run`) and never uses it. While kivy.clock is imported, `import
    asyncio` gets a stand-in with what that call touches; then the clock's async attributes are
    put back to their class defaults (None: no async library chosen; Kivy checks for that before
    it wakes an async loop) and asyncio is importable as usual again. A caller that wants the
    async mode says so as Kivy documents: `Clock.init_async_lib('asyncio')`.

    Call it after Kivy's Config is set (the clock's kind and frame rate are read when it is
    made): `kiosk.ui.app.configure_kivy` does. A no-op when the clock exists already, and the
    plain import when asyncio is loaded anyway.
    """
    if "kivy.clock" in sys.modules:
        return
    if "asyncio" in sys.modules:
        import kivy.clock  # noqa: F401
        return
    import types

    import kivy  # noqa: F401  (Kivy's own start-up imports, outside the stand-in)
    stand_in = types.ModuleType("asyncio", "Kivy's clock is made without asyncio (kiosk.lean_imports)")
    stand_in.wait_for = None            # type: ignore[attr-defined]
    stand_in.Event = _NoEvent           # type: ignore[attr-defined]
    sys.modules["asyncio"] = stand_in
    try:
        import kivy.clock
    finally:
        if sys.modules.get("asyncio") is stand_in:
            del sys.modules["asyncio"]
    clock = kivy.clock.Clock
    if clock._async_lib is stand_in:
        clock._async_lib = clock._async_wait_for = None
        if getattr(clock, "_async_event", None) is not None:
            clock._async_event = None
