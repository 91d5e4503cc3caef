"""What provision.sh asks of a kiosk.toml, answered by the system's Python (3.11 on Bookworm, so
tomllib) before the kiosk's own program is installed: what the installed kiosk.toml says (the
id, site and broker it keeps when they are not given again), whether a broker host is one the
kiosk accepts, and whether a kiosk.toml it rendered reads back as TOML with the values it was given.
Standard library only, and the host rule is the kiosk's own (server_sync/program/hosts.py of this
checkout, loaded by path: the package's other modules need what pip installs later).

    python3 kiosk_toml.py read FILE     # kiosk.id, kiosk.site, broker.host, broker.port: a line each
    python3 kiosk_toml.py host HOST
    python3 kiosk_toml.py pin HASH      # what the kiosk would say of staff.pin_hash (kiosk/pin.py's rule)
    python3 kiosk_toml.py check FILE OPTION KEY VALUE [OPTION KEY VALUE ...]

Exit 0 when all is well; else 1 with the reason on standard error, for provision.sh to name.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parent.parent
HOSTS = CHECKOUT / "server_sync" / "program" / "hosts.py"
PIN = CHECKOUT / "kiosk" / "pin.py"                 # standard library only, as hosts.py


def _module(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def host_problem(host: str) -> str | None:
    return _module("kundpuls_hosts", HOSTS).host_problem(host)


def pin_problem(encoded: str) -> str | None:
    """The kiosk's own rule (kiosk.pin.pin_hash_problem): a hash cut short when copied passed a
    shape check here, and the kiosk then refused its config at start."""
    return _module("kundpuls_pin", PIN).pin_hash_problem(encoded)


READ = ("kiosk.id", "kiosk.site", "broker.host", "broker.port")


def read(path: Path) -> tuple[list[str] | None, str | None]:
    """The READ values of the file (empty when missing or not a text or number), or why not."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        return None, str(e)
    values = []
    for key in READ:
        value = value_at(data, key)
        ok = isinstance(value, (str, int)) and not isinstance(value, bool)
        # A line each: a newline inside is shown escaped (provision.sh then refuses the value).
        values.append(str(value).replace("\n", "\\n") if ok else "")
    return values, None


def value_at(data: dict[str, Any], dotted: str) -> Any:
    """The value at 'section.key', or None when it is not there."""
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def check(path: Path, expected: list[str]) -> str | None:
    """Why `path` does not read back with each (option, key, value) of `expected`, or None."""
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = re.search(r"at line (\d+)", str(e))
        shown = f": {text.splitlines()[int(line.group(1)) - 1].strip()}" if line else ""
        return f"it would not be TOML ({e}){shown}"
    for option, key, value in zip(expected[0::3], expected[1::3], expected[2::3]):
        got = value_at(data, key)
        if str(got) != value or isinstance(got, bool):
            return f"{option} {value!r} would be read as {key} = {got!r}"
    return None


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "read":
        values, problem = read(Path(argv[1]))
        if values is not None:
            print("\n".join(values))
    elif len(argv) == 2 and argv[0] == "host":
        problem = host_problem(argv[1])
    elif len(argv) == 2 and argv[0] == "pin":
        problem = pin_problem(argv[1])
    elif len(argv) >= 2 and argv[0] == "check" and len(argv[2:]) % 3 == 0:
        problem = check(Path(argv[1]), argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
