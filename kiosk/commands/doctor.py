"""`kiosk doctor [--json]`: config, database, outbox, GPIO, clock, disk, broker; exit 1 on a failure."""

from __future__ import annotations

import argparse
import json

_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def add_parser(sub, common) -> None:
    p = sub.add_parser("doctor", parents=[common],
                       help="check config, database, GPIO, clock, disk and broker settings")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=doctor_command)


def doctor_command(args: argparse.Namespace) -> int:
    from kiosk.loading import load_config
    from kiosk.doctor import FAIL, WARN, run_checks

    checks = run_checks(lambda: load_config(args))
    failed = [c for c in checks if c.status == FAIL]
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [c.as_dict() for c in checks]}, indent=2))
    else:
        for c in checks:
            print(f"[{_MARK[c.status]}] {c.name:<16} {c.detail}")
        warned = sum(c.status == WARN for c in checks)
        if failed:
            print(f"\n{len(failed)} problem(s) to fix:")
            for c in failed:
                print(f"  - {c.name}: {c.detail}")
        else:
            print("\nall checks passed" + (f" ({warned} warning(s))" if warned else ""))
    return 1 if failed else 0
