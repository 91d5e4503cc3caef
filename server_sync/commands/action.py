"""`kiosk-central action add|list`: log what a site changed, so reports can show before/after."""

from __future__ import annotations

import argparse
import json

from server_sync.cli import existing_database_url


def add_parser(sub, common) -> None:
    p = sub.add_parser("action", parents=[common], help="log actions sites took (add, list)",
                       description="Log what a site changed and when; reports compare the 28 days before "
                                   "with the 28 days from that date, with a confidence interval.")
    s = p.add_subparsers(dest="action_command", metavar="ACTION", required=True)
    a = s.add_parser("add", parents=[common], help="log an action")
    a.add_argument("--site", required=True, help="site id")
    a.add_argument("--question", required=True, help="question id whose answers should move")
    a.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the day the change took effect")
    a.add_argument("--note", required=True, help="what was changed")
    a.add_argument("--json", action="store_true", help="print the stored action as JSON")
    a.set_defaults(func=run_add)
    ls = s.add_parser("list", parents=[common], help="list actions with their before/after verdict")
    ls.add_argument("--site", action="append", default=[], help="only this site (repeatable)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)


def run_add(args: argparse.Namespace) -> int:
    from server_sync.analysis.actions import add
    from server_sync.central.db import connect
    db = connect(existing_database_url(args))
    try:
        stored = add(db, args.site, args.question, args.date, args.note)
    finally:
        db.close()
    print(json.dumps(stored, ensure_ascii=False) if args.json else
          f"action {stored['id']} logged for {stored['site_id']} from {stored['date']}: {stored['note']}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from server_sync.analysis.actions import evaluated
    from server_sync.central.db import connect
    db = connect(existing_database_url(args))
    try:
        out = evaluated(db, tuple(args.site))
    finally:
        db.close()
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for a in out:
        test = a["test"]
        diff = f"{test['diff']:+.1f} [{test['low']:+.1f}, {test['high']:+.1f}] p={test['p_value']:.3f}" if test else "-"
        verdict = a["verdict"] + (f" {a['days_observed']}/{a['window_days']}" if a["verdict"] == "pending" else "")
        print(f"{a['id']:>5} {a['site_id']:<16} {a['question_id']:<10} {a['date']}  {verdict:<22} {diff}"
              f"  n {a['previous']['n']}->{a['current']['n']}  {a['note']}")
    return 0
