"""The `kiosk` command: its common options; each subcommand lives in `kiosk/commands/<name>.py`
(the skeleton: server_sync.program.cli) and finds its config with `kiosk.loading.load_config`.

A user mistake prints `kiosk: error: …` and exits non-zero (2 for usage and config errors);
never a traceback, also when standard output cannot be written (server_sync.program.standard_output).
"""

from __future__ import annotations

import argparse
from typing import Sequence

import kiosk.commands
from kiosk import __version__
from kiosk.lean_imports import postgres_drivers_hidden
from server_sync.program.cli import CommandLine, nonempty

PROG = "kiosk"


def common_options() -> argparse.ArgumentParser:
    """--config and --data-dir, accepted before or after the subcommand."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", type=nonempty, metavar="PATH", default=argparse.SUPPRESS,
                   help="kiosk.toml to use (else $KUNDPULS_CONFIG, else the default location)")
    p.add_argument("--data-dir", type=nonempty, metavar="DIR", default=argparse.SUPPRESS,
                   help="data directory (else $KUNDPULS_DATA_DIR, else kiosk.data_dir)")
    return p


def card_failure_anywhere(error: BaseException):
    """A failed SD card met outside the store's own statements (a row read while scanning), or
    the database held by another program past busy_timeout (a sqlite3 shell, a backup: the kiosk's
    own services hold it for milliseconds), as the error to print; None: a bug."""
    from kiosk.exc import StoreError
    from kiosk.store import PRAGMAS, card_failure, sqlite_error_name
    if sqlite_error_name(error) in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return StoreError(f"the kiosk database is held by another program for more than "
                          f"{PRAGMAS['busy_timeout'] // 1000} s (a sqlite3 shell, a backup?); try again when it is done")
    return card_failure(error, "in the data directory")


COMMAND_LINE = CommandLine(PROG, "Kundpuls kiosk: record, inspect and sync customer answers.",
                           __version__, kiosk.commands, common_options, translate=card_failure_anywhere)


def main(argv: Sequence[str] | None = None) -> int:
    # No kiosk command uses PostgreSQL: peewee is loaded without its drivers (kiosk.lean_imports).
    with postgres_drivers_hidden():
        return COMMAND_LINE.main(argv)
