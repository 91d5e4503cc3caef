"""Times recorded before a kiosk's clock synced are corrected from a synced event of the same boot
(wall time + monotonic offset), whichever arrives first; rollup counts move with them; what has
no anchor stays flagged `uncorrected`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from server_sync.central.intake import as_datetime
from server_sync.ingest import Ingest
from tests.central.wire import BOOT, NOW, batch, followup, register_fleet, response

WRONG = datetime(2021, 1, 1, 0, 0, tzinfo=timezone.utc)       # a Pi without RTC after a power cut
SYNCED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
MONO_SYNC = 10_000_000_000_000                                    # monotonic reading at the synced event


@pytest.fixture
def ingest(central_db):
    register_fleet(central_db)
    return Ingest(central_db, clock=lambda: NOW)


def unsynced(seq: int, seconds_before_sync: float, boot: str = BOOT) -> dict:
    mono = MONO_SYNC - int(seconds_before_sync * 1e9)
    return response(seq, at=WRONG + timedelta(seconds=seq), synced=False, mono=mono, boot=boot, value=1)


def times(db) -> dict[int, tuple[datetime, str]]:
    return {seq: (as_datetime(at), status) for seq, at, status in
            db.execute_sql("SELECT seq, recorded_at, time_status FROM response").fetchall()}


def rollup_hours(db) -> dict[datetime, int]:
    return {as_datetime(h): n for h, n in db.execute_sql("SELECT hour, n FROM rollup_hourly").fetchall()}


def test_earlier_unsynced_rows_are_corrected_when_the_anchor_arrives(ingest, central_db):
    db = central_db
    ingest.handle(*batch([unsynced(1, 3600.5), unsynced(2, 60)]))
    f = followup(3, "00000000-0000-4000-8000-000000000001", at=WRONG, synced=False, mono=MONO_SYNC - 10**9)
    ingest.handle(*batch([f]))
    assert {s for _, s in times(db).values()} == {"uncorrected"}
    assert rollup_hours(db) == {datetime(2021, 1, 1, 0, 0): 2}

    out = ingest.handle(*batch([response(4, at=SYNCED_AT, mono=MONO_SYNC, value=4)]))
    assert out.accepted.corrected == 3 and out.changed_sites == {"s1"}
    t = times(db)
    assert t[1] == (datetime(2026, 11, 23, 8, 59, 59, 500000), "corrected")
    assert t[2] == (datetime(2026, 11, 23, 9, 59), "corrected")
    assert t[4] == (SYNCED_AT.replace(tzinfo=None), "synced")
    kiosk_time = as_datetime(db.execute_sql("SELECT kiosk_recorded_at FROM response WHERE seq = 1").fetchone()[0])
    assert kiosk_time == (WRONG + timedelta(seconds=1)).replace(tzinfo=None)     # what the kiosk said is kept
    fat, fstatus = db.execute_sql("SELECT recorded_at, time_status FROM followup").fetchone()
    assert (as_datetime(fat), fstatus) == (datetime(2026, 11, 23, 9, 59, 59), "corrected")
    # The counts moved out of 2021 into the right hours.
    assert rollup_hours(db) == {datetime(2026, 11, 23, 8): 1, datetime(2026, 11, 23, 9): 1,
                                datetime(2026, 11, 23, 10): 1}


def test_new_unsynced_rows_use_a_known_anchor(ingest, central_db):
    ingest.handle(*batch([response(1, at=SYNCED_AT, mono=MONO_SYNC)]))
    out = ingest.handle(*batch([unsynced(2, 120)]))
    assert out.accepted.corrected == 0
    assert times(central_db)[2] == (datetime(2026, 11, 23, 9, 58), "corrected")


def test_same_batch_anchor_and_other_boots_stay_uncorrected(ingest, central_db):
    other = "22222222-2222-4222-8222-222222222222"
    ingest.handle(*batch([unsynced(1, 30), unsynced(2, 30, boot=other),
                          response(3, at=SYNCED_AT, mono=MONO_SYNC)]))
    t = times(central_db)
    assert t[1] == (datetime(2026, 11, 23, 9, 59, 30), "corrected")
    assert t[2] == ((WRONG + timedelta(seconds=2)).replace(tzinfo=None), "uncorrected")


AHEAD = datetime(2031, 5, 1, 0, 0, tzinfo=timezone.utc)        # an unsynced clock years ahead


def ahead(seq: int, seconds_before_sync: float, boot: str = BOOT) -> dict:
    return dict(unsynced(seq, seconds_before_sync, boot), recorded_at=AHEAD.strftime("%Y-%m-%dT%H:%M:%S.000Z"))


def test_unsynced_times_ahead_are_corrected_not_refused(ingest, central_db):
    """An unsynced clock ahead of the centre's (beyond the day of slack a synced one gets) goes
    through time correction like one behind: flagged until the boot's synced event comes, then
    moved, rollups along; one of a boot that never syncs stays flagged at the kiosk's time."""
    db = central_db
    other = "22222222-2222-4222-8222-222222222222"
    out = ingest.handle(*batch([ahead(1, 3600), ahead(2, 60, boot=other)]))
    assert out.kind == "batch" and out.accepted.new == 2
    assert db.execute_sql("SELECT COUNT(*) FROM dead_letter").fetchone()[0] == 0
    assert set(times(db).values()) == {(AHEAD.replace(tzinfo=None), "uncorrected")}
    assert rollup_hours(db) == {datetime(2031, 5, 1, 0): 2}
    out = ingest.handle(*batch([response(3, at=SYNCED_AT, mono=MONO_SYNC), ahead(4, 30)]))
    assert out.accepted.corrected == 1
    t = times(db)
    assert t[1] == (datetime(2026, 11, 23, 9, 0), "corrected")
    assert t[4] == (datetime(2026, 11, 23, 9, 59, 30), "corrected")          # a known anchor, on insert
    assert t[2] == (AHEAD.replace(tzinfo=None), "uncorrected")              # its boot never synced
    assert rollup_hours(db) == {datetime(2026, 11, 23, 9): 2, datetime(2026, 11, 23, 10): 1,
                                datetime(2031, 5, 1, 0): 1}


def test_an_unsynced_clock_at_1970_is_corrected_not_refused(ingest, central_db):
    """A Pi whose saved time was lost starts at 1970 until it syncs: its taps are stored flagged
    and moved to their real time when the boot's synced event comes (refused, they were lost)."""
    db = central_db
    epoch = datetime(1970, 1, 1, 0, 0, 5, tzinfo=timezone.utc)
    early = dict(unsynced(1, 600), recorded_at=epoch.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    out = ingest.handle(*batch([early]))
    assert out.kind == "batch" and out.accepted.new == 1
    assert times(db) == {1: (epoch.replace(tzinfo=None), "uncorrected")}
    ingest.handle(*batch([response(2, at=SYNCED_AT, mono=MONO_SYNC)]))
    assert times(db)[1] == (datetime(2026, 11, 23, 9, 50), "corrected")
    assert rollup_hours(db) == {datetime(2026, 11, 23, 9): 1, datetime(2026, 11, 23, 10): 1}
