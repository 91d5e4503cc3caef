"""The central store/ingest/provisioning commands cannot fall out of the README: every one of
them, with every option, is in the central-commands table; docs/central.md names every table."""

from __future__ import annotations

import re
from pathlib import Path

from server_sync.central.db import connect
from server_sync.central.migrations.m0002_rollup_summaries import STATEMENTS as ANALYSIS_ROLLUPS
from server_sync.central.migrations.m0003_alerts_actions import STATEMENTS as ALERTS_ACTIONS
from server_sync.cli import COMMAND_LINE
from tests.readme_commands import leaves, table, undocumented

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
OURS = ("ingest", "import", "site", "kiosk", "config", "question")      # the analysis commands have their own section


def test_every_central_command_and_option_is_in_the_readme():
    text, _rows = table("central-commands")
    assert "KUNDPULS_CENTRAL_DB" in text
    assert not undocumented(COMMAND_LINE.build_parser(), "central-commands", OURS)


def test_every_command_is_in_one_of_the_readme_tables():
    documented = (set(table("central-commands")[1]) | set(table("central-analysis-commands")[1])
                  | set(table("central-web-commands")[1]))
    for path, _opts in leaves(COMMAND_LINE.build_parser()):
        assert " ".join(path) in documented, f"`kiosk-central {' '.join(path)}` is in no README table"


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



def test_docs_central_names_every_migration():
    """Each module of server_sync/central/migrations is in docs/central.md: by its name
    (`m0055_comments_composed`) or in a range of them (`m0002`–`m0004`). The list had stopped at
    m0055 while m0056 and m0057 changed the BI views and the pushes' record."""
    from server_sync.central import migrations
    text = (ROOT / "docs" / "central.md").read_text(encoding="utf-8")
    ranges = [(int(a), int(b)) for a, b in re.findall(r"`m(\d{4})`–`m(\d{4})`", text)]
    modules = sorted(p.stem for p in Path(migrations.__file__).parent.glob("m[0-9][0-9][0-9][0-9]_*.py"))
    assert len(modules) >= 30
    missing = [m for m in modules
               if f"`{m}`" not in text and not any(a <= int(m[1:5]) <= b for a, b in ranges)]
    assert not missing, f"docs/central.md does not name the migrations {missing}"


def test_the_deployment_guides_questions_toml_is_a_push_the_centre_takes(tmp_path):
    """docs/deployment.md A6 said `kcb config push --site … questions.toml` with no such file
    shipped or described; its example is a push `config push` takes (for any kiosk)."""
    from server_sync.config_push import load_push_file, validate_for
    guide = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    [example] = re.findall(r"```toml\n# questions\.toml.*?\n(.*?)```", guide, re.S)
    path = tmp_path / "questions.toml"
    path.write_text(example, encoding="utf-8")
    cfg = validate_for(load_push_file(path), "kiosk-0042", "sthlm-sodermalm")
    assert [(q.id, q.version, q.scale) for q in cfg.questions] == [("visit", 1, "smiley4")]
    # "what the shipped file asks", word for word: a push defines the wording the centre shows
    # (a review found "besöket", with the Swedish letter, in the Norwegian).
    from server_sync.protocol.catalogue import QUESTIONS
    [q] = cfg.questions
    assert dict(q.text) == QUESTIONS["visit"]["text"]
