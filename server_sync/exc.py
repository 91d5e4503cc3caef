"""Errors of the centre: one base class, each also the built-in it resembles. The CLI turns them
into `kiosk-central: error: …` with a non-zero exit."""

from kiosk.exc import KioskError


class CentralError(KioskError):
    """Base of every error the centre raises on purpose."""


class CentralConfigError(CentralError, ValueError):
    """A bad argument, database URL or file."""


class ProtocolError(CentralError, ValueError):
    """A message that does not follow the MQTT contract; `reason` goes to the dead-letter table."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
