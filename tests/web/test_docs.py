"""The web app's commands, pages, roles and tables cannot fall out of the docs: every `serve`,
`user` and `region` command with every option is in the README's web table; docs/web.md names
every page and API route of the route table, every role, every query parameter and every table
the web app's migrations create; its words exist in sv, nb and en; the import contract holds."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route

from server_sync.web.app import route_table
from server_sync.web.filters import PARAMETERS
from server_sync.web.people import ROLES
from server_sync.web.render import WEB_TEXTS
from server_sync.cli import COMMAND_LINE
from tests.readme_commands import leaves, table, undocumented

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "web.md").read_text(encoding="utf-8")
OURS = ("serve", "user", "region")


def test_every_web_command_and_option_is_in_the_readme():
    text, _rows = table("central-web-commands")
    assert "docs/web.md" in text
    assert not undocumented(COMMAND_LINE.build_parser(), "central-web-commands", OURS)
    assert sum(1 for path, _ in leaves(COMMAND_LINE.build_parser()) if path[0] in OURS) == 12


def test_docs_name_every_route_role_parameter_and_table():
    paths = {r.path for r in route_table() if isinstance(r, Route) and not r.path.startswith("/static")}
    assert not [p for p in paths if f"`{p}`" not in DOC], "docs/web.md misses routes"
    assert not [r for r in ROLES if f"`{r}`" not in DOC]
    assert not [p for p in PARAMETERS if f"`{p}`" not in DOC]
    from server_sync.central.migrations import m0030_people, m0031_live_mark
    tables = {t for mod in (m0030_people, m0031_live_mark) for sql in mod.STATEMENTS
              for t in re.findall(r"CREATE TABLE (\w+)", sql)}
    assert tables and not [t for t in tables if f"`{t}`" not in DOC]


def test_the_web_words_exist_in_every_language():
    assert WEB_TEXTS.problems() == []


def test_a_filters_all_choice_names_what_its_label_names():
    """The comments filter was labelled "Skäl" with its first choice "Alla orsaker": one word."""
    from server_sync.protocol.vocabulary import LANGUAGES
    for lang in LANGUAGES:
        for label, every in (("reason", "all_reasons"), ("question", "all_questions"), ("region", "all_regions"),
                             ("site", "all_sites")):
            word, choice = WEB_TEXTS.text(label, lang).casefold(), WEB_TEXTS.text(every, lang).casefold()
            assert word[:-1] in choice, (lang, word, choice)


def test_every_audit_event_and_alert_kind_has_words_in_every_language():
    """The audit log and the alert tables show these codes through the catalogues: a code without
    a text would be a KeyError (a 500) on the page."""
    from server_sync.protocol.vocabulary import LANGUAGES
    from server_sync.report.alert_text import KINDS, alert_kind
    from server_sync.web import render
    from server_sync.web.vocabulary import AUDIT_EVENTS
    for lang in LANGUAGES:
        assert all(render.text(f"audit_{e}", lang) for e in AUDIT_EVENTS)
        assert all(alert_kind(k, lang) for k in KINDS)


def test_docs_privacy_names_every_table_that_keeps_an_office_users_address_and_its_period():
    """The DPIA is based on docs/privacy.md, whose table left out the web app's traces of its
    users: the network address and browser of each session, the address of each login attempt
    and audit entry, the journal's (a privacy review; docs/web.md listed them). Every table the
    migrations give an `address` or `user_agent` column is named there, with its period."""
    import importlib
    import pkgutil

    from server_sync.central import migrations
    privacy = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    table_part = privacy[privacy.index("## What is collected, and where"):privacy.index("Not collected, by design")]
    kept = set()
    for info in pkgutil.iter_modules(migrations.__path__):
        for sql in getattr(importlib.import_module(f"{migrations.__name__}.{info.name}"), "STATEMENTS", ()):
            made = re.match(r"\s*CREATE TABLE (\w+) \((.*)\)\s*$", sql, re.S)
            if made and re.search(r"\b(address|user_agent)\b", made.group(2)):
                kept.add(made.group(1))
    assert kept >= {"web_session", "web_login_attempt", "audit_log"}
    assert not [t for t in sorted(kept) if f"`{t}`" not in table_part]
    for words in ("user agent", "access log", "`login_failed", "`--idle-minutes`", "a day", "24 months"):
        assert words in table_part, words
