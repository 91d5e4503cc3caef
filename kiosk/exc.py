"""Errors of the kiosk package: one base class, each error also a built-in it resembles.

A user mistake (bad config, bad argument, unknown question) raises one of these; the CLI turns
it into `kiosk: error: …` and a non-zero exit, never a traceback.
"""

from server_sync.protocol.errors import KundpulsError, SettingError


class KioskError(KundpulsError):
    """Base of every error the kiosk raises on purpose."""


class ConfigError(KioskError, SettingError):
    """The configuration is invalid. `key` and `line` say where, when known."""


class CaptureError(KioskError, ValueError):
    """An answer cannot be recorded as given (unknown question, value outside the scale)."""


class StoreError(KioskError, RuntimeError):
    """The local database cannot be opened or migrated."""


class DamagedDatabase(StoreError):
    """The database file is damaged (corrupt pages, not a database, empty): `kiosk repair`."""


class DiskFull(StoreError, OSError):
    """The disk holding the database is full: nothing more can be recorded until space is freed."""


class IdentityError(StoreError):
    """The database belongs to another kiosk than the config says: never record under it."""
