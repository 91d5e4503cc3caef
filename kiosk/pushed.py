"""The configuration the centre pushed, kept in the data directory and laid over kiosk.toml.

The sync agent validates a push (`server_sync.protocol.validate_pushed_config`) and, when it is
valid and newer, saves it here atomically; `kiosk.config.load` then lays it over the file for
every command, so the app asks the pushed questions after its next start. The file's own
`config_version` wins when it is at least the pushed one (a technician's newer edit on the
device). A pushed file that no longer validates is ignored, never a reason not to start.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig, parse_config
from kiosk.exc import ConfigError

PUSHED_FILE = "pushed-config.json"


def pushed_path(data_dir: Path) -> Path:
    return Path(data_dir) / PUSHED_FILE


def file_mapping(cfg: KioskConfig, demo: bool = False) -> dict[str, Any]:
    """The kiosk.toml mapping `cfg` was parsed from (demo mapping, file, or built-in defaults)."""
    if cfg.source is not None:
        return tomllib.loads(Path(cfg.source).read_text(encoding="utf-8"))
    if demo:
        from seeds.demo import demo_config_mapping
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


def overlay(cfg: KioskConfig, demo: bool = False) -> KioskConfig:
    """`cfg` with the saved pushed config laid over it, when there is a newer valid one."""
    pushed = read_pushed(cfg.data_dir)
    if pushed is None or pushed["version"] <= cfg.config_version:
        return cfg
    from server_sync.protocol import merge_pushed_config
    try:
        merged = parse_config(merge_pushed_config(file_mapping(cfg, demo), pushed))
    except (ConfigError, OSError, ValueError, TypeError, AttributeError, KeyError):
        return cfg
    return replace(merged, data_dir=cfg.data_dir, source=cfg.source)
