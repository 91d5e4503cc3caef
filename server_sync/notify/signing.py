"""Every webhook delivery is signed so the receiver can tell it came from this centre and was not
replayed: `X-Kundpuls-Timestamp: <unix seconds>`, `X-Kundpuls-Delivery: <id>` (digits) and
`X-Kundpuls-Signature: sha256=<hex>` where the hex is HMAC-SHA256, with the endpoint's own
secret, of `<timestamp>.<id>.<body>` (both digits, so where the body begins is never in doubt).
A receiver recomputes it and refuses a timestamp older than a few minutes (`check`). The id is
the delivery's own, the same on every retry (they come for about 20.5 hours): a receiver that
keeps the ids it took for a day does each delivery's work once, whether a copy is a retry (its
2xx was lost on the way back) or a replay inside the timestamp window, and answers 2xx to both.
Pure."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Mapping, MutableMapping

TIMESTAMP_HEADER = "X-Kundpuls-Timestamp"
DELIVERY_HEADER = "X-Kundpuls-Delivery"
SIGNATURE_HEADER = "X-Kundpuls-Signature"
REPLAY_WINDOW_S = 300
SEEN_KEPT_S = 24 * 3600          # longer than a delivery's retries (about 20.5 hours)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, delivery: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.{delivery}.".encode("utf-8") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, timestamp: int, delivery: str, body: bytes) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), DELIVERY_HEADER: delivery,
            SIGNATURE_HEADER: signature(secret, timestamp, delivery, body)}


def check(secret: str, headers: Mapping[str, str], body: bytes, now: float, seen: MutableMapping[str, float] | None = None,
          window_s: float = REPLAY_WINDOW_S) -> str:
    """What a receiver does with a delivery: "invalid" (refuse it: no or a wrong signature, or a
    stale timestamp), "seen" (a delivery already taken, retried or replayed: answer 2xx and do
    nothing) or "new" (do its work). `seen`: the receiver's delivery ids with when they were
    taken, kept between calls; ids older than SEEN_KEPT_S are dropped (retries end before)."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lower[TIMESTAMP_HEADER.lower()])
        delivery = lower[DELIVERY_HEADER.lower()]
    except (KeyError, ValueError):
        return "invalid"
    if not delivery.isdigit() or abs(now - timestamp) > window_s:
        return "invalid"
    if not hmac.compare_digest(lower.get(SIGNATURE_HEADER.lower(), ""), signature(secret, timestamp, delivery, body)):
        return "invalid"
    if seen is None:
        return "new"
    for old in [d for d, t in seen.items() if now - t > SEEN_KEPT_S]:
        del seen[old]
    if delivery in seen:
        return "seen"
    seen[delivery] = now
    return "new"


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float,
           window_s: float = REPLAY_WINDOW_S, seen: MutableMapping[str, float] | None = None) -> bool:
    """True when `check` says the delivery is new."""
    return check(secret, headers, body, now, seen, window_s) == "new"
