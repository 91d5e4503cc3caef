"""Every webhook delivery is signed so the receiver can tell it came from this centre and was not
replayed: `X-Kundpuls-Timestamp: <unix seconds>` and `X-Kundpuls-Signature: sha256=<hex>` where
the hex is HMAC-SHA256, with the endpoint's own secret, of `<timestamp>.<body>`. A receiver
recomputes it and refuses a timestamp older than a few minutes (`verify`). Pure."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Mapping

TIMESTAMP_HEADER = "X-Kundpuls-Timestamp"
SIGNATURE_HEADER = "X-Kundpuls-Signature"
REPLAY_WINDOW_S = 300


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float,
           window_s: float = REPLAY_WINDOW_S) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lower[TIMESTAMP_HEADER.lower()])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > window_s:
        return False
    return hmac.compare_digest(lower.get(SIGNATURE_HEADER.lower(), ""), signature(secret, timestamp, body))
