"""The buttons-only kiosk (`kiosk run --headless`): a smiley panel and the capture path, no screen.

A valid press on the panel is recorded through the one `Recorder` (source "button") as an
answer to the question active now, and its LED flashes once it is stored (a press the card
could not store blinks the fault pattern instead); the staff gesture logs the kiosk's info and stats and
blinks the outbox state on the LEDs. The main loop only waits, feeds the systemd watchdog and
stops cleanly on SIGTERM/SIGINT. In demo mode the terminal's number keys press mock pins, so
the real panel path runs.

It never decides what a press means (the panel does) nor how an answer is stamped (capture).
"""

from __future__ import annotations

import logging
import os
import queue
import select
import signal
import sys
import threading
import warnings
from datetime import datetime
from typing import Callable, TextIO

from kiosk.capture import Recorder
from kiosk.clock import Clock, SystemClock
from kiosk.config import KioskConfig, Question, asked_question
from kiosk.demo_banner import demo_banner
from kiosk.pushed import PushedConfigWatch
from kiosk.exc import ConfigError, KioskError
from kiosk.panel import SmileyPanel
from kiosk.stats import local_stats
from kiosk.store import LocalStore
from kiosk.usable import HEADLESS, check_usable, fits_buttons, record_kind
from server_sync.program.systemd import SystemdNotifier

log = logging.getLogger("kiosk.headless")


def button_question(cfg: KioskConfig, buttons: int, when: datetime, synced: bool = True) -> Question:
    """The question the buttons answer now (`asked_question`, the screen's rule; `synced`: the
    clock is) when the buttons can answer it (a smiley scale with one button per answer), else
    the first question that they can; while the clock is not synced, a customer one first."""
    q = asked_question(cfg, when, synced)
    if fits_buttons(q, buttons):
        return q
    # sorted() keeps the config's order within each group: unsynced, customers' questions first.
    for other in sorted(cfg.questions, key=lambda o: not synced and o.audience != "customer"):
        if fits_buttons(other, buttons):
            return other
    check_usable(cfg, HEADLESS)          # raises: the rule says why no question fits
    raise ConfigError(f"no question can be answered with {buttons} buttons", key="questions")


class HeadlessKiosk:
    """Wires a SmileyPanel to a Recorder; `run()` is the main loop."""

    def __init__(self, cfg: KioskConfig, store: LocalStore, recorder: Recorder, panel: SmileyPanel,
                 clock: Clock, notifier: SystemdNotifier | None = None,
                 out: TextIO | None = None, config_watch: PushedConfigWatch | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.recorder = recorder
        self.panel = panel
        self.clock = clock
        self.notifier = notifier or SystemdNotifier()
        self.out = out
        self.stop_event = threading.Event()
        self.config_watch = config_watch
        self._lock = threading.Lock()       # a press is recorded wholly under the old or the new config
        button_question(cfg, panel.size, clock.now())       # fail at start, not at the first press
        record_kind(store, HEADLESS)        # so the sync agent refuses pushes these buttons cannot ask
        panel.when_rated = self.on_rated
        panel.when_staff_gesture = self.on_staff_gesture

    def on_rated(self, index: int) -> None:
        with self._lock:
            self._record(index)

    def _record(self, index: int) -> None:
        q = button_question(self.cfg, self.panel.size, self.clock.now(), self.clock.clock_synced())
        value = q.values[index]
        try:
            rec = self.recorder.record(q.id, value, source="button")
        except KioskError as e:
            # Not stored (a full or failed card): no thank-you flash, the fault blink instead.
            log.error("press on button %d (%s) NOT recorded: %s", index + 1, q.id, e)
            self.panel.show_fault()
            self._say(f"error: press on button {index + 1} NOT recorded: {e}")
            return
        except Exception:
            log.exception("press on button %d (%s) NOT recorded", index + 1, q.id)
            self.panel.show_fault()
            self._say(f"error: press on button {index + 1} NOT recorded (see the log)")
            return
        self.panel.flash(index)             # stored: now the LED may say thanks
        flag = f" [{rec.filtered}]" if rec.filtered else ""
        # The journal gets no answer's value: an employee pulse answer at a known minute is one
        # colleague's (docs/privacy.md: shown only for groups of five); the demo's terminal does.
        log.info("answer to %s stored, seq %d%s", q.id, rec.seq, flag)
        self._say(f"answer {q.id}={value} seq {rec.seq}{flag}")

    def on_staff_gesture(self) -> None:
        stats = local_stats(self.cfg, self.store, self.clock.now())
        depth = stats["outbox"]["depth"]
        today = stats["periods"]["today"]
        parts = [f"kiosk {self.cfg.kiosk_id} site {self.cfg.site_id}",
                 f"outbox {depth} unacked (oldest {stats['outbox']['oldest_unacked'] or '-'})",
                 f"today {today['answers']} answers, {today['flagged']} flagged"]
        for qid, q in today["questions"].items():
            score = q.get("happy_index", q.get("nps"))
            parts.append(f"{qid}: n={q['n']} {'HI' if 'happy_index' in q else 'NPS'}={score}")
        line = "staff: " + "; ".join(parts)
        log.info(line)
        self._say(line)
        self.panel.show_outbox_state(depth)

    def _say(self, line: str) -> None:
        if self.out is not None:
            print(line, file=self.out, flush=True)

    def stop(self) -> None:
        self.stop_event.set()

    def check_config(self) -> bool:
        """Switch to a newer config the sync agent saved (called from the main loop).

        A press in progress finishes under the old config (the lock); a new config whose
        questions the buttons cannot answer is refused and the current one kept.
        """
        if self.config_watch is None:
            return False
        new = self.config_watch.poll(self.clock.monotonic_ns() / 1e9)
        if new is None:
            return False
        try:
            check_usable(new, HEADLESS)
        except ConfigError as e:
            log.error("pushed config version %d not applied: %s", new.config_version, e)
            self.config_watch.applied(new)          # do not retry the same version every tick
            return False
        with self._lock:
            self.cfg = new
            self.recorder = Recorder(new, self.store, self.clock)
        self.config_watch.applied(new)
        log.info("config version %d applied", new.config_version)
        self._say(f"config version {new.config_version} applied")
        return True

    def run(self, poll: Callable[[float], None] | None = None) -> int:
        """Until stop(): feed the watchdog; `poll(timeout)` (the demo's key reader) may run here."""
        self.notifier.ready(f"kiosk {self.cfg.kiosk_id}: buttons ready")
        interval = self.notifier.watchdog_interval_s
        tick = min(1.0, interval / 2) if interval else 1.0
        while not self.stop_event.is_set():
            if poll is not None:
                poll(tick)
            else:
                self.stop_event.wait(tick)
            self.notifier.ping()
            try:
                self.check_config()
            except Exception:                     # a bad file must never stop the buttons
                log.exception("checking the pushed config failed")
        self.notifier.stopping()
        return 0


class DemoKeys:
    """Reads the terminal (or a pipe): digits press the mock buttons, g the staff gesture, q quits.

    Presses are played one after the other on a worker thread: two keys typed at once must not
    become two buttons held at once (the panel rightly ignores such a chord).
    """

    def __init__(self, kiosk: HeadlessKiosk, factory, buttons: tuple[int, ...], staff_hold_s: float,
                 fd: int) -> None:
        self.kiosk = kiosk
        self.factory = factory
        self.buttons = buttons
        self.hold = staff_hold_s
        self.fd = fd
        self._actions: queue.Queue[tuple[tuple[int, ...], float] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._play, name="demo-keys", daemon=True)
        self._worker.start()

    def press(self, index: int, hold_s: float = 0.15) -> None:
        self._actions.put(((self.buttons[index],), hold_s))

    def gesture(self) -> None:
        self._actions.put(((self.buttons[0], self.buttons[-1]), self.hold + 0.3))

    def _play(self) -> None:
        while True:
            action = self._actions.get()
            if action is None:
                return
            pins, hold_s = action
            for p in pins:
                self.factory.pin(p).drive_low()
            self.kiosk.stop_event.wait(hold_s)
            for p in pins:
                self.factory.pin(p).drive_high()
            self.kiosk.stop_event.wait(0.05)

    def poll(self, timeout: float) -> None:
        if self.fd < 0:
            self.kiosk.stop_event.wait(timeout)
            return
        try:
            ready, _, _ = select.select([self.fd], [], [], timeout)
        except (OSError, ValueError):
            self.fd = -1
            return
        if not ready:
            return
        data = os.read(self.fd, 64)
        if not data:                       # end of input (a pipe closed): keep running until q/signal
            self.fd = -1
            return
        for ch in data.decode(errors="ignore"):
            if ch in "qQ":
                self.kiosk.stop()
                return
            if ch.isdigit() and 1 <= int(ch) <= len(self.buttons):
                self.press(int(ch) - 1)
            elif ch in "gG":
                self.gesture()

    def close(self) -> None:
        self._actions.put(None)
        self._worker.join(timeout=5)


def run_headless(cfg: KioskConfig, demo: bool = False, out: TextIO | None = None,
                 stdin_fd: int | None = None) -> int:
    """`kiosk run --headless [--demo]`: returns the exit code.

    The demo talks to the person at the terminal through `out` (stdout); the service only logs
    (the journal), so no line is written twice.
    """
    if out is None and demo:
        out = sys.stdout
    factory = None
    if demo:
        from gpiozero.pins.mock import MockFactory, MockPWMPin
        factory = MockFactory(pin_class=MockPWMPin)
    clock = SystemClock()
    # A card full at start: the buttons run all the same, a press blinks the fault until there is room.
    store = LocalStore.even_full(cfg.db_path, kiosk_id=cfg.kiosk_id)
    panel = None
    keys = None
    previous: dict[int, object] = {}
    try:
        try:
            with warnings.catch_warnings():
                # gpiozero warns once per factory it falls back from; the error below says it all.
                warnings.simplefilter("ignore")
                panel = SmileyPanel.from_config(cfg.gpio, pin_factory=factory, flash_on_press=False)
        except Exception as e:        # gpiozero raises many kinds when there is no usable GPIO
            raise KioskError(f"cannot open the GPIO buttons ({type(e).__name__}: {e}); on a machine "
                             "without GPIO use --demo or GPIOZERO_PIN_FACTORY=mock") from None
        kiosk = HeadlessKiosk(cfg, store, Recorder(cfg, store, clock), panel, clock, out=out,
                              config_watch=PushedConfigWatch(cfg, demo=demo, kind=HEADLESS))
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda *_: kiosk.stop())
        poll = None
        if demo:
            fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
            keys = DemoKeys(kiosk, factory, cfg.gpio.buttons, cfg.gpio.staff_hold_s, fd)
            print(demo_banner(cfg, window=False), file=out, flush=True)
            poll = keys.poll
            with _cbreak(fd):
                return kiosk.run(poll)
        log.info("headless kiosk %s running (%d buttons)", cfg.kiosk_id, panel.size)
        return kiosk.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if keys is not None:
            keys.close()
        if panel is not None:
            panel.close()
        store.close()


class _cbreak:
    """Single key presses without Enter on a terminal; a no-op on a pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved = None

    def __enter__(self) -> None:
        try:
            import termios
            import tty
            if os.isatty(self.fd):
                self.saved = termios.tcgetattr(self.fd)
                tty.setcbreak(self.fd)
        except (ImportError, OSError):
            self.saved = None

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            import termios
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
