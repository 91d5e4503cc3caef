"""Staff PIN: salted PBKDF2 hashes and the lockout after too many wrong tries.

The PIN itself is never stored or logged; the config holds only `pbkdf2_sha256$iter$salt$hash`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from typing import Callable

_ITERATIONS = 200_000
_HASH_RE = re.compile(r"^pbkdf2_sha256\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")


def hash_pin(pin: str, iterations: int = _ITERATIONS, salt: bytes | None = None) -> str:
    if not re.fullmatch(r"\d{4,12}", pin):
        raise ValueError("a PIN is 4 to 12 digits")
    salt = salt or os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return "pbkdf2_sha256${}${}${}".format(iterations, base64.b64encode(salt).decode(),
                                          base64.b64encode(dk).decode())


def is_valid_hash(encoded: str) -> bool:
    return bool(_HASH_RE.match(encoded))


def verify_pin(pin: str, encoded: str) -> bool:
    m = _HASH_RE.match(encoded or "")
    if not m:
        return False
    iterations, salt, expected = int(m.group(1)), base64.b64decode(m.group(2)), base64.b64decode(m.group(3))
    dk = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return hmac.compare_digest(dk, expected)


class PinGuard:
    """Checks PINs and locks out after `max_tries` wrong ones in a row for `lockout_s`."""

    def __init__(self, encoded: str, max_tries: int = 5, lockout_s: float = 300.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._encoded = encoded
        self._max = max_tries
        self._lockout = lockout_s
        self._mono = monotonic
        self._wrong = 0
        self._locked_until = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self._encoded)

    def locked_for(self) -> float:
        """Seconds left of a lockout (0 when not locked)."""
        return max(0.0, self._locked_until - self._mono())

    def check(self, pin: str) -> bool:
        if not self.enabled or self.locked_for() > 0:
            return False
        if verify_pin(pin, self._encoded):
            self._wrong = 0
            return True
        self._wrong += 1
        if self._wrong >= self._max:
            self._wrong = 0
            self._locked_until = self._mono() + self._lockout
        return False

    @property
    def tries_left(self) -> int:
        return self._max - self._wrong
