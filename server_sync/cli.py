"""The `kiosk-central` command: its common options and where the central database is; each
subcommand lives in `server_sync/commands/<name>.py` (the skeleton: server_sync.program.cli).

A user mistake prints `kiosk-central: error: …` and exits non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
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
    """The central database's URL of a command (`--db`, else $KUNDPULS_CENTRAL_DB, else the
    default), checked (central.db.check_url): a bad one in the environment is said to be its."""
    from server_sync.central.db import check_url
    from server_sync.exc import CentralConfigError
    given = getattr(args, "db", None)
    if given is not None and not given.strip():       # `--db "$UNSET"`: not the default, a slip
        raise CentralConfigError("--db is empty: give the central database's URL (sqlite:///PATH or "
                                 "postgresql://USER@HOST:PORT/NAME)")
    from_env = not given and bool(os.environ.get(ENV_DB))
    url = given or os.environ.get(ENV_DB) or "sqlite:///central.db"
    try:
        check_url(url)
    except CentralConfigError as e:
        # A URL nobody typed on this command line: the error names where it came from.
        raise CentralConfigError(f"${ENV_DB}: {e}") if from_env else e from None
    if _sqlite_path(url) == ":memory:":       # what a command stored there was gone when it ended
        raise CentralConfigError("a store in memory (sqlite:///:memory:) is lost when the command ends: "
                                 "give a file (sqlite:///PATH) or a PostgreSQL URL")
    return url


def _sqlite_path(url: str) -> str | None:
    """The file of a checked sqlite:///PATH URL (":memory:" too), or None for any other URL."""
    from urllib.parse import unquote, urlparse
    u = urlparse(url)
    return unquote(u.path[1:]) if u.scheme == "sqlite" else None


def connect_new_store(args: argparse.Namespace) -> Any:
    """The central database of a command that may make the store (the services and a chain's
    first registrations), connected: a SQLite file that is not there is made, and where is said on
    stderr as an absolute path (`sqlite:///tmp/c.db` is tmp/c.db under the current directory, a
    slip for sqlite:////tmp/c.db that otherwise went unseen)."""
    from server_sync.central.db import connect, make_sqlite_file
    url = database_url(args)
    path = _sqlite_path(url)
    new = bool(path) and not os.path.exists(path)
    if new:
        make_sqlite_file(path)            # never 0 bytes where a process starting beside looks
    elif path:
        _refuse_empty(path)
    db = connect(url)
    if new:
        print(f"{PROG}: no central database was at {os.path.abspath(path)}: made a new one", file=sys.stderr)
    return db


def existing_database_url(args: argparse.Namespace) -> str:
    """The database URL for a command that works on what is stored (every one but the services
    and a chain's first registrations, docs/central.md): a SQLite file that is not there is a
    mistyped path (or the wrong directory), so say so rather than create an empty database."""
    from server_sync.exc import CentralConfigError
    url = database_url(args)
    path = _sqlite_path(url)
    if path and not os.path.exists(path):
        from server_sync.program.file_access import denied
        # A directory this user may not enter hides the file: that, not "no database".
        raise CentralConfigError(denied(os.path.abspath(path), "central store") or
                                 f"no central database at {os.path.abspath(path)} (check --db or ${ENV_DB}; "
                                 f"the services, `{PROG} ingest`, `serve` and `notify run`, and `site add` and "
                                 f"`region add` create it)")
    if path:
        _refuse_empty(path)
    return url


def _refuse_empty(path: str) -> None:
    """A SQLite file of 0 bytes is a store that lost everything (a full disk, a bad copy), never
    one not made yet: SQLite would take it for a new database and the migrations make an empty
    store of it, which `site list` then called "no sites yet" (as the kiosk refuses its own)."""
    from server_sync.exc import CentralConfigError
    try:
        empty = os.path.isfile(path) and os.path.getsize(path) == 0
    except OSError:
        return                                       # what cannot be looked at, connect says
    if empty:
        raise CentralConfigError(f"the central database {os.path.abspath(path)} is empty (0 bytes), not a central "
                                 f"store: check --db or ${ENV_DB}, or restore it from its backup "
                                 "(docs/deployment.md, A10)")


def store_failure(error: BaseException) -> Any:
    """A failed store met while a command ran (central.dialect.store_failure), imported when met."""
    from server_sync.central.db import SQLITE_PRAGMAS
    from server_sync.central.dialect import store_failure as failure
    return failure(error, SQLITE_PRAGMAS["busy_timeout"])


COMMAND_LINE = CommandLine(PROG, "Kundpuls centre: ingest, fleet, analysis and reports.",
                           __version__, server_sync.commands, common_options, translate=store_failure)


@contextmanager
def central_store(args: argparse.Namespace, *, existing: bool = False) -> Iterator[Any]:
    """The central database of a command (`--db`), closed afterwards. `existing`: a command that
    works on what is stored, which does not create a store (see existing_database_url)."""
    from server_sync.central.db import connect
    db = connect(existing_database_url(args)) if existing else connect_new_store(args)
    try:
        yield db
    finally:
        db.close()


def main(argv: Sequence[str] | None = None) -> int:
    return COMMAND_LINE.main(argv)
