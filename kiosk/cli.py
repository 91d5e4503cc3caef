"""The `kiosk` command: its common options; each subcommand lives in `kiosk/commands/<name>.py`
(the skeleton: server_sync.program.cli) and finds its config with `kiosk.loading.load_config`.

A user mistake prints `kiosk: error: …` and exits non-zero (2 for usage and config errors);
never a traceback. So does standard output that cannot be written (`kiosk.standard_output`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Sequence

import kiosk.commands
from kiosk import __version__
from kiosk.exc import KioskError
from kiosk.standard_output import READER_GONE, StandardOutput
from server_sync.program.cli import CommandLine

PROG = "kiosk"


def common_options() -> argparse.ArgumentParser:
    """--config and --data-dir, accepted before or after the subcommand."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                   help="kiosk.toml to use (else $KUNDPULS_CONFIG, else the default location)")
    p.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                   help="data directory (else $KUNDPULS_DATA_DIR, else kiosk.data_dir)")
    return p


def card_failure_anywhere(error: BaseException):
    """A failed SD card met outside the store's own statements (a row read while scanning)."""
    from kiosk.store import card_failure
    return card_failure(error, "in the data directory")


COMMAND_LINE = CommandLine(PROG, "Kundpuls kiosk: record, inspect and sync customer answers.",
                           __version__, kiosk.commands, common_options, translate=card_failure_anywhere)


def main(argv: Sequence[str] | None = None) -> int:
    out = StandardOutput(sys.stdout)
    sys.stdout = out
    code = 0
    try:
        code = COMMAND_LINE.main(argv)
        out.flush()                 # the last buffered lines fail here, while we can say so
    except OSError:
        if not out.failed:
            raise                   # not standard output's: a bug, to be seen
    except SystemExit:              # argparse's own exit: help, version or a usage error
        with contextlib.suppress(OSError):
            out.flush()             # argparse ignores a failed write of its own
        if not out.failed:
            raise
    finally:
        sys.stdout = out.stream
    if out.failed:
        out.discard()
    if out.reader_gone:
        return READER_GONE
    if out.error:
        return COMMAND_LINE.fail(KioskError(f"cannot write to standard output: {out.error}"), 1)
    return code
