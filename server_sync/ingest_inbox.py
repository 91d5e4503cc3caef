"""The ingest's inbox: what paho's network thread hands the worker, bounded.

paho calls `on_message` on its network thread for every message the broker delivers. QoS 1 is
bounded by the broker (the ingest's receive maximum: at most that many unacknowledged at once),
but QoS 0 is not: one kiosk credential flooding 1 MiB QoS 0 messages grew an unbounded queue to
4.3 GB. So the inbox holds at most `max_messages` messages and `max_bytes` of their payloads and
topics, counted from `put` until the worker has finished with them (`release`, after the group's
commit): queued and in hand together. A `put` beyond that blocks paho's network thread: it stops
reading the socket, TCP back-pressure reaches the broker, and there the broker's own per-client
limits apply (`max_queued_messages`, `max_queued_bytes` in kundpuls.conf; QoS 0 beyond them is
dropped by the broker, QoS 1 is never acked by us, so the kiosk sends it again).

Blocking the network thread cannot deadlock the worker: the worker never waits for that thread.
It acks and publishes through paho, which in threaded mode only queues the packet (the network
thread sends it once it runs again), and it releases room in the inbox after every group, which
is what lets the network thread go on. While it is blocked, paho sends no PINGREQ either; the
inbox is full only while the worker is busy with at most `max_bytes` of messages, far below the
keepalive (30 s; the broker waits 45). Should the worker be held up longer (a database outage),
the broker drops the connection and hands the unacknowledged messages over again after paho
reconnects: nothing is lost. A single message larger than `max_bytes` is let in when the inbox is
empty (the broker's max_packet_size bounds it).

Fair: each message is queued under its kiosk (the topic's), and taken round-robin across the
kiosks that have messages queued, one at a time: a kiosk flooding thousands of messages delays
another kiosk's message by one turn, not by its whole flood. `get` can skip kiosks (those that
have used up their share of the group being taken).

Statuses are coalesced instead (`put_latest`): each kiosk's newest STATUSES_KEPT_PER_KIOSK wait
aside, an older one is handed back to be acknowledged and forgotten, and they join their kiosk's
queue when the worker starts a group (`get`). They never meet the rate limit (`KioskRates`): an
over-rate answer comes again from the kiosk's outbox, but a status does not, and a Last Will is
published by the broker once, for a kiosk that is gone.

`close()` wakes a blocked `put` for good (then dropped): the ingest's shutdown joins paho's thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Container, Generic, TypeVar

T = TypeVar("T")

INBOX_MAX_MESSAGES = 20_000             # queued and in hand; a status is ~0.4 kB, a batch up to 1 MiB
# Of their payloads and topics: above the broker's 64 QoS 1 messages in flight at 1 MiB each (plus
# topics), so QoS 1 alone never fills it and only a QoS 0 flood (or a slow database) makes paho wait.
INBOX_MAX_BYTES = 96 * 1024 * 1024
# Per kiosk, in bytes: each message counts its payload plus KIOSK_MESSAGE_BYTES; a kiosk may hand
# over KIOSK_BURST_BYTES at once and KIOSK_BYTES_PER_S after that, and KIOSK_DAY_BYTES a day (a
# second bucket of that size, refilled over 24 hours). The shipped broker's plugin refuses the same
# first (firmware_config/mosquitto/kundpuls.conf: why these numbers).
KIOSK_BYTES_PER_S = 64 * 1024
KIOSK_BURST_BYTES = 20 * 1024 * 1024
KIOSK_MESSAGE_BYTES = 8 * 1024
KIOSK_DAY_BYTES = 256 * 1024 * 1024
DAY_S = 86_400.0
# Statuses of one kiosk held aside at once: its kiosk_status row keeps only the newest, but a Last
# Will keeps the counts of the status before it, so that one is kept too (a full status, then
# the will: both written, in order).
STATUSES_KEPT_PER_KIOSK = 2


class Inbox(Generic[T]):
    """(item, size) queued per key (a kiosk), taken round-robin across keys; bounded by items and
    bytes held until `release`d."""

    def __init__(self, max_messages: int = INBOX_MAX_MESSAGES, max_bytes: int = INBOX_MAX_BYTES,
                 keep_latest: int = STATUSES_KEPT_PER_KIOSK) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.keep_latest = keep_latest
        self._cond = threading.Condition()
        # Each key's FIFO; the dict's order is the turn order (a key served goes to the back).
        self._queues: dict[str, deque[tuple[T, int]]] = {}
        # Each key's newest `keep_latest` coalesced items (`put_latest`), not yet in its FIFO.
        self._latest: dict[str, deque[tuple[T, int]]] = {}
        self._queued = 0
        self._held = 0                  # messages put and not yet released
        self._held_bytes = 0
        self._closed = False
        self.blocked = 0                # puts that had to wait for room: the flood's measure

    def put(self, item: T, size: int, key: str = "") -> bool:
        """Queue `item` under `key`, waiting while the inbox is full; False (dropped) once closed."""
        with self._cond:
            if not self._wait_for_room(size):
                return False
            self._queues.setdefault(key, deque()).append((item, size))
            self._queued += 1
            self._hold(size)
            return True

    def put_latest(self, item: T, size: int, key: str) -> list[T] | None:
        """Keep `item` aside as one of `key`'s newest `keep_latest`, waiting while the inbox is
        full (it counts like a queued message); the older items it pushes out are handed back,
        the caller's to acknowledge (never taken). None (dropped) once closed. The items kept join
        `key`'s queue, in order, when the worker starts a group (`get`): a kiosk sending
        thousands of them costs at most `keep_latest` in each group."""
        with self._cond:
            if not self._wait_for_room(size):
                return None
            kept = self._latest.setdefault(key, deque())
            kept.append((item, size))
            self._hold(size)
            pushed_out: list[T] = []
            while len(kept) > self.keep_latest:
                old, old_size = kept.popleft()
                self._held -= 1
                self._held_bytes -= old_size
                pushed_out.append(old)
            return pushed_out

    def _wait_for_room(self, size: int) -> bool:
        """Wait (the lock held) until a message of `size` bytes fits; False once closed."""
        if self._full(size):
            self.blocked += 1
            while self._full(size) and not self._closed:
                self._cond.wait()
        return not self._closed

    def _hold(self, size: int) -> None:
        """Count one more message of `size` bytes as held and wake the worker."""
        self._held += 1
        self._held_bytes += size
        self._cond.notify_all()

    def _full(self, size: int) -> bool:
        """No room for a message of `size` bytes (an empty inbox always has room)."""
        return self._held > 0 and (self._held >= self.max_messages or self._held_bytes + size > self.max_bytes)

    def get(self, timeout: float) -> tuple[T, int, str] | None:
        """The next (item, size, key) in turn, waiting up to `timeout` s for one; None if none came."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._queued or self._latest or self._closed, timeout):
                return None
            self._admit_latest()
            return self._next(())

    def _admit_latest(self) -> None:
        """Move the items kept aside to the back of their keys' queues (already counted as held).
        Only at a group's start (`get`), not in `get_nowait`: at most `keep_latest` per key and
        group, however fast they come."""
        for key, kept in self._latest.items():
            self._queues.setdefault(key, deque()).extend(kept)
            self._queued += len(kept)
        self._latest.clear()

    def get_nowait(self, skip: Container[str] = ()) -> tuple[T, int, str] | None:
        """The next (item, size, key) in turn whose key is not in `skip`; None if there is none."""
        with self._cond:
            return self._next(skip)

    def _next(self, skip: Container[str]) -> tuple[T, int, str] | None:
        """Pop the oldest item of the first key in turn not skipped; that key goes to the back."""
        for key in self._queues:
            if key not in skip:
                break
        else:
            return None
        queue = self._queues.pop(key)
        item, size = queue.popleft()
        if queue:
            self._queues[key] = queue           # re-inserted: last in turn
        self._queued -= 1
        return item, size, key

    def release(self, messages: int, size: int) -> None:
        """The worker is done with `messages` taken items of `size` bytes in all: room again."""
        with self._cond:
            self._held -= messages
            self._held_bytes -= size
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every blocked `put` (its message is dropped: not acked, so the broker keeps it)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def held(self) -> tuple[int, int]:
        """(messages, bytes) put and not yet released."""
        with self._cond:
            return self._held, self._held_bytes


class KioskRates:
    """A token bucket of bytes per kiosk, checked in paho's thread before a message is queued or
    decoded: each kiosk may hand over `burst_bytes` at once and `bytes_per_s` after that, a message
    counting its payload plus `message_bytes` (what the centre spends on a message apart from its
    bytes), and a message larger than the burst counting as the burst (it passes when the bucket
    is full: a kiosk is delayed, never starved). A second bucket, `day_bytes` at once and refilled
    over 24 hours (0: none; at least the burst), bounds what a kiosk kept just under its rate
    stores in a day. Bytes, not messages: a full batch costs the
    centre some 150 times a one-answer one. A message over its kiosk's budget is not taken (an
    infinite rate takes every one): the caller acknowledges it to the broker (its receive maximum
    must not fill with messages never taken) but sends the kiosk no `ack`, so an answer in it stays
    in the kiosk's outbox and is sent again later. Not for statuses: nobody sends a status again
    (`Inbox.put_latest` coalesces them instead). Used by one thread only."""

    def __init__(self, bytes_per_s: float = KIOSK_BYTES_PER_S, burst_bytes: int = KIOSK_BURST_BYTES,
                 message_bytes: int = KIOSK_MESSAGE_BYTES, day_bytes: int = KIOSK_DAY_BYTES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if day_bytes and day_bytes < burst_bytes:
            raise ValueError(f"a day's bytes ({day_bytes}) must hold at least the burst ({burst_bytes})")
        self.bytes_per_s = bytes_per_s
        self.burst_bytes = burst_bytes
        self.message_bytes = message_bytes
        self.day_bytes = day_bytes
        self._clock = clock
        # kiosk -> (tokens, the day's tokens, when counted). One entry per kiosk id seen: the
        # broker lets a credential publish only under its own id, so these are the fleet's kiosks.
        self._buckets: dict[str, tuple[float, float, float]] = {}

    def allow(self, kiosk: str, payload_bytes: int) -> bool:
        """Take what a message of `payload_bytes` costs from both of `kiosk`'s buckets; False
        (nothing taken) when either holds less."""
        if self.bytes_per_s == float("inf"):
            return True                         # no limit (--kiosk-bytes-per-s 0)
        burst, day = float(self.burst_bytes), float(self.day_bytes or "inf")
        cost = min(burst, float(payload_bytes + self.message_bytes))
        now = self._clock()
        tokens, day_tokens, at = self._buckets.get(kiosk, (burst, day, now))
        tokens = min(burst, tokens + (now - at) * self.bytes_per_s)
        day_tokens = min(day, day_tokens + (now - at) * day / DAY_S)
        allowed = tokens >= cost and day_tokens >= cost
        if allowed:
            tokens, day_tokens = tokens - cost, day_tokens - cost
        self._buckets[kiosk] = (tokens, day_tokens, now)
        return allowed
