"""Answers given before the clock synced are put on their right store-local day and hour once it
has (kiosk.local_day): the staff view and `kiosk stats` count them where they were given. What
the centre gets is unchanged: it corrects times itself (docs/central.md, Time correction)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kiosk.capture import Recorder
from kiosk.clock import FakeClock
from kiosk.local_day import RESTAMPED, restamp_unsynced
from kiosk.stats import local_stats
from kiosk.sync_agent import SyncAgent
from tests.test_retention_kiosk import NoBroker

# A Pi booted on Tuesday 08:55 Stockholm with fake-hwclock's Monday 20:47 (the last shutdown).
TRUE_BOOT = datetime(2026, 11, 24, 7, 55, tzinfo=timezone.utc)
FAKE_BOOT = datetime(2026, 11, 23, 19, 47, tzinfo=timezone.utc)


def stamps(store) -> list[tuple]:
    return store.db.execute_sql("SELECT local_date, local_hour, recorded_at, clock_synced, boot_id"
                                " FROM response ORDER BY seq").fetchall()


def test_answers_stamped_before_the_sync_move_to_their_day_once_it_syncs(recorder, store, cfg, clock):
    other = "11111111-0000-4000-8000-000000000000"          # an earlier boot that never synced
    Recorder(cfg, store, FakeClock(FAKE_BOOT - timedelta(days=3), synced=False, boot_id=other)).record("visit", 2)
    clock.synced = False
    clock.step(FAKE_BOOT)
    recorder.record("visit", 4)                             # Tuesday 08:55 really, "Monday 20:47"
    clock.advance(65 * 60)
    recorder.record("visit", 3)                             # Tuesday 10:00 really, "Monday 21:52"
    before = stamps(store)
    assert [r[:2] for r in before] == [("2026-11-20", 20), ("2026-11-23", 20), ("2026-11-23", 21)]
    clock.advance(5 * 60)
    clock.step(TRUE_BOOT + timedelta(minutes=70))           # NTP: Tuesday 10:05
    clock.synced = True
    recorder.record("visit", 1)                             # stamped right from now on

    assert restamp_unsynced(store, cfg.timezone, boot_id=clock.boot_id(), now=clock.now(),
                            monotonic_ns=clock.monotonic_ns()) == 2
    after = stamps(store)
    assert [r[:2] for r in after] == [("2026-11-20", 20), ("2026-11-24", 8), ("2026-11-24", 10),
                                      ("2026-11-24", 10)]
    assert [r[2:] for r in after] == [r[2:] for r in before] + [after[3][2:]]   # recorded_at as sent
    assert after[0][4] == other                             # another boot's: nothing to tell it by
    assert store.get_meta(RESTAMPED) == clock.boot_id()
    # Once a boot: the next look finds the mark and reads no answer.
    assert restamp_unsynced(store, cfg.timezone, boot_id=clock.boot_id(), now=clock.now(),
                            monotonic_ns=clock.monotonic_ns()) == 0
    today = local_stats(cfg, store, clock.now(), question="visit")["periods"]["today"]
    assert today["answers"] + today["flagged"] == 3


def test_the_sync_agent_restamps_once_the_clock_syncs(recorder, store, cfg, clock):
    now_s = [0.0]
    agent = SyncAgent(cfg, store, client_factory=lambda cid: NoBroker(), clock=clock, password="x",
                      monotonic=lambda: now_s[0])
    clock.synced = False
    clock.step(FAKE_BOOT)
    recorder.record("visit", 4)
    agent.step()                                            # not synced: nothing known yet
    assert [r[:2] for r in stamps(store)] == [("2026-11-23", 20)]
    clock.step(TRUE_BOOT + timedelta(minutes=1))
    clock.synced = True
    now_s[0] += 61                                          # the agent looks again within a minute
    agent.step()
    assert [r[:2] for r in stamps(store)] == [("2026-11-24", 8)]
    assert stamps(store)[0][2] == "2026-11-23T19:47:00.000Z"   # what goes to the centre: unchanged


def test_an_answer_whose_monotonic_cell_the_card_damaged_keeps_its_day_and_stops_nothing(recorder, store, cfg,
                                                                                          clock):
    """One monotonic_ns cell the card turned into text or a BLOB (or a number no answer of this
    boot can have) raised a TypeError in the restamp, which the agent's first turn after the sync
    runs: `kiosk sync` ended, systemd started it into the same failure, nothing was sent until a
    reboot (a review). Such an answer now keeps the day it was stamped with; the others move."""
    clock.synced = False
    clock.step(FAKE_BOOT)
    recorder.record("visit", 4)
    for _ in range(4):
        clock.advance(60)
        recorder.record("visit", 3)
    damaged = [("4x",), (b"\x00\x07",), (12.5,), (clock.monotonic_ns() + 10**15,)]
    for value, seq in zip(damaged, (2, 3, 4, 5)):
        store.db.execute_sql("UPDATE response SET monotonic_ns = ? WHERE seq = ?", (value[0], seq))
    clock.step(TRUE_BOOT + timedelta(minutes=4))             # the first answer: Tuesday 08:55
    clock.synced = True
    assert restamp_unsynced(store, cfg.timezone, boot_id=clock.boot_id(), now=clock.now(),
                            monotonic_ns=clock.monotonic_ns()) == 1
    assert [r[:2] for r in stamps(store)] == [("2026-11-24", 8)] + [("2026-11-23", 20)] * 4
    assert store.get_meta(RESTAMPED) == clock.boot_id()
