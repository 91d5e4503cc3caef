"""`followup.answered_at` is its answer's `recorded_at` (m0054: the comments page reads many sites'
comments, their days and their order by it), however the two arrive: in one batch, the
follow-up first, the answer's time corrected later; and as the migration fills it in. On SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from server_sync.central.dialect import dialect_of
from server_sync.ingest import Ingest
from tests.central.wire import NOW, batch, followup, register_fleet, response

WRONG = datetime(2021, 1, 1, 0, 0, tzinfo=timezone.utc)      # an unsynced clock
SYNCED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
MONO_SYNC = 10_000_000_000_000


@pytest.fixture
def ingest(central_db):
    register_fleet(central_db)
    return Ingest(central_db, clock=lambda: NOW)


def copied(db) -> list[tuple]:
    """(follow-up seq, its answered_at, its answer's recorded_at) of every follow-up."""
    return db.execute_sql("SELECT f.seq, f.answered_at, r.recorded_at FROM followup f"
                          " LEFT JOIN response r ON r.id = f.response_id ORDER BY f.seq").fetchall()


def test_a_followup_in_its_answers_batch_copies_its_time(ingest, central_db):
    late = response(1, at=datetime(2026, 11, 22, 22, 59, 50, tzinfo=timezone.utc), value=1)    # 23:59:50 CET
    ingest.handle(*batch([late, followup(2, late["id"], comment="kön",
                                         at=datetime(2026, 11, 22, 23, 0, 10, tzinfo=timezone.utc))]))
    (seq, answered, at), = copied(central_db)
    assert seq == 2 and answered == at and answered is not None


def test_a_followup_before_its_answer_gets_its_time_when_the_answer_comes(ingest, central_db):
    a = response(1, value=1)
    ingest.handle(*batch([followup(2, a["id"], comment="först")]))
    assert [row[1] for row in copied(central_db)] == [None]
    ingest.handle(*batch([a]))
    (_seq, answered, at), = copied(central_db)
    assert answered == at and answered is not None


def test_a_corrected_answer_moves_its_followups_time(ingest, central_db):
    mono = MONO_SYNC - 3600 * 10 ** 9
    a = response(1, at=WRONG, synced=False, mono=mono, value=1)
    ingest.handle(*batch([a, followup(2, a["id"], comment="sent", at=WRONG, synced=False, mono=mono + 10 ** 9)]))
    (_seq, before, _at), = copied(central_db)
    ingest.handle(*batch([response(3, at=SYNCED_AT, mono=MONO_SYNC)]))      # the clock synced: corrected
    (_seq, answered, at), = copied(central_db)
    assert answered == at and answered != before


def test_the_migration_fills_in_the_stored_followups(ingest, central_db):
    from server_sync.central.migrations import m0054_followup_answered_at as m
    db = central_db
    a, b = response(1, value=1), response(3, value=2, at=datetime(2026, 11, 23, 11, 30, tzinfo=timezone.utc))
    ingest.handle(*batch([a, followup(2, a["id"], comment="x"), b, followup(4, b["id"])]))
    ingest.handle(*batch([followup(5, "00000000-0000-4000-8000-000000000009", comment="no answer")]))
    db.execute_sql("UPDATE followup SET answered_at = NULL")
    db.execute_sql(dialect_of(db).ddl(m.STATEMENTS[1]))
    rows = copied(db)
    assert [(seq, answered == at) for seq, answered, at in rows] == [(2, True), (4, True), (5, True)]
    assert rows[0][1] is not None and rows[2][1] is None
