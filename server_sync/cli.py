"""The `kiosk-central` command; subcommands are modules in `server_sync/commands/` found by name
(each with `add_parser(sub, common)` setting `func`), so adding one touches no other file.

A user mistake prints `kiosk-central: error: …` and exits non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from typing import Sequence

import server_sync.commands
from kiosk.exc import ConfigError, KioskError
from server_sync import __version__

PROG = "kiosk-central"
ENV_DB = "KUNDPULS_CENTRAL_DB"


def common_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--db", metavar="URL", default=argparse.SUPPRESS,
                   help=f"central database: sqlite:///PATH or postgresql://USER@HOST:PORT/NAME "
                        f"(else ${ENV_DB}, else sqlite:///central.db in the current directory)")
    return p


def database_url(args: argparse.Namespace) -> str:
    return getattr(args, "db", None) or os.environ.get(ENV_DB) or "sqlite:///central.db"


def existing_database_url(args: argparse.Namespace) -> str:
    """The database URL for a command that only reads or annotates what ingest stored: a SQLite
    file that is not there is a mistyped path (or the wrong directory), so say so rather than
    create an empty database and report nothing."""
    from urllib.parse import unquote, urlparse

    from server_sync.exc import CentralConfigError
    url = database_url(args)
    u = urlparse(url)
    if u.scheme == "sqlite" and not u.netloc:
        path = unquote(u.path[1:])
        if path and path != ":memory:" and not os.path.exists(path):
            raise CentralConfigError(f"no central database at {path} (check --db or ${ENV_DB}; "
                                     f"`{PROG} ingest` or `{PROG} site add` creates it)")
    return url


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(prog=PROG, parents=[common],
                                     description="Kundpuls centre: ingest, fleet, analysis and reports.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for m in sorted(pkgutil.iter_modules(server_sync.commands.__path__), key=lambda m: m.name):
        if not m.name.startswith("_"):
            importlib.import_module(f"server_sync.commands.{m.name}").add_parser(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KioskError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
