"""Broker credentials for kiosks: one user per kiosk in the mosquitto password file (written by
`mosquitto_passwd -b`, so the hash format is mosquitto's own), its ACL block for the site's
alerts, and the `[broker]` settings the kiosk needs.

The kiosk topics themselves are covered by the `pattern … %u …` lines of the shared ACL
(firmware_config/mosquitto/kundpuls.acl); only the site alerts need a per-kiosk block.
Never prints or stores a password anywhere but the password file and the caller's one output.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

from server_sync.exc import CentralConfigError
from server_sync.protocol import ROOT

MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
DEFAULT_PASSWORD_FILE = Path("/etc/mosquitto/kundpuls.passwd")
DEFAULT_ACL_FILE = Path("/etc/mosquitto/kundpuls.acl")
KIOSK_CA_FILE = "/etc/kundpuls/ca.crt"            # where provision.sh puts the CA on a kiosk
KIOSK_PASSWORD_FILE = "/etc/kundpuls/broker.pass"


def new_password() -> str:
    """192 random bits, URL-safe (no quoting trouble in TOML, shells or mosquitto_passwd)."""
    return secrets.token_urlsafe(24)


def set_password(password_file: Path, user: str, password: str,
                 mosquitto_passwd: str = MOSQUITTO_PASSWD) -> None:
    """Add or replace `user` in the mosquitto password file (created 0640 if missing)."""
    password_file = Path(password_file)
    if not password_file.parent.is_dir():
        raise CentralConfigError(f"--password-file {password_file}: directory {password_file.parent} does not exist")
    if not password_file.exists():
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.close(fd)
    try:
        proc = subprocess.run([mosquitto_passwd, "-b", str(password_file), user, password],
                              capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise CentralConfigError(f"{mosquitto_passwd} not found: install mosquitto (the Debian package "
                                 "mosquitto ships mosquitto_passwd)") from None
    if proc.returncode != 0:
        raise CentralConfigError(f"mosquitto_passwd could not write {password_file}: "
                                 f"{(proc.stderr or proc.stdout).strip()}")


def alerts_acl_block(kiosk_id: str, site_id: str, prefix: str = "") -> str:
    return f"user {kiosk_id}\ntopic read {prefix}{ROOT}/site/{site_id}/alerts\n"


def ensure_acl(acl_file: Path, kiosk_id: str, site_id: str, prefix: str = "") -> bool:
    """Append the kiosk's block to the ACL unless it is there; True when appended.

    `user` blocks run to the next `user` line, so blocks are only ever appended at the end.
    """
    acl_file = Path(acl_file)
    if not acl_file.parent.is_dir():
        raise CentralConfigError(f"--acl-file {acl_file}: directory {acl_file.parent} does not exist")
    text = acl_file.read_text(encoding="utf-8") if acl_file.exists() else ""
    block = alerts_acl_block(kiosk_id, site_id, prefix)
    existing = re.search(rf"^user {re.escape(kiosk_id)}\n((?:(?!user ).*\n?)*)", text, re.M)
    if existing:
        if block.splitlines()[1] in existing.group(1).splitlines():
            return False
        raise CentralConfigError(f"{acl_file} already has a block for user {kiosk_id} without "
                                 f"`{block.splitlines()[1]}`; fix it by hand")
    sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    with open(acl_file, "a", encoding="utf-8") as f:
        f.write(sep + block)
    return True


def kiosk_broker_toml(kiosk_id: str, host: str, port: int, prefix: str = "") -> str:
    """The `[broker]` table of the kiosk's kiosk.toml."""
    lines = ["[broker]", f'host = "{host}"', f"port = {port}", "tls = true",
             f'ca_file = "{KIOSK_CA_FILE}"', f'username = "{kiosk_id}"',
             f'password_file = "{KIOSK_PASSWORD_FILE}"']
    if prefix:
        lines.append(f'topic_prefix = "{prefix}"')
    return "\n".join(lines) + "\n"
