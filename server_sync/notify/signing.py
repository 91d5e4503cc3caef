"""Every webhook delivery is signed so the receiver can tell it came from this centre and was not
replayed: `X-Kundpuls-Timestamp: <unix seconds>`, `X-Kundpuls-Delivery: <id>` and
`X-Kundpuls-Signature: sha256=<hex>` where the hex is HMAC-SHA256, with the endpoint's own
secret, of `<timestamp>.<id>.<body>`. A receiver recomputes it and refuses a timestamp older
than a few minutes, and a delivery id it has already taken within those minutes (`verify`): a
copy sent again inside the window would otherwise pass. The id is the delivery's own, the same
on every retry, so the id also tells a retry of something already handled (the answer lost on
the way back) from a new notice. Pure."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Mapping, MutableMapping

TIMESTAMP_HEADER = "X-Kundpuls-Timestamp"
DELIVERY_HEADER = "X-Kundpuls-Delivery"
SIGNATURE_HEADER = "X-Kundpuls-Signature"
REPLAY_WINDOW_S = 300


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, delivery: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.{delivery}.".encode("utf-8") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, timestamp: int, delivery: str, body: bytes) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), DELIVERY_HEADER: delivery,
            SIGNATURE_HEADER: signature(secret, timestamp, delivery, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float,
           window_s: float = REPLAY_WINDOW_S, seen: MutableMapping[str, float] | None = None) -> bool:
    """What a receiver does: the signature matches, the timestamp is recent and, given `seen`
    (the receiver's delivery ids of the last `window_s` with their timestamps, kept between
    calls), the delivery is not one already taken; it is then added to `seen`."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lower[TIMESTAMP_HEADER.lower()])
        delivery = lower[DELIVERY_HEADER.lower()]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > window_s:
        return False
    if not hmac.compare_digest(lower.get(SIGNATURE_HEADER.lower(), ""), signature(secret, timestamp, delivery, body)):
        return False
    if seen is not None:
        for old in [d for d, t in seen.items() if abs(now - t) > window_s]:
            del seen[old]                # out of the window: the timestamp check refuses those
        if delivery in seen:
            return False
        seen[delivery] = timestamp
    return True
