"""Errors of the centre: one base class, each also the built-in it resembles. The CLI turns them
into `kiosk-central: error: …` with a non-zero exit."""

from server_sync.protocol.errors import KundpulsError, ProtocolError, SettingError


class CentralError(KundpulsError):
    """Base of every error the centre raises on purpose."""


class CentralConfigError(CentralError, SettingError):
    """A bad argument, database URL or file."""


class StoredSettingError(CentralConfigError):
    """A setting kept in the store (`central_setting`) that its command would not store: a row
    edited by hand. The operator's to fix, not the request's: the web app answers it with an
    error page and a line in its log, not a 400."""


__all__ = ["CentralError", "CentralConfigError", "ProtocolError", "StoredSettingError"]
