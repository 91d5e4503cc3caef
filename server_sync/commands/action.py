"""`kiosk-central action add|list|show|close-completed`: log what a site changed (on its own or
from an alert), see its before/after, and close the actions whose after-window is complete with
their verdict ("effect shown", "no detectable effect", "worse"); server_sync.workflow.actions."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from server_sync.cli import central_store
from server_sync.commands._argtypes import DAY_FORMAT, day, free_text, nonblank_name, record_id
from server_sync.exc import CentralConfigError
from server_sync.report.figures import p_statement
from server_sync.program.cli import nonempty
from server_sync.protocol.codec import printable

TYPES_HELP = "staffing, training, cleaning, queue, assortment, layout, opening-hours, service, other"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def add_parser(sub, common) -> None:
    p = sub.add_parser("action", parents=[common], help="actions sites took: add, list, show, close-completed",
                       description="Log what a site changed and when; reports compare the 28 days before "
                                   "with the 28 days from that date, with a confidence interval. When the "
                                   "after-window is complete an action closes with its verdict.")
    s = p.add_subparsers(dest="action_command", metavar="ACTION", required=True)
    a = s.add_parser("add", parents=[common], help="log an action")
    a.add_argument("--site", type=nonempty, help="site id (default: the alert's, with --from-alert)")
    a.add_argument("--question", type=nonempty, help="question id whose answers should move (default: the alert's)")
    a.add_argument("--date", type=day, metavar="YYYY-MM-DD",
                   help=f"the day the change took effect ({DAY_FORMAT}; default today)")
    a.add_argument("--note", type=free_text, required=True, help="what was changed")
    a.add_argument("--from-alert", type=record_id, metavar="ID", help="the alert this action answers")
    a.add_argument("--owner", type=nonblank_name, metavar="USER", help="who sees it through (default: the site's store manager)")
    a.add_argument("--type", dest="action_type", metavar="TYPE", help=f"what kind of change: {TYPES_HELP}")
    a.add_argument("--due", type=day, metavar="YYYY-MM-DD", help=f"by when the change should be in place ({DAY_FORMAT})")
    a.add_argument("--by", type=nonblank_name, metavar="USER",
                   help="who logs it, kept with it (a user who may act at the site; default: cli:<login>)")
    a.add_argument("--json", action="store_true", help="print the stored action as JSON")
    a.set_defaults(func=run_add)
    ls = s.add_parser("list", parents=[common], help="list actions with their before/after verdict")
    ls.add_argument("--site", action="append", type=nonempty, default=[], help="only this site (repeatable)")
    ls.add_argument("--state", choices=("open", "closed"), help="only open or closed actions")
    ls.add_argument("--overdue", action="store_true", help="only open actions past their due date")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    sh = s.add_parser("show", parents=[common], help="one action: before/after, verdict, what worked elsewhere")
    sh.add_argument("id", type=record_id, metavar="ID")
    sh.add_argument("--json", action="store_true", help="print JSON")
    sh.set_defaults(func=run_show)
    cc = s.add_parser("close-completed", parents=[common],
                      help="close the actions whose after-window is complete, with their verdict")
    cc.add_argument("--json", action="store_true", help="print the closed actions as JSON")
    cc.set_defaults(func=run_close_completed)


def run_add(args: argparse.Namespace) -> int:
    from server_sync.central.registry import site_today
    from server_sync.commands._actor import actor
    from server_sync.workflow import actions
    from server_sync.workflow.alerts import require
    now = _now()
    with central_store(args, existing=True) as db:
        site, question = args.site, args.question
        if args.from_alert is not None:
            alert = require(db, args.from_alert, now)
            if site and site != alert["site_id"]:
                raise CentralConfigError(f"alert {args.from_alert} is of site {alert['site_id']}, not {site}")
            site, question = alert["site_id"], question or alert["question_id"]
        if not site or not question:
            raise CentralConfigError("name the --site and --question (or --from-alert ID)")
        stored = actions.create(db, site, question, args.date or site_today(db, site, now), args.note, now,
                                owner=args.owner, action_type=args.action_type, alert_id=args.from_alert, due_date=args.due,
                                by=actor(db, args.by, site))
    print(json.dumps(stored, ensure_ascii=False) if args.json else
          f"action {stored['id']} logged for {stored['site_id']} from {stored['date']}: {_said(stored['note'])}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from server_sync.analysis.actions import evaluated
    from server_sync.analysis.queries import require_sites
    from server_sync.workflow import actions
    if args.overdue and args.state == "closed":
        raise CentralConfigError("--overdue lists open actions past their due date: with --state closed it "
                                 "could list none")
    with central_store(args, existing=True) as db:
        require_sites(db, args.site)
        rows = actions.list_actions(db, sites=args.site or None, state=args.state, overdue=args.overdue, now=_now())
        wanted = {r["id"]: r for r in rows}
        out = []
        for e in evaluated(db, tuple(args.site)):
            w = wanted.get(int(e["id"]))
            if w is not None:
                out.append(dict(e, **{k: w[k] for k in ("owner", "alert_id", "action_type", "due_date", "closed_at",
                                                         "overdue", "created_by")},
                                closing_verdict=w["verdict"], verdict_detail=w["verdict_detail"]))
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for a in out:
        test = a.get("test")
        diff = f"{test['diff']:+.1f} [{test['low']:+.1f}, {test['high']:+.1f}] {p_statement(test['p_value'], 'en')}" if test else "-"
        closed = f" closed: {a['closing_verdict']}" if a["closing_verdict"] else ""
        verdict = a.get("verdict", "-") + (f" {a['days_observed']}/{a['window_days']}"
                                           if a.get("verdict") == "pending" or a.get("scale_ended") else "")
        # The series it was judged on: `visit@smiley4` once the question is asked on another scale.
        series = a.get("series_id", a["question_id"])
        print(f"{a['id']:>5} {a['site_id']:<16} {series:<10} {a['date']}  {verdict:<22} {diff}"
              f"  n {a['previous']['n']}->{a['current']['n']}{closed}  {_said(a['note'])}")
    if not out:                 # silence would read as a failed command
        print("no actions" + (" matching these filters" if args.site or args.state or args.overdue else
                              " logged yet (kiosk-central action add, or close an alert with --outcome action)"))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from server_sync.workflow import actions
    now = _now()
    with central_store(args, existing=True) as db:
        a = actions.get(db, args.id, now)
        if a is None:
            raise CentralConfigError(f"no action with id {args.id}")
        a["suggestions"] = actions.suggestions(db, a["site_id"], now)
    if args.json:
        print(json.dumps(a, indent=2, ensure_ascii=False, default=str))
        return 0
    ev = a["evaluation"] or {}
    print(f"action {a['id']} at {a['site_id']} ({a['question_id']}) from {a['date']}: {_said(a['note'])}")
    print(f"  owner {printable(a['owner'] or '-')}, type {a['action_type'] or '-'}, alert {a['alert_id'] or '-'},"
          f" due {a['due_date'] or '-'}, logged by {printable(a['created_by'] or 'unknown')}")
    print(f"  before/after: {ev.get('verdict', '-')}" + (f"; closed as {a['verdict']}" if a["verdict"] else ""))
    for sug in a["suggestions"]["suggestions"]:
        print(f"  worked elsewhere: {sug['type']} at {', '.join(sug['sites']) or '-'} (+{sug['other_sites']} more),"
              f" mean effect {sug['mean_effect']}")
    return 0


def run_close_completed(args: argparse.Namespace) -> int:
    from server_sync.workflow.actions import close_completed
    with central_store(args, existing=True) as db:
        closed = close_completed(db, _now())
    if args.json:
        print(json.dumps(closed, indent=2, ensure_ascii=False, default=str))
    else:
        for a in closed:
            print(f"action {a['id']} at {a['site_id']} closed: {a['verdict']}")
        print(f"{len(closed)} action(s) closed")
    return 0


def _said(note: str) -> str:
    """A note as a terminal line: one typed in the web app may hold a formatting character (a
    bidi override reorders what the terminal shows) or a line break; escaped, as `alerts` does."""
    return printable(note, limit=10_000)
