"""The configuration the centre pushed: validated when it arrives, kept in the data directory,
and laid over kiosk.toml.

The sync agent validates a push (`validate_push`) and, when it is valid and newer, saves it here
atomically (`save_pushed`); `overlay` lays it over the file for every command, and a running
program notices a newer one with `PushedConfigWatch` (one `stat` every few seconds while nothing
changed) and decides itself when it is safe to switch. The file's own `config_version` wins when
it is at least the pushed one (a technician's newer edit on the device). A push at or below the
version running is refused aloud (status `config_error`), unless it makes the very config that
runs (`runs_already`: the retained push delivered again): never taken silently for what runs.

Whether a push can be used is decided in one place, `merged_config` (valid as a config and usable
by the kind of kiosk running here, `kiosk.usable`), on receipt, at every start and on a switch.
A saved push that no longer passes it (the file changed under it) is ignored with a log line,
never a reason not to start.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from kiosk.config import KioskConfig, parse_config
from kiosk.demo import demo_config_mapping
from kiosk.durable_file import replace_file
from kiosk.exc import ConfigError
from kiosk.usable import check_usable
from server_sync.program.files import parse_toml, read_text
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
        return parse_toml(read_text(cfg.source))          # as kiosk.config.parse read it
    if demo:
        return demo_config_mapping()
    return {}


def read_pushed(data_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(pushed_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and type(data.get("version")) is int else None


def push_version(payload: bytes) -> int | None:
    """The version a push names, even when the push is refused for another reason (so the
    refusal can say which one); None when it names none."""
    try:
        data = json.loads(payload)
    except (ValueError, TypeError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if type(version) is int else None


def save_pushed(data_dir: Path, pushed: dict[str, Any]) -> None:
    """Write atomically (temp file, fsync, rename): a power cut leaves the old or the new file.
    Raises OSError when it cannot (a full or read-only card) and then leaves no temp file behind."""
    replace_file(pushed_path(data_dir), json.dumps(pushed, ensure_ascii=False, indent=1))


def merged_config(base: Mapping[str, Any], pushed: Mapping[str, Any], kind: str | None,
                  path: Path | None = None) -> KioskConfig:
    """The config `pushed` makes over the file's mapping `base`, if a kiosk of `kind` (None: not
    known) can run with it: the one rule for a push, applied when it arrives, at every start and
    on a switch. Raises ConfigError (or, for shapes parse_config does not expect, one of
    `_UNUSABLE`) otherwise."""
    cfg = parse_config(merge_pushed_config(base, pushed), path=path)
    check_usable(cfg, kind)
    return cfg


def unusable_reason(e: Exception) -> str:
    return str(e) if isinstance(e, ConfigError) else f"{type(e).__name__}: {e}"


def validate_push(base: Mapping[str, Any], payload: bytes, current_version: int,
                  kind: str | None = None) -> tuple[dict[str, Any], KioskConfig]:
    """Decode a config push and check it makes a config newer than `current_version` that a kiosk
    of `kind` can use. Returns (pushed mapping, the config it makes); raises ProtocolError with
    the reason to report."""
    pushed = decode_config(payload)
    if pushed["version"] <= current_version:
        raise ProtocolError(f"config version {pushed['version']} is not newer than the applied {current_version}")
    try:
        cfg = merged_config(base, pushed, kind)
    except _UNUSABLE as e:
        raise ProtocolError(f"invalid config: {unusable_reason(e)}") from None
    return pushed, cfg


def file_version(base: Mapping[str, Any]) -> int:
    """The config_version of the file's mapping `base` (0 when it has none that is a number)."""
    version = base.get("config_version", 0)
    return version if type(version) is int else 0


def runs_already(base: Mapping[str, Any], payload: bytes, data_dir: Path, version: int) -> bool:
    """Whether the push `payload` makes the very config this kiosk runs at `version`: the file
    `base`, or the saved push laid over it when that is what runs. True for a retained push
    delivered again, which is let be. A push at the version the kiosk runs that would change
    anything is not (a first push at 1 to a kiosk whose file is at 1): the caller refuses it
    aloud rather than take it for the config it has."""
    try:
        pushed = decode_config(payload)
    except ProtocolError:
        return False
    saved = read_pushed(data_dir)
    # The file wins when its version is at least the saved push's (a technician's edit).
    runs_saved = saved is not None and saved["version"] == version > file_version(base)
    running = merge_pushed_config(base, saved) if runs_saved else base
    return merge_pushed_config(base, pushed) == running


def saved_push_check(base: Mapping[str, Any], data_dir: Path, kind: str | None) -> tuple[int, str | None] | None:
    """The saved push against the file `base`: None when there is none newer than the file;
    else (its version, None) when a kiosk of `kind` can use it, or (its version, the reason)
    when it no longer can (the file changed since it was accepted, or the kiosk here is another
    kind)."""
    pushed = read_pushed(data_dir)
    if pushed is None or pushed["version"] <= file_version(base):
        return None
    try:
        merged_config(base, pushed, kind)
    except _UNUSABLE as e:
        return pushed["version"], unusable_reason(e)
    return pushed["version"], None


def _laid_over(cfg: KioskConfig, pushed: Mapping[str, Any], base: Mapping[str, Any],
               kind: str | None) -> KioskConfig:
    # The file's relative paths are still taken from its directory (cfg.source).
    return replace(merged_config(base, pushed, kind, path=cfg.source), data_dir=cfg.data_dir)


def overlay(cfg: KioskConfig, demo: bool = False, kind: str | None = None) -> KioskConfig:
    """`cfg` with the saved pushed config laid over it, when there is a newer one that a kiosk of
    `kind` (None: any command that only reads the config) can use; else `cfg` as it is."""
    pushed = read_pushed(cfg.data_dir)
    if pushed is None or pushed["version"] <= cfg.config_version:
        return cfg
    try:
        return _laid_over(cfg, pushed, file_mapping(cfg, demo), kind)
    except _UNUSABLE as e:
        # A kiosk starting says so in its log; another command just runs with the file.
        log.log(logging.WARNING if kind else logging.INFO,
                "saved push version %d not used (no longer valid with %s): %s", pushed["version"],
                cfg.source or "the built-in config", unusable_reason(e))
        return cfg


class PushedConfigWatch:
    """Polled from a main loop with monotonic seconds; `poll()` returns a newer config or None.
    It never writes the file and never touches the store."""

    def __init__(self, cfg: KioskConfig, *, demo: bool = False, base: Mapping[str, Any] | None = None,
                 every_s: float = CHECK_EVERY_S, kind: str | None = None) -> None:
        self.cfg = cfg
        self.demo = demo
        self.kind = kind                      # the kind of kiosk that would switch (kiosk.usable)
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
            return _laid_over(self.cfg, pushed, base, self.kind)
        except _UNUSABLE as e:
            log.warning("pushed config version %s not applied: %s", pushed.get("version"), unusable_reason(e))
            return None

    def applied(self, cfg: KioskConfig) -> None:
        """The caller switched to `cfg`; later pushes are compared with its version."""
        self.cfg = cfg
