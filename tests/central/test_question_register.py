"""The shared question register cannot be filled by one kiosk (server_sync/central/questions.py),
on SQLite and a real PostgreSQL: each kiosk brings at most `NEW_PER_DAY` unknown versions in a
UTC day (the catalogue's and the centre's are free), answers to further ones are named back to
their kiosk and go in once defined; an ingestor's cache of the register is bounded; and one
kiosk's answers to a version the centre only plans do not block the centre's push of it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from server_sync import protocol
from server_sync.central import questions
from server_sync.exc import CentralConfigError
from server_sync.ingest import Ingest
from tests.central.wire import NOW, batch, count, register_fleet, response

LIMIT = questions.NEW_PER_DAY


@pytest.fixture
def store(central_db):
    register_fleet(central_db)
    return central_db


def answers(kiosk: str, first_question: int, n: int, seq: int = 1, prefix: str = "own") -> list[dict]:
    """One answer to each of n questions no centre defined, `prefix`-{first_question + i}."""
    return [response(seq + i, kiosk=kiosk, question=f"{prefix}-{first_question + i:03d}") for i in range(n)]


def brought_in(db, kiosk: str) -> int:
    return count(db, f"SELECT COUNT(*) FROM question WHERE first_kiosk_id = {db.param}", (kiosk,))


def test_a_kiosk_brings_at_most_a_days_allowance_of_unknown_questions_into_the_register(store):
    ingest = Ingest(store, clock=lambda: NOW)
    # The catalogue's questions are free: every kiosk asks them unconfigured.
    assert ingest.handle(*batch([response(100, question="visit"), response(101, question="pulse",
                                                                        audience="employee")])).kind == "batch"
    events = answers("k1", 0, LIMIT + 5)
    out = ingest.handle(*batch(events, batch_id="b-many"))
    assert out.kind == "dead_letter" and out.rejected == 5
    ack = protocol.decode_ack(out.publish[0][1])
    assert ack.rejected[0].ranges == ((LIMIT + 1, LIMIT + 5),)          # the last five, named back
    assert f"may bring at most {LIMIT} unknown question versions" in ack.rejected[0].reason
    assert count(store, "SELECT COUNT(*) FROM response") == 2            # nothing of the batch yet
    # The kiosk sends the rest again at once: it goes in, and the register grew by the allowance.
    assert ingest.handle(*batch(events[:LIMIT], batch_id="b-rest")).kind == "batch"
    assert brought_in(store, "k1") == LIMIT
    assert count(store, "SELECT COUNT(*) FROM question") == LIMIT + 2
    # Answers to questions the register knows go in; a further unknown one does not, today.
    assert ingest.handle(*batch(answers("k1", 0, 3, seq=200))).kind == "batch"
    assert ingest.handle(*batch(answers("k1", 500, 1, seq=300))).kind == "dead_letter"
    # Another kiosk has its own allowance; a question the centre defined needs none.
    assert ingest.handle(*batch(answers("k2", 0, 1, seq=1, prefix="k2"), kiosk="k2")).kind == "batch"
    with store.atomic():
        questions.define(store, "own-500", 1, "smiley4", "customer", {}, NOW.replace(tzinfo=None))
    assert ingest.handle(*batch(answers("k1", 500, 1, seq=300))).kind == "batch"      # `kiosk refused retry`
    # The next UTC day, a new allowance.
    tomorrow = Ingest(store, clock=lambda: NOW + timedelta(days=1))
    assert tomorrow.handle(*batch(answers("k1", 600, 2, seq=400))).kind == "batch"
    assert brought_in(store, "k1") == LIMIT + 2


def test_an_ingestors_cache_of_the_register_is_bounded(store):
    ingest = Ingest(store, clock=lambda: NOW)
    cache = ingest.intake._questions
    cache.size = 5
    for i in range(4):
        assert ingest.handle(*batch(answers("k1", i * 4, 4, seq=i * 4 + 1))).kind == "batch"
    assert len(cache) == 5
    # Evicted entries are read again from the register when answered again.
    assert ingest.handle(*batch(answers("k1", 0, 4, seq=100))).kind == "batch"
    assert len(cache) == 5 and ("own-000", 1) in cache


def test_the_cache_keeps_the_most_recently_used():
    cache = questions.Cache(size=2)
    a, b, c = (("a", 1), ("b", 1), ("c", 1))
    entry = questions.Entry("smiley4", "customer", defined=False)
    cache.update({a: entry, b: entry})
    assert cache[a] is entry                    # a used: b is now the oldest
    cache.update({c: entry})
    assert set(cache) == {a, c}


def test_one_kiosks_answers_ahead_of_a_planned_version_do_not_block_its_push(store):
    """A kiosk answering `pulse v2` on nps11 before the centre pushes it as smiley4 made the
    push fail without --force; it takes most of the kiosks that answered it, and two."""
    ingest = Ingest(store, clock=lambda: NOW)
    ahead = [dict(response(i, question="pulse", scale="nps11", value=9), question_version=2) for i in range(1, 51)]
    assert ingest.handle(*batch(ahead)).kind == "batch"
    at = NOW.replace(tzinfo=None)
    with store.atomic():
        assert questions.define(store, "pulse", 2, "smiley4", "employee", {"en": "Your day?"}, at) == 50
    # Two kiosks asking a version otherwise than a first definition: most likely the slip.
    for kiosk in ("k1", "k2"):
        version3 = [dict(response(i, kiosk=kiosk, question="checkout"), question_version=3) for i in range(60, 62)]
        assert ingest.handle(*batch(version3, kiosk=kiosk)).kind == "batch"
    with pytest.raises(CentralConfigError, match=r"most kiosks that answered it \(2 of 2\) ask it otherwise"):
        with store.atomic():
            questions.define(store, "checkout", 3, "nps11", "customer", {}, at)


def test_a_redefinition_is_told_a_version_that_is_free(tmp_path, capsys):
    """Define v2, then v1 otherwise: it said "give the new wording version 2", which was taken."""
    from server_sync.cli import main
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    assert main([*db, "site", "add", "s1", "--name", "S1"]) == 0
    for version, scale in (("1", "smiley4"), ("2", "smiley5")):
        assert main([*db, "question", "define", "visit", version, "--scale", scale, "--audience", "customer"]) == 0
    capsys.readouterr()
    assert main([*db, "question", "define", "visit", "1", "--scale", "nps11", "--audience", "customer"]) == 2
    assert "give the new wording version 3 (or question define --replace)" in capsys.readouterr().err
    assert main([*db, "question", "define", "visit", "3", "--scale", "nps11", "--audience", "customer"]) == 0


def test_a_catalogue_version_keeps_its_meaning_like_a_defined_one(tmp_path, capsys):
    """Every unconfigured kiosk asks the catalogue's `visit v1` on smiley4. A push to one site of
    `visit v1` on nps11 (the version not bumped) said "questions defined by the centre: visit v1"
    and made the chain-wide register hold every other kiosk's smiley answers for good."""
    from server_sync.cli import main
    from tests.central.test_cli import store_with_kiosks
    db = store_with_kiosks(tmp_path)
    capsys.readouterr()
    fragment = tmp_path / "nps.toml"
    fragment.write_text('[[questions]]\nid = "visit"\nversion = 1\nscale = "nps11"\n'
                        'text = {sv = "Rekommendera?", nb = "Anbefale?", en = "Recommend?"}\n', encoding="utf-8")
    for force in ((), ("--force",)):
        assert main(["config", "push", "--site", "s1", str(fragment), "--dry-run", *force, *db]) == 2
        err = capsys.readouterr().err
        assert "question visit v1 is the catalogue's smiley4/customer" in err and "version 2" in err
    assert main([*db, "question", "define", "visit", "1", "--scale", "nps11", "--audience", "customer"]) == 2
    assert "give the new wording version 2" in capsys.readouterr().err
    assert main([*db, "question", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["questions"] == []              # nothing defined
    # The catalogue's own meaning, and a new version, are defined as before; --replace is the way
    # to give the catalogue's version another meaning on purpose.
    assert main([*db, "question", "define", "checkout", "1", "--scale", "smiley4", "--audience", "customer"]) == 0
    assert main([*db, "question", "define", "visit", "2", "--scale", "nps11", "--audience", "customer"]) == 0
    assert main([*db, "question", "define", "pulse", "1", "--scale", "smiley4", "--audience", "customer"]) == 2
    assert main([*db, "question", "define", "pulse", "1", "--scale", "smiley4", "--audience", "customer",
                 "--replace"]) == 0
