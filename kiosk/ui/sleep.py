"""When the kiosk app may sleep, and what wakes it: a kiosk nobody uses must not redraw.

Kivy's main loop wakes `maxfps` times a second even when nothing changes. On the idle question
screen the app lowers that to `SLEEP_FPS` and checks its timeouts every `SLEEP_TICK_S`; any
touch, key, button press or screen change restores the device's frame rate at once.

While asleep, a touch would wait for the next loop turn (up to 1 / SLEEP_FPS s). On a kiosk the
touch panel is an evdev device (`/dev/input/event*`): `InputWatch` waits on those devices in
one blocked thread (no wake-up while nobody touches) and hands each burst of input to a
callback, which interrupts Kivy's sleep (`kivy_clock = interrupt`, set by the device ini and
the laptop settings). It only reads its own copy of the events: Kivy's input providers see
them all the same. Without readable devices (a laptop, a test display) it does nothing.

`SleepPolicy` is pure (times in, decision out); `InputWatch` owns one thread and its fds.
"""

from __future__ import annotations

import glob
import logging
import os
import select
import threading
from typing import Callable, Iterable

log = logging.getLogger(__name__)

SLEEP_AFTER_S = 2.0     # nobody has touched and the question screen has shown this long
SLEEP_FPS = 2           # Kivy's loop turns a second while asleep (no frame is drawn)
SLEEP_TICK_S = 1.0      # timeouts (language reset, schedule, config, watchdog) checked this often
# Kivy takes an event as due up to 1/(3 fps) early and stops sleeping 0.8 of that before it: at
# 2 fps the loop would spin for a tenth of a second before every timer. A fine resolution
# while asleep keeps that to a fraction of a millisecond.
SLEEP_RESOLUTION_S = 0.0005


def may_sleep(*, awake_fps: float, on_question: bool, quiet_s: float, screen_age_s: float) -> bool:
    """Whether the app may go to sleep now. `awake_fps` 0 means frames as fast as possible:
    something (a test, a benchmark) is driving the frames, and the app never sleeps then."""
    return awake_fps > 0 and on_question and min(quiet_s, screen_age_s) >= SLEEP_AFTER_S


class InputWatch:
    """Calls `on_input()` (from its own thread) whenever one of `paths` has input to read."""

    def __init__(self, on_input: Callable[[], None],
                 paths: Iterable[str] | None = None) -> None:
        self.on_input = on_input
        self._fds: list[int] = []
        for path in sorted(glob.glob("/dev/input/event*") if paths is None else paths):
            try:
                self._fds.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
            except OSError:                   # not readable by this user: nothing to watch there
                continue
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None

    @property
    def watching(self) -> int:
        """How many input devices are watched."""
        return len(self._fds)

    def start(self) -> "InputWatch":
        if self._fds and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="input-watch", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self._stop_r, *self._fds], [], [])
            except (OSError, ValueError):
                return
            if self._stop_r in ready:
                return
            for fd in ready:
                try:
                    while os.read(fd, 4096):      # drain this burst: one call per burst
                        pass
                except BlockingIOError:
                    pass
                except OSError:                   # the device went away (unplugged)
                    self._fds.remove(fd)
                    os.close(fd)
            try:
                self.on_input()
            except Exception:                     # a failing callback must not end the watch
                log.exception("input wake-up failed")

    def close(self) -> None:
        """Stop the thread and close the devices; a second call does nothing."""
        if self._stop_w < 0:
            return
        os.write(self._stop_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (*self._fds, self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []
        self._stop_r = self._stop_w = -1

    def __enter__(self) -> "InputWatch":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
