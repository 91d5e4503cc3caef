"""Time for the kiosk: wall time, monotonic time, whether the kernel clock is NTP-synced, boot id.

Everything that reads "now" takes a `Clock`, so tests and the simulator move time instead of
sleeping. A Pi has no RTC: after a power cut the wall clock may be wrong until NTP syncs, which
is why every answer also carries the boot id and a monotonic reading (the centre corrects).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Protocol

_BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...            # aware UTC datetime
    def monotonic_ns(self) -> int: ...
    def clock_synced(self) -> bool: ...
    def boot_id(self) -> str: ...


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>; only `status` is read, the rest pads to the kernel size.
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("constant", ctypes.c_long),
                ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long),
                ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
                ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
                ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long),
                ("tai", ctypes.c_int), ("_pad", ctypes.c_int * 11)]


_STA_UNSYNC = 0x0040
_TIME_ERROR = 5


def kernel_clock_synced() -> bool:
    """True when the kernel says its clock is synchronised (what `timedatectl` reports)."""
    global _refusal_said
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return False
    if state < 0 and ctypes.get_errno() == errno.EPERM and not _refusal_said:
        # A system-call filter (a unit's ProtectClock=) refuses even the read: every answer would
        # be stamped unsynced and never pruned, so say it once rather than look like no NTP.
        _refusal_said = True
        log.error("cannot read whether the clock is synced: adjtimex refused (EPERM); is the "
                  "unit's SystemCallFilter= missing adjtimex and clock_adjtime?")
    return state != _TIME_ERROR and state >= 0 and not (tx.status & _STA_UNSYNC)


_refusal_said = False


def read_boot_id() -> str:
    try:
        with open(_BOOT_ID_PATH, encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        # Not Linux: a per-process id still separates monotonic timelines correctly.
        return _PROCESS_BOOT_ID


_PROCESS_BOOT_ID = str(uuid.uuid4())


class SystemClock:
    """The real clock of the machine."""

    def __init__(self) -> None:
        self._boot_id = read_boot_id()
        self._synced_cache: tuple[float, bool] | None = None

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def clock_synced(self) -> bool:
        # adjtimex is cheap, but a tap should not pay for it every time: cache for 10 s.
        mono = time.monotonic()
        if self._synced_cache is None or mono - self._synced_cache[0] > 10:
            self._synced_cache = (mono, kernel_clock_synced())
        return self._synced_cache[1]

    def boot_id(self) -> str:
        return self._boot_id


class FakeClock:
    """A clock that tests and the simulator move by hand."""

    def __init__(self, start: datetime | None = None, synced: bool = True,
                 boot_id: str = "00000000-0000-4000-8000-000000000000") -> None:
        self._now = start or datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
        if self._now.tzinfo is None:
            self._now = self._now.replace(tzinfo=timezone.utc)
        self._mono = 1_000_000_000
        self.synced = synced
        self._boot = boot_id

    def now(self) -> datetime:
        return self._now

    def monotonic_ns(self) -> int:
        return self._mono

    def clock_synced(self) -> bool:
        return self.synced

    def boot_id(self) -> str:
        return self._boot

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += int(seconds * 1e9)

    def set(self, when: datetime) -> None:
        """Jump the wall clock (monotonic time moves forward by the same amount, never back)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        delta = (when - self._now).total_seconds()
        self._now = when
        if delta > 0:
            self._mono += int(delta * 1e9)

    def step(self, when: datetime) -> None:
        """Put the wall clock right as NTP does: it jumps (either way) and monotonic time does not
        move, as on a Pi whose fake-hwclock time was months old."""
        self._now = when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)

