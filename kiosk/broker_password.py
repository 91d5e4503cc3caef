"""The kiosk's broker password, read from `broker.password_file`: by the sync agent to log in and
by `kiosk doctor` to check the file, the same way, so doctor's "ok" means the agent can read it."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.exc import ConfigError


def read_password(cfg: KioskConfig) -> str | None:
    """The password (stripped), None when no file is configured; a file that cannot be read or
    is not UTF-8 text is a ConfigError naming the key."""
    path = cfg.broker.password_file
    if not path:
        return None
    try:
        # utf-8-sig: a leading byte-order mark (Windows' editors write one) is no part of the
        # password; kept, the broker refused the login with nothing to say why (a review).
        with open(path, encoding="utf-8-sig") as f:
            return f.read().strip()
    except OSError as e:
        raise ConfigError(f"cannot read the broker password file {path}: {e.strerror}",
                          key="broker.password_file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"the broker password file {path} is not UTF-8 text (byte {e.start}: "
                          f"0x{e.object[e.start]:02x}); write the password as plain text",
                          key="broker.password_file") from None
