"""The idle app's sleep: when it may sleep (pure rule) and the input watch that wakes it,
driven through a real pipe standing in for a touch panel's evdev device."""

from __future__ import annotations

import os
import threading

from kiosk.ui import sleep
from kiosk.ui.sleep import InputWatch, may_sleep


def test_sleeps_only_on_the_quiet_question_screen_with_a_frame_rate():
    quiet = dict(awake_fps=30, on_question=True, quiet_s=sleep.SLEEP_AFTER_S, screen_age_s=60)
    assert may_sleep(**quiet)
    assert not may_sleep(**{**quiet, "quiet_s": sleep.SLEEP_AFTER_S - 0.1})       # just touched
    assert not may_sleep(**{**quiet, "screen_age_s": 0.5})                        # just came back
    assert not may_sleep(**{**quiet, "on_question": False})                       # a follow-up open
    assert not may_sleep(**{**quiet, "awake_fps": 0})                             # frames driven


def test_input_watch_calls_back_once_per_burst_and_stops(tmp_path):
    r, w = os.pipe()
    fifo = tmp_path / "event0"
    os.mkfifo(fifo)
    woken = threading.Event()
    calls = []

    def on_input():
        calls.append(1)
        woken.set()
    # A fifo stands in for /dev/input/event0: opened read-only and non-blocking, like a device.
    watch = InputWatch(on_input, paths=[str(fifo), str(tmp_path / "missing")])
    writer = os.open(fifo, os.O_WRONLY)
    try:
        assert watch.watching == 1                  # the unreadable path is skipped
        watch.start()
        assert not woken.wait(0.2)                  # nothing touched: no call, no wake-up
        os.write(writer, b"\0" * 72)                # three input_event records at once
        assert woken.wait(5)
        woken.clear()
        os.write(writer, b"\0" * 24)
        assert woken.wait(5)
        assert len(calls) == 2
    finally:
        watch.close()
        os.close(writer)
        os.close(r)
        os.close(w)
    assert watch._thread is not None and not watch._thread.is_alive()


def test_no_readable_device_means_no_thread():
    watch = InputWatch(lambda: None, paths=[])
    watch.start()
    assert watch.watching == 0 and watch._thread is None
    watch.close()
    watch.close()                                   # Kivy may dispatch on_stop twice
