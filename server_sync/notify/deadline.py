"""One network exchange of the centre (a webhook's POST, an SMTP login, one mail) within a total
deadline, and given up at once when the worker is told to stop.

A socket timeout bounds each read, not the exchange: a receiver that answers one byte every few
seconds held a POST, the notify worker and every notice queued behind it for ever, and SIGTERM
waited for it. So the exchange runs in a thread of its own while the caller's thread waits for it:
until its deadline at most, and only until `stop` is set. Giving up shuts the exchange's sockets
down (`Sockets`), which also ends the blocked read or write of that thread. Only network I/O runs
there: the caller's thread keeps the database and the systemd watchdog, so a worker that is really
stuck (in the database, say) stops pinging and is restarted, not kept alive by a helper thread.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, TypeVar

T = TypeVar("T")

POLL_S = 0.1          # how soon a stop is seen while an exchange runs


class Stopped(Exception):
    """The worker was told to stop while an exchange ran; the exchange was given up."""


def stopping(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass                          # not connected (yet, or any more): nothing is blocked on it
    sock.close()


class Sockets:
    """The sockets one exchange opened, kept as duplicates of their descriptors. Shutting a
    duplicate down shuts the connection down, so it ends a read or write blocked on it in any
    thread, after TLS wrapped it too (a TLS socket itself cannot be duplicated, nor used by two
    threads). `with Sockets() as s:` closes the duplicates after the exchange: while one is open
    the connection is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: list[socket.socket] = []
        self._aborted = False

    def add(self, sock: socket.socket) -> socket.socket:
        """Keep `sock`, returned as it is. One opened after `abort` is shut down at once: its
        first read or write fails."""
        dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            if not self._aborted:
                self._kept.append(dup)
                return sock
        _shut(dup)
        return sock

    def connect(self, *args: Any, **kwargs: Any) -> socket.socket:
        """`socket.create_connection`, the socket kept."""
        return self.add(socket.create_connection(*args, **kwargs))

    def _take(self, abort: bool) -> list[socket.socket]:
        with self._lock:
            self._aborted = self._aborted or abort
            kept, self._kept = self._kept, []
        return kept

    def abort(self) -> None:
        for sock in self._take(abort=True):
            _shut(sock)

    def __enter__(self) -> "Sockets":
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in self._take(abort=False):
            sock.close()


def bounded(work: Callable[[], T], seconds: float, sockets: Sockets, stop: threading.Event | None = None) -> T:
    """`work()` (whose sockets go into `sockets`) in a thread of its own: its result, or the
    exception it raised; TimeoutError once `seconds` have passed, and Stopped as soon as `stop` is
    set, either way with `sockets` shut down so the thread ends too. DNS is the one wait a socket
    cannot cut short: the thread may outlive the call by the resolver's own timeout, never the
    caller."""
    if stopping(stop):
        raise Stopped("the worker is stopping")
    outcome: list[tuple[bool, Any]] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread, which decides
            outcome.append((False, e))
        finally:
            done.set()
    threading.Thread(target=run, name="kundpuls-exchange", daemon=True).start()
    deadline = time.monotonic() + seconds
    while not done.wait(max(0.0, min(POLL_S, deadline - time.monotonic()))):
        if stopping(stop):
            sockets.abort()
            raise Stopped("the worker is stopping")
        if time.monotonic() >= deadline:
            sockets.abort()
            raise TimeoutError(f"no complete answer within {seconds:g} s")
    ok, value = outcome[0]
    if ok:
        return value
    raise value
