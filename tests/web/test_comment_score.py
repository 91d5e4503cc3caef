"""The comments page's score is a face of one scale: a question asked on smiley4 and then on
smiley5 has two series, and its "4" is the top face of one and the second of the other. With a
question the score is read on its current scale only; without, each comment says its scale's
top ("Score 4 of 5"). In process (no server), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from starlette.datastructures import QueryParams

from server_sync.central import questions
from server_sync.web import guard, render
from server_sync.web.audit import ViewLedger
from server_sync.web.cache import FiguresCache
from server_sync.web.guard import PageResult
from server_sync.web.pages import comments
from tests.analysis.seeding import add_site, answer, commit

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
ANSWERS = [("smiley4", 4, "top face of four"), ("smiley5", 4, "second face of five"),
           ("smiley5", 5, "top face of five"), ("smiley4", 1, "lowest face of four")]


def comments_page(db, **params: str) -> PageResult:
    """The comments page for a person who sees the whole chain (audited as any view)."""
    request = SimpleNamespace(query_params=QueryParams(params), headers={},
                              url=SimpleNamespace(path="/comments"), client=None)
    v = guard.Visit(request=request, state=SimpleNamespace(db=db, cache=FiguresCache(seconds=300), live=None,
                                                           views=ViewLedger()),
                    user=SimpleNamespace(language="en", name="ada"),
                    scope=SimpleNamespace(everything=True, sites=frozenset()), session=None, now=NOW)
    return comments.build(v)


def chain(db) -> None:
    """`visit`, first asked on smiley4 and now on smiley5, and a comment on each answer."""
    add_site(db, "s1", "Europe/Stockholm")
    at = datetime(2026, 11, 1, 10, 0)
    with db.atomic():
        questions.define(db, "visit", 1, "smiley4", "customer", {"en": "How was your visit?"}, at)
        questions.define(db, "visit", 2, "smiley5", "customer", {"en": "How was your visit?"}, at)
    rows = [answer("s1", at + timedelta(minutes=i), value, scale=scale) for i, (scale, value, _) in enumerate(ANSWERS)]
    commit(db, rows)
    p = db.param
    for i, (row, (_scale, _value, text)) in enumerate(zip(rows, ANSWERS)):
        db.execute_sql("INSERT INTO followup (id, response_id, kiosk_id, seq, reasons, comment, recorded_at,"
                       f" received_at, answered_at) VALUES ({p}, {p}, {p}, {p}, '[]', {p}, {p}, {p}, {p})",
                       (f"f-{i}", row["id"], row["kiosk_id"], 1000 + i, text, row["recorded_at"],
                        row["recorded_at"], row["recorded_at"]))


def listed(result: PageResult) -> list[str]:
    return sorted(c["comment"] for c in result.data["comments"])


def test_a_questions_score_is_a_face_of_its_current_scale(central_db):
    """The review's case: ?question=visit&score=4 listed smiley4's top face with smiley5's second."""
    chain(central_db)
    four = comments_page(central_db, question="visit", score="4")
    assert listed(four) == ["second face of five"]
    assert four.data["filters"]["scale"] == "smiley5"
    assert listed(comments_page(central_db, question="visit", score="5")) == ["top face of five"]
    assert four.context["score_choices"] == [(n, n) for n in range(1, 6)]
    # Without a score the question's every comment, each scale's.
    assert listed(comments_page(central_db, question="visit")) == sorted(t for _s, _v, t in ANSWERS)


def test_without_a_question_each_comment_says_its_scales_top(central_db):
    chain(central_db)
    result = comments_page(central_db, score="4")
    assert listed(result) == ["second face of five", "top face of four"]
    assert result.data["filters"]["scale"] is None
    assert result.context["score_choices"] == [(n, n) for n in range(0, 11)]
    html = render.page(result.template, "en", data=result.data, params=QueryParams({"score": "4"}), **result.context)
    assert "Score 4 of 4" in html and "Score 4 of 5" in html
    sv = render.page(result.template, "sv", data=result.data, params=QueryParams({"score": "4"}), **result.context)
    assert "Betyg 4 av 5" in sv
