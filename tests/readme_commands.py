"""Helpers of the tests that keep the README's command tables complete: every `kiosk-central`
command and option in the table of its section."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Iterable, Iterator

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ROW = re.compile(r"\| `kiosk-central ([a-z][a-z -]*?)(?: [\[\-A-Z(]|`)")


def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], set[str]]]:
    """(command path, its long options) of every runnable command under `parser`."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, {o for a in parser._actions for o in a.option_strings if o.startswith("--")} - {"--help", "--db"}
        return
    for name, sub in subs[0].choices.items():
        yield from leaves(sub, path + (name,))


def table(marker: str) -> tuple[str, dict[str, str]]:
    """The README section between `<!-- marker:begin -->` and `end`, and its rows by command
    (a row may name several commands: `privacy show …` / `privacy set …`)."""
    m = re.search(rf"<!-- {marker}:begin -->(.*?)<!-- {marker}:end -->", README, re.S)
    assert m, f"README has no {marker} section"
    rows: dict[str, str] = {}
    for line in m.group(1).splitlines():
        cells = re.split(r"(?<!\\)\|", line)          # a row's first cell names its commands; the
        first = cells[1] if line.startswith("|") and len(cells) > 2 else ""   # rest may mention others
        for found in re.finditer(r"`kiosk-central ([a-z][a-z -]*?)(?: [\[\-A-Z(]|`)", first):
            rows.setdefault(found.group(1).strip(), line)
    return m.group(1), rows


def undocumented(parser: argparse.ArgumentParser, marker: str, commands: Iterable[str],
                 ignore: set[str] = frozenset()) -> list[str]:
    """Every command path (and option) of `commands` missing from the README table `marker`."""
    _, rows = table(marker)
    problems = []
    for path, opts in leaves(parser):
        if path[0] not in commands:
            continue
        name = " ".join(path)
        if name not in rows:
            problems.append(f"`kiosk-central {name}` is not in the README")
            continue
        missing = sorted(o for o in opts - ignore if o not in rows[name])
        if missing:
            problems.append(f"`kiosk-central {name}` options missing from the README: {missing}")
    return problems
