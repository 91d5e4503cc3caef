"""The command-line skeleton both commands (`kiosk`, `kiosk-central`) are built on: subcommands
are the modules of a package, each with `add_parser(subparsers, common)` setting `func`, found by
name (adding one touches no other file); `main(argv=None) -> int`.

A user mistake prints `prog: error: …` and exits non-zero, never a traceback: 2 for a wrong
setting or argument (argparse's own code), 1 for anything else Kundpuls refuses on purpose.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Sequence

from server_sync.protocol.errors import KundpulsError, SettingError


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
        parser = argparse.ArgumentParser(prog=self.prog, parents=[common], description=self.description)
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
        try:
            return int(args.func(args) or 0)
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

    def fail(self, error: Exception, code: int) -> int:
        print(f"{self.prog}: error: {error}", file=sys.stderr)
        return code
