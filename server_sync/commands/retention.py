"""`kiosk-central retention run` (daily, by the systemd timer kundpuls-retention.timer) and
`retention log`: remove what is past its retention period; what each run removed, in counts."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from server_sync.cli import central_store


def add_parser(sub, common) -> None:
    p = sub.add_parser("retention", parents=[common], help="apply the retention periods; show what was removed")
    s = p.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    run = s.add_parser("run", parents=[common], help="remove comments, dead letters, conflicts, audit entries and sent mail and webhook deliveries past their period")
    run.add_argument("--dry-run", action="store_true", help="count what would be removed, remove nothing")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.set_defaults(func=run_retention)
    log = s.add_parser("log", parents=[common], help="the last retention and erasure runs (counts only)")
    log.add_argument("--json", action="store_true", help="print JSON")
    log.set_defaults(func=show_log)


def run_retention(args: argparse.Namespace) -> int:
    from server_sync.central.retention import apply_retention
    with central_store(args, existing=True) as db:
        removed = apply_retention(db, datetime.now(timezone.utc), dry_run=args.dry_run)
    warn_wal_kept(db, removed)
    if args.json:
        print(json.dumps(removed.as_dict(), indent=2))
    else:
        verb = "would remove" if args.dry_run else "removed"
        print(f"retention {verb}: " + ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in removed.counts.items())
              + f" (comments before {removed.cutoffs['comments_before']}, dead letters and conflicts before "
                f"{removed.cutoffs['dead_letters_before']}, audit entries before {removed.cutoffs['audit_before']},"
                f" delivered or given-up mails and webhook deliveries before {removed.cutoffs['notices_before']})")
    return 0


def warn_wal_kept(db, removed) -> None:
    """On stderr, when SQLite's WAL could not be emptied after a removal (central.retention): the
    text removed may still be read in that file until the next retention run empties it."""
    if removed.wal_emptied is False:
        from server_sync.central.retention import WAL_WAIT_S
        print(f"kiosk-central: warning: removed from the store, but its write-ahead log {db.database}-wal may still hold "
              f"what was removed: another connection kept a read or a write open for {WAL_WAIT_S:.0f} s; the next "
              "`kiosk-central retention run` (daily, by kundpuls-retention.timer) empties it", file=sys.stderr)


def show_log(args: argparse.Namespace) -> int:
    from server_sync.central.retention import privacy_log
    with central_store(args, existing=True) as db:
        rows = privacy_log(db)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no retention runs or erasures yet (kiosk-central retention run; the daily timer runs it)")
    else:
        for r in rows:
            counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in r["counts"].items())
            # The actor is the action's own name unless someone else did it: say it only then.
            by = f" (by {r['actor']})" if r["actor"] != r["action"] else ""
            print(f"{r['at'][:19]} UTC  {r['action']}{by}: removed {counts}")
    return 0
