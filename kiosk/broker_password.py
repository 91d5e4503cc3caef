"""The kiosk's broker password, read from `broker.password_file`: by the sync agent to log in and
by `kiosk doctor` to check the file, the same way, so doctor's "ok" means the agent can read it."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.exc import ConfigError
from server_sync.program.files import read_regular_file


def read_password(cfg: KioskConfig) -> str | None:
    """The password (stripped), None when no file is configured; a file that cannot be read or
    is not UTF-8 text is a ConfigError naming the key."""
    path = cfg.broker.password_file
    if not path:
        return None
    try:
        # A regular file only: a FIFO there held `kiosk sync` for ever, deaf to SIGTERM (a review).
        # utf-8-sig: a leading byte-order mark (Windows' editors write one) is no part of the
        # password; kept, the broker refused the login with nothing to say why (a review).
        return read_regular_file(path).decode("utf-8-sig").strip()
    except OSError as e:
        raise ConfigError(f"cannot read the broker password file {path}: {e.strerror}",
                          key="broker.password_file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"the broker password file {path} is not UTF-8 text (byte {e.start}: "
                          f"0x{e.object[e.start]:02x}); write the password as plain text",
                          key="broker.password_file") from None
