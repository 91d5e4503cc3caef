"""`kiosk export --format jsonl|csv [--since YYYY-MM-DD|Nd] [--output FILE]`: every record."""

from __future__ import annotations

import argparse
import sys

from kiosk.commands.stats import SINCE_HELP, since_type
from kiosk.exc import KioskError
from server_sync.program.cli import output_file


def add_parser(sub, common) -> None:
    p = sub.add_parser("export", parents=[common],
                       help="write every answer and follow-up to a file (JSONL for the centre, or CSV)")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl",
                   help="jsonl (what `kiosk-central import` reads) or csv (default jsonl)")
    p.add_argument("--since", type=since_type, metavar="YYYY-MM-DD|Nd",
                   help=f"only records from this store-local date (or the last N days): {SINCE_HELP}")
    p.add_argument("--output", "-o", type=output_file, metavar="FILE",
                   help="write here (atomically) instead of stdout ('-' is stdout)")
    p.set_defaults(func=export_command)


def export_command(args: argparse.Namespace) -> int:
    from kiosk.loading import load_config
    from kiosk.clock import SystemClock
    from kiosk.export import export_to
    from kiosk.stats import local_today, resolve_since
    from kiosk.store import LocalStore

    cfg = load_config(args)
    now = SystemClock().now()
    since = resolve_since(args.since, local_today(cfg, now))
    with LocalStore.existing(cfg.db_path, kiosk_id=cfg.kiosk_id) as store:
        try:
            n = export_to(cfg, store, args.format, args.output, sys.stdout, now, since)
        except OSError as e:
            if args.output is None:
                raise                  # standard output: the CLI says what failed (kiosk.cli.main)
            raise KioskError(f"cannot write {args.output}: {e.strerror}") from None
    if args.output:
        print(f"exported {n} records to {args.output}", file=sys.stderr)
    return 0
