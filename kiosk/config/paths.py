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
    return xdg_base("XDG_DATA_HOME", Path.home() / ".local" / "share") / "kundpuls"


def default_config_path() -> Path:
    if running_on_pi():
        return Path(PI_CONFIG_FILE)
    return xdg_base("XDG_CONFIG_HOME", Path.home() / ".config") / "kundpuls" / "kiosk.toml"


def xdg_base(variable: str, default: Path) -> Path:
    """The XDG base directory `variable` names, or `default` when it is unset, empty or relative:
    the XDG spec calls a relative path invalid, to be ignored (taken as it was, the kiosk's
    database moved with the directory a command was started in)."""
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else default
