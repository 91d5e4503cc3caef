"""What the centre keeps of conflicts (server_sync/central/conflicts.py), on SQLite and a real
PostgreSQL: one credential re-sending its own follow-up ids with a new comment each time keeps at
most a day's room of rows and counts the rest; other kiosks keep their own room; retention
removes conflicts (they hold comments) with their counts after the dead letters' period."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server_sync.central import conflicts
from server_sync.central.retention import apply_retention
from server_sync.ingest import Ingest
from tests.central.wire import NOW, batch, count, followup, register_fleet, response


@pytest.fixture
def store(central_db):
    register_fleet(central_db)
    return central_db


def resend_with_new_comments(ingest: Ingest, kiosk: str, times: int) -> None:
    """A kiosk's own answer and follow-up, then the follow-up's id again and again, each time
    with another comment: acked as recorded conflicts, every one."""
    r = response(1, kiosk=kiosk)
    f = followup(2, r["id"], kiosk=kiosk, comment="first")
    ingest.handle(*batch([r, f], kiosk=kiosk))
    for i in range(times):
        out = ingest.handle(*batch([dict(f, comment=f"comment {i} " + "x" * 100)], kiosk=kiosk))
        assert out.kind == "batch" and out.accepted.conflicts == 1


def test_one_kiosk_resending_its_ids_with_new_content_keeps_a_days_room(store):
    ingest = Ingest(store, clock=lambda: NOW)
    resend_with_new_comments(ingest, "k1", conflicts.KEEP_PER_DAY + 30)
    assert count(store, "SELECT COUNT(*) FROM conflict WHERE kiosk_id = 'k1'") == conflicts.KEEP_PER_DAY
    counted = conflicts.counts(store)["k1"]
    assert (counted["conflicts"], counted["kept"]) == (conflicts.KEEP_PER_DAY + 30, conflicts.KEEP_PER_DAY)
    # The same conflict sent again (a missed ack) is counted, not kept again.
    before = count(store, "SELECT COUNT(*) FROM conflict")
    resend_with_new_comments(Ingest(store, clock=lambda: NOW), "k2", 1)
    assert count(store, "SELECT COUNT(*) FROM conflict WHERE kiosk_id = 'k2'") == 1     # its own room
    assert count(store, "SELECT COUNT(*) FROM conflict") == before + 1
    # The next UTC day, k1 has a new room.
    tomorrow = Ingest(store, clock=lambda: NOW + timedelta(days=1))
    resend_with_new_comments(tomorrow, "k1", 2)
    assert conflicts.counts(store, (NOW + timedelta(days=1)).date().isoformat()) == {
        "k1": {"conflicts": 2, "kept": 2, "last_at": conflicts.counts(store)["k1"]["last_at"]}}


def test_a_days_bytes_bound_the_kept_conflicts_too(store):
    ingest = Ingest(store, clock=lambda: NOW)
    r = response(1)
    f = followup(2, r["id"], comment="first")
    ingest.handle(*batch([r, f]))
    for i in range(20):            # ~2,000 characters each side: 100 of them would be ~400 KiB
        ingest.handle(*batch([dict(f, comment=f"{i:04d}" + "y" * 1990)]))
    assert count(store, "SELECT COUNT(*) FROM conflict") == 20
    small = conflicts.Limits(per_day=100, bytes_per_day=10_000)
    kept = conflicts.record(store, "k2", [(f["id"], "{}", "z" * 3000), (f["id"], "{}", "w" * 3000),
                                          (f["id"], "{}", "v" * 3000), (f["id"], "{}", "u" * 3000)],
                            NOW.replace(tzinfo=None), small)
    assert kept == 3 and conflicts.counts(store)["k2"]["conflicts"] == 4


def test_retention_removes_conflicts_and_their_counts_after_the_dead_letters_period(store):
    resend_with_new_comments(Ingest(store, clock=lambda: NOW), "k1", 3)
    assert apply_retention(store, NOW + timedelta(days=89)).counts["conflicts"] == 0
    assert count(store, "SELECT COUNT(*) FROM conflict") == 3
    removed = apply_retention(store, NOW + timedelta(days=91))
    assert removed.counts["conflicts"] == 3
    assert count(store, "SELECT COUNT(*) FROM conflict") == count(store, "SELECT COUNT(*) FROM conflict_count") == 0


def test_kiosk_list_shows_each_kiosks_conflicts_of_the_week(store, central_url, monkeypatch, capsys):
    """The operator sees who re-sends its ids with other content: `kiosk list` counts the week's
    conflicts per kiosk, kept or not (the clock is the ingest's day)."""
    import json

    from server_sync.cli import main
    from server_sync.commands import kiosk as kiosk_command
    resend_with_new_comments(Ingest(store, clock=lambda: NOW), "k1", conflicts.KEEP_PER_DAY + 5)
    monkeypatch.setattr(kiosk_command, "_now", lambda: NOW.replace(tzinfo=None))
    assert main(["--db", central_url, "kiosk", "list", "--json"]) == 0
    listed = {r["id"]: r for r in json.loads(capsys.readouterr().out)["kiosks"]}
    assert listed["k1"]["conflicts_7d"]["conflicts"] == conflicts.KEEP_PER_DAY + 5
    assert listed["k2"]["conflicts_7d"] == conflicts.NONE
    assert main(["--db", central_url, "kiosk", "list"]) == 0
    head, k1 = capsys.readouterr().out.splitlines()[:2]
    assert "conflicts 7d" in head and f" {conflicts.KEEP_PER_DAY + 5} " in k1
