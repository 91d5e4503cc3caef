"""The skeleton both commands are built on (server_sync.program.cli): an option's value may start
with '-' (`--since -5d`, `--name -x`, `--webhook-timeout -inf`) and then reads as `--since=-5d`,
so the option's own type says what is wrong with it, for every option of `kiosk` and
`kiosk-central` alike (argparse said only `expected one argument`)."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import pytest

from kiosk.cli import COMMAND_LINE as KIOSK
from server_sync.cli import COMMAND_LINE as CENTRAL

DASHED = "-5d"


def one_value_options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(the subcommand's words, an option string) for every option taking one value, at every level."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from one_value_options(sub, (*path, name))
        elif action.option_strings and action.nargs is None:
            yield from ((path, s) for s in action.option_strings)


def outcome(parser: argparse.ArgumentParser, argv: list[str]) -> tuple:
    """What parsing `argv` gives: the namespace, or the exit code and the error line."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return ("parsed", vars(parser.parse_args(argv)))
        except SystemExit as e:
            return ("exit", e.code, err.getvalue().splitlines()[-1])


@pytest.mark.parametrize("command_line", [KIOSK, CENTRAL], ids=lambda c: c.prog)
def test_a_value_starting_with_a_dash_is_the_options_value(command_line):
    parser = command_line.build_parser()
    options = list(one_value_options(parser))
    assert len(options) > 30                                          # the walk sees them
    differ = []
    for path, option in options:
        spaced = outcome(parser, [*path, option, DASHED])
        joined = outcome(parser, [*path, f"{option}={DASHED}"])
        if spaced != joined:
            differ.append(f"{' '.join(path)} {option} {DASHED}: {spaced[-1]!r}, not {joined[-1]!r}")
    assert not differ, "\n".join(differ)


@pytest.mark.parametrize("argv, error", [
    (["stats", "--since", "--json"], "kiosk stats: error: argument --since: expected one argument"),
    (["stats", "--since", "-h"], "kiosk stats: error: argument --since: expected one argument"),
    (["sync", "--timeout", "-v"], "kiosk sync: error: argument --timeout: expected one argument"),
    (["export", "--since", "-o", "x"], "kiosk export: error: argument --since: expected one argument"),
])
def test_an_option_after_an_option_is_still_an_option(argv, error):
    """A forgotten value is said as before: the word after it is one of the command's options."""
    assert outcome(KIOSK.build_parser(), argv) == ("exit", 2, error)


def test_a_dashed_value_before_the_subcommand_and_after_it():
    parser = KIOSK.build_parser()
    args = parser.parse_args(["--config", "-odd.toml", "export", "-o", "-x.jsonl"])   # -o: export's, not the top's
    assert (args.config, args.output) == ("-odd.toml", "-x.jsonl")
    args = parser.parse_args(["--data-dir", "stats", "stats", "--question", "-x"])   # a value named like a command
    assert (args.data_dir, args.command, args.question) == ("stats", "stats", "-x")
    assert outcome(parser, ["stats", "--sin", DASHED])[-1].endswith("argument --since: '-5d': must be a positive "
                                                                   "duration like 7d")


@pytest.mark.parametrize("command_line, argv, error", [
    # Bytes that are not UTF-8 (surrogate-escaped by Python): a traceback where they reached the database.
    (KIOSK, ["refused", "retry", "--reason", "\udcff"], "kiosk: error: argument b'\\xff' is not UTF-8 text"),
    (CENTRAL, ["site", "add", "s9", "--name", "\udcff\udcfe"],
     "kiosk-central: error: argument b'\\xff\\xfe' is not UTF-8 text"),
    # An empty value (an unset shell variable) was taken as not given.
    (KIOSK, ["--config", "", "simulate"], "kiosk: error: argument --config: must not be empty"),
    (KIOSK, ["stats", "--question", ""], "kiosk stats: error: argument --question: must not be empty"),
    (CENTRAL, ["report", "--site", ""], "kiosk-central report: error: argument --site: must not be empty"),
    (CENTRAL, ["report", "--output", " "], "kiosk-central report: error: argument --output/-o: must not be empty"),
    # nan, inf and 1e309 passed `float` and a `> 0` check: a worker's traceback, a wait for ever.
    (CENTRAL, ["serve", "--idle-minutes", "nan"],
     "kiosk-central serve: error: argument --idle-minutes: nan must be more than 0 and at most 10080 minutes"),
    (CENTRAL, ["serve", "--cache-seconds", "1e309"],
     "kiosk-central serve: error: argument --cache-seconds: 1e309 is not between 0 and 86400 seconds"),
    (CENTRAL, ["ingest", "--kiosk-bytes-per-s", "inf"],
     "kiosk-central ingest: error: argument --kiosk-bytes-per-s: inf is not between 0 and 1e+12 bytes a second"),
    (KIOSK, ["sync", "--once", "--timeout", "inf"],
     "kiosk sync: error: argument --timeout: must be more than 0 and at most 86400 seconds, got inf"),
])
def test_text_that_is_not_utf8_an_empty_value_and_an_endless_number_are_said(command_line, argv, error):
    result = outcome(command_line.build_parser(), argv)
    assert result[:2] == ("exit", 2) and result[2].startswith(error), result


@pytest.mark.parametrize("argv, stdin", [
    (["kiosk", "pin", "hash", "--stdin"], "7391\n"),
    (["kiosk-central", "--db", "sqlite:///{tmp}/central.db", "site", "add", "s1", "--name", "Växjö"], ""),
], ids=["kiosk", "kiosk-central"])
def test_standard_output_that_cannot_be_written_is_said_not_a_traceback(tmp_path, argv, stdin):
    """A full disk under `> file` (here /dev/full): `prog: error: cannot write to standard
    output: …`, exit 1, and nothing more from Python's own flush at exit."""
    import shutil
    import subprocess
    import sys
    exe = shutil.which(argv[0], path=str(Path(sys.executable).parent))
    if argv[0] == "kiosk-central":          # a store there already: no note that one was made
        from server_sync.central.db import connect
        connect(f"sqlite:///{tmp_path}/central.db").close()
    with open("/dev/full", "w") as full:
        done = subprocess.run([exe, *(a.format(tmp=tmp_path) for a in argv[1:])], input=stdin, stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == f"{argv[0]}: error: cannot write to standard output: No space left on device\n"
