"""Documentation cannot fall behind the code: config keys and kiosk commands are all in README."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from kiosk.cli import COMMAND_LINE
from kiosk.config import KEYS
from tests import readme_keys

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
_COMMON = {"--config", "--data-dir", "--help", "-h"}


def section(name: str) -> str:
    m = re.search(rf"<!-- {name}:begin -->(.*?)<!-- {name}:end -->", README, re.S)
    assert m, f"README has no {name} section"
    return m.group(1)


def test_readme_key_table_is_generated_from_keys():
    expected = readme_keys.key_table()
    assert section("config-keys").strip() == expected, (
        "README key table is stale: run `python -m tests.readme_keys`, or write this between "
        f"the config-keys markers:\n{expected}")


def test_every_key_is_in_the_readme():
    table = section("config-keys")
    missing = [k.name for k in KEYS if f"`{k.name}`" not in table]
    assert not missing, f"undocumented config keys: {missing}"


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, its long options) for every leaf subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        opts = {o for a in parser._actions for o in a.option_strings if o.startswith("--")} - _COMMON
        yield path, opts
        return
    for name, sub in subs[0].choices.items():
        yield from _commands(sub, path + (name,))


def test_every_kiosk_command_and_option_is_in_the_readme():
    rows = {}
    for line in section("kiosk-commands").splitlines():
        m = re.match(r"\| `kiosk ([a-z -]+?)(?: [\[\-A-Z]|`)", line)
        if m:
            rows[m.group(1).strip()] = line
    found = list(_commands(COMMAND_LINE.build_parser()))
    assert len(found) >= 8
    for path, opts in found:
        name = " ".join(path)
        assert name in rows, f"`kiosk {name}` is not in the README command table"
        missing = [o for o in opts if o not in rows[name]]
        assert not missing, f"`kiosk {name}` options not in the README: {missing}"


def test_the_docs_point_nowhere_outside_the_repository():
    """README, docs/ and the firmware notes are read where the repository is (a Pi in a store
    may have no internet): a URL is an example host or this machine, never a page to go to."""
    allowed = re.compile(r"https?://(?:[\w.-]+\.example|example\.(?:com|org|net)|localhost|127\.0\.0\.1|\[::1\])"
                         r"(?:[:/?#]|$)")
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "firmware_config").glob("*.md")),
             *sorted((ROOT / "benchmarks").glob("*.md"))]
    outside = [f"{page.relative_to(ROOT)}: {url}" for page in pages
               for url in re.findall(r"https?://[^\s)>`\"']*", page.read_text(encoding="utf-8"))
               if not allowed.match(url)]
    assert outside == []
