"""The physical smiley panel: 4 (or 5) buttons with an LED each, on gpiozero.

What it decides (and nothing more): which button presses are answers, when the staff gesture
happened, and what the LEDs show. It never records anything itself: `when_rated(index)` hands
the answer to whoever owns the capture path (the headless kiosk, the Kivy app).

Rules, and why:
- An answer is registered on RELEASE of a single button whose press lasted between `bounce_s`
  and `max_press_s`. Release-to-record lets us reject a stuck button (held for minutes) and the
  first button of the staff gesture, which a press-to-record design would already have counted.
- Contact bounce: gpiozero's `bounce_time` where the pin factory implements it, plus our own
  rules that work on every factory (the mock one has no bounce filter): a press shorter than
  `bounce_s` is no press, and a press starting within `bounce_s` of that button's release is
  chatter of the previous press, not a new one.
- Two buttons down at once (a child mashing, a palm) is ambiguous: neither counts. A button down
  for longer than `max_press_s` is stuck and no longer blocks the others.
- Holding both outer buttons `staff_hold_s` fires `when_staff_gesture` once; those presses
  never count as answers. The second must go down while the first is younger than
  `max_press_s`: a stuck outer button is no half of the gesture, as it blocks no other button.
- The panel flashes the pressed button's LED itself on every valid press, before it calls
  `when_rated`, so a press the repeat filter flags later looks exactly the same to the customer;
  or, with `flash_on_press=False`, leaves the flash to the kiosk, which flashes (`flash`) once the
  answer is stored and blinks `show_fault` when it could not be: a thank-you is never a lie.
- While idle the LEDs glow steadily (dimmed with PWM, on without), so a kiosk without a screen
  still shows it is alive; with `idle_pattern` they breathe gently (PWM) or chase slowly (plain
  on/off LEDs) instead, off by default: the animation wakes the kiosk 20 times a second, which
  the steady glow never does. A flash or an outbox blink pattern interrupts either.

Press durations use the injected `monotonic` callable, so tests control them; LED animation uses
real time on one background thread. Callbacks run on gpiozero's thread (or the thread that
drives a mock pin): keep them short, never touch UI widgets from them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Callable, Sequence

log = logging.getLogger(__name__)

_TICK_S = 0.05          # LED animation step: 20 Hz is smooth enough for a slow breath
_BREATH_PERIOD_S = 4.0
_BREATH_MIN, _BREATH_MAX = 0.02, 0.35   # gentle: never full brightness while idle
_GLOW = 0.2             # the steady idle level of dimmable LEDs: about the breath's mean
_CHASE_STEP_S = 1.5
# Durations are differences of floats: a press of exactly bounce_s must not lose to rounding.
_EPS = 1e-6


class SmileyPanel:
    """Buttons (most negative first) and their LEDs, with the answer and gesture rules above."""

    def __init__(self, buttons: Sequence[int], leds: Sequence[int] = (), *, pull_up: bool = True,
                 bounce_s: float = 0.03, max_press_s: float = 2.0, staff_hold_s: float = 3.0,
                 led_flash_s: float = 0.8, idle_pattern: bool = False, pin_factory=None,
                 monotonic: Callable[[], float] = time.monotonic, flash_on_press: bool = True) -> None:
        # A plain input, not gpiozero's Button: a Button keeps a hold-timer thread per pin that
        # polls ten times a second for its `when_held`, which the panel does not use (it times
        # holds itself): 40 wake-ups a second on an idle four-button kiosk.
        from gpiozero import DigitalInputDevice

        if len(buttons) < 2:
            raise ValueError("a smiley panel needs at least two buttons")
        if leds and len(leds) != len(buttons):
            raise ValueError(f"one LED per button: {len(buttons)} buttons, {len(leds)} LEDs")
        self.bounce_s = float(bounce_s)
        self.max_press_s = float(max_press_s)
        self.staff_hold_s = float(staff_hold_s)
        self.led_flash_s = float(led_flash_s)
        self.idle_pattern = bool(idle_pattern)
        # False: the kiosk flashes the LED itself once the answer is stored (`flash`), so a press
        # the card could not store is never thanked for.
        self.flash_on_press = bool(flash_on_press)
        self._mono = monotonic
        self.when_rated: Callable[[int], None] | None = None
        self.when_staff_gesture: Callable[[], None] | None = None

        n = len(buttons)
        self._lock = threading.RLock()
        self._down_since: list[float | None] = [None] * n
        self._released_at: list[float | None] = [None] * n
        self._void: list[bool] = [False] * n        # this press can no longer be an answer
        self._gesture_since: float | None = None
        self._gesture_fired = False
        self._closed = False

        self._buttons = []
        self._leds = []
        self._pwm = False
        try:
            for pin in buttons:
                b = DigitalInputDevice(pin, pull_up=pull_up, bounce_time=self.bounce_s or None,
                                       pin_factory=pin_factory)
                self._buttons.append(b)
            for i, b in enumerate(self._buttons):
                b.when_activated = self._make_handler(self._pressed, i)
                b.when_deactivated = self._make_handler(self._released, i)
            self._leds, self._pwm = _make_leds(leds, pin_factory)
        except BaseException:
            self._close_devices()
            raise

        # LED state machine, played by one animator thread.
        self._flash_index: int | None = None
        self._flash_until = 0.0
        self._pattern: list[tuple[float, float]] = []    # (seconds, brightness for all LEDs)
        self._pattern_step_until = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._animator = threading.Thread(target=self._animate, name="smiley-panel-leds", daemon=True)
        self._animator.start()

    @classmethod
    def from_config(cls, gpio, pin_factory=None, **kw) -> "SmileyPanel":
        """A panel from `kiosk.config.GpioSettings`; `kw` overrides (e.g. monotonic)."""
        args = dict(pull_up=gpio.pull_up, bounce_s=gpio.bounce_s, max_press_s=gpio.max_press_s,
                    staff_hold_s=gpio.staff_hold_s, led_flash_s=gpio.led_flash_s,
                    idle_pattern=gpio.idle_pattern)
        args.update(kw)
        return cls(tuple(gpio.buttons), tuple(gpio.leds), pin_factory=pin_factory, **args)

    # -- public -------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self._buttons)

    @property
    def has_pwm(self) -> bool:
        """True when the LEDs dim (PWM); plain LEDs chase instead of breathing."""
        return self._pwm

    def led_values(self) -> list[float]:
        """What each LED shows now (0..1); for tests and the staff screen."""
        with self._lock:
            return [float(led.value) for led in self._leds]

    def flash(self, index: int) -> None:
        """Light that button's LED for `led_flash_s` (others off), interrupting the idle pattern."""
        if not 0 <= index < self.size:
            raise IndexError(f"no button {index} (0..{self.size - 1})")
        with self._lock:
            if self._closed:
                return
            self._pattern = []
            self._flash_index = index
            self._flash_until = time.monotonic() + self.led_flash_s
            self._show_frame(time.monotonic())
        self._wake.set()

    def show_outbox_state(self, depth: int) -> None:
        """Blink the outbox state on every LED.

        0: all steady on for 2 s (everything is at the centre); 1-9: N slow blinks;
        10 or more: ten fast blinks ("many waiting").
        """
        if depth <= 0:
            frames = [(2.0, 1.0), (0.5, 0.0)]
        elif depth < 10:
            frames = [(0.3, 1.0), (0.3, 0.0)] * depth + [(0.5, 0.0)]
        else:
            frames = [(0.1, 1.0), (0.1, 0.0)] * 10 + [(0.5, 0.0)]
        self._play(frames)

    def show_fault(self) -> None:
        """Every LED blinks fast five times: the press was NOT recorded (the card is full or
        failed), never the thank-you flash."""
        self._play([(0.08, 1.0), (0.08, 0.0)] * 5 + [(0.5, 0.0)])

    def _play(self, frames: list[tuple[float, float]]) -> None:
        with self._lock:
            if self._closed:
                return
            self._flash_index = None
            self._pattern = frames
            self._pattern_step_until = time.monotonic() + frames[0][0]
            self._show_frame(time.monotonic())
        self._wake.set()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._wake.set()
        if self._animator.is_alive() and threading.current_thread() is not self._animator:
            self._animator.join(timeout=2)
        self._close_devices()

    def __enter__(self) -> "SmileyPanel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- buttons ------------------------------------------------------------------------------

    @staticmethod
    def _make_handler(method: Callable[[int], None], index: int) -> Callable[[], None]:
        def handler() -> None:
            method(index)
        return handler

    def _outer(self) -> tuple[int, int]:
        return 0, self.size - 1

    def _pressed(self, i: int) -> None:
        now = self._mono()
        with self._lock:
            if self._closed:
                return
            released = self._released_at[i]
            # A make within bounce_s of the last break is chatter of the previous press.
            chatter = released is not None and now - released + _EPS < self.bounce_s
            self._down_since[i] = now
            self._void[i] = chatter
            lo, hi = self._outer()
            chord = False
            for j, since in enumerate(self._down_since):
                if j != i and since is not None and now - since + _EPS < self.max_press_s:
                    # Two buttons at once: ambiguous, neither is an answer.
                    self._void[i] = self._void[j] = True
                    chord = chord or {i, j} == {lo, hi}
            # Only a fresh pair of outer presses is the staff chord: a stuck outer button would
            # otherwise void every press of the other one and let it alone open the PIN pad.
            if chord and self._gesture_since is None:
                self._gesture_since = now
                self._gesture_fired = False
        if self._gesture_since is not None:
            self._wake.set()       # the animator thread watches the hold time

    def _released(self, i: int) -> None:
        now = self._mono()
        fire_gesture = False
        answer = False
        with self._lock:
            if self._closed:
                return
            since = self._down_since[i]
            if since is None:
                return
            lo, hi = self._outer()
            if i in (lo, hi) and self._gesture_since is not None:
                fire_gesture = self._gesture_due(now)
                self._gesture_since = None   # the chord is broken; a new one starts afresh
            held = now - since + _EPS
            answer = not self._void[i] and self.bounce_s <= held < self.max_press_s
            self._down_since[i] = None
            if held >= self.bounce_s:
                # A contact shorter than bounce_s is a bounce, not a press: stamped, it would make
                # the real press it opens (a make that bounces) look like chatter, and drop it.
                self._released_at[i] = now
            self._void[i] = False
        if fire_gesture:
            self._fire_gesture()
        if answer:
            if self.flash_on_press:
                self.flash(i)
            self._call(self.when_rated, i)

    def _gesture_due(self, now: float) -> bool:
        """Under the lock: the chord has been held long enough and has not fired yet."""
        if self._gesture_since is None or self._gesture_fired:
            return False
        if now - self._gesture_since + _EPS >= self.staff_hold_s:
            self._gesture_fired = True
            return True
        return False

    def _fire_gesture(self) -> None:
        log.info("staff gesture")
        self._call(self.when_staff_gesture)

    @staticmethod
    def _call(callback: Callable | None, *args) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            # A failing handler must not kill gpiozero's event thread (the panel would go dead).
            log.exception("panel callback %r failed", callback)

    # -- LEDs ---------------------------------------------------------------------------------

    def _animate(self) -> None:
        while not self._stop.is_set():
            fire = False
            with self._lock:
                if self._closed:
                    break
                now = time.monotonic()
                if self._gesture_since is not None:
                    fire = self._gesture_due(self._mono())
                self._show_frame(now)
                timeout = self._next_wake(now)
            if fire:
                self._fire_gesture()
            self._wake.wait(timeout)
            self._wake.clear()

    def _next_wake(self, now: float) -> float | None:
        """Under the lock: how long the animator may sleep."""
        if self._gesture_since is not None and not self._gesture_fired:
            return _TICK_S
        if self._flash_index is not None:
            return max(0.0, self._flash_until - now) + 0.001
        if self._pattern:
            return max(0.0, self._pattern_step_until - now) + 0.001
        if not self._leds or not self.idle_pattern:
            return None
        return _TICK_S if self._pwm else _CHASE_STEP_S / 3

    def _show_frame(self, now: float) -> None:
        """Under the lock: put the current frame (flash, pattern or idle) on the LEDs."""
        if self._flash_index is not None and now >= self._flash_until:
            self._flash_index = None
        while self._pattern and now >= self._pattern_step_until:
            self._pattern.pop(0)
            if self._pattern:
                self._pattern_step_until += self._pattern[0][0]
        if not self._leds:
            return
        if self._flash_index is not None:
            values = [1.0 if k == self._flash_index else 0.0 for k in range(len(self._leds))]
        elif self._pattern:
            values = [self._pattern[0][1]] * len(self._leds)
        elif self.idle_pattern:
            values = self._idle_frame(now)
        else:
            values = [_GLOW if self._pwm else 1.0] * len(self._leds)
        for led, v in zip(self._leds, values):
            if self._pwm:
                if abs(led.value - v) > 1e-6:
                    led.value = v
            elif bool(led.value) != (v >= 0.5):
                led.value = v >= 0.5

    def _idle_frame(self, now: float) -> list[float]:
        n = len(self._leds)
        if self._pwm:
            phase = (now % _BREATH_PERIOD_S) / _BREATH_PERIOD_S
            level = _BREATH_MIN + (_BREATH_MAX - _BREATH_MIN) * (1 - math.cos(2 * math.pi * phase)) / 2
            return [round(level, 3)] * n
        lit = int(now // _CHASE_STEP_S) % n
        return [1.0 if k == lit else 0.0 for k in range(n)]

    def _close_devices(self) -> None:
        for dev in list(self._leds) + list(self._buttons):
            try:
                dev.close()
            except Exception:
                log.debug("closing %r failed", dev, exc_info=True)


def _make_leds(pins: Sequence[int], pin_factory) -> tuple[list, bool]:
    """PWMLEDs when the pin factory can dim, else plain LEDs (the idle pattern then chases)."""
    from gpiozero import LED, PWMLED
    from gpiozero.exc import PinPWMUnsupported

    leds: list = []
    if not pins:
        return leds, False
    try:
        for pin in pins:
            leds.append(PWMLED(pin, pin_factory=pin_factory))
        return leds, True
    except PinPWMUnsupported:
        for led in leds:
            led.close()
        leds = []
    for pin in pins:
        leds.append(LED(pin, pin_factory=pin_factory))
    return leds, False
