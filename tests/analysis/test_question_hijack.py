"""A version only seen in answers never takes over a version the centre defined, on SQLite and a
real PostgreSQL (review: one kiosk redefined a chain question for every report and the web app).

The centre defined `visit` v1 as smiley4/customer and two kiosks of site s1 answered it 60
times. k3, at another site, answered `visit` version 2147483647 (the largest a kiosk may send,
so the centre could never give a newer one) as nps11/employee, once, and 19 question ids nobody
defined; the register took them in (its daily allowance). The report named its questions by the
register's newest version, so `visit` became k3's nps11/employee question with blank figures,
the 60 answers a secondary series `visit@smiley4@customer` marked earlier_scale, and the 19 ids
series of their own listed before `visit`. Now: what a question is comes from the centre's
definition when there is one (queries._naming); answers on an undefined version are a series
of their own, after the defined ones, marked `defined: false` and named so."""

from __future__ import annotations

from server_sync.analysis import actions, alerts, chain_report, queries
from server_sync.analysis.queries import ReportFilter
from server_sync.central import questions
from server_sync.ingest import Ingest
from server_sync.report import html
from tests.central.wire import NOW, batch, register_fleet, response

MAX_VERSION = 2**31 - 1
WORDING = {"en": "How was your visit?", "sv": "Hur var ditt besök?"}


def _hijacked(db) -> None:
    register_fleet(db)
    with db.atomic():
        questions.define(db, "visit", 1, "smiley4", "customer", WORDING, NOW.replace(tzinfo=None))
    ingest = Ingest(db, clock=lambda: NOW)
    for kiosk in ("k1", "k2"):
        events = [response(i + 1, kiosk=kiosk, value=4 if i % 3 else 3) for i in range(30)]
        assert ingest.handle(*batch(events, kiosk=kiosk)).kind == "batch"
    hostile = dict(response(1, kiosk="k3", site="s2", scale="nps11", audience="employee", value=0),
                   question_version=MAX_VERSION)
    junk = [response(100 + i, kiosk="k3", site="s2", question=f"junk{i:02d}") for i in range(19)]
    assert ingest.handle(*batch([hostile] + junk, kiosk="k3")).kind == "batch"     # within its allowance


def test_an_answer_to_an_unknown_version_does_not_redefine_the_centres_question(central_db):
    db = central_db
    _hijacked(db)
    for brief in (False, True):                   # the report, and the web app's overview
        report = chain_report.build(db, ReportFilter(), now=NOW, brief=brief)
        named = {q["id"]: q for q in report["questions"]}
        visit = named["visit"]
        assert (visit["version"], visit["scale"], visit["audience"], visit["text"], visit["defined"]) == (
            1, "smiley4", "customer", WORDING, True)
        assert "earlier_scale" not in visit
        summary = {s["question_id"]: s for s in report["summary"]}
        assert (summary["visit"]["scale"], summary["visit"]["n"]) == ("smiley4", 60)
        assert summary["visit"]["happy_index"]["value"] is not None
        # k3's answer: a series of its own, named as not defined by the centre.
        own = named["visit@nps11@employee"]
        assert (own["version"], own["scale"], own["audience"], own["defined"], own["series_of"]) == (
            MAX_VERSION, "nps11", "employee", False, "visit")
        assert "visit@smiley4@customer" not in named
        # The centre's questions first, then every series only seen in answers.
        order = [q["id"] for q in report["questions"]]
        assert order[0] == "visit"
        assert all(not q["defined"] for q in report["questions"][1:]) and len(order) == 21
        assert set(order[1:]) == {"visit@nps11@employee"} | {f"junk{i:02d}" for i in range(19)}
    # The other readers of the register: the comments page and the actions' effects (scale and
    # audience of a question), the alerts' wording.
    assert (queries.questions(db)["visit"]["scale"], queries.questions(db)["visit"]["audience"]) == (
        "smiley4", "customer")
    assert queries.question(db, "visit")["version"] == 1
    assert alerts._wording(db, "visit") == WORDING
    actions.add(db, "s1", "visit", NOW.date().isoformat(), "new queue signs", NOW)
    [effect] = actions.evaluated(db, ("s1",), now=NOW)
    assert (effect["metric"], effect["current"]["n"]) == ("happy_index", 60)


def test_a_series_the_centre_did_not_define_is_named_so(central_db):
    db = central_db
    _hijacked(db)
    named = {q["id"]: q for q in chain_report.build(db, ReportFilter(), now=NOW)["questions"]}
    assert html.question_text(named["visit"], "en") == "How was your visit?"
    assert html.question_text(named["junk03"], "en") == "junk03 (not defined by the centre: smiley4, a separate series)"
    assert "not defined by the centre: nps11" in html.question_text(named["visit@nps11@employee"], "en")
    assert "inte definierad av centralen" in html.question_text(named["junk03"], "sv")


def test_the_centre_still_gives_a_question_a_new_scale_by_a_new_version(central_db):
    """A newer definition does take over (the centre's word), its earlier scale a series of its
    own; and with no definition at all the newest version seen names the question, as before."""
    db = central_db
    _hijacked(db)
    with db.atomic():
        questions.define(db, "visit", 2, "nps11", "customer", {"en": "Recommend us?"}, NOW.replace(tzinfo=None))
    named = {q["id"]: q for q in chain_report.build(db, ReportFilter(), now=NOW)["questions"]}
    assert (named["visit"]["version"], named["visit"]["scale"], named["visit"]["defined"]) == (2, "nps11", True)
    assert (named["visit@smiley4"]["version"], named["visit@smiley4"]["defined"]) == (1, True)
    assert named["visit@smiley4"]["text"] == WORDING and named["visit@smiley4"]["earlier_scale"]
    assert [q["id"] for q in named.values()][:2] == ["visit", "visit@smiley4"]
    assert queries.questions(db)["junk00"]["defined"] is False
