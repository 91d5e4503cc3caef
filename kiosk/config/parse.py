"""From a kiosk.toml (a file, its text, or a mapping such as a config the centre pushed) to a
`KioskConfig`: the generic pass over every key, then the rules that span keys, then the
settings objects. A broken config raises ConfigError naming the key, the line and what is
wrong; this module never prints and never looks at a pushed config or the environment
(`kiosk.loading` does).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Mapping

from kiosk.config import reader
from kiosk.config.paths import default_data_dir
from kiosk.config.rules import DEVICE_RULES, RULES
from kiosk.config.settings import SECTIONS, KioskConfig, Question, ScheduleEntry
from kiosk.exc import ConfigError
from server_sync.program.files import parse_toml, read_text


def parse_config(data: Mapping[str, Any], text: str | None = None,
                 path: Path | str | None = None, *, on_device: bool = True) -> KioskConfig:
    """Validate a parsed TOML mapping; `text` and `path` let errors name the file and line.
    `on_device=False` (the centre checking a push) leaves out the rules that need the kiosk's
    own wiring (rules.DEVICE_RULES)."""
    doc = reader.read(data, text, path)
    for rule in RULES:
        if on_device or rule not in DEVICE_RULES:
            rule(doc)
    values = doc.values
    kiosk = values["kiosk"]
    return KioskConfig(
        kiosk_id=kiosk["id"], site_id=kiosk["site"],
        data_dir=Path(kiosk["data_dir"]) if kiosk["data_dir"] else default_data_dir(),
        languages=kiosk["languages"], default_language=kiosk["default_language"],
        timezone=kiosk["timezone"],
        questions=tuple(Question(**q) for q in values["questions"]),
        reasons=values["reasons"],
        schedule=tuple(ScheduleEntry.from_values(s) for s in values["schedule"]),
        config_version=values["config_version"],
        source=Path(path) if path else None,
        **{name: section(**values[name]) for name, section in SECTIONS.items()},
    )


def parse_text(text: str, path: Path | str | None = None) -> KioskConfig:
    try:
        data = parse_toml(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise ConfigError(f"TOML syntax error: {e}", line=int(m.group(1)) if m else None,
                          path=str(path) if path else None) from None
    return parse_config(data, text=text, path=path)


def load_file(path: Path | str) -> KioskConfig:
    """A kiosk.toml from disk. It must name its kiosk (`kiosk.id`): an empty or cut-off file
    would otherwise pass with the built-in defaults and record a real kiosk's answers as
    demo-kiosk-1."""
    path = Path(path)
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(path)) from None
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", path=str(path)) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text (byte {e.start})", path=str(path)) from None
    cfg = parse_text(text, path)
    if not _names_its_kiosk(text):
        raise ConfigError("is not set: a kiosk.toml names its kiosk (left out, as in an empty or cut-off file, "
                          "the kiosk would record as demo-kiosk-1)" if text.strip() else
                          "the file is empty: a kiosk.toml names its kiosk ([kiosk] id = …)",
                          key="kiosk.id", path=str(path))
    return cfg


def _names_its_kiosk(text: str) -> bool:
    kiosk = tomllib.loads(text).get("kiosk")
    return isinstance(kiosk, dict) and "id" in kiosk
