"""Where the kiosk keeps its files when the configuration does not say: the data directory and
the config file, on a Raspberry Pi and elsewhere (XDG). Reads the environment, never writes.
"""

from __future__ import annotations

import os
from pathlib import Path

PI_DATA_DIR = "/var/lib/kundpuls"
PI_CONFIG_FILE = "/etc/kundpuls/kiosk.toml"


def running_on_pi() -> bool:
    try:
        return "Raspberry Pi" in Path("/proc/device-tree/model").read_text(errors="ignore")
    except OSError:
        return False


def default_data_dir() -> Path:
    if running_on_pi():
        return Path(PI_DATA_DIR)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kundpuls"


def default_config_path() -> Path:
    if running_on_pi():
        return Path(PI_CONFIG_FILE)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kundpuls" / "kiosk.toml"
