"""A small per-worker cache of computed figures (report dicts), keyed by what they depend on:
the sites, the filters and the sites' live marks. A new answer moves a mark, so the next request
computes afresh; `seconds` bounds how long anything else (an alert or action added by a command,
midnight) can stay unseen. Keys always include the sites, so one person's figures are never
served to another who may see other sites. `seconds = 0` turns it off.

A key is built by one thread at a time: the others asking for it meanwhile wait for that
result instead of computing the same figures again (when the cache is cold or an entry has just
expired under 50 users, every database thread of the worker computed the same report at once).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable


class FiguresCache:
    def __init__(self, seconds: float = 30.0, size: int = 64) -> None:
        self.seconds = seconds
        self.size = size
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._building: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = self.waits = 0

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        if self.seconds <= 0:
            return build()
        while True:
            with self._lock:
                item = self._items.get(key)
                if item is not None and time.monotonic() - item[0] < self.seconds:
                    self._items.move_to_end(key)
                    self.hits += 1
                    return item[1]
                building = self._building.get(key)
                if building is None:
                    self._building[key] = done = threading.Event()
                    self.misses += 1
                    break
                self.waits += 1
            building.wait()            # then the fresh entry (or, had the build failed, our own try)
        try:
            value = build()            # outside the lock: other keys are served meanwhile
            with self._lock:
                self._items[key] = (time.monotonic(), value)
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            return value
        finally:
            with self._lock:
                del self._building[key]
            done.set()
