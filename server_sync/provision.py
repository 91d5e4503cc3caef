"""Broker credentials for kiosks: one user per kiosk in the mosquitto password file (mosquitto's
own `$7$` PBKDF2-SHA512 format, hashed here so no password is ever on a command line), its ACL
block for the site's alerts, and the `[broker]` settings the kiosk needs; and their removal when
a kiosk is deactivated.

The kiosk topics themselves are covered by the `pattern … %u …` lines of the shared ACL
(firmware_config/mosquitto/kundpuls.acl); only the site alerts need a per-kiosk block.
Never prints or stores a password anywhere but the password file and the caller's one output.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import os
import re
import secrets
import tempfile
from pathlib import Path

from server_sync.exc import CentralConfigError
from server_sync.program.files import read_regular_file, write_output
from server_sync.protocol import ROOT
from server_sync.protocol.topics import check_prefix

DEFAULT_PASSWORD_FILE = Path("/etc/mosquitto/kundpuls.passwd")
DEFAULT_ACL_FILE = Path("/etc/mosquitto/kundpuls.acl")
KIOSK_CA_FILE = "/etc/kundpuls/ca.crt"            # where provision.sh puts the CA on a kiosk
KIOSK_PASSWORD_FILE = "/etc/kundpuls/broker.pass"


def new_password() -> str:
    """192 random bits, URL-safe (no quoting trouble in TOML, shells or mosquitto_passwd)."""
    return secrets.token_urlsafe(24)


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = 101) -> str:
    """mosquitto 2's `$7$` password hash (PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte key), the
    format `mosquitto_passwd` writes. Made here so the password never appears on a command line
    (`mosquitto_passwd -b` would show it in `ps` to every local user)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def set_password(password_file: Path, user: str, password: str) -> None:
    """Add or replace `user` in the mosquitto password file, atomically (temp file + rename).

    A new file is mode 0640 and, when the group exists, owned by group `mosquitto`, so the
    broker can read it after dropping root; an existing file keeps its mode and owner.
    """
    password_file = Path(password_file)
    _check_user(user)
    kept = [line for line in _read_lines(password_file, "--password-file")
            if line.split(":", 1)[0] != user]
    _rewrite(password_file, kept + [f"{user}:{mosquitto_hash(password)}"])


def remove_password(password_file: Path, user: str) -> bool:
    """Remove `user` from the mosquitto password file (atomically); True if it was there. After
    the broker's reload the credential no longer connects."""
    password_file = Path(password_file)
    _check_user(user)
    lines = _read_lines(password_file, "--password-file")
    kept = [line for line in lines if line.split(":", 1)[0] != user]
    if len(kept) == len(lines):
        return False
    _rewrite(password_file, kept)
    return True


def _check_user(user: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", user):
        raise CentralConfigError(f"broker user name {user!r}: letters, digits, '-' and '_' only")


def _read_lines(path: Path, option: str) -> list[str]:
    return _read_text(path, option).splitlines()


def _read_text(path: Path, option: str) -> str:
    """The file's text, '' when it does not exist yet (it is created in an existing directory)."""
    if not path.parent.is_dir():
        what = "is a file, not a directory" if path.parent.exists() else "does not exist"
        raise CentralConfigError(f"{option} {path}: {path.parent} {what}")
    try:
        return read_regular_file(path).decode("utf-8") if path.exists() else ""
    except OSError as e:
        raise CentralConfigError(f"{option} {path}: cannot read it: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise CentralConfigError(f"{option} {path}: not UTF-8 text (byte {e.start})") from None


def check_broker_file(path: Path, option: str, *, existing: bool = False) -> None:
    """Raise CentralConfigError when the mosquitto file `path` (named by `option`) cannot be
    read as UTF-8 text or changed, or with `existing` (a command that takes a kiosk out of it)
    is not there: the file the broker reads holds every kiosk, so a missing one is the wrong
    path. Run before any change, so that a refusal leaves nothing half-done (least of all a new
    password in force that nobody was shown). It is both appended to (ensure_acl) and replaced
    through a temp file in its directory (_rewrite)."""
    path = Path(path)
    _read_text(path, option)
    if existing and not path.exists():
        raise CentralConfigError(f"{option} {path}: no such file (give the file the broker reads, "
                                 f"as in its mosquitto.conf)")
    try:
        if path.exists():
            with open(path, "r+b"):           # opened for writing, nothing written
                pass
    except OSError as e:
        raise CentralConfigError(f"{option} {path}: cannot write it: {e.strerror}") from None
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as e:
        raise CentralConfigError(f"{option} {path}: cannot create files in {path.parent}: {e.strerror}") from None


def check_acl_file(acl_file: Path) -> None:
    """check_broker_file for the ACL, which must be there for every command that writes it: it
    holds the shipped `pattern` lines every kiosk's own topics rest on, so one made anew with only
    a kiosk's `user` block would have the broker deny every kiosk. (A password file may be new:
    a fresh broker's first kiosk is its first line, written 0640 by _rewrite.)"""
    check_broker_file(acl_file, "--acl-file", existing=True)
    if not re.search(r"^\s*pattern\s", _read_text(Path(acl_file), "--acl-file"), re.M):
        raise CentralConfigError(f"--acl-file {acl_file}: holds no `pattern` line, as the shipped ACL"
                                 f" (firmware_config/mosquitto/kundpuls.acl) does: install that first, or give"
                                 f" the file the broker reads (not its password file)")


def check_password_file(password_file: Path, *, existing: bool = False) -> None:
    """check_broker_file for the password file, whose every line must be mosquitto's `user:hash`:
    given the ACL (or a kiosk.toml) by mistake, `kiosk add` appended a password line to it and
    the ACL block to the real password file, and the broker took neither (a review)."""
    check_broker_file(password_file, "--password-file", existing=existing)
    for number, line in enumerate(_read_lines(Path(password_file), "--password-file"), 1):
        if line.strip() and not line.lstrip().startswith("#") and not re.fullmatch(r"[^:\s]+:\$\d+\$\S+", line):
            raise CentralConfigError(f"--password-file {password_file}: line {number} is not a mosquitto password"
                                     f" line (user:$7$…): give the broker's password file (not its ACL)")


def _rewrite(path: Path, lines: list[str]) -> None:
    """Replace `path` with these lines, whole (`write_output`: the broker never reads half a
    file). An existing file keeps its mode and owner; a new one is 0640 and, as root, group
    `mosquitto`."""
    try:
        group = grp.getgrnam("mosquitto").gr_gid
    except KeyError:
        group = None
    try:
        write_output(path, "\n".join(lines) + "\n" if lines else "", new_mode=0o640, new_group=group)
    except OSError as e:
        raise CentralConfigError(f"cannot write {path}: {e.strerror}") from None


def alerts_acl_block(kiosk_id: str, site_id: str, prefix: str = "") -> str:
    check_prefix(prefix)          # one rule a line: nothing typed may add a line of its own
    return f"user {kiosk_id}\ntopic read {prefix}{ROOT}/site/{site_id}/alerts\n"


def _acl_state(acl_file: Path, kiosk_id: str, site_id: str, prefix: str) -> tuple[str, str, bool]:
    """(current text, the kiosk's block, whether the block is already there)."""
    text = _read_text(acl_file, "--acl-file")
    block = alerts_acl_block(kiosk_id, site_id, prefix)
    existing = re.search(rf"^user {re.escape(kiosk_id)}\n((?:(?!user ).*\n?)*)", text, re.M)
    if existing:
        if block.splitlines()[1] in existing.group(1).splitlines():
            return text, block, True
        raise CentralConfigError(f"{acl_file} already has a block for user {kiosk_id} without "
                                 f"`{block.splitlines()[1]}`; fix it by hand")
    return text, block, False


def ensure_acl(acl_file: Path, kiosk_id: str, site_id: str, prefix: str = "") -> bool:
    """Append the kiosk's block to the ACL unless it is there; True when appended.

    `user` blocks run to the next `user` line, so blocks are only ever appended at the end.
    """
    acl_file = Path(acl_file)
    text, block, present = _acl_state(acl_file, kiosk_id, site_id, prefix)
    if present:
        return False
    sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    try:
        with open(acl_file, "a", encoding="utf-8") as f:
            f.write(sep + block)
    except OSError as e:
        raise CentralConfigError(f"--acl-file {acl_file}: cannot write it: {e.strerror}") from None
    return True


def remove_acl(acl_file: Path, kiosk_id: str) -> bool:
    """Remove the kiosk's `user` block from the ACL (atomically); True if there was one."""
    acl_file = Path(acl_file)
    _check_user(kiosk_id)
    lines = _read_lines(acl_file, "--acl-file")
    kept: list[str] = []
    inside = False
    for line in lines:
        if line.startswith("user "):
            inside = line == f"user {kiosk_id}"
        if not inside:
            kept.append(line)
    if len(kept) == len(lines):
        return False
    while kept and not kept[-1].strip():
        kept.pop()
    _rewrite(acl_file, kept)
    return True


def kiosk_broker_toml(kiosk_id: str, host: str, port: int, prefix: str = "") -> str:
    """The `[broker]` table of the kiosk's kiosk.toml."""
    lines = ["[broker]", f'host = "{host}"', f"port = {port}", "tls = true",
             f'ca_file = "{KIOSK_CA_FILE}"', f'username = "{kiosk_id}"',
             f'password_file = "{KIOSK_PASSWORD_FILE}"']
    if prefix:
        lines.append(f'topic_prefix = "{prefix}"')
    return "\n".join(lines) + "\n"
