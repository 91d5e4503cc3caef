"""`kiosk-central ingest`: the long-running MQTT ingestor (run N of them side by side)."""

from __future__ import annotations

import argparse
import fcntl
import importlib
import os
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import IO

from server_sync.program.systemd import SystemdNotifier
from server_sync.cli import connect_new_store
from server_sync.program.file_access import this_user
from server_sync.commands._argtypes import broker_host, number, topic_prefix
from server_sync.exc import CentralConfigError
from server_sync.ingest_inbox import (KIOSK_BURST_BYTES, KIOSK_BYTES_PER_S, KIOSK_DAY_BYTES, KIOSK_MESSAGE_BYTES,
                                      KioskRates)
from server_sync.program.cli import nonempty
from server_sync.program.files import read_regular_file
from server_sync.program.logs import configure_logging

# Callables run after each commit that changed answers: "module:function" with the signature of
# server_sync.ingest.AfterCommitHook. Add a line here to plug a rule into ingest.
AFTER_COMMIT_HOOKS: tuple[str, ...] = ("server_sync.analysis.alerts:realtime_hook",
                                      "server_sync.web.marks:bump_hook")   # live web pages


CENTRE_PORT = 8884      # firmware_config/mosquitto/kundpuls.conf: the centre's own TLS listener


def add_broker_options(p: argparse.ArgumentParser, *, client_id: bool = False,
                       password_flag: str = "--password-file") -> None:
    """Broker connection options shared by the commands that talk MQTT. `password_flag`: the
    name of the broker password's option, where `--password-file` means another file already
    (`kiosk deactivate`: the mosquitto password file)."""
    g = p.add_argument_group("broker")
    g.add_argument("--broker-host", type=broker_host, metavar="HOST", default="localhost", help="MQTT broker host (default localhost)")
    g.add_argument("--broker-port", metavar="PORT", type=int, default=None,
                   help="MQTT broker port (default 8884, the centre's listener of the shipped broker "
                        "config; 1883 with --no-tls)")
    g.add_argument("--ca-file", metavar="FILE", help="CA certificate of the broker (default: the system's CAs)")
    g.add_argument("--username", default="central", help="broker user name (default central)")
    g.add_argument(password_flag, metavar="FILE", help="file holding the broker password")
    g.add_argument("--no-tls", action="store_true", help="plain MQTT (a laptop demo only)")
    g.add_argument("--prefix", type=topic_prefix, default="", metavar="P",
                   help="topic prefix before kundpuls/v1, e.g. acme/")
    if client_id:
        g.add_argument("--client-id", type=nonempty, metavar="ID", default=None,
                       help="MQTT client id; stable per ingestor so its session survives restarts "
                            "(default kundpuls-ingest-HOSTNAME, -HOSTNAME-2 … for more on one host)")


def broker_settings(args: argparse.Namespace, client_id: str, password_flag: str = "--password-file"):
    from server_sync.ingest import BrokerSettings, share_group
    password = None
    password_file = getattr(args, password_flag.lstrip("-").replace("-", "_"))
    if password_file:
        try:
            password = read_regular_file(password_file).decode("utf-8-sig").strip()   # without a byte-order mark
        except OSError as e:
            raise CentralConfigError(f"cannot read {password_flag} {password_file}: {e.strerror}") from None
        except UnicodeDecodeError as e:
            raise CentralConfigError(f"{password_flag} {password_file}: not UTF-8 text (byte {e.start})") from None
        if not password:
            raise CentralConfigError(f"{password_flag} {password_file} is empty")
    if args.ca_file and args.no_tls:
        raise CentralConfigError("--ca-file and --no-tls contradict each other")
    if args.ca_file:
        _check_ca_file(args.ca_file)
    port = args.broker_port if args.broker_port is not None else (1883 if args.no_tls else CENTRE_PORT)
    if not 1 <= port <= 65535:
        raise CentralConfigError(f"--broker-port must be 1-65535, got {port}")
    return BrokerSettings(host=args.broker_host, port=port, tls=not args.no_tls,
                          ca_file=args.ca_file, username=args.username or None, password=password,
                          client_id=client_id, share_group=share_group(password))


def _check_ca_file(path: str) -> None:
    """The kiosk's own check and wording (paho would raise FileNotFoundError or ssl.SSLError
    only when it connects)."""
    from server_sync.program.tls import check_ca_file
    from server_sync.protocol.errors import SettingError
    try:
        check_ca_file(path, key="--ca-file")
    except SettingError as e:
        raise CentralConfigError(f"--ca-file: {e.message}") from None


MAX_INGESTORS_PER_HOST = 64


def default_client_id(hostname: str, slots: Path) -> tuple[str, IO]:
    """`kundpuls-ingest-HOSTNAME` for the first ingestor on a host, `…-2`, `…-3` for the next:
    two ingestors with one client id knock each other off the broker in turn (602 times in ten
    minutes, measured). Each takes the lowest free slot, a lock file in `slots` held while it
    runs (the kernel lets go of it when the process ends, even by SIGKILL), so a restarted
    ingestor gets its id, and its broker session, back. Returns the id and the open lock file."""
    denied = 0
    try:
        slots.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CentralConfigError(f"cannot make {slots} for the ingestors' slots ({e.strerror}); "
                                 "give this one --client-id") from None
    for n in range(1, MAX_INGESTORS_PER_HOST + 1):
        try:
            lock = open(slots / f"kundpuls-ingest-{n}.lock", "a")
        except PermissionError:
            # Another user's slot (the temporary directory is everyone's): taken, for this user.
            # Opening it was a PermissionError traceback.
            denied += 1
            continue
        except OSError as e:
            raise CentralConfigError(f"cannot take an ingestor slot in {slots} ({e.strerror}); "
                                     "give this one --client-id") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        return (f"kundpuls-ingest-{hostname}" if n == 1 else f"kundpuls-ingest-{hostname}-{n}"), lock
    if denied == MAX_INGESTORS_PER_HOST:
        raise CentralConfigError(f"user {this_user()} may not make the ingestors' slots in {slots}; give this "
                                 "one --client-id (or run it as the centre's user)")
    raise CentralConfigError(f"{MAX_INGESTORS_PER_HOST} ingestors already run on this host (slots in {slots}); "
                             "give this one --client-id")


def slot_directory() -> Path:
    """Where this host's ingestors take their slots: the unit's state directory (every copy of
    kundpuls-ingest.service shares /var/lib/kundpuls-central), else the temporary directory."""
    return Path(os.environ.get("STATE_DIRECTORY", "").split(":")[0] or tempfile.gettempdir())


def load_hooks(names=AFTER_COMMIT_HOOKS) -> list:
    hooks = []
    for name in names:
        module, _, func = name.partition(":")
        hooks.append(getattr(importlib.import_module(module), func))
    return hooks


def add_parser(sub, common) -> None:
    p = sub.add_parser("ingest", parents=[common], help="run the MQTT ingestor (until SIGTERM)",
                       description="Subscribe to every kiosk's events (shared subscription, so several "
                                   "ingestors can run side by side) and status; commit to the central "
                                   "store, then ack.")
    add_broker_options(p, client_id=True)
    p.add_argument("--max-bytes", type=int, default=None, metavar="N",
                   help="largest events payload accepted, in bytes (default 1 MiB, and no less: the largest batch a "
                        "kiosk may build); bigger ones are dead-lettered")
    p.add_argument("--kiosk-bytes-per-s", type=number(0, 1e12, "bytes a second"), default=KIOSK_BYTES_PER_S,
                   metavar="N", help="bytes a second one kiosk may send on average (default %(default)s, the shipped "
                                     "broker's; 0: no limit); more are not taken, and the kiosk sends its answers "
                                     "again later (statuses are not limited: each kiosk's newest are kept)")
    p.add_argument("--kiosk-burst-bytes", type=number(1, 1e12, "bytes"), default=KIOSK_BURST_BYTES, metavar="N",
                   help="bytes one kiosk may send at once before --kiosk-bytes-per-s applies (default %(default)s)")
    p.add_argument("--kiosk-message-bytes", type=number(0, 1e9, "bytes"), default=KIOSK_MESSAGE_BYTES, metavar="N",
                   help="bytes each message counts on top of its payload, for what the centre spends on a message "
                        "apart from its bytes (default %(default)s)")
    p.add_argument("--kiosk-day-bytes", type=number(0, 1e15, "bytes"), default=None, metavar="N",
                   help="bytes one kiosk may send in a day, a second bucket of that size refilled over 24 hours "
                        f"(default {KIOSK_DAY_BYTES}, or --kiosk-burst-bytes if that is more; 0: none; "
                        "at least --kiosk-burst-bytes)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)


def kiosk_rates(args: argparse.Namespace) -> KioskRates:
    """Each kiosk's budget from the ingest's options. A day's bucket nobody gave is the shipped
    one, or the burst where that is more: a unit that raised --kiosk-burst-bytes past it before
    the day's bucket came in must start as it did. One given below the burst is refused."""
    if not args.kiosk_bytes_per_s:
        return KioskRates(float("inf"), args.kiosk_burst_bytes, args.kiosk_message_bytes, 0)  # no limit, no day
    day = args.kiosk_day_bytes
    if day is None:
        day = max(KIOSK_DAY_BYTES, args.kiosk_burst_bytes)
    elif day and day < args.kiosk_burst_bytes:
        # A message may cost up to the burst: a smaller day would refuse it for ever.
        raise CentralConfigError(f"--kiosk-day-bytes must be 0 or at least --kiosk-burst-bytes "
                                 f"({args.kiosk_burst_bytes:g}), got {day:g}")
    return KioskRates(args.kiosk_bytes_per_s, args.kiosk_burst_bytes, args.kiosk_message_bytes, day)


def run(args: argparse.Namespace) -> int:
    from server_sync import protocol
    from server_sync.central.db import limit_waits
    from server_sync.ingest import Ingest, IngestService, make_client

    configure_logging(args.log_level, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    slot = None
    if args.client_id:
        client_id = args.client_id
    else:
        client_id, slot = default_client_id(socket.gethostname(), slot_directory())
    if not protocol.vocabulary.BATCH_ID_RE.fullmatch(client_id):
        raise CentralConfigError(f"--client-id must be 1-80 letters, digits or -_.:, got {client_id!r}")
    settings = broker_settings(args, client_id)
    if args.max_bytes is not None and args.max_bytes < protocol.DEFAULT_MAX_BYTES:
        # A kiosk may build batches up to sync.batch_max_bytes, at most this much: a smaller
        # limit dead-letters its batches unanswered, and it builds the same ones again after
        # every ack timeout, so nothing of its backlog would ever get in.
        raise CentralConfigError(f"--max-bytes must be at least {protocol.DEFAULT_MAX_BYTES} (the largest batch a "
                                 f"kiosk may build, sync.batch_max_bytes), got {args.max_bytes}")
    rates = kiosk_rates(args)
    db = connect_new_store(args)
    notifier = SystemdNotifier()
    if notifier.watchdog_interval_s:
        # One attempt at the store waits for a lock (or a silent server) about a quarter of
        # WatchdogSec at most (the ping interval is half of it): a store held locked longer is
        # retried between pings, not waited on until systemd kills the ingest.
        limit_waits(db, notifier.watchdog_interval_s / 2)
    ingest = Ingest(db, prefix=args.prefix, max_bytes=args.max_bytes or protocol.DEFAULT_MAX_BYTES,
                    hooks=load_hooks())
    service = IngestService(ingest, make_client(settings), settings, notifier=notifier, rates=rates)

    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return service.run(stop)
    finally:
        db.close()
        if slot is not None:
            slot.close()
