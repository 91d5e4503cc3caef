"""`kiosk sync [--once [--timeout S]] [--demo] [--json]`: send recorded answers to the centre.

Without --once it is the daemon systemd runs beside the app (`kundpuls-sync.service`): it keeps
the broker connection, drains the outbox, applies pushed configs and stores site alerts, until
SIGTERM. With --once it drains everything and exits 0 when the outbox is empty and the centre
has acknowledged all of it; 1 with a clear message on timeout, when the broker refuses the
kiosk, or when the kiosk holds events the centre refused for good (how many and why).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading

ONCE_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 86400.0     # a day: --timeout bounds the wait, so it is never endless


def positive_seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < v <= MAX_TIMEOUT_S:            # False for nan; inf would wait for ever
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_TIMEOUT_S:g} seconds, got {text}")
    return v


def add_parser(sub, common) -> None:
    p = sub.add_parser("sync", parents=[common],
                       help="send answers to the centre over MQTT (daemon, or --once to drain and exit)")
    p.add_argument("--once", action="store_true",
                   help="drain the outbox, wait for the centre's acks, then exit (0: all acknowledged)")
    p.add_argument("--timeout", type=positive_seconds, metavar="S",
                   help=f"with --once: give up after S seconds (default {ONCE_TIMEOUT_S:g})")
    p.add_argument("--demo", action="store_true",
                   help="use the demo configuration (a --config given is used instead)")
    p.add_argument("--json", action="store_true",
                   help="with --once: print the result as JSON, also when it fails (the error still on stderr)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every connection event")
    p.set_defaults(func=sync_command, usage_error=p.error)


def options_without_once(args: argparse.Namespace) -> list[str]:
    """The options that mean something only with --once, given without it (the daemon would
    silently ignore them)."""
    if args.once:
        return []
    return [option for option, given in (("--timeout", args.timeout is not None), ("--json", args.json)) if given]


def sync_command(args: argparse.Namespace) -> int:
    from kiosk.loading import load_config
    from kiosk.pushed import file_mapping
    from kiosk.store import LocalStore
    from server_sync.program.logs import configure_logging
    from server_sync.program.systemd import SystemdNotifier
    from kiosk.sync_agent import SyncAgent, SyncError

    for option in options_without_once(args):
        args.usage_error(f"{option} needs --once")
    configure_logging(logging.INFO if (args.verbose or not args.once) else logging.WARNING,
                      "kiosk sync: %(message)s")
    cfg = load_config(args)
    base = file_mapping(cfg, demo=bool(args.demo))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # The daemon keeps running on a card full at start (it still sends what is recorded);
    # --once cannot drain there (no ack can be recorded) and says the disk is full at once.
    with (LocalStore(cfg.db_path, kiosk_id=cfg.kiosk_id) if args.once
          else LocalStore.even_full(cfg.db_path, kiosk_id=cfg.kiosk_id)) as store:
        agent = SyncAgent(cfg, store, base_mapping=base, notifier=SystemdNotifier())
        if not args.once:
            agent.run(stop)
            return 0
        before = store.outbox_depth()
        # A run that fails (a timeout, the broker's refusal, a signal) still says what it did
        # with --json: a script reading stdout gets the result, and the error as on stderr.
        failure: SyncError | None = None
        try:
            if not agent.run(stop, once=True, timeout=args.timeout or ONCE_TIMEOUT_S):
                failure = SyncError(f"interrupted: {store.outbox_depth()} event(s) not yet acknowledged by the centre")
        except SyncError as e:
            failure = e
        c = agent.counters
        result = {"drained": failure is None, "error": None if failure is None else str(failure),
                  "events_acked": c.events_acked, "events_sent": c.events_sent,
                  "events_rejected": c.events_rejected, "acks_ignored": c.acks_ignored,
                  "batches": c.batches_sent, "outbox_before": before, "outbox_after": store.outbox_depth()}
        refused = store.refused_by_reason()
    result["refused"] = refused
    if args.json:
        print(json.dumps(result))
    elif failure is None:
        print(f"synced: {c.events_acked} event(s) acknowledged by the centre in {c.batches_sent} batch(es); "
              "outbox empty" + (f"; {c.acks_ignored} ack(s) for batches of an earlier run ignored (their events "
                                "were sent again)" if c.acks_ignored else ""))
    if failure is not None:
        raise failure
    if refused:
        # Not all is well: these answers are on this kiosk only, and re-sending cannot help until
        # the cause is fixed (docs/deployment.md, "When things go wrong").
        reasons = "; ".join(f"{n} × {reason}" for reason, n in refused.items())
        raise SyncError(f"{sum(refused.values())} event(s) refused by the centre for good, kept here: {reasons}. "
                        "Fix the cause, then `kiosk refused retry`; if no fix can make the centre take them, "
                        "`kiosk refused set-aside`")
    return 0
