"""Notices, while a kiosk program runs, that the sync agent saved a newer pushed config.

The sync agent (a separate process, which systemd does not let restart the kiosk) saves a
config the centre pushed to `data_dir/pushed-config.json` (kiosk.pushed). `PushedConfigWatch`
looks at that file's stat every few seconds (one `stat`, no read, while nothing changed) and,
when it changed and carries a higher version, returns the new effective config. The caller
decides when it is safe to switch. It never writes the file and never touches the store.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from typing import Any, Mapping

from kiosk.config import KioskConfig, parse_config
from kiosk.exc import ConfigError
from kiosk.pushed import file_mapping, pushed_path, read_pushed

log = logging.getLogger(__name__)

CHECK_EVERY_S = 5.0


class PushedConfigWatch:
    """Polled from a main loop with monotonic seconds; `poll()` returns a newer config or None."""

    def __init__(self, cfg: KioskConfig, *, demo: bool = False, base: Mapping[str, Any] | None = None,
                 every_s: float = CHECK_EVERY_S) -> None:
        self.cfg = cfg
        self.demo = demo
        self.base = base                      # the mapping under the push (tests); else the file
        self.every_s = every_s
        self._next: float | None = None
        self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(pushed_path(self.cfg.data_dir))
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def poll(self, now_s: float) -> KioskConfig | None:
        """The new effective config when a newer valid push arrived since the last look."""
        if self._next is not None and now_s < self._next:
            return None
        self._next = now_s + self.every_s
        stamp = self._file_stamp()
        if stamp is None or stamp == self._stamp:
            return None
        self._stamp = stamp
        pushed = read_pushed(self.cfg.data_dir)
        if pushed is None or pushed["version"] <= self.cfg.config_version:
            return None
        from server_sync.protocol import merge_pushed_config
        try:
            base = self.base if self.base is not None else file_mapping(self.cfg, self.demo)
            merged = parse_config(merge_pushed_config(base, pushed))
        except (ConfigError, OSError, ValueError, TypeError, AttributeError, KeyError) as e:
            log.warning("pushed config version %s not applied: %s", pushed.get("version"), e)
            return None
        return replace(merged, data_dir=self.cfg.data_dir, source=self.cfg.source)

    def applied(self, cfg: KioskConfig) -> None:
        """The caller switched to `cfg`; later pushes are compared with its version."""
        self.cfg = cfg
