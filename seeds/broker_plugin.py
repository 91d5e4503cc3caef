"""The broker's per-kiosk rate limit plugin (firmware_config/mosquitto/ratelimit/), built for a
broker started outside a real installation: `make demo` and the tests that run the shipped
kundpuls.conf. Production builds and installs it once (docs/deployment.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent.parent / "firmware_config" / "mosquitto" / "ratelimit"
# Where the shipped kundpuls.conf loads it from (`make install` puts it there).
INSTALLED = "/usr/local/lib/kundpuls/kundpuls_ratelimit.so"


def build_rate_limit_plugin() -> Path:
    """The plugin, built by its Makefile (again only when its source or mosquitto's headers changed)."""
    proc = subprocess.run(["make", "-s", "-C", str(SOURCE_DIR)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("cannot build the broker's rate limit plugin (needs gcc, mosquitto-dev and "
                           f"libmosquitto-dev: .ci/system-deps.sh):\n{proc.stdout}{proc.stderr}")
    return SOURCE_DIR / "kundpuls_ratelimit.so"


def with_built_plugin(conf_text: str) -> str:
    """A kundpuls.conf's text loading the plugin built here instead of the installed one."""
    if INSTALLED not in conf_text:
        raise ValueError(f"kundpuls.conf no longer loads {INSTALLED}")
    return conf_text.replace(INSTALLED, str(build_rate_limit_plugin()))
