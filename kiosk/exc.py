"""Errors of the kiosk package: one base class, each error also a built-in it resembles.

A user mistake (bad config, bad argument, unknown question) raises one of these; the CLI turns
it into `kiosk: error: …` and a non-zero exit, never a traceback.
"""


class KioskError(Exception):
    """Base of every error the kiosk raises on purpose."""


class ConfigError(KioskError, ValueError):
    """The configuration is invalid. `key` and `line` say where, when known."""

    def __init__(self, message: str, key: str | None = None, line: int | None = None,
                 path: str | None = None) -> None:
        self.message = message
        self.key = key
        self.line = line
        self.path = path
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(str(self.path) + (f":{self.line}" if self.line else ""))
        elif self.line:
            where.append(f"line {self.line}")
        if self.key:
            where.append(f"key '{self.key}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class CaptureError(KioskError, ValueError):
    """An answer cannot be recorded as given (unknown question, value outside the scale)."""


class StoreError(KioskError, RuntimeError):
    """The local database cannot be opened or migrated."""
