"""The analysis commands, report keys and BI views cannot fall out of the docs: every command
and option is in the README's analysis table; docs/analysis.md names every JSON key of the
report, every CSV section and every SQL view. The README links only to files in the repository."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from server_sync.central.migrations.m0004_bi_views import VIEWS as FIRST_VIEWS
from server_sync.central.migrations.m0064_bi_sites import VIEWS as SITE_VIEWS
from server_sync.central.migrations.m0065_bi_reason_codes import VIEWS as CODE_VIEWS
from server_sync.cli import COMMAND_LINE
from server_sync.commands.ingest import add_broker_options
from server_sync.report.tabular import CSV_COLUMNS
from tests.readme_commands import leaves, table, undocumented

VIEWS = [*FIRST_VIEWS, *SITE_VIEWS, *CODE_VIEWS]
ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOC = (ROOT / "docs" / "analysis.md").read_text(encoding="utf-8")
OURS = ("report", "action", "alerts", "fleet", "privacy", "retention", "erase", "notify", "digest")


def broker_options() -> set[str]:
    p = argparse.ArgumentParser()
    add_broker_options(p)
    return {o for a in p._actions for o in a.option_strings if o.startswith("--")}


def test_every_analysis_command_and_option_is_in_the_readme():
    text, rows = table("central-analysis-commands")
    assert "docs/analysis.md" in text
    parser = COMMAND_LINE.build_parser()
    assert not undocumented(parser, "central-analysis-commands", OURS, ignore=broker_options())
    for path, opts in leaves(parser):
        if path[0] in OURS and "--broker-host" in opts:
            assert "broker options" in rows[" ".join(path)]


def test_docs_name_every_report_key_csv_column_and_view():
    keys = ["schema", "generator", "generated_at", "timezone", "filters", "questions", "period", "summary", "sites", "ranking",
            "kiosks", "trends", "heatmap", "drivers", "actions", "pulse", "alerts"]
    assert not [k for k in keys if f"`{k}" not in DOC]
    assert ", ".join(CSV_COLUMNS) in DOC.replace("\n", " ")
    assert not [v for v in VIEWS if f"`{v}`" not in DOC]


def test_the_readme_links_only_to_files_in_the_repository():
    targets = re.findall(r"\]\(([^)#\s]+)", README)
    assert "docs/analysis.md" in targets
    outside = [t for t in targets if not t.startswith(("http://", "https://"))
               and not ((ROOT / t).resolve().is_relative_to(ROOT) and (ROOT / t).exists())]
    assert outside == []
    assert "../" not in README
