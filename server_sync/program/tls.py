"""Check a CA certificate file before paho gets it, so a wrong path or a file that is not PEM is
a clear `prog: error: …` at start-up instead of a traceback (or a restart loop under systemd)."""

from __future__ import annotations

import ssl

from server_sync.protocol.errors import SettingError


def check_ca_file(path: str, key: str) -> None:
    """Raise SettingError naming `key` (a config key or a command-line option) when `path` is not
    a readable PEM CA certificate."""
    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        raise SettingError(f"CA certificate file not found: {path}", key=key) from None
    except PermissionError:
        raise SettingError(f"CA certificate file not readable: {path}", key=key) from None
    except (ssl.SSLError, OSError, ValueError) as e:
        raise SettingError(f"{path} is not a PEM CA certificate ({e.__class__.__name__}: {e})", key=key) from None
