"""SmileyPanel through gpiozero's MockFactory: presses come from the pin side, durations from a
hand-moved monotonic clock, waits are on Events with timeouts (never bare sleeps)."""

from __future__ import annotations

import threading
import time

import pytest

from kiosk.config import GpioSettings
from kiosk.panel import SmileyPanel

BUTTONS = [5, 6, 13, 19]


class Sink:
    """Collects when_rated / when_staff_gesture calls and signals each one."""

    def __init__(self, panel: SmileyPanel) -> None:
        self.rated: list[int] = []
        self.gestures = 0
        self.event = threading.Event()
        self.threads: set[str] = set()
        panel.when_rated = self._rated
        panel.when_staff_gesture = self._gesture

    def _rated(self, index: int) -> None:
        self.rated.append(index)
        self.threads.add(threading.current_thread().name)
        self.event.set()

    def _gesture(self) -> None:
        self.gestures += 1
        self.event.set()


def press(factory, mono, pin: int, hold_s: float) -> None:
    factory.pin(pin).drive_low()
    mono.advance(hold_s)
    factory.pin(pin).drive_high()


def wait_until(predicate, timeout: float = 3.0) -> bool:
    """Poll a condition on an Event's timeout (no bare sleep decides a test)."""
    ev = threading.Event()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        ev.wait(0.01)
    return predicate()


def test_valid_press_rates_on_release_and_flashes_that_led(panel, mock_factory, mono):
    sink = Sink(panel)
    mock_factory.pin(13).drive_low()
    mono.advance(0.2)
    assert sink.rated == []                      # nothing on press: release-to-record
    mock_factory.pin(13).drive_high()
    assert sink.event.wait(1)
    assert sink.rated == [2]
    assert panel.led_values() == [0.0, 0.0, 1.0, 0.0]          # flash: only that LED, full
    assert mock_factory.pin(20).state == 1.0
    # The flash ends and the idle pattern (gentle, never full brightness) comes back.
    assert wait_until(lambda: max(panel.led_values()) < 0.5 and len(set(panel.led_values())) == 1)


def test_idle_pattern_breathes_gently_on_every_led(panel):
    assert panel.has_pwm
    seen = set()
    assert wait_until(lambda: seen.add(tuple(panel.led_values())) or len(seen) >= 3)
    for frame in seen:
        assert len(set(frame)) == 1 and 0 < frame[0] <= 0.35


def test_without_the_idle_pattern_the_leds_glow_steadily(mock_factory, mono):
    """As shipped (gpio.idle_pattern off): a steady glow shows the kiosk is alive (a kiosk without
    a screen was dark) and, unlike the breath, never changes, so it needs no wake-up."""
    with SmileyPanel(BUTTONS, [12, 16, 20, 21], pin_factory=mock_factory, monotonic=mono) as p:
        assert p.has_pwm
        assert wait_until(lambda: p.led_values() == [0.2] * 4)
        seen = set()
        wait_until(lambda: seen.add(tuple(p.led_values())) and False, timeout=0.3)   # several breath steps long
        assert seen == {(0.2,) * 4}


def test_plain_leds_without_the_idle_pattern_stay_on():
    from gpiozero.pins.mock import MockFactory
    factory = MockFactory()              # MockPin: no PWM
    try:
        with SmileyPanel(BUTTONS, [12, 16, 20, 21], pin_factory=factory, monotonic=lambda: 0.0) as p:
            assert not p.has_pwm
            assert wait_until(lambda: p.led_values() == [1.0] * 4)
    finally:
        factory.reset()


def test_plain_leds_without_pwm_still_flash(mono):
    from gpiozero.pins.mock import MockFactory
    factory = MockFactory()              # MockPin: no PWM, as GPIOZERO_PIN_FACTORY=mock gives
    try:
        with SmileyPanel(BUTTONS, [12, 16, 20, 21], pin_factory=factory, monotonic=mono) as p:
            sink = Sink(p)
            assert not p.has_pwm
            press(factory, mono, 5, 0.3)
            assert sink.rated == [0]
            assert p.led_values() == [1.0, 0.0, 0.0, 0.0]
    finally:
        factory.reset()


def test_bounce_short_contact_is_not_a_press(panel, mock_factory, mono):
    sink = Sink(panel)
    press(mock_factory, mono, 6, 0.005)          # 5 ms blip, below bounce_s
    assert sink.rated == []
    press(mock_factory, mono, 6, 0.0299)         # just under bounce_s
    assert sink.rated == []
    mono.advance(1)
    press(mock_factory, mono, 6, 0.03)           # exactly bounce_s counts
    assert sink.rated == [1]


def test_bounce_chatter_after_release_is_not_a_second_answer(panel, mock_factory, mono):
    sink = Sink(panel)
    press(mock_factory, mono, 6, 0.25)           # the real press
    mono.advance(0.004)                          # contact chatter on release...
    press(mock_factory, mono, 6, 0.2)            # ...that looks like a press of its own
    assert sink.rated == [1]
    mono.advance(0.5)
    press(mock_factory, mono, 6, 0.2)            # a real second press later does count
    assert sink.rated == [1, 1]


def test_a_press_whose_contact_bounces_as_it_closes_is_one_answer(panel, mock_factory, mono):
    """A make that bounces (closed 2 ms, open 2 ms, then held): the 2 ms contact is no press, and
    the press it opens is one answer. Its release was stamped, so the real press looked like
    chatter of it and was dropped on a driver without hardware debounce (the demo's mock pins)."""
    sink = Sink(panel)
    mono.advance(10)
    press(mock_factory, mono, 6, 0.002)          # the contact closes and bounces open
    mono.advance(0.002)
    press(mock_factory, mono, 6, 0.15)           # ...and closes for the press
    assert sink.rated == [1]
    mono.advance(0.004)                          # chatter as it is released is still no answer
    press(mock_factory, mono, 6, 0.002)
    assert sink.rated == [1]


def test_stuck_button_never_answers_and_does_not_block_others(panel, mock_factory, mono):
    sink = Sink(panel)
    mock_factory.pin(13).drive_low()             # stuck for minutes
    mono.advance(180)
    press(mock_factory, mono, 5, 0.2)            # another customer uses another button
    assert sink.rated == [0]
    mock_factory.pin(13).drive_high()            # the stuck one finally lets go
    assert sink.rated == [0]


@pytest.mark.parametrize("stuck, others", [(5, (6, 13, 19)), (19, (5, 6, 13))])
def test_stuck_outer_button_does_not_block_the_other_outer_one(panel, mock_factory, mono,
                                                               stuck, others):
    sink = Sink(panel)
    mock_factory.pin(stuck).drive_low()          # an outer button stuck for minutes
    mono.advance(180)
    for pin in others:
        mono.advance(1)
        press(mock_factory, mono, pin, 0.2)
    assert sink.rated == [BUTTONS.index(pin) for pin in others]
    assert sink.gestures == 0


def test_stuck_outer_button_is_no_half_of_the_staff_gesture(panel, mock_factory, mono):
    sink = Sink(panel)
    mock_factory.pin(5).drive_low()              # stuck
    mono.advance(180)
    press(mock_factory, mono, 19, 3.1)           # one button held past staff_hold_s
    assert sink.gestures == 0                    # a gesture due fires on release at the latest
    assert sink.rated == []                      # held past max_press_s: no answer either


def test_press_just_under_max_counts_at_max_does_not(panel, mock_factory, mono):
    sink = Sink(panel)
    press(mock_factory, mono, 19, 1.999)
    assert sink.rated == [3]
    mono.advance(1)
    press(mock_factory, mono, 19, 2.0)
    assert sink.rated == [3]


def test_two_buttons_at_once_is_no_answer(panel, mock_factory, mono):
    sink = Sink(panel)
    mock_factory.pin(6).drive_low()
    mono.advance(0.1)
    mock_factory.pin(13).drive_low()
    mono.advance(0.1)
    mock_factory.pin(6).drive_high()
    mock_factory.pin(13).drive_high()
    assert sink.rated == []


def test_staff_gesture_fires_once_and_records_nothing(panel, mock_factory, mono):
    sink = Sink(panel)
    mock_factory.pin(5).drive_low()
    mono.advance(0.5)
    mock_factory.pin(19).drive_low()
    mono.advance(3.0)
    assert sink.event.wait(2), "gesture not seen while the buttons are held"
    assert sink.gestures == 1
    mono.advance(1)
    mock_factory.pin(5).drive_high()
    mock_factory.pin(19).drive_high()
    assert sink.gestures == 1 and sink.rated == []


def test_outer_buttons_released_early_are_no_gesture_and_no_answer(panel, mock_factory, mono):
    sink = Sink(panel)
    mock_factory.pin(5).drive_low()
    mock_factory.pin(19).drive_low()
    mono.advance(2.9)
    mock_factory.pin(19).drive_high()
    mock_factory.pin(5).drive_high()
    assert sink.gestures == 0 and sink.rated == []


def test_gesture_on_real_time_hold(mock_factory):
    with SmileyPanel(BUTTONS, [], pin_factory=mock_factory, staff_hold_s=0.2) as p:
        sink = Sink(p)
        mock_factory.pin(5).drive_low()
        mock_factory.pin(19).drive_low()
        assert sink.event.wait(3)
        assert sink.gestures == 1
        mock_factory.pin(5).drive_high()
        mock_factory.pin(19).drive_high()
        assert sink.rated == []


def test_show_outbox_state_blinks_all_leds(panel):
    panel.show_outbox_state(2)
    assert panel.led_values() == [1.0] * 4
    assert wait_until(lambda: panel.led_values() == [0.0] * 4)
    assert wait_until(lambda: panel.led_values() == [1.0] * 4)          # second blink
    panel.show_outbox_state(0)
    assert panel.led_values() == [1.0] * 4                              # steady: all sent


def test_a_failing_handler_does_not_kill_the_panel(panel, mock_factory, mono):
    calls = []

    def boom(i):
        calls.append(i)
        raise RuntimeError("handler bug")
    panel.when_rated = boom
    press(mock_factory, mono, 5, 0.2)
    mono.advance(1)
    press(mock_factory, mono, 6, 0.2)
    assert calls == [0, 1]


def test_from_config_and_env_mock_factory(monkeypatch, mono):
    from gpiozero import Device
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    previous = Device.pin_factory
    Device.pin_factory = None
    try:
        with SmileyPanel.from_config(GpioSettings(), monotonic=mono) as p:
            sink = Sink(p)
            factory = Device.pin_factory
            press(factory, mono, 13, 0.1)
            assert sink.rated == [2]
    finally:
        if Device.pin_factory is not None:
            Device.pin_factory.reset()
        Device.pin_factory = previous


def test_bad_wiring_is_refused(mock_factory):
    with pytest.raises(ValueError, match="one LED per button"):
        SmileyPanel(BUTTONS, [12, 16], pin_factory=mock_factory)
    # The buttons it did claim were released again: a correct panel can take the pins.
    SmileyPanel(BUTTONS, [12, 16, 20, 21], pin_factory=mock_factory).close()
