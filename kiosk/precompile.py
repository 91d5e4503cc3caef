"""Compile the kiosk's Python for the optimization level its service runs at, once, at install.

The kiosk app's systemd unit runs Python with PYTHONOPTIMIZE=2 (-OO: no docstrings, no asserts;
~2 MB less resident all day, docs/ui.md). Python then looks for `*.opt-2.pyc` files, which
neither pip nor Debian's Python packages write; without them every start compiles each module
again, in memory (slower, and the compiler's scratch memory is freed into the middle of the
heap). The service cannot write them itself (the install is not its to change), so
firmware_config/provision.sh runs, as root, after installing the project:

    /opt/kundpuls/venv/bin/python -OO -m kiosk.precompile

which compiles the standard library and the installed packages (the venv's and, with
--system-site-packages, the system's) for the level it runs at. Tests and test data of the
standard library are left out. A file that does not compile (a package's Python 2 example, say)
is left as it is: at worst that module compiles at each start, as before.
"""

from __future__ import annotations

import argparse
import compileall
import re
import site
import sys
import sysconfig
from pathlib import Path

SKIP = re.compile(r"[/\\](test|tests|idlelib|tkinter|turtledemo|lib2to3|ensurepip)[/\\]")


def directories() -> list[str]:
    """The standard library, every site-packages directory this interpreter imports from, and
    the project's own packages where they are not among them (an editable install)."""
    import kiosk
    import server_sync.program as program         # what the kiosk imports of server_sync
    import server_sync.protocol as protocol
    paths = sysconfig.get_paths()
    found = [paths["stdlib"], paths["purelib"], paths["platlib"], *site.getsitepackages()]
    found += [str(Path(pkg.__file__).parent) for pkg in (kiosk, program, protocol)
              if not any(Path(pkg.__file__).is_relative_to(d) for d in found)]
    return [d for i, d in enumerate(found) if d not in found[:i] and Path(d).is_dir()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -OO -m kiosk.precompile",
        description="Compile the standard library and the installed packages for this "
                    "interpreter's optimization level (run it with -OO for the kiosk's service).")
    parser.parse_args(argv)
    level = sys.flags.optimize
    if level != 2:
        print(f"note: optimization level {level}; the kiosk's service runs at 2 (python -OO)",
              file=sys.stderr)
    paths = directories()
    for path in paths:
        # quiet=2: a file that does not compile is skipped without a word (see the docstring).
        compileall.compile_dir(path, quiet=2, workers=0, rx=SKIP)
    print(f"compiled for optimization level {level}: {', '.join(paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
