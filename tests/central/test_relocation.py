"""A kiosk moved to another store (`kiosk-central kiosk move`) before its outbox drained: the
answers it recorded at the old store go in, counted there; what names a site it never stood at,
or was recorded well outside its stay there, is refused as before. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from server_sync import protocol
from server_sync.central import registry
from server_sync.central.site_history import Stay, may_have_stood_at
from server_sync.central.site_update import writer_locks
from server_sync.ingest import Ingest
from tests.central.wire import NOW, T0, batch, count, register_fleet, response

MOVED = NOW.replace(tzinfo=None) + timedelta(hours=1)      # k1: s1 -> s2 (naive UTC, as the store keeps)


def move(db, kiosk: str, site: str, at) -> None:
    with db.atomic():
        registry.move_kiosk(db, kiosk, site, at)


def counted(db) -> dict[str, int]:
    return dict(db.execute_sql("SELECT site_id, SUM(n) FROM rollup_hourly GROUP BY site_id").fetchall())


def stored(db) -> dict[str, int]:
    return dict(db.execute_sql("SELECT site_id, COUNT(*) FROM response GROUP BY site_id").fetchall())


def refusal(out) -> tuple[list, str]:
    (_topic, payload), = out.publish
    ack = protocol.decode_ack(payload)
    return [r.ranges for r in ack.rejected], " ".join(r.reason for r in ack.rejected)


def test_answers_recorded_before_a_move_go_in_and_count_at_the_old_site(central_db):
    db = central_db
    register_fleet(db)
    move(db, "k1", "s2", MOVED)
    assert "kiosk:k1" in writer_locks(db, "s1")        # a new zone of s1 waits for k1's late answers
    ingest = Ingest(db, clock=lambda: NOW + timedelta(days=2))
    late = [response(1, site="s1", at=T0),                                 # recorded before it was registered
            response(2, site="s1", at=MOVED.replace(tzinfo=NOW.tzinfo) + timedelta(hours=2)),  # the move typed early
            response(3, site="s2", at=MOVED.replace(tzinfo=NOW.tzinfo) + timedelta(hours=5))]  # at the new store
    out = ingest.handle(*batch(late))
    assert out.kind == "batch" and out.accepted.new == 3 and out.changed_sites == {"s1", "s2"}
    assert stored(db) == counted(db) == {"s1": 2, "s2": 1}
    assert ingest.handle(*batch(late)).accepted.duplicates == 3            # a re-send is still one answer


def test_an_answer_naming_a_site_the_kiosk_was_not_at_then_is_refused(central_db):
    db = central_db
    register_fleet(db)
    with db.atomic():
        registry.add_site(db, "s3", "Store s3", "Europe/Stockholm", NOW.replace(tzinfo=None))
    move(db, "k1", "s2", MOVED)
    move(db, "k1", "s3", MOVED + timedelta(days=5))
    ingest = Ingest(db, clock=lambda: NOW + timedelta(days=6))
    at = MOVED.replace(tzinfo=NOW.tzinfo)
    # At s2 from MOVED to MOVED + 5 days, a day either side: these go in.
    ok = ingest.handle(*batch([response(1, site="s1", at=at - timedelta(hours=1)),
                               response(2, site="s2", at=at + timedelta(days=1)),
                               response(3, site="s3", at=at + timedelta(days=5, hours=1))]))
    assert ok.kind == "batch" and ok.accepted.new == 3 and stored(db) == {"s1": 1, "s2": 1, "s3": 1}
    for seq, site, when, said in (
            (4, "s1", at + timedelta(days=1, hours=1), "nor was it when the answer was recorded"),  # left a day before
            (5, "s2", at - timedelta(days=1, hours=1), "nor was it when the answer was recorded"),  # before it came
            (6, "s4", at, "not the registered site 's3'"),                                        # never there
            (7, "s1", None, "not the registered site 's3'")):          # an unsynced clock at 1970: when?
        answer = response(seq, site=site, at=when) if when else dict(
            response(seq, site=site, synced=False), recorded_at="1970-01-01T00:00:05.000Z")
        out = ingest.handle(*batch([answer, response(seq + 10, site="s3")]))
        assert out.kind == "dead_letter" and out.rejected == 1
        ranges, reason = refusal(out)
        assert ranges == [((seq, seq),)] and said in reason and f"site_id {site!r}" in reason, reason
    assert count(db, "SELECT COUNT(*) FROM response") == 3 and counted(db) == {"s1": 1, "s2": 1, "s3": 1}


def test_a_move_to_the_same_site_keeps_no_stay(central_db):
    db = central_db
    register_fleet(db)
    move(db, "k1", "s1", MOVED)
    assert count(db, "SELECT COUNT(*) FROM kiosk_site_history") == 0
    move(db, "k1", "s2", MOVED)
    row = db.execute_sql("SELECT kiosk_id, site_id, moved_in_at FROM kiosk_site_history").fetchall()
    assert row == [("k1", "s1", None)]


_CAME = datetime(2026, 6, 1)                     # k: at s1 since its start, moved to s2 on 1 June
_STAYS = [Stay("s1", None, _CAME)]


@pytest.mark.parametrize("site, at, expected", [
    ("s1", _CAME - timedelta(days=30), True),
    ("s2", _CAME - timedelta(days=30), False),
    ("s2", _CAME + timedelta(days=3), True),
    ("s1", _CAME + timedelta(days=3), False),
    ("s1", _CAME + timedelta(hours=12), True),     # within the margin either side of the move:
    ("s2", _CAME - timedelta(hours=12), True),     # both
    ("s1", None, True),                            # an unsynced clock's time: any site it stood at
    ("s2", None, True),
    ("s3", None, False),
])
def test_where_a_kiosk_may_have_stood_when_it_recorded(site, at, expected):
    """What erasure goes by for a follow-up whose answer has not arrived (central.retention)."""
    assert may_have_stood_at(site, "s2", _STAYS, at) is expected
