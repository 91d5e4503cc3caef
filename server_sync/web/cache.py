"""A small per-worker cache of computed figures (report dicts), keyed by what they depend on:
the sites, the filters and the sites' live marks. A new answer moves a mark, so the next request
computes afresh; `seconds` bounds how long anything else (an alert or action added by a command,
midnight) can stay unseen. Keys always include the sites, so one person's figures are never
served to another who may see other sites. `seconds = 0` turns it off.
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
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        if self.seconds <= 0:
            return build()
        now = time.monotonic()
        with self._lock:
            item = self._items.get(key)
            if item is not None and now - item[0] < self.seconds:
                self._items.move_to_end(key)
                self.hits += 1
                return item[1]
            self.misses += 1
        value = build()            # outside the lock: two threads may build the same once
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value
