"""A catalogue question (`protocol.catalogue`: `visit`, `checkout`, `recommend`, `pulse` v1), asked
by a kiosk as shipped, is the chain's own question, named by the catalogue's wording, on SQLite
and a real PostgreSQL (a review: a fresh chain whose kiosks ask the shipped kiosk.toml's `visit`
v1 saw "visit (not defined by the centre: smiley4, a separate series)" on every page and report,
and `question list` called it "seen"). The centre already holds every kiosk to a catalogue
version's scale and audience (`central.questions.binding`); the reports now name it as they name
a defined one, unless the centre defined it otherwise."""

from __future__ import annotations

import json

from server_sync.analysis import alerts, chain_report, queries
from server_sync.analysis.queries import ReportFilter
from server_sync.central import questions
from server_sync.cli import main
from server_sync.ingest import Ingest
from server_sync.protocol.catalogue import QUESTIONS as CATALOGUE
from server_sync.report import html
from server_sync.web.queries import question_words
from tests.central.wire import NOW, batch, register_fleet, response

VISIT = CATALOGUE["visit"]["text"]


def _answered(db, *extra: dict) -> None:
    """Two kiosks of s1 answer the catalogue's `visit` v1 as shipped; `extra` answers from k3."""
    register_fleet(db)
    ingest = Ingest(db, clock=lambda: NOW)
    for kiosk in ("k1", "k2"):
        events = [response(i + 1, kiosk=kiosk, value=4 if i % 3 else 3) for i in range(20)]
        assert ingest.handle(*batch(events, kiosk=kiosk)).kind == "batch"
    if extra:
        assert ingest.handle(*batch(list(extra), kiosk="k3")).kind == "batch"


def _named(db) -> dict[str, dict]:
    return {q["id"]: q for q in chain_report.build(db, ReportFilter(), now=NOW)["questions"]}


def test_a_catalogue_question_is_named_by_the_catalogues_wording(central_db):
    db = central_db
    _answered(db)
    visit = _named(db)["visit"]
    assert (visit["version"], visit["text"], visit["defined"], visit["built_in"]) == (1, VISIT, True, True)
    assert html.question_text(visit, "en") == "How was your visit today?"
    assert html.question_text(visit, "sv") == "Hur var ditt besök i dag?"
    assert queries.question(db, "visit")["text"] == VISIT
    assert alerts._wording(db, "visit") == VISIT
    assert question_words(db, "nb") == {"visit": "Hvordan var besøket ditt i dag?"}


def test_a_kiosks_own_version_or_scale_of_it_is_still_its_own_series(central_db):
    """A kiosk's answer to another version never renames the catalogue's question; a catalogue
    version first seen on another scale than the catalogue's is no catalogue question."""
    db = central_db
    newer = dict(response(1, kiosk="k3", site="s2", scale="nps11", value=9), question_version=7)
    other_scale = response(2, kiosk="k3", site="s2", question="checkout", scale="nps11", value=9)
    _answered(db, newer, other_scale)
    named = _named(db)
    assert (named["visit"]["version"], named["visit"]["text"], named["visit"]["defined"]) == (1, VISIT, True)
    assert named["visit@nps11"]["defined"] is False
    assert html.question_text(named["checkout"], "en") == "checkout (not defined by the centre: nps11, a separate series)"
    assert named["checkout"]["built_in"] is False
    assert [q["id"] for q in named.values()][0] == "visit"


def test_the_centres_definition_of_a_catalogue_version_names_it(central_db):
    db = central_db
    _answered(db)
    with db.atomic():
        questions.define(db, "visit", 1, "smiley4", "customer", {"en": "Your visit?"}, NOW.replace(tzinfo=None),
                         replace=True)
    visit = _named(db)["visit"]
    assert (visit["text"], visit["defined"], visit["built_in"]) == ({"en": "Your visit?"}, True, False)
    assert question_words(db, "en") == {"visit": "Your visit?"}


def test_question_list_says_a_catalogue_version_is_built_in(central_url, central_db, capsys):
    _answered(central_db)
    assert main(["--db", central_url, "question", "list"]) == 0
    [row] = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("visit")]
    assert row == ["visit", "1", "smiley4", "customer", "built-in", "40"]
    assert main(["--db", central_url, "question", "list", "--json"]) == 0
    [visit] = json.loads(capsys.readouterr().out)["questions"]
    assert (visit["defined"], visit["built_in"]) == (False, True)
