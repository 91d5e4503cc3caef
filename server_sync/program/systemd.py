"""systemd notification (sd_notify) for READY, STATUS and the watchdog, with no dependency.

Programs call `notifier.ready()` once started and `notifier.ping()` from their main loop; with
`WatchdogSec=` in the unit, systemd restarts a program whose main loop stops pinging (a hung UI).
Outside systemd ($NOTIFY_SOCKET unset) every call is a cheap no-op.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Callable, Mapping


class SystemdNotifier:
    def __init__(self, env: Mapping[str, str] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        env = os.environ if env is None else env
        self._addr = env.get("NOTIFY_SOCKET") or None
        if self._addr and self._addr.startswith("@"):
            self._addr = "\0" + self._addr[1:]           # abstract namespace socket
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        self.watchdog_interval_s: float | None = None
        if usec and (not pid or pid == str(os.getpid())):
            # Ping at half the deadline, as sd_watchdog_enabled(3) recommends.
            self.watchdog_interval_s = int(usec) / 2e6
        self._mono = monotonic
        self._last_ping = 0.0
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self._addr is not None

    def notify(self, state: str) -> bool:
        if not self._addr:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.sendto(state.encode(), self._addr)
            return True
        except OSError:
            return False

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def ping(self) -> bool:
        """WATCHDOG=1, rate-limited to half the watchdog interval; call it from the main loop."""
        if not self._addr or self.watchdog_interval_s is None:
            return False
        now = self._mono()
        if now - self._last_ping < self.watchdog_interval_s / 2:
            return False
        self._last_ping = now
        return self.notify("WATCHDOG=1")

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """stop.wait(seconds), pinging the watchdog meanwhile (True when `stop` was set): a main
        loop that rests longer than WatchdogSec= between rounds is not a hung one. The pieces are
        half the ping interval long, what `ping` lets through: a wait begun just after a ping
        the rate limit held back still pings within the interval (whole pieces left up to 3/4 of
        WatchdogSec without one). Without a watchdog it is one wait."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if stop.wait(min(left, self.watchdog_interval_s / 2 if self.watchdog_interval_s else left)):
                return True
            self.ping()

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
