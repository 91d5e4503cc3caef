"""The `kiosk` command: argument parsing and error reporting; each subcommand lives in
`kiosk/commands/<name>.py` and is found by name, so adding one touches no other file.

A user mistake prints `kiosk: error: …` and exits non-zero (2 for usage and config errors);
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

import kiosk.commands
from kiosk import __version__
from kiosk.exc import ConfigError, KioskError

PROG = "kiosk"


def common_options() -> argparse.ArgumentParser:
    """--config and --data-dir, accepted before or after the subcommand."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                   help="kiosk.toml to use (else $KUNDPULS_CONFIG, else the default location)")
    p.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                   help="data directory (else $KUNDPULS_DATA_DIR, else kiosk.data_dir)")
    return p


def command_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(kiosk.commands.__path__) if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(prog=PROG, parents=[common],
                                     description="Kundpuls kiosk: record, inspect and sync customer answers.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_modules():
        module = importlib.import_module(f"kiosk.commands.{name}")
        module.add_parser(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for opt in ("config", "data_dir"):
        if not hasattr(args, opt):
            setattr(args, opt, None)
    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KioskError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def load_config(args: argparse.Namespace, demo: bool = False):
    """The effective config for a command, with the documented precedence."""
    from kiosk import config
    return config.load(getattr(args, "config", None), getattr(args, "data_dir", None),
                       demo=demo or bool(getattr(args, "demo", False)))
