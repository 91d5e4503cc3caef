"""The configuration a `kiosk` command runs with. Precedence, for every command: command-line
option (`--config`, `--data-dir`) over environment (`KUNDPULS_CONFIG`, `KUNDPULS_DATA_DIR`) over
the file over built-in defaults; then a newer config the centre pushed (kept in the data
directory) is laid over it (`kiosk.pushed`).

It sits above both `kiosk.config` (which never looks at the environment or a push) and
`kiosk.pushed`, so the two import in one direction only. It never writes a file.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Mapping

from kiosk.config import (PI_DATA_DIR, KioskConfig, default_config_path, default_data_dir, load_file,
                          parse_config, running_on_pi)
from kiosk.demo import demo_config_mapping
from kiosk.exc import ConfigError
from kiosk.pushed import overlay

ENV_CONFIG = "KUNDPULS_CONFIG"
ENV_DATA_DIR = "KUNDPULS_DATA_DIR"


def resolve_config_path(cli_config: str | None, env: Mapping[str, str] | None = None) -> tuple[Path | None, bool]:
    """The config file to read and whether the user named it explicitly (then it must exist)."""
    env = os.environ if env is None else env
    if cli_config:
        return Path(cli_config), True
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]), True
    path = default_config_path()
    return (path if path.exists() else None), False


def load(cli_config: str | None = None, cli_data_dir: str | None = None,
         env: Mapping[str, str] | None = None, demo: bool = False, kind: str | None = None) -> KioskConfig:
    """The effective configuration, with the documented precedence. `kind` (kiosk.usable) is the
    kiosk about to run with it: a saved push that kiosk could not use is left out."""
    env = os.environ if env is None else env
    path, explicit = resolve_config_path(cli_config, env)
    if demo and not explicit:
        cfg = parse_config(demo_config_mapping())
        if not (cli_data_dir or env.get(ENV_DATA_DIR)):
            cfg = cfg.with_data_dir(default_data_dir() / "demo")
    elif path is not None:
        cfg = load_file(path)
    else:
        cfg = parse_config({})
    cfg = effective_data_dir(cfg, cli_data_dir, env)
    if path is None and not demo and production(cfg):
        # A kiosk in a store that lost its kiosk.toml must not go on as demo-kiosk-1.
        raise ConfigError(f"no config file at {default_config_path()}: a kiosk in production runs with its own "
                          "kiosk.toml (provision.sh writes it), never the built-in defaults", key="kiosk.id")
    return overlay(cfg, demo=demo and not explicit, kind=kind)


def effective_data_dir(cfg: KioskConfig, cli_data_dir: str | None, env: Mapping[str, str] | None = None) -> KioskConfig:
    """The config with the data directory the command-line option or the environment chose;
    ConfigError, naming where it came from, when its path is not UTF-8 text (see _not_text)."""
    env = os.environ if env is None else env
    if cli_data_dir:
        cfg, where = cfg.with_data_dir(Path(cli_data_dir)), "--data-dir"
    elif env.get(ENV_DATA_DIR):
        cfg, where = cfg.with_data_dir(Path(env[ENV_DATA_DIR])), f"${ENV_DATA_DIR}"
    elif cfg.source and cfg.data_dir != default_data_dir():
        where = "data_dir"
    else:
        where = "the default data directory"
    if _not_text(cfg.data_dir):
        shown = _shown(cfg.data_dir) + (f" (of {_shown(cfg.source)})" if where == "data_dir" else "")
        raise ConfigError(f"{where} {shown}: the path is not UTF-8 text, as a data directory's must be "
                          "(the kiosk shows and logs it): use a directory whose path is UTF-8")
    return cfg


def _not_text(path: Path) -> bool:
    """Whether `path` holds bytes that are not UTF-8 (os.fsdecode's surrogates). Refused once, here,
    rather than made to work where it first broke (the SQLite URIs of kiosk.store): the data
    directory's path is also printed, logged and written to JSON, and under a UTF-8 locale each of
    those fails on it; a kiosk's directory so named is always a slip. Nothing is made before."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _shown(path: Path | str) -> str:
    """`path` printable: a byte that is not UTF-8 as \\xff."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def production(cfg: KioskConfig) -> bool:
    """A kiosk in a store: on a Raspberry Pi, or with the production data directory."""
    return running_on_pi() or Path(cfg.data_dir) == Path(PI_DATA_DIR)


def load_config(args: argparse.Namespace, demo: bool = False, kind: str | None = None) -> KioskConfig:
    """The effective config for a command, from its `--config`, `--data-dir` and `--demo`."""
    return load(getattr(args, "config", None), getattr(args, "data_dir", None),
                demo=demo or bool(getattr(args, "demo", False)), kind=kind)
