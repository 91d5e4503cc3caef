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


EPOCH_1970 = datetime(1970, 1, 1, 0, 5, tzinfo=timezone.utc)


def published_then_lost(cfg, store, recorder, clock, n: int = 30) -> list[int]:
    """Record `n` answers, hand them all to the outbox (what the sync agent publishes), lose the
    database; returns the seqs that left."""
    from kiosk.outbox import Outbox
    for i in range(n):
        recorder.record("visit", 1 + i % 4)
        clock.advance(10)
    box = Outbox(store, cfg.kiosk_id)
    left = []
    while (b := box.next_batch(7, 1 << 20, now=clock.now(), sent_at="2026-11-23T12:00:00.000Z")) is not None:
        left.extend(b.seqs)
    store.close()
    lose(cfg.db_path)
    return left


def test_a_lost_database_with_the_clock_in_1970_never_reuses_a_seq_that_left(cfg, store, recorder, clock, monkeypatch):
    """A Pi has no real-time clock: the database goes missing and the kiosk starts before a time
    server is reached. The seqs that left (published or exported) are never given out again."""
    left = published_then_lost(cfg, store, recorder, clock)
    # The card's files carry the 1970 clock too, as they would have if the kiosk never had the time.
    for p in cfg.db_path.parent.iterdir():
        os.utime(p, (EPOCH_1970.timestamp(), EPOCH_1970.timestamp()))
    import kiosk.store as kstore
    monkeypatch.setattr(kstore, "datetime", type("D", (), {"now": staticmethod(lambda tz=None: EPOCH_1970)}))
    with LocalStore(cfg.db_path, kiosk_id=cfg.kiosk_id) as again:
        assert next_seq(again) > max(left)


def test_with_no_sent_mark_and_no_time_a_new_database_starts_in_the_unknown_band(tmp_path):
    from kiosk.earlier import UNKNOWN_BAND, UNKNOWN_WIDTH, read_sent
    path = tmp_path / "kiosk.db"
    marker(path).write_text("made\n")
    os.utime(marker(path), (EPOCH_1970.timestamp(), EPOCH_1970.timestamp()))
    assert read_sent(path) == 0
    starts = {start_sequence(path, EPOCH_1970) for _ in range(20)}
    assert all(UNKNOWN_BAND <= s < UNKNOWN_BAND + UNKNOWN_WIDTH for s in starts) and len(starts) == 20
    assert max(starts) + 10**12 < 2**63 - 1                  # room for the protocol's seqs
    # The time known again: from the time, as before.
    now = datetime.now(timezone.utc)
    assert start_sequence(path, now) == sequence_from_time(now)


def test_the_sent_mark_is_written_ahead_once_per_reserve_and_a_card_that_refuses_still_sends(tmp_path):
    from kiosk import earlier
    path = tmp_path / "kiosk.db"
    mark = earlier.SentMark(path, reserve=1000)
    written = []                                  # each write replaces the file: a new inode
    for seq in range(1, 2500):
        mark.cover(seq)
        st = earlier.sent_file(path).stat()
        if not written or written[-1][0] != st.st_ino:
            written.append((st.st_ino, earlier.read_sent(path)))
    assert [value for _ino, value in written] == [1001, 2002, 3003]
    # A card that takes no write (here the mark's directory is a file: a real OSError).
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    refused = earlier.SentMark(blocked / "kiosk.db", reserve=1000)
    refused.cover(5000)                           # no exception: the seq still goes
    assert refused.covered == 0 and earlier.read_sent(blocked / "kiosk.db") == 0


def test_the_sent_marks_writers_take_turns_so_none_writes_it_lower(tmp_path):
    """Two writers (the sync agent and an export) each read the mark and replace it: one that
    read before the other wrote would put it back lower. They take a lock on the data directory
    in turn; while another writer holds it, `cover` waits, then writes above what it finds."""
    import fcntl
    import os
    import threading
    from kiosk import earlier
    path = tmp_path / "kiosk.db"
    mark = earlier.SentMark(path, reserve=1000)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)           # another writer, between its read and its write
        writer = threading.Thread(target=mark.cover, args=(10,))
        writer.start()
        writer.join(0.5)
        waited = writer.is_alive()
        from kiosk.durable_file import replace_file
        replace_file(earlier.sent_file(path), "seq 500000\n")   # the other writer's mark
    finally:
        os.close(fd)
    writer.join(5)
    assert waited, "cover wrote while another writer held the lock"
    assert earlier.read_sent(path) == 500000 and mark.covered == 500000


def test_an_export_moves_the_sent_mark_above_what_it_wrote(cfg, store, recorder, clock):
    import io
    from kiosk.earlier import read_sent
    from kiosk.export import export_to
    for i in range(5):
        recorder.record("visit", 1 + i % 4)
        clock.advance(10)
    assert read_sent(cfg.db_path) == 0
    export_to(cfg, store, "jsonl", None, io.StringIO(), clock.now())
    assert read_sent(cfg.db_path) > 5


def test_repair_continues_above_the_sent_mark_when_the_clock_is_behind(tmp_path):
    from kiosk.earlier import SentMark
    path = tmp_path / "kiosk.db"
    path.write_bytes(b"")                    # nothing to read the sequence from: an emptied file
    SentMark(path, reserve=0).cover(sequence_from_time(datetime(2031, 1, 1, tzinfo=timezone.utc)))
    result = repair.repair(path, now=EPOCH_1970, force=True)
    assert result.sequence_from == "sent mark"
    assert result.sequence == sequence_from_time(datetime(2031, 1, 1, tzinfo=timezone.utc))
    path.unlink()
    for p in tmp_path.glob("kiosk.db.sent*"):
        p.unlink()
    path.write_bytes(b"")
    result = repair.repair(path, now=EPOCH_1970 + timedelta(minutes=1), force=True)
    assert result.sequence_from == "unknown-time band"


def test_two_repairs_in_the_same_second_keep_both_damaged_files(tmp_path):
    path = tmp_path / "kiosk.db"
    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    kept = []
    for _ in range(3):
        path.write_bytes(b"")
        kept += repair.repair(path, now=now, force=True).damaged_kept_as
    assert len(set(kept)) == 3 and all(Path(k).exists() for k in kept)


def test_repair_continues_above_the_sent_mark_when_the_damaged_files_counter_is_behind(tmp_path):
    """The counter read from the damaged file is behind when the card lost the WAL's last
    commits; what of them left the kiosk is under the sent mark."""
    from kiosk.earlier import SentMark
    path = tmp_path / "kiosk.db"
    LocalStore(path, kiosk_id=ID).close()                       # its counter: 0
    SentMark(path, reserve=100).cover(40)
    result = repair.repair(path, now=datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc), force=True)
    assert (result.sequence, result.sequence_from) == (140, "sent mark")


def test_two_writers_of_the_sent_mark_never_lower_it(tmp_path):
    """The sync agent's outbox and an export each keep a SentMark: the one that writes later
    must not put back a lower mark than the other wrote."""
    from kiosk.earlier import SentMark, read_sent
    path = tmp_path / "kiosk.db"
    agent, export = SentMark(path, reserve=1000), SentMark(path, reserve=1000)
    agent.cover(5000)                         # the agent published up to 5000: mark 6000
    export.cover(10)                          # the export, which read the mark before (0)
    assert read_sent(path) == 6000
