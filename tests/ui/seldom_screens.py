"""What the seldom screens leave behind: runs the real app (`run_app`) in this process on the
current display, writes a comment on the keyboard and makes a staff visit, and after each, back
on the question screen, records what is left of them before any later garbage collection.

Run as `python -m tests.ui.seldom_screens --data DIR --report FILE`
(tests/ui/test_memory_hygiene.py starts it under Xvfb). It writes a JSON report: after the
comment and after the staff visit, the screens the screen manager holds, the seldom screens'
objects still in memory (garbage not yet collected counts), and the dead observers Kivy keeps
for them in its pixel-scale list.
"""

from __future__ import annotations

import argparse
import gc
import json
import weakref
from pathlib import Path


def dead_pixel_scale_observers() -> int:
    """Observers in Kivy's pixel-scale list (kivy._metrics) whose widget is gone: each holds its
    widget by a weak reference, passed as the observer's one bound argument."""
    dead = 0
    for o in gc.get_objects():
        if type(o).__name__ == "BoundCallback":
            for r in gc.get_referents(o):
                if type(r) is tuple and len(r) == 1 and isinstance(r[0], weakref.ReferenceType) \
                        and r[0]() is None:
                    dead += 1
    return dead


def left_behind(app) -> dict:
    from kiosk.ui import screens
    seldom = (screens.CommentScreen, screens.PinScreen, screens.StaffScreen)
    return {
        "current": app.sm.current,
        "screens": sorted(app.sm.screen_names),
        "seldom_screen_objects": sum(1 for o in gc.get_objects() if issubclass(type(o), seldom)),
        "dead_observers": dead_pixel_scale_observers(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--report", required=True)
    a = ap.parse_args(argv)
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from kiosk.clock import FakeClock
    from kiosk.config import parse_config
    from kiosk.lean_imports import import_store
    from kiosk.ui.app import configure_kivy, run_app
    from seeds.demo import DEMO_PIN, demo_config_mapping
    from tests.fixtures.app_driver import staff_visit, step_each_frame, typed_comment
    mapping = demo_config_mapping()
    mapping["ui"] = {"fullscreen": False}
    cfg = parse_config(mapping).with_data_dir(Path(a.data))
    configure_kivy(cfg, demo=False, size=(800, 480))
    import_store()
    from kivy.app import App

    from kiosk.store import LocalStore
    store = LocalStore(cfg.db_path)
    clock = FakeClock()
    report: dict = {}

    def back_to_question(app):
        clock.advance(cfg.ui.thank_you_s + 0.1)
        app._tick(0)
        assert app.flow.screen == "question", app.flow.screen

    def steps():
        app = App.get_running_app()
        yield
        clock.advance(7)
        yield from typed_comment(app)
        yield
        back_to_question(app)
        report["after_comment"] = left_behind(app)
        yield
        clock.advance(60)
        yield from staff_visit(app, DEMO_PIN)
        report["after_staff_visit"] = left_behind(app)

    def done(error: BaseException | None) -> None:
        Path(a.report).write_text(json.dumps(report if error is None else {"error": repr(error)}))

    step_each_frame(steps(), done)
    try:
        run_app(cfg, clock=clock, pin_factory=MockFactory(pin_class=MockPWMPin), store=store)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
