"""The configuration the centre pushed: validated when it arrives, kept in the data directory,
and laid over kiosk.toml.

The sync agent validates a push (`validate_push`) and, when it is valid and newer, saves it here
atomically (`save_pushed`); `overlay` lays it over the file for every command, and a running
program notices a newer one with `PushedConfigWatch` (one `stat` every few seconds while nothing
changed) and decides itself when it is safe to switch. The file's own `config_version` wins when
it is at least the pushed one (a technician's newer edit on the device). A pushed file that no
longer validates is ignored, never a reason not to start.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from kiosk.config import KioskConfig, parse_config
from kiosk.demo import demo_config_mapping
from kiosk.exc import ConfigError
from server_sync.protocol import ProtocolError, decode_config, merge_pushed_config

log = logging.getLogger(__name__)

PUSHED_FILE = "pushed-config.json"
CHECK_EVERY_S = 5.0
# What a broken push (or a file that cannot be read) raises while it is laid over the config.
_UNUSABLE = (ConfigError, OSError, ValueError, TypeError, AttributeError, KeyError)


def pushed_path(data_dir: Path) -> Path:
    return Path(data_dir) / PUSHED_FILE


def file_mapping(cfg: KioskConfig, demo: bool = False) -> dict[str, Any]:
    """The kiosk.toml mapping `cfg` was parsed from (demo mapping, file, or built-in defaults)."""
    if cfg.source is not None:
        return tomllib.loads(Path(cfg.source).read_text(encoding="utf-8"))
    if demo:
        return demo_config_mapping()
    return {}


def read_pushed(data_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(pushed_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and type(data.get("version")) is int else None


def save_pushed(data_dir: Path, pushed: dict[str, Any]) -> None:
    """Write atomically (temp file, fsync, rename): a power cut leaves the old or the new file."""
    path = pushed_path(data_dir)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(pushed, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def validate_push(base: Mapping[str, Any], payload: bytes, current_version: int) -> tuple[dict[str, Any], KioskConfig]:
    """Decode a config push and check it makes a valid config newer than `current_version`.
    Returns (pushed mapping, the config it makes); raises ProtocolError with the reason to report."""
    pushed = decode_config(payload)
    if pushed["version"] <= current_version:
        raise ProtocolError(f"config version {pushed['version']} is not newer than the applied {current_version}")
    try:
        cfg = parse_config(merge_pushed_config(base, pushed))
    except ConfigError as e:
        raise ProtocolError(f"invalid config: {e}") from None
    except (TypeError, AttributeError, KeyError) as e:   # shapes parse_config does not expect
        raise ProtocolError(f"invalid config: {type(e).__name__}: {e}") from None
    return pushed, cfg


def _laid_over(cfg: KioskConfig, pushed: Mapping[str, Any], base: Mapping[str, Any]) -> KioskConfig:
    # The file's relative paths are still taken from its directory (cfg.source).
    merged = parse_config(merge_pushed_config(base, pushed), path=cfg.source)
    return replace(merged, data_dir=cfg.data_dir)


def overlay(cfg: KioskConfig, demo: bool = False) -> KioskConfig:
    """`cfg` with the saved pushed config laid over it, when there is a newer valid one."""
    pushed = read_pushed(cfg.data_dir)
    if pushed is None or pushed["version"] <= cfg.config_version:
        return cfg
    try:
        return _laid_over(cfg, pushed, file_mapping(cfg, demo))
    except _UNUSABLE:
        return cfg


class PushedConfigWatch:
    """Polled from a main loop with monotonic seconds; `poll()` returns a newer config or None.
    It never writes the file and never touches the store."""

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
        try:
            base = self.base if self.base is not None else file_mapping(self.cfg, self.demo)
            return _laid_over(self.cfg, pushed, base)
        except _UNUSABLE as e:
            log.warning("pushed config version %s not applied: %s", pushed.get("version"), e)
            return None

    def applied(self, cfg: KioskConfig) -> None:
        """The caller switched to `cfg`; later pushes are compared with its version."""
        self.cfg = cfg
