"""Press filters: pure rules that flag (never drop) presses that are probably not real answers.

- repeat: a press within `repeat_window_s` of the previous press on this kiosk (a child
  hammering the button, a double tap).
- burst: more than `burst_per_minute` presses within the last 60 seconds.

Times are monotonic nanoseconds of one boot; the rules hold no I/O and no clock of their own.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable

from kiosk.config import Filters

REPEAT = "repeat"
BURST = "burst"
_MINUTE_NS = 60_000_000_000


class PressFilter:
    """Remembers recent presses of one boot and classifies the next one."""

    def __init__(self, settings: Filters, recent_ns: Iterable[int] = ()) -> None:
        self.settings = settings
        self._recent: deque[int] = deque(sorted(recent_ns))

    def classify(self, now_ns: int, remember: bool = True) -> str | None:
        """Flag for a press at `now_ns` (None when it counts); remembered unless told not to.

        The capture path classifies with remember=False and calls `remember` only after the
        commit, so a press that failed to record does not make the next one look like a repeat.
        """
        while self._recent and now_ns - self._recent[0] >= _MINUTE_NS:
            self._recent.popleft()
        flag = None
        window_ns = int(self.settings.repeat_window_s * 1e9)
        if window_ns and self._recent and now_ns - self._recent[-1] < window_ns:
            flag = REPEAT
        elif self.settings.burst_per_minute and len(self._recent) + 1 > self.settings.burst_per_minute:
            flag = BURST
        if remember:
            self._recent.append(now_ns)
        return flag

    def remember(self, now_ns: int) -> None:
        self._recent.append(now_ns)

    def forget_since(self, now_ns: int) -> None:
        """Drop memory (a new boot: monotonic times of the old boot mean nothing now)."""
        self._recent.clear()
