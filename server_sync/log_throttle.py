"""At most one log line per key (a kiosk) per interval, the rest counted for its next line.

One source repeating the same line (a kiosk reconnecting in a loop, each time with a Last Will
the centre refuses) would otherwise fill the log, and journald's rate limit would then drop every
other line of the program. Pure: the clock is given.
"""

from __future__ import annotations

import time
from typing import Callable


class PerKeyThrottle:
    """`admit(key)`: whether a line for `key` may be logged now, and how many were not since."""

    def __init__(self, every_s: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 4096) -> None:
        self._every = every_s
        self._clock = clock
        self._max_keys = max_keys
        # key: [when its last line was logged, lines left out since]; oldest logged first, so
        # keys past max_keys (ids from topics: bounded memory) forget the least recent first.
        self._keys: dict[str, list[float]] = {}

    def admit(self, key: str) -> int | None:
        """None: leave this line out (it is counted). Else log it: the number of the key's lines
        left out since its last one (0: none), for the line to say."""
        now = self._clock()
        entry = self._keys.get(key)
        if entry is not None and now - entry[0] < self._every:
            entry[1] += 1
            return None
        left_out = int(entry[1]) if entry is not None else 0
        self._keys.pop(key, None)
        self._keys[key] = [now, 0]
        if len(self._keys) > self._max_keys:
            del self._keys[next(iter(self._keys))]
        return left_out
