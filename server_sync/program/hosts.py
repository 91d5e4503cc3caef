"""What a broker host setting may be, for both commands and the kiosk's config: a DNS name or
an IP address. paho only finds out when it connects ("Invalid host.", a ValueError, or an endless
reconnect loop on the kiosk), so a typo is caught where it is typed instead."""

from __future__ import annotations

import ipaddress
import re

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
