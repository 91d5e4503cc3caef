"""Repeat and burst filters at their edges; memory across a restart within a boot, reset on a new boot."""

from __future__ import annotations

import pytest

from kiosk.capture import Recorder
from kiosk.clock import FakeClock
from kiosk.config import Filters
from kiosk.filters import BURST, REPEAT, PressFilter
from kiosk.store import LocalStore

S = 1_000_000_000


def test_repeat_exactly_at_window_counts_just_under_is_flagged():
    f = PressFilter(Filters(repeat_window_s=5.0, burst_per_minute=0))
    assert f.classify(100 * S) is None
    assert f.classify(105 * S - 1) == REPEAT          # 4.999999999 s after
    assert f.classify(110 * S - 1) is None             # exactly 5 s after the previous press


def test_repeat_is_measured_from_the_previous_press_even_a_flagged_one():
    f = PressFilter(Filters(repeat_window_s=5.0, burst_per_minute=0))
    assert [f.classify(t * S) for t in (0, 3, 6, 9, 15)] == [None, REPEAT, REPEAT, REPEAT, None]


def test_burst_k_allowed_k_plus_one_flagged():
    f = PressFilter(Filters(repeat_window_s=5.0, burst_per_minute=10))
    flags = [f.classify(i * 5 * S) for i in range(11)]    # 11 presses, 5 s apart: 50 s
    assert flags[:10] == [None] * 10
    assert flags[10] == BURST


def test_burst_window_slides_after_a_minute():
    f = PressFilter(Filters(repeat_window_s=0, burst_per_minute=3))
    assert [f.classify(t * S) for t in (0, 1, 2, 3)] == [None, None, None, BURST]
    assert f.classify(60 * S) == BURST              # presses at 1, 2, 3 are still within 60 s
    assert f.classify(62 * S + 1) is None           # only 3 and 60 remain in the last minute


def test_disabled_filters_flag_nothing():
    f = PressFilter(Filters(repeat_window_s=0, burst_per_minute=0))
    assert {f.classify(i) for i in range(100)} == {None}


def test_recorder_flags_but_keeps(recorder, store, clock):
    a = recorder.record("visit", 4)
    clock.advance(4.999)
    b = recorder.record("visit", 4)
    clock.advance(5.0)
    c = recorder.record("visit", 4)
    assert (a.filtered, b.filtered, c.filtered) == (None, REPEAT, None)
    rows = store.db.execute_sql("SELECT seq, filtered FROM response ORDER BY seq").fetchall()
    assert rows == [(1, None), (2, "repeat"), (3, None)]


def test_restart_within_the_same_boot_keeps_filter_memory(cfg, clock):
    with LocalStore(cfg.db_path) as s:
        Recorder(cfg, s, clock).record("visit", 3)
    clock.advance(2)                                     # the app restarted within 2 s
    with LocalStore(cfg.db_path) as s:
        assert Recorder(cfg, s, clock).record("visit", 3).filtered == REPEAT


def test_restart_keeps_burst_memory(cfg, clock):
    with LocalStore(cfg.db_path) as s:
        r = Recorder(cfg, s, clock)
        for _ in range(cfg.filters.burst_per_minute):
            r.record("visit", 3)
            clock.advance(5)
    with LocalStore(cfg.db_path) as s:
        assert Recorder(cfg, s, clock).record("visit", 3).filtered == BURST


def test_new_boot_resets_filter_memory(cfg, clock):
    with LocalStore(cfg.db_path) as s:
        Recorder(cfg, s, clock).record("visit", 3)
    rebooted = FakeClock(clock.now(), boot_id="11111111-1111-4111-8111-111111111111")
    rebooted.advance(1)
    with LocalStore(cfg.db_path) as s:
        assert Recorder(cfg, s, rebooted).record("visit", 3).filtered is None


def test_boot_change_under_a_running_recorder_resets(recorder, clock):
    recorder.record("visit", 3)
    clock._boot = "22222222-2222-4222-8222-222222222222"   # the FakeClock's boot id, as after a reboot
    clock.advance(1)
    assert recorder.record("visit", 3).filtered is None


@pytest.mark.parametrize("window", [0.5, 30.0])
def test_configured_window(cfg, store, clock, window):
    from dataclasses import replace
    c = replace(cfg, filters=Filters(repeat_window_s=window, burst_per_minute=0))
    r = Recorder(c, store, clock)
    r.record("visit", 2)
    clock.advance(window - 0.001)
    assert r.record("visit", 2).filtered == REPEAT
