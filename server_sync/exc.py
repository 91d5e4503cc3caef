"""Errors of the centre: one base class, each also the built-in it resembles. The CLI turns them
into `kiosk-central: error: …` with a non-zero exit."""

from server_sync.protocol.errors import KundpulsError, ProtocolError, SettingError


class CentralError(KundpulsError):
    """Base of every error the centre raises on purpose."""


class CentralConfigError(CentralError, SettingError):
    """A bad argument, database URL or file."""


__all__ = ["CentralError", "CentralConfigError", "ProtocolError"]
