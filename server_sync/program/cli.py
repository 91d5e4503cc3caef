"""The command-line skeleton both commands (`kiosk`, `kiosk-central`) are built on: subcommands
are the modules of a package, each with `add_parser(subparsers, common)` setting `func`, found by
name (adding one touches no other file); `main(argv=None) -> int`.

A user mistake prints `prog: error: …` and exits non-zero, never a traceback: 2 for a wrong
setting or argument (argparse's own code), 1 for anything else Kundpuls refuses on purpose.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Sequence

from server_sync.protocol.errors import KundpulsError, SettingError


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


class OutputError(KundpulsError):
    """Standard output cannot be written (a full disk, a terminal gone): the user's
    environment, said as such rather than as a traceback."""


class GuardedOutput:
    """sys.stdout while a command runs: a write or flush that fails raises OutputError. A closed
    pipe (`| head`) stays a BrokenPipeError: the reader had what it wanted."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def _guarded(self, call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(f"cannot write to standard output: {e.strerror or e}") from None

    def write(self, text: str) -> int:
        return self._guarded(self._stream.write, text)

    def flush(self) -> None:
        self._guarded(self._stream.flush)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _drop_unwritten(stream) -> None:
    """Point the process's standard output at /dev/null once writing it failed, so that Python's
    own flush at exit does not fail again over the bytes still buffered (it would print an
    `Exception ignored` and exit 120 instead of our code)."""
    if stream is not sys.__stdout__:          # a caller's stream (tests capture it): not ours to move
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass


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

    def main(self, argv: Sequence[str] | None = None) -> int:
        args = self.build_parser().parse_args(argv)
        # Common options are SUPPRESSed in both parsers (so one given before the subcommand is
        # not reset by the subparser's default); absent ones read as None.
        for action in self.common()._actions:
            if not hasattr(args, action.dest):
                setattr(args, action.dest, None)
        out = sys.stdout
        sys.stdout = GuardedOutput(out)
        try:
            code = int(args.func(args) or 0)
            sys.stdout.flush()                # a failure to write what is still buffered is said here
            return code
        except OutputError as e:
            _drop_unwritten(out)
            return self.fail(e, 1)
        except SettingError as e:
            return self.fail(e, 2)
        except KundpulsError as e:
            return self.fail(e, 1)
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            return 0
        except Exception as e:
            error = self.translate(e) if self.translate else None
            if error is None:
                raise
            return self.fail(error, 1)
        finally:
            sys.stdout = out

    def fail(self, error: Exception, code: int) -> int:
        print(f"{self.prog}: error: {error}", file=sys.stderr)
        return code
