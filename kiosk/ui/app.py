"""The Kivy touchscreen app: `run_app(cfg)` opens the kiosk window and runs until closed.

The app owns the UI state as Kivy properties and renders `KioskFlow` (kiosk.ui.flow), which
decides screens and timeouts from the injected clock. Touches and the physical smiley panel
reach the same `Recorder.record` (source "touch" / "button"). Hardware callbacks arrive on
gpiozero's thread and are handed to the UI thread with `Clock.schedule_once`; nothing here
touches the network (sync health is read from the local database's meta keys).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import socket
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

os.environ.setdefault("KIVY_NO_ARGS", "1")

from kiosk import __version__                                   # noqa: E402
from kiosk.clock import Clock as KioskClock, SystemClock        # noqa: E402
from kiosk.config import KioskConfig                            # noqa: E402
from kiosk.exc import CaptureError, KioskError                  # noqa: E402
from kiosk.lean_imports import import_store                     # noqa: E402
from kiosk.ui.texts import tr                                   # noqa: E402
from server_sync.program.logs import quiet_data_loggers      # noqa: E402

if TYPE_CHECKING:
    from kiosk.store import LocalStore

log = logging.getLogger(__name__)

UI_DIR = Path(__file__).resolve().parent
KV_FILES = ("theme.kv", "question.kv", "thanks.kv", "followup.kv", "comment.kv", "pin.kv", "staff.kv")
# The customer's everyday screens exist from the start. All kv rules and modules are loaded at
# start-up all the same: loaded later, they would land in the middle of a screen's short-lived
# objects and keep those arenas from being handed back.
STARTUP_SCREENS = ("question", "thanks", "followup")
# Seldom shown (a staff visit, a typed comment): made on use and dropped again before the
# question screen is refreshed (App.sync), so neither keeps its widgets for months; the PIN pad
# already when the staff view opens. Dropped at that point, with the garbage collected before the
# question screen makes anything new, their memory is handed back whole: the simulated day of
# benchmarks/ui_frames.py ends ~3 MB lower than with the comment keyboard kept from start-up
# and the seldom screens dropped after the refresh (docs/ui.md).
TRANSIENT_SCREENS = ("pin", "staff", "comment")
SEEN_BY_TOUCH = "kiosk.seen"      # touch.ud key: what a touch began on (flow.Seen)
ANSWER_TOUCH = "kiosk.answer"     # touch.ud key: the touch pressed an answer key (a face, an NPS key)
VOID_TOUCH = "kiosk.void"         # touch.ud key: the touch acts on nothing (answer keys pressed together)
TICK_S = 0.1              # how often timeouts are checked (they are timed by the kiosk clock)
STAFF_REFRESH_S = 10.0    # the staff view re-reads stats and sync health this often
TRIM_FIRST_S = 5.0        # give the free heap back once start-up (kv parsing, shader JIT) is over...
TRIM_EVERY_S = 600.0      # ...and then now and then, while the question screen is idle
TRIM_AFTER_DROP_S = 2.0   # ...and soon after a staff visit or a comment (their screens go)
M_MMAP_THRESHOLD = -3     # glibc's mallopt parameter (malloc.h)


def _load_kv(name: str) -> None:
    from kivy.lang import Builder
    path = str(UI_DIR / name)
    if path not in Builder.files:       # rules loaded twice would apply twice
        Builder.load_file(path)


def collect_garbage() -> None:
    """A full garbage collection that also frees what the dropped widgets leave in Kivy.

    Every Kivy numeric property of a widget puts an observer in Kivy's process-wide list of
    pixel-scale observers (kivy._metrics); a dead widget's observers are freed only by the
    collection after the one that frees the widget (measured: 1,115 left after a staff visit's
    collection, none after the next). Left until some later collection, they sit in the memory
    the dropped screen used, and everything the app allocates meanwhile lands beside them, so
    that memory is never handed back whole (tests/ui/test_memory_hygiene.py).
    """
    gc.collect()
    gc.collect()


def tune_malloc() -> None:
    """Blocks of 64 KiB and more get their own mappings from glibc (M_MMAP_THRESHOLD).

    glibc raises that threshold by itself up to 32 MiB once a large block is freed (start-up
    frees several), and from then on label textures and pixel buffers of tens to hundreds of KiB
    come from the heap, where they leave holes that malloc_trim cannot return. Fixed at 64 KiB
    they are unmapped when freed: the heap is ~3 MB smaller at start and ~0.5 MB at the end of
    the simulated day (docs/ui.md). A no-op on a C library without mallopt.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(M_MMAP_THRESHOLD, 64 * 1024)


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc `malloc_trim`).

    Start-up (kv parsing, the GL driver's shader compiler) frees megabytes that glibc keeps
    mapped; a kiosk runs for months, so that slack is returned instead of kept. Cheap (a few
    ms); a no-op on a C library without malloc_trim.
    """
    collect_garbage()
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return
    trim.argtypes = [ctypes.c_size_t]
    trim(0)


def configure_kivy(cfg: KioskConfig, demo: bool, size: tuple[int, int] | None) -> str | None:
    """Window settings; must run before Kivy creates the window (and its clock).

    A device's own Kivy config.ini is left as it is (kiosk.ui.kivy_settings); returns its
    device name, or None when the app's laptop settings were applied. Kivy's clock is made here,
    once its settings are in, without asyncio (kiosk.lean_imports.import_kivy_clock).
    """
    from kivy.config import Config
    from kiosk.lean_imports import import_kivy_clock
    from kiosk.ui import kivy_settings
    device = kivy_settings.apply(Config, fullscreen=cfg.ui.fullscreen, demo=demo, size=size)
    import_kivy_clock()
    if device is None:
        log.info("no device display settings in Kivy's config.ini: a %s window",
                 "demo" if demo else "laptop")
    else:
        log.info("display settings of device %s from Kivy's config.ini", device)
    return device


def local_ip() -> str:
    """The address other machines would reach this kiosk on; sends no packet (UDP connect)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))          # TEST-NET-1: only a route look-up
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def open_panel(cfg: KioskConfig, pin_factory: Any, clock: KioskClock) -> Any:
    """The physical smiley panel, or None when this machine has no usable GPIO."""
    try:
        from kiosk.panel import SmileyPanel
    except ImportError:
        log.warning("kiosk.panel is not available; touch only")
        return None
    try:
        # Press durations and the staff hold are timed by the kiosk clock, like every timeout.
        # The flow flashes a button's LED once its answer is stored (never for one the card lost).
        return SmileyPanel.from_config(cfg.gpio, pin_factory=pin_factory,
                                       monotonic=lambda: clock.monotonic_ns() / 1e9, flash_on_press=False)
    except Exception as e:                       # no GPIO on this machine: the screen still works
        log.warning("no smiley buttons: %s", e)
        return None


def run_app(cfg: KioskConfig, *, demo: bool = False, clock: KioskClock | None = None,
            pin_factory: Any = None, store: LocalStore | None = None,
            size: tuple[int, int] | None = None, config_base: Mapping[str, Any] | None = None) -> int:
    """Run the touchscreen kiosk until its window closes; returns the exit status.

    demo: a window instead of full screen, gpiozero's MockFactory for the buttons, keys 1-4
    press them. clock/pin_factory/store are injected by tests and benchmarks; config_base is
    the mapping a pushed config is laid over (default: the config file, or the demo config).
    """
    tune_malloc()
    configure_kivy(cfg, demo, size)
    import_store()
    # peewee logs every statement at DEBUG, and under Kivy the root logger lets DEBUG through:
    # a log record per query, each comment in it.
    quiet_data_loggers()
    from kiosk.store import LocalStore
    if pin_factory is None and demo:
        from gpiozero.pins.mock import MockFactory, MockPWMPin
        pin_factory = MockFactory(pin_class=MockPWMPin)
    own_store = store is None
    # A card full at start: the app runs all the same; an answer is refused as at runtime until there is room.
    store = store or LocalStore.even_full(cfg.db_path, kiosk_id=cfg.kiosk_id)
    from kiosk.usable import APP, record_kind
    record_kind(store, APP)           # the sync agent judges pushes for the kiosk that runs here
    clock = clock or SystemClock()
    panel = open_panel(cfg, pin_factory, clock)
    try:
        app = build_app(cfg, store, clock, panel=panel, pin_factory=pin_factory, demo=demo,
                        config_base=config_base)
        _stop_on_sigterm(app)
        app.run()
        return 0
    finally:
        if panel is not None:
            panel.close()
        if own_store:
            store.close()


def _stop_on_sigterm(app: Any) -> None:
    """systemd stops the kiosk with SIGTERM: close the window and the panel cleanly."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        return
    from kivy.clock import Clock
    signal.signal(signal.SIGTERM, lambda *_a: Clock.schedule_once(lambda _dt: app.stop(), 0))


def _flow_action(name: str, *, for_touch: bool = False):
    """An app method that runs `KioskFlow.<name>(*args)` and re-renders. `for_touch`: the
    control passes the touch that pressed it (`touch=self.last_touch`), and the flow acts only
    if what that touch began on is still shown."""
    def action(self, *args: Any, touch: Any = None) -> None:
        kw = {"seen": seen_by(touch)} if for_touch and touch is not None else {}
        getattr(self.flow, name)(*args, **kw)
        self.sync()
    action.__name__ = name
    return action


def seen_by(touch: Any) -> Any:
    """What `touch` began on (flow.Seen), kept by KioskRoot when it came down."""
    return touch.ud.get(SEEN_BY_TOUCH)


def let_go(touch: Any) -> None:
    """The controls holding `touch` let go of it without acting: a pressed face or button springs
    back, and the lift reaches none of them (Kivy hands a held touch's lift to whoever holds it,
    past every screen check). The staff corner keeps its touch: its lift only ends the hold."""
    from kivy.uix.behaviors import ButtonBehavior
    for ref in touch.grab_list[:]:
        widget = ref()
        if widget is None or getattr(widget, "outlives_screens", False):
            continue
        touch.ungrab(widget)
        if isinstance(widget, ButtonBehavior) and widget.state == "down":
            widget._do_release()


def build_app(cfg: KioskConfig, store: LocalStore, clock: KioskClock, *, panel: Any = None,
              pin_factory: Any = None, demo: bool = False,
              config_base: Mapping[str, Any] | None = None) -> Any:
    """The App object (not yet running). Imports Kivy's window, so configure_kivy comes first."""
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window
    if Window is None:
        # Kivy logged why (CRITICAL, "Unable to find any valuable Window provider") and went on:
        # build() then ended in a traceback on Window.size.
        raise KioskError(
            f"no display: no window could be opened (SDL_VIDEODRIVER={os.environ.get('SDL_VIDEODRIVER') or 'unset'}). "
            "Check that the screen is connected and powered, that /dev/dri/card* exists (config.txt loads "
            "dtoverlay=vc4-kms-v3d) and the user is in the video and render groups; a kiosk without a screen "
            "runs `kiosk run --headless` (provision.sh --display none)")
    from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.screenmanager import NoTransition

    import_store()
    from kiosk.capture import Recorder
    from kiosk.pushed import PushedConfigWatch
    from kiosk.usable import APP
    from kiosk import stats  # noqa: F401  (the staff view's; see KV_FILES)
    from kiosk.ui import charts, controls, keyboard, palette, screens, smiley  # noqa: F401  (kv classes)
    from kiosk.ui import flow as flowmod
    from kiosk.ui import sleep
    from server_sync.program.systemd import SystemdNotifier

    class KioskRoot(FloatLayout):
        """Touches reach the screen only when they began on it, and not in the moment it
        appeared (kiosk.ui.flow.TOUCH_GUARD_S): the second tap of a double tap on a face never
        chooses a reason on the follow-up that the first tap opened. A touch held while the
        screen changes (a panel button answered, the schedule moved on) is let go of: its lift
        acts on nothing. Two answer keys pressed at once count neither, as two panel buttons."""

        def on_touch_down(self, touch) -> bool:
            app = App.get_running_app()
            if app is None or app.flow is None:
                return super().on_touch_down(touch)
            app.wake()
            app.flow.touched()
            if not app.flow.accepts_touch():
                return True                       # swallowed, moves and lift included
            touch.ud[SEEN_BY_TOUCH] = app.flow.seen()
            handled = super().on_touch_down(touch)
            if any(getattr(ref(), "answers", False) for ref in touch.grab_list):
                touch.ud[ANSWER_TOUCH] = True
                others = [t for t in self.touches_here() if t is not touch and t.ud.get(ANSWER_TOUCH)]
                if others:
                    # Two fingers on the scale (a palm, two children): which one is meant is
                    # anybody's guess. None of them counts, nor any further one until all are lifted.
                    for t in (touch, *others):
                        t.ud[VOID_TOUCH] = True
                        let_go(t)
            return handled

        def touches_here(self) -> list:
            """The touches down now that began on the screen shown."""
            from kivy.base import EventLoop
            serial = App.get_running_app().flow.screen_serial
            return [t for t in EventLoop.me_list
                    if getattr(t.ud.get(SEEN_BY_TOUCH), "serial", None) == serial]

        def let_go_of_stale_touches(self) -> None:
            """The screen changed: the touches down that began on another one act on nothing."""
            from kivy.base import EventLoop
            serial = App.get_running_app().flow.screen_serial
            for t in EventLoop.me_list:
                seen = t.ud.get(SEEN_BY_TOUCH)
                if seen is not None and seen.serial != serial:
                    let_go(t)

        def _began_here(self, touch) -> bool:
            app = App.get_running_app()
            if app is None or app.flow is None:
                return True
            seen = touch.ud.get(SEEN_BY_TOUCH)
            return (seen is not None and seen.serial == app.flow.screen_serial
                    and not touch.ud.get(VOID_TOUCH))

        def on_touch_move(self, touch) -> bool:
            return super().on_touch_move(touch) if self._began_here(touch) else True

        def on_touch_up(self, touch) -> bool:
            # Kivy hands the lift to the controls holding the touch after this, whatever screen
            # is shown: a touch from another screen is let go of here first.
            if self._began_here(touch):
                return super().on_touch_up(touch)
            let_go(touch)
            return True

    class KioskApp(App):
        title = "Kundpuls"
        lang = StringProperty(cfg.default_language)
        languages = ListProperty(list(cfg.languages))
        screen_name = StringProperty(flowmod.QUESTION)
        countdown = NumericProperty(0)
        u = NumericProperty(1.0)                  # layout unit: 1.0 on the 800x480 display
        landscape = BooleanProperty(True)
        flow = None

        def __init__(self, **kw) -> None:
            self.flow = flowmod.KioskFlow(cfg, Recorder(cfg, store, clock), clock, flash=self._flash)
            super().__init__(**kw)
            self.cfg, self.store, self.clock = cfg, store, clock
            self.panel, self.pin_factory = panel, pin_factory
            self.notifier = SystemdNotifier()
            self.first_frame_at: float | None = None
            self._rev = -1
            self._serial = -1                     # the flow's screen_serial last rendered
            self._staff_cache: dict | None = None
            self._staff_key: Any = None
            self._ip: str | None = None           # local_ip(), when the agent has not said
            self._next_trim = time.monotonic() + TRIM_FIRST_S
            self.asleep = False
            self._awake_fps = 0.0
            self._tick_event: Any = None
            self._input_watch: Any = None
            self.config_watch = PushedConfigWatch(cfg, demo=demo, base=config_base, kind=APP)

        # -- set-up ----------------------------------------------------------------------
        def build(self):
            for name in KV_FILES:
                _load_kv(name)
            self._measure(Window, Window.size)
            root = KioskRoot()
            sm = root.ids.sm
            sm.transition = NoTransition()
            self.sm = sm
            for name in STARTUP_SCREENS:
                self.screen(name)
            # The paper background is the window's clear colour: one full-screen fill less per
            # frame than a background rectangle (a software renderer is fill-rate bound).
            Window.clearcolor = palette.BACKGROUND
            Window.bind(size=self._measure, on_key_down=self._on_key_down)
            if panel is not None:
                panel.when_rated = self._on_rated
                panel.when_staff_gesture = self._on_staff_gesture
            self._tick_event = Clock.schedule_interval(self._tick, TICK_S)
            # READY (systemd waits for it) once the question screen has really been shown.
            Window.bind(on_flip=self._first_frame)
            Clock.schedule_once(lambda dt: self.sync(force=True), -1)
            return root

        def on_start(self) -> None:
            # The frame rate the device (or a test driving frames: 0) asked for; restored on wake.
            self._awake_fps = Clock._max_fps
            self._input_watch = sleep.InputWatch(self._on_input).start()
            if self._input_watch.watching:
                log.info("a touch wakes the app at once (%d input devices watched)",
                         self._input_watch.watching)

        def on_stop(self) -> None:
            if self._input_watch is not None:
                self._input_watch.close()
            self.notifier.stopping()

        # -- sleep (kiosk.ui.sleep) --------------------------------------------------------
        def _maybe_sleep(self) -> None:
            f = self.flow
            if self.asleep or not sleep.may_sleep(
                    awake_fps=self._awake_fps, on_question=f.idle() and not f.pin_checking,
                    quiet_s=f.quiet_for(), screen_age_s=f.screen_age()):
                return
            self.asleep = True
            Clock._max_fps = sleep.SLEEP_FPS
            Clock.clock_resolution = sleep.SLEEP_RESOLUTION_S
            self._tick_event.cancel()
            self._tick_event = Clock.schedule_interval(self._tick, sleep.SLEEP_TICK_S)

        def wake(self) -> None:
            """Something happens: the device's frame rate and the fine timeout checks again."""
            if not self.asleep:
                return
            self.asleep = False
            Clock._max_fps = self._awake_fps
            Clock.clock_resolution = -1           # Kivy's own again: 1 / (3 fps)
            self._tick_event.cancel()
            self._tick_event = Clock.schedule_interval(self._tick, TICK_S)

        def _on_input(self) -> None:
            # The input watch's thread: only a schedule, which interrupts Kivy's sleep.
            if self.asleep:
                Clock.schedule_once(lambda _dt: self.wake(), -1)

        def screen(self, name: str) -> Any:
            """The screen called `name`, made the first time it is shown."""
            if not self.sm.has_screen(name):
                self.sm.add_widget(screens.BY_NAME[name]())
            return self.sm.get_screen(name)

        def _drop_transient_screens(self) -> None:
            for name in TRANSIENT_SCREENS:
                if name != self.sm.current and self.sm.has_screen(name):
                    self.sm.remove_widget(self.sm.get_screen(name))
                    # The finished transition still holds the screen it switched away from:
                    # without this the dropped screen lives on until the next switch.
                    t = self.sm.transition
                    if t.screen_out is not None and t.screen_out.name == name:
                        t.screen_out = self.sm.current_screen
                    # Hand their memory back soon, not at the next periodic trim.
                    self._next_trim = min(self._next_trim, time.monotonic() + TRIM_AFTER_DROP_S)

        def _leave_seldom_screens(self) -> None:
            """The seldom screens go, and their garbage with them (their widgets are in
            reference cycles), the question screen being current meanwhile; no frame is drawn
            in between, the caller shows the next screen in the same call.

            On the way back to the question, before it is refreshed: so the question screen's
            new texts, the next customers' answers and SQLite's pages are not made beside their
            dead widgets (which would keep that memory from being handed back whole). And on
            the right PIN, before the staff view is made: made with the pad still there, the
            staff view's widgets and label textures came on top of the pad's, and the day ended
            3.7 MB higher (docs/ui.md)."""
            if not any(self.sm.has_screen(name) for name in TRANSIENT_SCREENS):
                return
            if self.sm.current in TRANSIENT_SCREENS:
                self.sm.current = flowmod.QUESTION
                self.sm.transition.stop()
            self._drop_transient_screens()
            collect_garbage()

        def _first_frame(self, *_args) -> None:
            Window.unbind(on_flip=self._first_frame)
            self.first_frame_at = time.perf_counter()
            w, h = Window.size
            self.notifier.ready(f"showing the {self.sm.current} ({w}x{h})")

        def _measure(self, _w, size) -> None:
            w, h = size
            self.landscape = w >= h
            long, short = max(w, h), min(w, h)
            self.u = max(0.5, min(long / 800.0, short / 480.0))
            if self.flow is not None and getattr(self, "sm", None) is not None:
                self.sync(force=True)

        def root_width(self) -> float:
            return Window.width

        def tr(self, key: str, language: str, **values: Any) -> str:
            return tr(key, language, **values)

        # -- rendering -------------------------------------------------------------------
        def sync(self, force: bool = False) -> None:
            """Copy the flow's state into properties and the visible screen."""
            f = self.flow
            self.countdown = f.seconds_left()
            if f.screen == flowmod.PIN and f.pin_locked_for() > 0:
                force = True                      # the lockout countdown moves
            if f.revision == self._rev and not force:
                return
            self._rev = f.revision
            self.wake()                           # something is shown anew
            if f.screen_serial != self._serial:
                self._serial = f.screen_serial
                if self.root is not None:
                    self.root.let_go_of_stale_touches()
            self.lang = f.language
            if f.screen != flowmod.STAFF:
                self._staff_cache = None
            elif self.sm.current == flowmod.PIN:
                self._leave_seldom_screens()
                # The figures first, then the view's widgets: what reading them keeps (SQLite's
                # prepared statements) is made before the visit's peak, not in its midst.
                self.staff_view()
            if f.screen == flowmod.QUESTION:
                self._leave_seldom_screens()
            screen = self.screen(f.screen)
            screen.refresh(self)
            if self.sm.current != f.screen:
                self.sm.current = f.screen
                # Finish the instant switch now, so the old screen is not drawn once more
                # under the new one (that frame would cost a tap its thank-you time).
                self.sm.transition.stop()
            self.screen_name = f.screen
            if f.screen == flowmod.QUESTION:
                screen.on_lang(self)

        def staff_view(self) -> dict | None:
            from kiosk.stats import staff_screen
            f = self.flow
            cfg = f.cfg
            try:
                q = cfg.question(f.staff_question_id)
            except KeyError:
                q = f.question
            # Re-read every STAFF_REFRESH_S too: the sync agent drains the outbox meanwhile.
            key = (q.id, f.revision, int(f.now_s() // STAFF_REFRESH_S))
            if self._staff_cache is not None and self._staff_key == key:
                return self._staff_cache
            now = clock.now()
            # The sync agent records the address it reaches the broker from (net.local_ip):
            # the app's own unit has no AF_INET, so its route look-up finds nothing there.
            address = store.get_meta("net.local_ip")
            if not address:
                if self._ip is None:
                    self._ip = local_ip()
                address = self._ip
            alerts = screens.parse_alerts(store.get_meta("site.alerts"))
            alerts.sort(key=lambda a: str(a.get("raised_at", "")), reverse=True)
            self._staff_cache = {
                "question": q, **staff_screen(cfg, store, now, q.id), "now": now,
                "kiosk_id": cfg.kiosk_id, "ip": address, "version": __version__, "alerts": alerts,
            }
            self._staff_key = key
            return self._staff_cache

        def _tick(self, _dt) -> None:
            # A finger on the question screen holds its question (and a pushed config) back.
            self.flow.hold(self.root is not None and bool(self.root.touches_here()))
            self.flow.tick()
            stale = (self.flow.screen == flowmod.STAFF and self._staff_key is not None
                     and self._staff_key[2] != int(self.flow.now_s() // STAFF_REFRESH_S))
            self.sync(force=stale)
            self.notifier.ping()
            if self.flow.idle():
                self._check_config()
            if self.flow.screen == flowmod.QUESTION and time.monotonic() >= self._next_trim:
                self._next_trim = time.monotonic() + TRIM_EVERY_S
                release_free_memory()
            self._maybe_sleep()

        def _check_config(self) -> None:
            """A newer config the sync agent saved: switch now, between two customers."""
            try:
                new = self.config_watch.poll(self.flow.now_s())
            except Exception:                     # a bad file must never stop the kiosk
                log.exception("checking the pushed config failed")
                return
            if new is None:
                return
            self.config_watch.applied(new)
            self.flow.reconfigure(new, Recorder(new, store, clock))
            self.cfg = new
            self.languages = list(new.languages)
            self._staff_cache = None
            log.info("config version %d applied", new.config_version)
            self.sync(force=True)

        # -- input -----------------------------------------------------------------------
        def answer_touch(self, value: int, touch: Any = None) -> None:
            """An answer key released: recorded on the question its touch began on, or not at all."""
            try:
                self.flow.answer(value, "touch", seen=None if touch is None else seen_by(touch))
            except CaptureError:
                log.exception("answer not recorded")
            self.sync()

        def _flash(self, index: int) -> None:
            if self.panel is not None and index < len(cfg.gpio.buttons):
                self.panel.flash(index)

        def _on_rated(self, index: int) -> None:
            # gpiozero's thread: hand over to the UI thread, touch nothing here.
            Clock.schedule_once(partial(self._button, index), -1)

        def _on_staff_gesture(self) -> None:
            Clock.schedule_once(self._staff_gesture, -1)

        def _button(self, index: int, _dt: float = 0) -> None:
            self.wake()
            value = self.flow.button_value(index)
            if value is None:
                log.warning("button %d pressed on question %s, which buttons cannot answer",
                            index, self.flow.question.id)
                return
            try:
                self.flow.answer(value, "button")
            except CaptureError:
                log.exception("button answer not recorded")
            self.sync()

        def _staff_gesture(self, _dt: float = 0) -> None:
            self.wake()
            if self.panel is not None:
                try:
                    self.panel.show_outbox_state(store.outbox_depth())
                except Exception:
                    log.exception("outbox LEDs failed")
            self.flow.open_pin()
            self.sync()

        def _on_key_down(self, _window, key: int, _scancode: int, codepoint: str | None,
                         _modifiers: list) -> bool:
            """Demo keys on gpiozero's mock pins, so the real panel path runs: 1-4 (or 1-5)
            press a button, g holds the two outer ones (the staff gesture); q quits the demo.
            Letters are left alone while a comment is being written. At the PIN pad digits type
            the PIN, Enter checks it, Backspace takes a digit back and Escape closes the pad
            (elsewhere Escape quits the demo: Kivy's exit_on_escape)."""
            from gpiozero.pins.mock import MockFactory
            self.wake()
            if self.flow.screen == flowmod.PIN and self._pin_pad_key(key, codepoint):
                return True
            if not codepoint:
                return False
            letters = self.flow.screen != flowmod.COMMENT
            if demo and letters and codepoint == "q":
                self.stop()
                return True
            if not isinstance(self.pin_factory, MockFactory):
                return False
            buttons = cfg.gpio.buttons
            if letters and codepoint in "gG":
                self._hold_mock_pins((buttons[0], buttons[-1]), cfg.gpio.staff_hold_s + 0.3)
                return True
            if not codepoint.isdigit() or not 0 <= int(codepoint) - 1 < len(buttons):
                return False
            self._hold_mock_pins((buttons[int(codepoint) - 1],), 0.1)
            return True

        def _pin_pad_key(self, key: int, codepoint: str | None) -> bool:
            """A key pressed at the PIN pad, as its own keys would do it (False: not the pad's)."""
            from kiosk.ui import pin_keys
            action = pin_keys.pin_pad_action(key, codepoint)
            if action is None:
                return False
            kind, digit = action
            if kind == pin_keys.DIGIT:
                self.pin_key(digit)
            elif kind == pin_keys.SUBMIT:
                self.pin_submit()
            elif kind == pin_keys.BACK:
                self.pin_backspace()
            else:
                self.cancel()
            return True

        def _hold_mock_pins(self, pins: tuple[int, ...], seconds: float) -> None:
            """Press mock buttons for `seconds` (real time) as a finger would."""
            pressed, released = (0, 1) if cfg.gpio.pull_up else (1, 0)
            for p in pins:
                self._drive(p, pressed)
            Clock.schedule_once(lambda _dt: [self._drive(p, released) for p in pins], seconds)

        def _drive(self, pin: int, level: int) -> None:
            mock = self.pin_factory.pin(pin)
            if level:
                mock.drive_high()
            else:
                mock.drive_low()

        # Screen controls (kv `on_release`) call the flow and re-render.
        choose_language = _flow_action("set_language")
        choose_reason = _flow_action("choose_reason", for_touch=True)
        open_comment = _flow_action("open_comment", for_touch=True)
        close_comment = _flow_action("close_comment", for_touch=True)
        send_followup = _flow_action("send_followup", for_touch=True)
        skip_followup = _flow_action("skip_followup", for_touch=True)
        pin_clear = _flow_action("pin_clear")
        pin_backspace = _flow_action("pin_backspace")
        cancel = _flow_action("cancel")
        next_staff_question = _flow_action("next_staff_question")

        def comment_key(self, value: str, touch: Any = None) -> None:
            from kiosk.ui.keyboard import BACKSPACE
            kw = {} if touch is None else {"seen": seen_by(touch)}
            if value == BACKSPACE:
                self.flow.backspace(**kw)
            else:
                self.flow.type_text(value, **kw)
            self.sync()

        def pin_submit(self) -> None:
            """Verify off the UI thread: a PBKDF2 hash takes about a second on a Pi."""
            entry = self.flow.pin_take()
            pad = self.flow.screen_serial
            self.sync()
            if entry is None:
                return
            guard = self.flow.pin_guard

            def check() -> None:
                ok = flowmod.pin_verdict(guard, entry)
                Clock.schedule_once(lambda _dt: self._pin_checked(ok, pad), -1)
            threading.Thread(target=check, name="pin-check", daemon=True).start()

        def _pin_checked(self, ok: bool, pad: int) -> None:
            self.flow.pin_checked(ok, pad)
            self.sync()

        def pin_key(self, text: str) -> None:
            if text.isdigit():
                self.flow.pin_digit(text)
                self.sync()

    return KioskApp()
