"""`kiosk repair [--force] [--json]`: salvage a damaged (or empty) kiosk database into a fresh
one (kiosk.repair). Stop the kiosk's services first; the damaged files are kept beside it."""

from __future__ import annotations

import argparse
import json


def add_parser(sub, common) -> None:
    p = sub.add_parser("repair", parents=[common],
                       help="salvage a damaged database: every readable row into a fresh one, seqs never reused",
                       description="When `kiosk doctor` says the database is damaged or empty: stop the kiosk "
                                   "services (systemctl stop kundpuls-kiosk kundpuls-sync), run this, start them "
                                   "again. Every row a full scan can read goes into a fresh database; the "
                                   "sequence continues above every seq the kiosk gave out; the damaged files are "
                                   "kept beside it (kiosk.db.damaged-TIME).")
    p.add_argument("--force", action="store_true", help="rebuild even a database that passes integrity_check")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=repair_command)


def repair_command(args: argparse.Namespace) -> int:
    from kiosk.clock import SystemClock
    from kiosk.loading import load_config
    from kiosk.repair import repair

    cfg = load_config(args)
    result = repair(cfg.db_path, now=SystemClock().now(), force=args.force)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    s = result.salvaged
    print(f"repaired {result.path}: {s.get('response', 0)} answers, {s.get('followup', 0)} follow-ups and "
          f"{s.get('meta', 0)} settings salvaged into a fresh database")
    lost = {t: n for t, n in result.unreadable.items() if n}
    if lost:
        print("unreadable stretches skipped: " + ", ".join(f"{t} {n}" for t, n in lost.items())
              + " (what was there is lost on this card; what was sent before is at the centre)")
    print(f"the sequence continues after {result.sequence} (from the {result.sequence_from}): no seq is used twice")
    print("the damaged files are kept: " + ", ".join(result.damaged_kept_as))
    print("start the kiosk again: systemctl start kundpuls-kiosk kundpuls-sync (or -headless)")
    return 0
