"""The command-line skeleton both commands (`kiosk`, `kiosk-central`) are built on: subcommands
are the modules of a package, each with `add_parser(subparsers, common)` setting `func`, found by
name (adding one touches no other file); `main(argv=None) -> int`.

A user mistake prints `prog: error: …` and exits non-zero, never a traceback: 2 for a wrong
setting or argument (argparse's own code), 1 for anything else Kundpuls refuses on purpose. So
does standard output that cannot be written (`standard_output`); a reader gone early (`| head`)
ends the command quietly with 141, as SIGPIPE ends a Unix tool.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import pkgutil
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Sequence

from server_sync.program.standard_output import READER_GONE, StandardOutput
from server_sync.program.numbers import plain_whole_number
from server_sync.protocol.errors import KundpulsError, SettingError


def nonempty(text: str) -> str:
    """An argparse type for a name, an id or a path that cannot be empty: `--config ""` (an unset
    shell variable) was taken as not given and fell back to the defaults, `--site ""` as the
    whole chain."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


STANDARD_STREAM = "-"             # standard output as a FILE to write, standard input as one to read


def output_file(text: str) -> str | None:
    """An argparse type for `--output FILE`: a path that cannot be empty, or '-' for standard
    output (None, as when the option is not given), as Unix tools read it: `-o -` wrote a file
    named '-'."""
    return None if text == STANDARD_STREAM else nonempty(text)


def whole_number(text: str) -> int:
    """An argparse type: a whole number as a person types it (`numbers.plain_whole_number`, a '-'
    allowed); the command's own type bounds it."""
    value = plain_whole_number(text, 40, signed=True)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return value


class CommandParser(argparse.ArgumentParser):
    """argparse, but a value that starts with a single '-' belongs to the option before it:
    `--since -5d` is `--since=-5d`, so the option's type says what is wrong with -5d (argparse took
    it for an option it does not know and said only `expected one argument`). A word this parser
    knows as an option (`--name -h`), or one starting with '--', stays an option. Each subcommand's
    parser is of this class too (argparse makes them of their parent's) and joins its own options."""

    _commands: argparse.Action | None = None

    def add_subparsers(self, **kwargs):
        self._commands = super().add_subparsers(**kwargs)
        return self._commands

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        for arg in args:
            # Bytes that are not UTF-8 reach Python as lone surrogates, which no database and no
            # UTF-8 file can hold: refused here once, in words, for every command.
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:
                raw = arg.encode("utf-8", "surrogateescape")
                self.error(f"argument {raw!r} is not UTF-8 text; use UTF-8 (as the terminal's locale should)")
        return super().parse_known_args(self._values_joined(args), namespace)

    def _values_joined(self, args: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(args):
            token = args[i]
            if token == "--" or (self._commands is not None and token in self._commands.choices):
                return out + args[i:]          # a subcommand's parser joins its own options' values
            value = args[i + 1] if i + 1 < len(args) else None
            if self._one_value_option(token) and value is not None and not self._is_option(value):
                out += [f"{token}={value}"] if value.startswith("-") else [token, value]
                i += 2                         # a value is never taken for a subcommand's name
            else:
                out.append(token)
                i += 1
        return out

    def _one_value_option(self, token: str) -> bool:
        """Whether `token` is one of this parser's options that takes exactly one value (spelt
        out, or a long one shortened as argparse allows)."""
        action = self._option_string_actions.get(token)
        if action is None and token.startswith("--") and "=" not in token and self.allow_abbrev:
            found = {a for s, a in self._option_string_actions.items() if s.startswith(token)}
            action = found.pop() if len(found) == 1 else None
        return action is not None and action.nargs is None

    def _is_option(self, text: str) -> bool:
        """Whether argparse would read `text` as an option rather than as a value: '--' and
        anything starting with it; one of this parser's options, also with `=value` or a short
        one with its value or other flags attached (`-ofile`)."""
        if text.startswith("--"):
            return True
        actions = self._option_string_actions
        return text.startswith("-") and (text.split("=", 1)[0] in actions or text[:2] in actions)


def parse_in_subcommand(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """parse_args, but arguments nobody knows are reported by the subcommand that was given
    them, with its usage (`kiosk pin hash: error: unrecognized arguments: --pin 1234`): argparse
    hands them up to the top-level parser, whose usage lists only the commands."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        chosen = parser
        while True:
            commands = next((a for a in chosen._actions if isinstance(a, argparse._SubParsersAction)), None)
            name = getattr(args, commands.dest, None) if commands else None
            if name is None:
                break
            chosen = commands.choices[name]
        chosen.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


@dataclass(frozen=True)
class CommandLine:
    prog: str
    description: str
    version: str
    commands: ModuleType                              # the package of subcommand modules
    common: Callable[[], argparse.ArgumentParser]     # options every subcommand accepts
    # An error that is not ours but means something a person can act on (a failed SD card), as
    # the KundpulsError to print; None: a bug, let it be seen.
    translate: Callable[[BaseException], KundpulsError | None] | None = None

    def command_names(self) -> list[str]:
        return sorted(m.name for m in pkgutil.iter_modules(self.commands.__path__)
                      if not m.name.startswith("_"))

    def build_parser(self) -> argparse.ArgumentParser:
        common = self.common()
        parser = CommandParser(prog=self.prog, parents=[common], description=self.description)
        parser.add_argument("--version", action="version", version=f"%(prog)s {self.version}")
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
        for name in self.command_names():
            importlib.import_module(f"{self.commands.__name__}.{name}").add_parser(sub, common)
        return parser

    @functools.cached_property
    def parser(self) -> argparse.ArgumentParser:
        """`build_parser`'s parser, built once in a process: parsing leaves it as it was, and a
        process that calls `main` many times (the tests, in-process) built it each time, 21 ms of
        CPU for the centre's, half of it argparse's uncached gettext look-ups."""
        return self.build_parser()

    def main(self, argv: Sequence[str] | None = None) -> int:
        out = StandardOutput(sys.stdout)
        sys.stdout = out
        code = 1
        try:
            code = self._run(argv)
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
            return self.fail(KundpulsError(f"cannot write to standard output: {out.error}"), 1)
        return code

    def _run(self, argv: Sequence[str] | None) -> int:
        args = parse_in_subcommand(self.parser, argv)
        # Common options are SUPPRESSed in both parsers (so one given before the subcommand is
        # not reset by the subparser's default); absent ones read as None.
        for action in self.common()._actions:
            if not hasattr(args, action.dest):
                setattr(args, action.dest, None)
        try:
            return int(args.func(args) or 0)
        except SettingError as e:
            return self.fail(e, 2)
        except KundpulsError as e:
            return self.fail(e, 1)
        except KeyboardInterrupt:
            return 130
        except Exception as e:
            if isinstance(e, OSError) and getattr(sys.stdout, "failed", False):
                raise                   # standard output's: main says so
            error = self.translate(e) if self.translate else None
            if error is None:
                raise
            return self.fail(error, 1)

    def fail(self, error: Exception, code: int) -> int:
        print(f"{self.prog}: error: {error}", file=sys.stderr)
        return code
