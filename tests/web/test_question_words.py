"""Every page shows the questions' wording (`question_names`); it read and parsed the whole
question register at each render, which kiosks' answers can fill (200,000 rows made every page
0.45 s slower). Now a worker reads it once per change of the centre's definitions, and only the
rows that have wording. On SQLite and a real PostgreSQL, without a server."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from server_sync.central import questions
from server_sync.web import guard
from server_sync.web.cache import FiguresCache
from server_sync.web.queries import question_words

AT = datetime(2026, 11, 23, 12, 0)


def visit(db, lang: str = "en") -> guard.Visit:
    """A request's Visit as far as question_names needs it: the worker's state and a person."""
    state = SimpleNamespace(db=db, cache=FiguresCache(seconds=300))
    return guard.Visit(request=None, state=state, user=SimpleNamespace(language=lang), scope=None, session=None,
                       now=AT)


def test_a_page_reads_the_question_words_once_per_change_of_the_definitions(central_db, monkeypatch):
    db = central_db
    with db.atomic():
        questions.define(db, "visit", 1, "smiley4", "customer", {"en": "How was your visit?"}, AT)
        # What kiosks' answers put in the register has no wording: not read for the pages.
        db.execute_sql("INSERT INTO question (id, version, scale, audience, text, first_seen, first_kiosk_id)"
                       f" VALUES ('seen', 1, 'smiley4', 'customer', '{{}}', {db.param}, 'k1')", (AT,))
    reads = []
    monkeypatch.setattr(guard, "question_words", lambda d, lang: reads.append(lang) or question_words(d, lang))
    v = visit(db)
    assert v.question_names() == {"visit": "How was your visit?"}
    assert v.question_names() == {"visit": "How was your visit?"} and reads == ["en"]     # cached
    with db.atomic():                               # the centre defines another: read again
        questions.define(db, "checkout", 1, "smiley4", "customer", {"en": "The checkout?"}, AT)
    assert v.question_names() == {"visit": "How was your visit?", "checkout": "The checkout?"}
    assert reads == ["en", "en"]


def test_a_question_not_worded_in_the_readers_language_is_named_in_the_nearest(central_db):
    """A Norwegian reader of a question worded in Swedish and English saw its id ("visit")."""
    with central_db.atomic():
        questions.define(central_db, "visit", 1, "smiley4", "customer",
                         {"sv": "Hur var besöket?", "en": "How was your visit?"}, AT)
        questions.define(central_db, "pulse", 1, "smiley4", "employee", {"en": "Your day?"}, AT)
    assert question_words(central_db, "nb") == {"visit": "Hur var besöket?", "pulse": "Your day?"}
    assert question_words(central_db, "en") == {"visit": "How was your visit?", "pulse": "Your day?"}
