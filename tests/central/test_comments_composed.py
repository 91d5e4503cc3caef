"""A comment is stored composed (Unicode NFC): an "a" and a combining diaeresis, as some keyboards
and imports write "ä", becomes "ä" at ingest and at import (`events.check_event`), and m0055
composes those stored before. The search and erasure then find it by "ä" with the database's
lower case alone (composing every comment in each search made it 5.5 times slower on
PostgreSQL). A kiosk sending the same follow-up again is a duplicate, not a conflict. On SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest

from server_sync.central.dialect import dialect_of
from server_sync.central.migrations import m0055_comments_composed as m0055
from server_sync.ingest import Ingest
from server_sync.protocol import validate_event
from tests.central.wire import NOW, batch, count, followup, register_fleet, response

DECOMPOSED = "Ma\u0308rta var sna\u0308ll, A\u030asa ocksa\u030a"
COMPOSED = "Märta var snäll, Åsa också"


def comments(db) -> list[str]:
    return [c for (c,) in db.execute_sql("SELECT comment FROM followup ORDER BY seq").fetchall()]


def test_ingest_stores_a_comment_composed_and_the_same_followup_again_is_a_duplicate(central_db):
    db = central_db
    register_fleet(db)
    ingest = Ingest(db, clock=lambda: NOW)
    a = response(1, value=1)
    sent = [a, followup(2, a["id"], comment=DECOMPOSED)]
    ingest.handle(*batch(sent))
    assert comments(db) == [COMPOSED]
    ingest.handle(*batch(sent))                                # a lost ack: sent again as it was
    assert comments(db) == [COMPOSED] and count(db, "SELECT COUNT(*) FROM conflict") == 0
    p = db.param
    found = db.execute_sql(f"SELECT COUNT(*) FROM followup f WHERE"
                           f" {dialect_of(db).lower.format(text='f.comment')} LIKE {p}", ("%märta%",)).fetchone()[0]
    assert found == 1


def test_an_imported_comment_is_composed_too():
    f = followup(2, response(1, value=1)["id"], comment=DECOMPOSED)
    assert validate_event(f, f["kiosk_id"], now=NOW).comment == COMPOSED


def test_a_comment_that_grows_past_its_length_when_composed_is_kept_as_sent():
    """A few letters grow when composed (U+FB2C is three code points): a comment at the most a
    comment may hold stays as sent, which the protocol would refuse to read back otherwise."""
    from server_sync.protocol.vocabulary import MAX_COMMENT_CHARS
    f = followup(2, response(1, value=1)["id"], comment="\ufb2c" * MAX_COMMENT_CHARS)
    assert validate_event(f, f["kiosk_id"], now=NOW).comment == "\ufb2c" * MAX_COMMENT_CHARS
    short = followup(4, response(3, value=1)["id"], comment="\ufb2c")
    assert validate_event(short, short["kiosk_id"], now=NOW).comment == "\u05e9\u05bc\u05c1"


@pytest.mark.parametrize("page", [m0055.PAGE, 2])          # 2: across its pages' seams too
def test_the_migration_composes_the_comments_stored_before(central_db, page):
    db = central_db
    register_fleet(db)
    ingest = Ingest(db, clock=lambda: NOW)
    events = []
    for i in range(3):
        a = response(2 * i + 1, value=1)
        events += [a, followup(2 * i + 2, a["id"], comment=f"{i} Kalle")]
    ingest.handle(*batch(events))
    p = db.param
    for seq in (2, 6):                                          # as a centre before m0055 stored them
        db.execute_sql(f"UPDATE followup SET comment = {p} WHERE seq = {p}", (f"{seq} {DECOMPOSED}", seq))
    if page == m0055.PAGE:
        m0055.up(db, dialect_of(db))
    else:
        m0055.compose(db, page)
    assert comments(db) == [f"2 {COMPOSED}", "1 Kalle", f"6 {COMPOSED}"]
