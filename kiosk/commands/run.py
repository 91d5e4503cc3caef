"""`kiosk run [--headless] [--demo]`: the kiosk itself (touchscreen app, or buttons only)."""

from __future__ import annotations

import argparse
import logging

from kiosk.exc import KioskError


def add_parser(sub, common) -> None:
    p = sub.add_parser("run", parents=[common],
                       help="run the kiosk: the touchscreen app, or --headless for buttons only")
    p.add_argument("--headless", action="store_true",
                   help="buttons-only kiosk with no screen (LEDs give the feedback)")
    p.add_argument("--demo", action="store_true",
                   help="mock GPIO, demo config and data dir (a --config given is used instead: your config "
                        "on mock GPIO); keys 1-4 press the buttons, g the staff gesture (the two outer buttons "
                        "held), q quits; the demo config's staff PIN is 1234. It says so, and where its data is, "
                        "as it starts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kiosk.loading import load_config
    from kiosk.usable import APP, HEADLESS
    # The kind of kiosk decides which saved push it can use (kiosk.usable).
    cfg = load_config(args, demo=args.demo, kind=HEADLESS if args.headless else APP)
    if args.headless:
        from server_sync.program.logs import configure_logging
        # The demo says what happens on stdout itself; INFO logs would repeat every line.
        configure_logging(logging.WARNING if args.demo else logging.INFO,
                          "%(asctime)s %(name)s %(levelname)s %(message)s")
        from kiosk.headless import run_headless
        return run_headless(cfg, demo=args.demo)
    if args.demo:
        import os
        from kiosk.display import no_display
        if why := no_display(os.environ):
            raise KioskError(why)
    try:
        from kiosk.ui.app import run_app
    except ModuleNotFoundError as e:
        raise KioskError(f"the touchscreen app cannot start: module {e.name!r} is missing "
                         "(install the 'kiosk' extra), or use --headless") from None
    if args.demo:
        from kiosk.demo_banner import demo_banner
        print(demo_banner(cfg, window=True), flush=True)
    return run_app(cfg, demo=args.demo)
