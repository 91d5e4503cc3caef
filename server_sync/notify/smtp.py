"""The centre's SMTP settings: where notices and digests are mailed from. Kept with the centre's
other settings (`central_setting`, `kiosk-central notify smtp set`); the password is never in the
database: it is read from the file `smtp_password_file` names (mode 0600), or from
$KUNDPULS_SMTP_PASSWORD."""

from __future__ import annotations

import os
from dataclasses import dataclass

from peewee import Database

from server_sync.central.setting import get_setting, set_setting, stored_error, stored_number
from server_sync.exc import CentralConfigError
from server_sync.notify.queue import is_address
from server_sync.program.files import read_regular_file
from server_sync.program.hosts import host_problem

SECURITY = ("starttls", "tls", "none")
ENV_PASSWORD = "KUNDPULS_SMTP_PASSWORD"
_KEYS = ("smtp_host", "smtp_port", "smtp_from", "smtp_security", "smtp_username", "smtp_password_file")
_STORED = {"kind": "SMTP", "fix": "kiosk-central notify smtp set …"}     # what a bad stored value's error says


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    security: str = "starttls"
    username: str = ""
    password_file: str = ""

    def password(self) -> str | None:
        if self.password_file:
            return read_password_file(self.password_file)
        password = os.environ.get(ENV_PASSWORD) or None
        return password and _ascii_password(password, f"${ENV_PASSWORD}")


def _ascii_password(password: str, source: str) -> str:
    """smtplib sends the password as ASCII (every AUTH mechanism): any other character would
    raise in the middle of logging in, so say what is wrong before."""
    if not password.isascii():
        raise CentralConfigError(f"the SMTP password in {source} must be ASCII (SMTP login cannot send other characters)")
    return password


def read_password_file(path: str, what: str = "the SMTP password file") -> str:
    """The password in `path`; CentralConfigError if it is not a regular file that can be read
    as text (`smtp set` checks it when it is given, the worker each time it connects). `what`:
    how the message names the file (the option, for `smtp set`)."""
    try:
        password = read_regular_file(path).decode("utf-8-sig").strip()     # a byte-order mark is no part of it
    except (OSError, UnicodeDecodeError) as e:
        why = ("no such file" if isinstance(e, FileNotFoundError) else e.strerror if isinstance(e, OSError)
               else "not UTF-8 text")
        raise CentralConfigError(f"cannot read {what} {path}: {why}") from None
    if not password:        # accepted by `smtp set`, it failed only at the first mail
        raise CentralConfigError(f"{what} {path} is empty")
    return _ascii_password(password, f"{what} {path}")


def load(db: Database) -> SmtpSettings | None:
    """The settings, or None when no SMTP server is set (mail then waits in its queue).
    CentralConfigError when a stored port or security is not one `smtp set` would store: a row
    edited by hand is read here (a port int() cannot read was a traceback; an unknown security
    sent the mail in the clear)."""
    values = {k: get_setting(db, k, "") for k in _KEYS}
    if not values["smtp_host"]:
        return None
    port = stored_number("smtp_port", values["smtp_port"] or "587", 1, 65535, expected="a port 1-65535", **_STORED)
    security = values["smtp_security"] or "starttls"
    if security not in SECURITY:
        raise stored_error("smtp_security", security, f"one of {', '.join(SECURITY)}", **_STORED)
    return SmtpSettings(values["smtp_host"], port, values["smtp_from"], security, values["smtp_username"],
                        values["smtp_password_file"])


def _host_hint(host: str) -> str:
    """What a host that is no host name was most likely meant as: smtplib joins the port itself
    (`mail.example.com:587` was sent to mail.example.com:587:587, never reached)."""
    if "://" in host:
        return f" (without {host.split('://')[0]}://: --security says how)"
    return " (the port is --port)" if ":" in host else ""


def save(db: Database, settings: SmtpSettings) -> None:
    # A DNS name or an IP address, as the broker's host options (program.hosts); only one word
    # was asked before, and a port or a URL was stored.
    if host_problem(settings.host):
        raise CentralConfigError(f"--host must be a host name or IP address, got {settings.host!r}"
                                 f"{_host_hint(settings.host)}")
    if not 1 <= settings.port <= 65535:
        raise CentralConfigError(f"--port must be 1-65535, got {settings.port}")
    if not is_address(settings.sender):
        raise CentralConfigError(f"--from must be an e-mail address, got {settings.sender!r}")
    if settings.security not in SECURITY:
        raise CentralConfigError(f"--security must be one of {', '.join(SECURITY)}")
    if not settings.username.isascii():     # sent as ASCII, like the password
        raise CentralConfigError(f"--username must be ASCII, got {settings.username!r}")
    password_file = settings.password_file and os.path.abspath(settings.password_file)
    if password_file:   # the worker runs elsewhere (systemd): a relative path would not be found
        read_password_file(password_file, "--password-file")
    with db.atomic():
        for key, value in zip(_KEYS, (settings.host, settings.port, settings.sender, settings.security,
                                      settings.username, password_file)):
            set_setting(db, key, str(value))
