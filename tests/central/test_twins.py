"""Two devices answering as one kiosk (a copied memory card) are found at ingest and flagged by the
fleet, and every answer of both is kept; a kiosk reinstalled under its old id, which numbers its
answers from 1 again, is not taken for one, nor is a re-sent batch. On SQLite and PostgreSQL,
through the real ingest path."""

from __future__ import annotations

from datetime import timedelta

from server_sync.analysis.fleet import fleet
from server_sync.ingest import Ingest
from tests.central.wire import NOW, T0, batch, count, register_fleet, response

BOOT_A = "aaaaaaaa-1111-4111-8111-111111111111"
BOOT_B = "bbbbbbbb-2222-4222-8222-222222222222"
BOOT_C = "cccccccc-3333-4333-8333-333333333333"


def _twin(db) -> tuple | None:
    return db.execute_sql("SELECT seq, boot_id, other_boot_id FROM kiosk_twin WHERE kiosk_id = 'k1'").fetchone()


def _flags(db, at) -> dict:
    return {r["kiosk_id"]: r["flag_kind"] for r in fleet(db, at) if r["kiosk_id"] in ("k1", "k2")}


def test_two_devices_answering_as_one_kiosk_are_found_and_flagged_and_every_answer_kept(central_db):
    db = central_db
    register_fleet(db)
    db.execute_sql("INSERT INTO kiosk_status (kiosk_id, online, last_seen, payload) VALUES ('k1', TRUE, "
                   + db.param + ", '{}')", (NOW.replace(tzinfo=None),))
    at = Ingest(db, clock=lambda: NOW)
    first = [response(s, boot=BOOT_A) for s in (1, 2, 3)]
    assert at.handle(*batch(first)).kind == "batch"
    assert at.handle(*batch(first)).kind == "batch"           # re-sent: the same ids, no twin
    assert _twin(db) is None and _flags(db, NOW)["k1"] is None
    copy = [response(s, boot=BOOT_B, at=T0 + timedelta(minutes=s)) for s in (3, 4)]   # the copied card
    assert at.handle(*batch(copy)).kind == "batch"
    assert _twin(db) == (3, BOOT_B, BOOT_A)
    assert count(db, "SELECT COUNT(*) FROM response WHERE kiosk_id = 'k1'") == 5          # nothing lost
    assert _flags(db, NOW + timedelta(minutes=5)) == {"k1": "twin", "k2": None}
    later = NOW + timedelta(days=1, minutes=1)
    db.execute_sql("UPDATE kiosk_status SET last_seen = " + db.param, (later.replace(tzinfo=None),))
    assert _flags(db, later)["k1"] is None                                  # no sign for a day: gone


def test_a_copy_found_among_re_sent_answers_and_a_copy_of_an_old_image(central_db):
    """Knocked off the broker in turn, each device sends its unacknowledged answers again with its
    new ones: the batch held more than its new answers' range (a review). A copy made from an
    image a week old reuses numbers the original used a week ago, while the original still sends."""
    db = central_db
    register_fleet(db)
    at = Ingest(db, clock=lambda: NOW)
    original = [response(s, boot=BOOT_A) for s in (1, 2, 3, 4)]
    assert at.handle(*batch(original)).kind == "batch"
    copy = original[:3] + [response(4, boot=BOOT_B)]          # the copy's card held 1-3 unsent too
    assert at.handle(*batch(copy)).kind == "batch"
    assert _twin(db) == (4, BOOT_B, BOOT_A)
    db.execute_sql("DELETE FROM kiosk_twin")
    week_ago = Ingest(db, clock=lambda: NOW - timedelta(days=7))
    assert week_ago.handle(*batch([response(s, kiosk="k2", boot=BOOT_A, at=T0 - timedelta(days=7))
                                   for s in range(1, 31)], kiosk="k2")).kind == "batch"
    assert at.handle(*batch([response(s, kiosk="k2", boot=BOOT_A) for s in range(31, 40)], kiosk="k2")).kind == "batch"
    assert at.handle(*batch([response(s, kiosk="k2", boot=BOOT_B) for s in range(6, 15)], kiosk="k2")).kind == "batch"
    assert db.execute_sql("SELECT seq FROM kiosk_twin WHERE kiosk_id = 'k2'").fetchone() is not None


def test_a_kiosk_reinstalled_under_its_old_id_is_no_twin(central_db):
    """Its answer numbers start from 1 again, but the old device has been silent for more than a
    day (reinstalled within the day, it would be taken for one: docs/analysis.md)."""
    db = central_db
    register_fleet(db)
    before = Ingest(db, clock=lambda: NOW - timedelta(days=30))
    assert before.handle(*batch([response(s, boot=BOOT_A, at=T0 - timedelta(days=30)) for s in (1, 2)])).kind == "batch"
    now = Ingest(db, clock=lambda: NOW)
    assert now.handle(*batch([response(s, boot=BOOT_C) for s in (1, 2)])).kind == "batch"
    assert _twin(db) is None
