"""`kiosk-central alerts list|show|assign|due|comment|ack|close|check`: the alerts raised on dips
and their workflow (server_sync.workflow.alerts: owner, due date, comments, acknowledgement,
closing with an outcome), for people and scripts (`--json`); the web app calls the same functions.

`check` runs the dip rule (kind realtime) over every site (cron it, e.g. every 15 minutes, for
sites whose kiosks are quiet; the ingest hook runs it on every commit), with --trend also the
trend rule, stores new alerts (each gets its owner and queued notices), optionally POSTs them to
--webhook, and publishes them on each site's alerts
topic unless --no-publish.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from server_sync.cli import central_store, existing_database_url
from server_sync.commands._argtypes import DAY_FORMAT, day, free_text, nonblank_name, record_id, seconds
from server_sync.commands.ingest import add_broker_options, broker_settings
from server_sync.exc import CentralConfigError
from server_sync.program.cli import nonempty
from server_sync.protocol.codec import printable

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from peewee import Database


def add_parser(sub, common) -> None:
    p = sub.add_parser("alerts", parents=[common], help="dip alerts: list, assign, comment, ack, close, check",
                       description="Alerts raised when a site dips: realtime (today or the last days clearly below the "
                                   "site's own 4-week baseline, with a minimum n that follows the site's traffic; "
                                   "one alert per dip) and, on request, trend (significant drop today against "
                                   "the 4-week baseline for the same hours). Each is owned (the site's store manager "
                                   "at first), has a due date, and is acknowledged and closed with an outcome.")
    s = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    ls = s.add_parser("list", parents=[common], help="list alerts, newest first")
    ls.add_argument("--state", choices=("open", "acknowledged", "closed", "active"),
                    help="only alerts in this state (active: open or acknowledged)")
    ls.add_argument("--open", action="store_true", help="the same as --state open")
    ls.add_argument("--overdue", action="store_true", help="only active alerts past their due date")
    ls.add_argument("--site", action="append", type=nonempty, default=[], help="only this site (repeatable)")
    ls.add_argument("--owner", type=nonblank_name, metavar="USER", help="only alerts this person owns")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    sh = s.add_parser("show", parents=[common], help="one alert with its history")
    sh.add_argument("id", type=record_id, metavar="ID")
    sh.add_argument("--json", action="store_true", help="print JSON")
    sh.set_defaults(func=run_show)
    asg = s.add_parser("assign", parents=[common], help="give an alert to a person who may act at its site")
    asg.add_argument("id", type=record_id, metavar="ID")
    asg.add_argument("user", type=nonblank_name, metavar="USER", help="the new owner (a web app user)")
    due = s.add_parser("due", parents=[common], help="set an alert's due date")
    due.add_argument("id", type=record_id, metavar="ID")
    due.add_argument("date", type=day, metavar="YYYY-MM-DD", help=DAY_FORMAT)
    com = s.add_parser("comment", parents=[common], help="add a comment to an alert's history")
    com.add_argument("id", type=record_id, metavar="ID")
    com.add_argument("text", type=free_text, metavar="TEXT")
    ack = s.add_parser("ack", parents=[common], help="acknowledge an alert (it is being looked at)")
    ack.add_argument("id", type=record_id, metavar="ID", help="alert id (from alerts list)")
    ack.add_argument("--comment", type=free_text, help="what was found or done")
    cl = s.add_parser("close", parents=[common], help="close an alert with its outcome")
    cl.add_argument("id", type=record_id, metavar="ID")
    cl.add_argument("--outcome", required=True, choices=("action", "none", "duplicate"),
                    help="action: an action was taken (--action ID, or a new one: --note); none: no action "
                         "needed (--reason); duplicate: of --duplicate-of ID")
    cl.add_argument("--reason", type=free_text, help="why no action is needed (or a note on the outcome)")
    cl.add_argument("--action", type=record_id, metavar="ID", help="an action already logged at the site")
    cl.add_argument("--duplicate-of", type=record_id, metavar="ID", help="the alert this one repeats")
    cl.add_argument("--note", type=free_text, help="a new action: what the site changed")
    cl.add_argument("--type", dest="action_type", metavar="TYPE", help="the new action's type (action add --help)")
    cl.add_argument("--owner", type=nonblank_name, metavar="USER",
                    help="who sees the new action through (default: the alert's owner)")
    cl.add_argument("--date", type=day, metavar="YYYY-MM-DD",
                    help=f"the new action's first day ({DAY_FORMAT}; default today)")
    for sp, fn in ((asg, run_assign), (due, run_due), (com, run_comment), (ack, run_ack), (cl, run_close)):
        sp.add_argument("--by", type=nonblank_name, metavar="USER", help="who does it, for the history (default: cli:<login>)")
        sp.add_argument("--json", action="store_true", help="print the alert as JSON")
        sp.set_defaults(func=fn)
    chk = s.add_parser("check", parents=[common], help="evaluate the rules now; store, webhook, publish")
    chk.add_argument("--site", action="append", type=nonempty, default=[], help="only this site (repeatable)")
    chk.add_argument("--trend", action="store_true",
                     help="also the trend rule (today against the same hours of the last 4 weeks, p < 0.01) "
                          "for sites without an open dip alert")
    chk.add_argument("--webhook", type=nonempty, metavar="URL", help="POST each new alert as JSON to URL (failures are logged)")
    chk.add_argument("--webhook-timeout", type=seconds, default=5.0, metavar="S", help="webhook timeout (more than 0, at most 600 s; default 5 s)")
    chk.add_argument("--no-publish", action="store_true", help="do not publish on the MQTT alerts topics")
    chk.add_argument("--json", action="store_true", help="print the new alerts as JSON")
    add_broker_options(chk)
    chk.set_defaults(func=run_check)


def _print(alerts: list[dict], zones: dict[str, ZoneInfo]) -> None:
    """One line an alert; times on its site's clock with the zone's abbreviation, as the web app
    and the mails give them (`zones`: registry.site_zones of the alerts' sites)."""
    from server_sync.analysis.chain_report import local_time
    for a in alerts:
        due = f" due {a['due_date']}" + (" OVERDUE" if a.get("overdue") else "") if a.get("due_date") else ""
        # Texts people and kiosks wrote go through printable: an escape sequence in a comment
        # would act on the terminal that lists it.
        # 22: the longest a zone's abbreviation makes it ("2026-11-23 14:45 +0545"), so columns line up.
        print(f"{a['id']:>5} {local_time(a['raised_at'], zones[a['site_id']]):<22} {printable(a['site_id']):<16}"
              f" {a['kind']:<8} {a['state']:<12} {printable(a.get('owner') or '-'):<16}{due}  {printable(a['message'])}")


def _by(args: argparse.Namespace, db: Database | None = None) -> str:
    """Who does it, for the history (_actor.actor): --by, checked against the alert's site, else
    cli:<login>."""
    from server_sync.commands._actor import actor
    if args.by and db is not None:
        from server_sync.workflow.alerts import require
        return actor(db, args.by, require(db, args.id, _now())["site_id"])
    return actor(None, args.by, None)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _show(args: argparse.Namespace, alert: dict, said: str) -> int:
    if args.json:
        print(json.dumps(alert, indent=2, ensure_ascii=False))
    else:
        print(said)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from server_sync.analysis.queries import require_sites
    from server_sync.central.registry import site_zones
    from server_sync.web.people import require_user
    from server_sync.workflow.alerts import list_alerts
    if args.open and args.state not in (None, "open"):
        raise CentralConfigError(f"--open and --state {args.state} contradict each other (--open is --state open)")
    with central_store(args, existing=True) as db:
        require_sites(db, args.site)
        if args.owner:
            require_user(db, args.owner)          # a typo would list nothing, as if all were done
        alerts = list_alerts(db, state="open" if args.open else args.state, sites=args.site or None,
                             owner=args.owner, overdue=args.overdue, now=_now())
        zones = site_zones(db, {a["site_id"] for a in alerts})
    if args.json:
        print(json.dumps(alerts, indent=2, ensure_ascii=False))
    elif alerts:
        _print(alerts, zones)
    else:                       # silence would read as a failed command
        filtered = args.state or args.open or args.overdue or args.site or args.owner
        print("no alerts" + (" matching these filters" if filtered else " raised yet"))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from server_sync.analysis.chain_report import local_time
    from server_sync.central.registry import site_zones
    from server_sync.workflow.alerts import require
    with central_store(args, existing=True) as db:
        a = require(db, args.id, _now())
        zones = site_zones(db, [a["site_id"]])
    if args.json:
        print(json.dumps(a, indent=2, ensure_ascii=False))
        return 0
    _print([a], zones)
    for e in a["history"]:
        print(f"      {local_time(e['at'], zones[a['site_id']]):<22} {printable(e['user'] or 'kundpuls'):<16} {e['event']:<12}"
              f" {printable(e['detail'] if e['detail'] is not None else '', 10_000)}")
    return 0


def run_assign(args: argparse.Namespace) -> int:
    from server_sync.workflow.alerts import assign
    with central_store(args, existing=True) as db:
        a = assign(db, args.id, args.user, _by(args, db), _now())
    return _show(args, a, f"alert {a['id']} assigned to {a['owner']}")


def run_due(args: argparse.Namespace) -> int:
    from server_sync.workflow.alerts import set_due
    with central_store(args, existing=True) as db:
        a = set_due(db, args.id, args.date, _by(args, db), _now())
    return _show(args, a, f"alert {a['id']} due {a['due_date']}")


def run_comment(args: argparse.Namespace) -> int:
    from server_sync.workflow.alerts import comment
    with central_store(args, existing=True) as db:
        by, now = _by(args, db), _now()
        a, kept = comment(db, args.id, args.text, by, now)
    if kept is None:
        return _show(args, a, f"comment added to alert {a['id']}")
    # The same comment sent again this soon (alerts.RESENT_WITHIN) is that one: nothing stored.
    minutes = int((now - kept).total_seconds() // 60)
    said = (f"the same comment by {by} was kept on alert {a['id']} "
            f"{f'{minutes} min' if minutes else 'less than a minute'} ago: not added again")
    if args.json:
        print(said, file=sys.stderr)
    return _show(args, a, said)


def run_ack(args: argparse.Namespace) -> int:
    from server_sync.workflow.alerts import acknowledge
    if args.comment is not None and not args.comment.strip():
        raise CentralConfigError("--comment must say what was found or done (or leave it out)")
    with central_store(args, existing=True) as db:
        a = acknowledge(db, args.id, _by(args, db), _now(), args.comment)
    return _show(args, a, f"alert {a['id']} acknowledged" + (f": {args.comment}" if args.comment else ""))


def _action_owner(db: Database, args: argparse.Namespace) -> str:
    """Who sees a new action through: --owner, else the alert's owner while they may still act at
    its site (one since disabled was refused, naming them, with no word of --owner), else the
    site's store manager, else --by when given. Not the default --by (cli:<login>): that is
    nobody's user name, and 'no user' would not say why."""
    from server_sync.workflow.alerts import require
    from server_sync.workflow.people import still_may_own, store_manager_of
    a = require(db, args.id, _now())
    owner = (args.owner or still_may_own(db, a["owner"], a["site_id"]) or store_manager_of(db, a["site_id"])
             or args.by)
    if not owner:
        raise CentralConfigError(f"alert {args.id} has no owner to see the new action through: assign it first "
                                 f"(kiosk-central alerts assign {args.id} USER) or name one with --owner USER")
    return owner


def run_close(args: argparse.Namespace) -> int:
    from server_sync.workflow.alerts import close
    new_action = None
    wrong = [option for option, given, outcome in (("--note", args.note is not None, "action"),
                                                   ("--action", args.action is not None, "action"),
                                                   ("--duplicate-of", args.duplicate_of is not None, "duplicate"))
             if given and args.outcome != outcome]
    if wrong:
        raise CentralConfigError(f"{wrong[0]} does not go with --outcome {args.outcome} (it is for --outcome "
                                 f"{'duplicate' if wrong[0] == '--duplicate-of' else 'action'})")
    if args.note is not None and args.action is not None:     # before the owner is looked for
        from server_sync.workflow.alerts import BOTH_ACTIONS
        raise CentralConfigError(BOTH_ACTIONS)
    if args.note is not None:
        new_action = {"note": args.note, "action_type": args.action_type, "date": args.date}
    elif args.action_type or args.date or args.owner:
        raise CentralConfigError("--type, --date and --owner describe a new action: give its --note too")
    with central_store(args, existing=True) as db:
        if new_action is not None:
            new_action["owner"] = _action_owner(db, args)
        a = close(db, args.id, args.outcome, _by(args, db), _now(), reason=args.reason, action_id=args.action,
                  duplicate_of=args.duplicate_of, new_action=new_action)
    extra = f" (action {a['action_id']})" if a["action_id"] else ""
    return _show(args, a, f"alert {a['id']} closed: {a['outcome']}{extra}")


def publish(settings, messages: list[tuple[str, bytes]], timeout_s: float = 10.0) -> list[bool]:
    """Publish QoS 1 and wait for the broker's PUBACKs: per message, whether the broker took it
    (all False, said, when the broker is away)."""
    from server_sync.ingest import make_client, connect_properties
    client = make_client(settings, manual_ack=False)
    try:
        client.connect(settings.host, settings.port, settings.keepalive_s, properties=connect_properties(settings))
        client.loop_start()
        infos = [client.publish(topic, body, qos=1) for topic, body in messages]
        for info in infos:
            info.wait_for_publish(timeout_s)
        taken = [info.is_published() for info in infos]
        if not all(taken):             # connected, but no PUBACK in time: said, as a refusal is
            print(f"kiosk-central: warning: alerts not published (the broker took {sum(taken)} of {len(infos)} "
                  f"within {timeout_s:g} s); they stay stored", file=sys.stderr)
        return taken
    except (OSError, ValueError, RuntimeError) as e:
        print(f"kiosk-central: warning: alerts not published ({e}); they stay stored", file=sys.stderr)
        return [False] * len(messages)
    finally:
        client.loop_stop()
        client.disconnect()


def run_check(args: argparse.Namespace) -> int:
    from server_sync.analysis.alerts import check, deliver, mark_published
    from server_sync.analysis.queries import require_sites
    from server_sync.central.db import connect
    from server_sync.central.registry import site_zones
    from server_sync.workflow.alerts import require
    if args.webhook:
        from server_sync.notify.queue import check_url
        check_url(args.webhook, "--webhook")
    settings = None if args.no_publish else broker_settings(args, "kundpuls-alerts")
    now = datetime.now(timezone.utc)
    db = connect(existing_database_url(args))
    try:
        require_sites(db, args.site)
        raised = check(db, now, site_ids=args.site or None, trend=args.trend)
        messages = deliver(db, raised, now, prefix=args.prefix, webhook_url=args.webhook,
                           timeout_s=args.webhook_timeout, published=False)
        # Marked published only once the broker took them (it said so of alerts kept back by
        # --no-publish, and of those a broker away never got: a review).
        if messages and settings is not None:     # each alert's message is its own (deliver's order)
            taken = publish(settings, messages)
            mark_published(db, [a["id"] for a, took in zip(raised, taken) if took], now)
        # As stored, with the owner and state the workflow gave them: the rule's own records have
        # neither, and the listing shows both.
        stored = [require(db, a["id"], now) for a in raised]
        zones = site_zones(db, {a["site_id"] for a in stored})
    finally:
        db.close()
    if args.json:
        print(json.dumps(stored, indent=2, ensure_ascii=False))
    else:
        _print(stored, zones)
        print(f"{len(stored)} new alert(s)")
    return 0
