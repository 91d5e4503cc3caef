"""The `kiosk-central` command: its common options and where the central database is; each
subcommand lives in `server_sync/commands/<name>.py` (the skeleton: server_sync.program.cli).

A user mistake prints `kiosk-central: error: …` and exits non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import os
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import server_sync.commands
from server_sync import __version__
from server_sync.program.cli import CommandLine

PROG = "kiosk-central"
ENV_DB = "KUNDPULS_CENTRAL_DB"


def common_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--db", metavar="URL", default=argparse.SUPPRESS,
                   help=f"central database: sqlite:///PATH or postgresql://USER@HOST:PORT/NAME "
                        f"(else ${ENV_DB}, else sqlite:///central.db in the current directory)")
    return p


def database_url(args: argparse.Namespace) -> str:
    given = getattr(args, "db", None)
    if given is not None and not given.strip():       # `--db "$UNSET"`: not the default, a slip
        from server_sync.exc import CentralConfigError
        raise CentralConfigError("--db is empty: give the central database's URL (sqlite:///PATH or "
                                 "postgresql://USER@HOST:PORT/NAME)")
    return given or os.environ.get(ENV_DB) or "sqlite:///central.db"


def existing_database_url(args: argparse.Namespace) -> str:
    """The database URL for a command that works on what is stored (every one but the services
    and a chain's first registrations, docs/central.md): a SQLite file that is not there is a
    mistyped path (or the wrong directory), so say so rather than create an empty database."""
    from urllib.parse import unquote

    from server_sync.central.db import parse_url
    from server_sync.exc import CentralConfigError
    url = database_url(args)
    u = parse_url(url)                   # a bad port or [IPv6] is a bad URL, not urllib's ValueError
    if u.scheme == "sqlite" and not u.netloc:
        path = unquote(u.path[1:])
        if path and path != ":memory:" and not os.path.exists(path):
            raise CentralConfigError(f"no central database at {path} (check --db or ${ENV_DB}; "
                                     f"`{PROG} ingest` or `{PROG} site add` creates it)")
    return url


COMMAND_LINE = CommandLine(PROG, "Kundpuls centre: ingest, fleet, analysis and reports.",
                           __version__, server_sync.commands, common_options)


@contextmanager
def central_store(args: argparse.Namespace, *, existing: bool = False) -> Iterator[Any]:
    """The central database of a command (`--db`), closed afterwards. `existing`: a command that
    works on what is stored, which does not create a store (see existing_database_url)."""
    from server_sync.central.db import connect
    db = connect(existing_database_url(args) if existing else database_url(args))
    try:
        yield db
    finally:
        db.close()


def main(argv: Sequence[str] | None = None) -> int:
    return COMMAND_LINE.main(argv)
