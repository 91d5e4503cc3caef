"""Staff PIN: salted PBKDF2 hashes and the lockout after too many wrong tries.

The PIN itself is never stored or logged; the config holds only `pbkdf2_sha256$iter$salt$hash`.
The lockout is kept in the kiosk's database (meta `staff.pin_lock`, `StoredPinLock`), so pulling
the plug does not give a guesser a fresh set of tries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import time
from typing import Any, Callable, Protocol

log = logging.getLogger(__name__)

_ITERATIONS = 200_000
MIN_ITERATIONS = 100_000     # fewer makes a stolen config's hash a quick guess (10^4 PINs)
# More is a typo (a zero too many), not safety: each check would keep the pad busy for minutes
# (200,000 take about a second on a Pi).
MAX_ITERATIONS = 2_000_000
_SALT_BYTES = (8, 64)        # hash_pin salts with 16
_DK_BYTES = hashlib.sha256().digest_size   # what pbkdf2_hmac("sha256") makes: any other never matches
_HASH_RE = re.compile(r"^pbkdf2_sha256\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")
# The PINs people choose most (published analyses of leaked PIN sets), besides the patterns below.
_COMMON = frozenset({"1212", "1004", "2000", "6969", "1122", "1313", "2001", "1010", "2580", "0852",
                     "5683", "1984", "1111", "112233", "121212", "123123", "159753", "147258"})


def pin_weakness(pin: str) -> str | None:
    """Why `pin` is too easy to guess, or None. A customer at the kiosk tries the obvious ones
    first: one digit repeated, a straight run up or down, a year, the most common PINs."""
    if len(set(pin)) == 1:
        return "one digit repeated"
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:])}
    if steps in ({1}, {-1}):
        return "a straight run of digits"
    if len(pin) == 4 and pin[:2] in ("19", "20"):
        return "it reads as a year"
    if pin in _COMMON or (len(pin) % 2 == 0 and pin[:len(pin) // 2] * 2 == pin):
        return "one of the most common PINs"
    return None


def hash_pin(pin: str, iterations: int = _ITERATIONS, salt: bytes | None = None) -> str:
    # 0-9 only: \d takes any script's digits ("５８２９"), whose hash the keypad can never match.
    if not re.fullmatch(r"[0-9]{4,12}", pin):
        raise ValueError("a PIN is 4 to 12 digits 0-9")
    salt = salt or os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return "pbkdf2_sha256${}${}${}".format(iterations, base64.b64encode(salt).decode(),
                                          base64.b64encode(dk).decode())


def is_valid_hash(encoded: str) -> bool:
    """The shape of a PIN hash (provision.sh checks the same); `pin_hash_problem` checks it whole."""
    return bool(_HASH_RE.match(encoded))


def hash_iterations(encoded: str) -> int:
    """The PBKDF2 iteration count of a valid hash (0 for anything else)."""
    m = _HASH_RE.match(encoded or "")
    return int(m.group(1)) if m else 0


def _decode(encoded: str) -> tuple[int, bytes, bytes]:
    """The iterations, salt and derived key of a PIN hash; ValueError says what is wrong with it."""
    m = _HASH_RE.match(encoded or "")
    if not m:
        raise ValueError("is not a PIN hash (never put the PIN itself here)")
    iterations = int(m.group(1))
    if iterations < 1:
        raise ValueError("has 0 iterations")
    decoded = []
    for name, text in (("salt", m.group(2)), ("hash", m.group(3))):
        try:
            decoded.append(base64.b64decode(text, validate=True))
        except binascii.Error:
            raise ValueError(f"has a {name} that is not whole base64 ({len(text)} characters): "
                             "was it cut short when copied?") from None
    salt, dk = decoded
    if not _SALT_BYTES[0] <= len(salt) <= _SALT_BYTES[1]:
        raise ValueError(f"has a salt of {len(salt)} bytes ({_SALT_BYTES[0]} to {_SALT_BYTES[1]})")
    if len(dk) != _DK_BYTES:
        raise ValueError(f"has a hash of {len(dk)} bytes, not {_DK_BYTES}: was it cut short when copied?")
    return iterations, salt, dk


def pin_hash_problem(encoded: str) -> str | None:
    """What is wrong with `encoded` as staff.pin_hash (None: nothing): its shape, its base64,
    its salt's and hash's lengths, and an iteration count neither weak nor absurd."""
    try:
        iterations, _salt, _dk = _decode(encoded)
    except ValueError as e:
        return str(e)
    if iterations < MIN_ITERATIONS:
        return f"is a weak hash ({iterations} iterations, at least {MIN_ITERATIONS})"
    if iterations > MAX_ITERATIONS:
        return (f"has {iterations} iterations, at most {MAX_ITERATIONS}: "
                "each PIN check would keep the pad waiting for minutes")
    return None


def verify_pin(pin: str, encoded: str) -> bool:
    """Whether `pin` is the one hashed; False for a damaged hash too (it never raises for one)."""
    try:
        iterations, salt, expected = _decode(encoded)
    except ValueError:
        log.error("staff.pin_hash is damaged: no PIN can match it")
        return False
    dk = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return hmac.compare_digest(dk, expected)


FIRST_LOCK_S = 15.0       # the first lock after `max_tries` wrong PINs; each further run doubles it


class PinLock(Protocol):
    """Where a PinGuard keeps its count and lock between runs of the kiosk."""

    def load(self) -> dict[str, Any]: ...

    def save(self, state: dict[str, Any]) -> None: ...

    def wall(self) -> float: ...


class StoredPinLock:
    """The PIN lock in the kiosk database's meta table, in wall-clock seconds (monotonic time
    starts again at a reboot). A Pi has no battery clock, so after a power cut its clock may be
    behind: a lock is then never longer than `lockout_s`, and never shorter than what was left."""

    KEY = "staff.pin_lock"

    def __init__(self, store: Any, wall: Callable[[], float] = time.time) -> None:
        self.store = store
        self.wall = wall

    def load(self) -> dict[str, Any]:
        try:
            state = json.loads(self.store.get_meta(self.KEY) or "{}")
        except ValueError:
            return {}
        return state if isinstance(state, dict) else {}

    def save(self, state: dict[str, Any]) -> None:
        try:
            self.store.set_meta(self.KEY, json.dumps(state))
        except Exception as e:     # a full card, a busy database: the lock holds until the app restarts
            log.error("the PIN lock could not be saved: %s", e)


class PinGuard:
    """Checks PINs; after `max_tries` wrong ones in a row the pad locks for a while.

    The lock grows: 15 s after the first run of wrong PINs, then 30 s, 60 s ... up to
    `lockout_s`. A customer trying numbers for fun locks staff out for seconds, not for five
    minutes; someone guessing for real gets slower and slower (a 4-digit PIN takes days: the
    numbers are in docs/ui.md). The count starts again after a right PIN, or after `lockout_s`
    without a wrong one, counted from the end of the last lock. With a
    `lock` (StoredPinLock) the count, the runs and the lock survive a restart or a power cycle.
    """

    def __init__(self, encoded: str, max_tries: int = 5, lockout_s: float = 300.0,
                 monotonic: Callable[[], float] = time.monotonic, lock: PinLock | None = None) -> None:
        self._encoded = encoded
        self._max = max_tries
        self._lockout = lockout_s
        self._mono = monotonic
        self._store = lock
        self._wrong = 0
        self._runs = 0                   # runs of max_tries wrong PINs since the count started
        self._last_wrong = 0.0
        self._locked_until = 0.0
        if lock is not None:
            self._restore(lock.load(), lock.wall())

    def _restore(self, state: dict[str, Any], wall: float) -> None:
        try:
            wrong, runs = int(state.get("wrong", 0)), int(state.get("runs", 0))
            locked_until, last_wrong = float(state.get("locked_until", 0)), float(state.get("last_wrong", 0))
        except (TypeError, ValueError):
            return
        now = self._mono()
        self._wrong, self._runs = max(0, min(wrong, self._max - 1)), max(0, runs)
        if locked_until:
            # An ended lock is kept too: the quiet that forgives counts from its end (a restart
            # right after a long lock must not forgive it).
            self._locked_until = now + min(locked_until - wall, self._lockout)
        if last_wrong:
            self._last_wrong = now - max(0.0, wall - last_wrong)

    def _save(self) -> None:
        if self._store is None:
            return
        wall, now = self._store.wall(), self._mono()
        self._store.save({"wrong": self._wrong, "runs": self._runs,
                          "locked_until": wall + (self._locked_until - now) if self._locked_until else 0,
                          "last_wrong": wall - (now - self._last_wrong) if self._last_wrong else 0})

    @property
    def enabled(self) -> bool:
        return bool(self._encoded)

    def locked_for(self) -> float:
        """Seconds left of a lock (0 when not locked)."""
        return max(0.0, self._locked_until - self._mono())

    def next_lock_s(self) -> float:
        """How long the next lock lasts."""
        return min(self._lockout, FIRST_LOCK_S * 2 ** self._runs)

    def check(self, pin: str) -> bool:
        if not self.enabled or self.locked_for() > 0:
            return False
        now = self._mono()
        if verify_pin(pin, self._encoded):
            self._wrong = self._runs = 0
            self._last_wrong = 0.0
            self._save()
            return True
        if self._forgiven(now):
            self._wrong = self._runs = 0     # quiet for a long while: the count starts again
        self._last_wrong = now
        self._wrong += 1
        if self._wrong >= self._max:
            self._locked_until = now + self.next_lock_s()
            self._wrong = 0
            self._runs += 1
        self._save()
        return False

    def _forgiven(self, now: float) -> bool:
        """No wrong PIN for `lockout_s` after the last one and its lock: a customer's tries on
        Monday are not held against a clerk's typo on Friday. Counted from the last wrong PIN
        alone, a lock of `lockout_s` forgave itself by the time it ended, and a guesser's locks
        went 15, 30 ... 300 s and back to 15 s."""
        # (0: no lock since the start; the last wrong PIN may be before it, after a restart)
        quiet_since = max(self._last_wrong, self._locked_until) if self._locked_until else self._last_wrong
        return bool(self._last_wrong) and now - quiet_since >= self._lockout

    @property
    def tries_left(self) -> int:
        return self._max if self._forgiven(self._mono()) else self._max - self._wrong
