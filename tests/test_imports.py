"""The import contract (docs/architecture.md): imports go one way, so the parts stay apart.

- `server_sync.protocol` (the wire and its vocabulary) is a leaf: nothing of ours.
- `server_sync.program` (what both programs share: CLI skeleton, progress, systemd, TLS files,
  migrations) imports only the protocol.
- The kiosk imports the protocol and the program, never the centre.
- The centre imports the protocol and the program, and of the kiosk only its config schema (to
  validate a pushed config). Inside it, the store (`central`) never imports the analysis, the
  reports, the web app or the commands; migrations are run by the store alone.
- Nothing in the product imports `seeds`, `tests` or `benchmarks`.

Every import counts, also those inside functions (they hid a cycle once).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("kiosk", "server_sync")
LEAVES = ("server_sync.protocol", "server_sync.program")
CENTRE_MAY_USE_OF_KIOSK = ("kiosk.config",)
STORE = "server_sync.central"
ABOVE_STORE = ("server_sync.analysis", "server_sync.report", "server_sync.web", "server_sync.commands",
               "server_sync.cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def ours(name: str) -> bool:
    return name.split(".")[0] in (*PRODUCT, "seeds", "tests", "benchmarks")


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from pkg import mod` imports pkg.mod when it is a module of ours.
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.append((node.lineno, sub if _is_module(sub) else target))
    return [(line, name) for line, name in found if ours(name)]


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def allowed(importer: str, imported: str) -> str | None:
    """None when `importer` may import `imported`, else the rule it breaks."""
    if within(imported, "seeds", "tests", "benchmarks"):
        return "the product never imports seeds, tests or benchmarks"
    if within(importer, "server_sync.protocol"):
        return None if within(imported, "server_sync.protocol") else "the protocol is a leaf"
    if within(importer, "server_sync.program"):
        return None if within(imported, *LEAVES) else "the program imports only the protocol"
    if within(importer, "kiosk"):
        return None if within(imported, "kiosk", *LEAVES) else "the kiosk never imports the centre"
    # the centre
    if within(imported, "kiosk") and not within(imported, *CENTRE_MAY_USE_OF_KIOSK):
        return "the centre imports of the kiosk only its config schema"
    if within(importer, STORE) and within(imported, *ABOVE_STORE):
        return "the central store never imports what is built on it"
    if within(imported, f"{STORE}.migrations") and not within(importer, STORE):
        return "migrations are run by the store alone"
    return None


def product_files() -> list[Path]:
    return sorted(p for pkg in PRODUCT for p in (ROOT / pkg).rglob("*.py"))


def test_every_import_goes_one_way():
    broken = []
    for path in product_files():
        me = module_name(path)
        for line, name in imports_of(path):
            rule = allowed(me, name)
            if rule:
                broken.append(f"{path.relative_to(ROOT)}:{line} imports {name}: {rule}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("importer, imported, ok", [
    ("server_sync.protocol.events", "kiosk.config", False),
    ("server_sync.protocol.events", "server_sync.protocol.scales", True),
    ("server_sync.program.cli", "server_sync.protocol.errors", True),
    ("server_sync.program.cli", "server_sync.central.db", False),
    ("kiosk.capture", "server_sync.protocol", True),
    ("kiosk.capture", "server_sync.central.intake", False),
    ("kiosk.config", "seeds.demo", False),
    ("server_sync.config_push", "kiosk.config", True),
    ("server_sync.ingest", "kiosk.store", False),
    ("server_sync.central.rollups", "server_sync.analysis.metrics", False),
    ("server_sync.analysis.queries", "server_sync.central.migrations.m0002_rollup_summaries", False),
])
def test_the_rules_themselves(importer, imported, ok):
    assert (allowed(importer, imported) is None) == ok


def test_the_walker_sees_imports_inside_functions(tmp_path):
    src = ROOT / "kiosk" / "config" / "parse.py"
    assert any(True for _ in imports_of(src))           # it reads a real module
    tree = ast.parse("def f():\n    from seeds.demo import SITES\n")
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))
