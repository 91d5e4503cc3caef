"""A kiosk database made where one went missing continues the sequence from the clock, never from
1 again (kiosk.earlier), and `kiosk repair` on a missing database says what shows it was there."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk import repair
from kiosk.earlier import marker, sequence_from_time, start_sequence
from kiosk.exc import StoreError
from kiosk.store import LocalStore

ID = "k1"


def next_seq(store: LocalStore) -> int:
    return store.db.execute_sql("SELECT value FROM sequence WHERE name = 'event'").fetchone()[0] + 1


def lose(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_a_database_made_where_one_went_missing_continues_from_the_clock(tmp_path):
    path = tmp_path / "data" / "kiosk.db"
    with LocalStore(path, kiosk_id=ID) as store:              # a fresh card: from 1
        assert next_seq(store) == 1 and marker(path).exists()
    lose(path)
    before = sequence_from_time(datetime.now(timezone.utc))
    with LocalStore(path, kiosk_id=ID) as store:
        assert next_seq(store) > before
    lose(path)
    with pytest.raises(StoreError, match="no database at .*kiosk.db, though this directory held one"
                                         r" \(kiosk.db.made\)"):
        repair.repair(path, now=datetime.now(timezone.utc))


def test_a_pushed_config_or_a_damaged_file_counts_and_a_clock_behind_them_does_not(tmp_path):
    path = tmp_path / "kiosk.db"
    now = datetime.now(timezone.utc)
    assert start_sequence(path, now) == 0
    pushed = tmp_path / "pushed-config.json"
    pushed.write_text("{}")
    later = now + timedelta(days=3)
    os.utime(pushed, (later.timestamp(), later.timestamp()))     # the clock is behind the card's files
    assert start_sequence(path, now) == sequence_from_time(later)
    pushed.unlink()
    (tmp_path / "kiosk.db.damaged-20261123T120000Z").write_bytes(b"")
    assert start_sequence(path, now) >= sequence_from_time(now)


def test_repair_of_a_database_never_made_says_only_that(tmp_path):
    with pytest.raises(StoreError, match=r"nothing to repair \(a new one is made at the first start\)"):
        repair.repair(tmp_path / "kiosk.db", now=datetime.now(timezone.utc))
