"""The central store/ingest/provisioning commands cannot fall out of the README: every one of
them, with every option, is in the central-commands table; docs/central.md names every table."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from server_sync.central.db import connect
from server_sync.central.migrations.m0002_rollup_summaries import STATEMENTS as ANALYSIS_ROLLUPS
from server_sync.central.migrations.m0003_alerts_actions import STATEMENTS as ALERTS_ACTIONS
from server_sync.cli import COMMAND_LINE

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
OURS = ("ingest", "import", "site", "kiosk", "config", "question")      # the analysis commands have their own section


def leaves(parser: argparse.ArgumentParser, path=()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, {o for a in parser._actions for o in a.option_strings if o.startswith("--")} - {"--help", "--db"}
        return
    for name, sub in subs[0].choices.items():
        yield from leaves(sub, path + (name,))


def test_every_central_command_and_option_is_in_the_readme():
    m = re.search(r"<!-- central-commands:begin -->(.*?)<!-- central-commands:end -->", README, re.S)
    assert m and "KUNDPULS_CENTRAL_DB" in m.group(1)
    rows = {}
    for line in m.group(1).splitlines():
        found = re.match(r"\| `kiosk-central ([a-z ]+?)(?: [\[\-A-Z(]|`)", line)
        if found:
            rows[found.group(1).strip()] = line
    checked = 0
    for path, opts in leaves(COMMAND_LINE.build_parser()):
        if path[0] not in OURS:
            continue
        name = " ".join(path)
        assert name in rows, f"`kiosk-central {name}` is not in the README"
        missing = sorted(o for o in opts if o not in rows[name])
        assert not missing, f"`kiosk-central {name}` options missing from the README: {missing}"
        checked += 1
    assert checked == 11


def _created(statements) -> set[str]:
    return {m.group(1) for sql in statements for m in [re.match(r"\s*CREATE TABLE (\w+)", sql)] if m}


def test_docs_central_names_every_table(tmp_path):
    """Every table of a migrated store, except those of the analysis (docs/analysis.md)."""
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        tables = {t for t in db.get_tables() if not t.startswith("sqlite_")} \
            - _created(ANALYSIS_ROLLUPS) - _created(ALERTS_ACTIONS)
    finally:
        db.close()
    assert {"response", "followup", "schema_migration"} <= tables
    text = (ROOT / "docs" / "central.md").read_text(encoding="utf-8")
    missing = sorted(t for t in tables if f"`{t}`" not in text)
    assert not missing, f"docs/central.md does not describe: {missing}"

