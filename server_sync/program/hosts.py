"""What a broker host setting may be, for both commands and the kiosk's config: a DNS name or
an IP address. paho only finds out when it connects ("Invalid host.", a ValueError, or an endless
reconnect loop on the kiosk), so a typo is caught where it is typed instead. Also whether this
host's own name, `kiosk add`'s default broker host, is one a kiosk could reach at all."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Iterable

# Names that are this machine wherever they are looked up (RFC 6761's .localhost, and the
# .localdomain many distributions give a host without a domain).
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_LOOPBACK_SUFFIXES = (".localhost", ".localdomain")

# RFC 1123 labels (letters, digits, inner hyphens; underscores too, as some internal DNS has them).
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def host_problem(host: str) -> str | None:
    """Why `host` cannot be a broker's host name or address, or None when it can."""
    if not isinstance(host, str) or not host.strip():
        return "is empty: give the broker's host name or IP address"
    if _is_address(host):
        return None
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    # A last label of digits only is a mistyped IPv4 address (10.0.0.300), not a name.
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        return f"{host!r} is not a host name or IP address"
    return None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def own_name() -> tuple[str, list[str]]:
    """This host's fully qualified name (socket.getfqdn) and the addresses it resolves to here
    (none when it does not resolve)."""
    name = socket.getfqdn()
    try:
        found = socket.getaddrinfo(name, None)
    except (OSError, UnicodeError):
        return name, []
    return name, sorted({info[4][0] for info in found})


def loopback_problem(name: str, addresses: Iterable[str]) -> str | None:
    """Why `name`, as this host found its own, cannot be a kiosk's broker host (it names the
    kiosk's own machine there: localhost, a *.localdomain name, a loopback address, or a name
    whose every address here is one), or None. A name that does not resolve here is not judged:
    the kiosks' DNS may know it."""
    bare = name.rstrip(".").lower()
    if bare in _LOOPBACK_NAMES or bare.endswith(_LOOPBACK_SUFFIXES) or _loopback(bare):
        return f"this host's name is {name!r}: a kiosk cannot reach it"
    found = list(addresses)
    if found and all(_loopback(a) for a in found):
        return (f"this host's name {name!r} is only a loopback address here ({', '.join(found)}): "
                "a kiosk cannot reach it")
    return None


def _loopback(text: str) -> bool:
    """`text` is a loopback address: 127.0.0.0/8, ::1, or 127.x mapped into IPv6."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback
