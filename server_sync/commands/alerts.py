"""`kiosk-central alerts list|ack|check`: see, acknowledge and evaluate dip alerts.

`check` runs the dip rule (kind realtime) over every site (cron it, e.g. every 15 minutes, for
sites whose kiosks are quiet; the ingest hook runs it on every commit), with --trend also the
trend rule, stores new alerts, POSTs them to --webhook, and publishes them on each site's alerts
topic unless --no-publish.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from server_sync.cli import existing_database_url
from server_sync.commands.ingest import add_broker_options, broker_settings


def add_parser(sub, common) -> None:
    p = sub.add_parser("alerts", parents=[common], help="dip alerts: list, ack, check",
                       description="Alerts raised when a site dips: realtime (today or the last days clearly below the "
                                   "site's own 4-week baseline, with a minimum n that follows the site's traffic; "
                                   "one alert per dip) and, on request, trend (significant drop today against "
                                   "the 4-week baseline for the same hours).")
    s = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    ls = s.add_parser("list", parents=[common], help="list alerts, newest first")
    ls.add_argument("--open", action="store_true", help="only alerts not yet acknowledged")
    ls.add_argument("--site", help="only this site")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    ack = s.add_parser("ack", parents=[common], help="acknowledge an alert with a comment")
    ack.add_argument("id", type=int, metavar="ID", help="alert id (from alerts list)")
    ack.add_argument("--comment", required=True, help="what was found or done")
    ack.set_defaults(func=run_ack)
    chk = s.add_parser("check", parents=[common], help="evaluate the rules now; store, webhook, publish")
    chk.add_argument("--site", action="append", default=[], help="only this site (repeatable)")
    chk.add_argument("--trend", action="store_true",
                     help="also the trend rule (today against the same hours of the last 4 weeks, p < 0.01) "
                          "for sites without an open dip alert")
    chk.add_argument("--webhook", metavar="URL", help="POST each new alert as JSON to URL (failures are logged)")
    chk.add_argument("--webhook-timeout", type=float, default=5.0, metavar="S", help="webhook timeout (default 5 s)")
    chk.add_argument("--no-publish", action="store_true", help="do not publish on the MQTT alerts topics")
    chk.add_argument("--json", action="store_true", help="print the new alerts as JSON")
    add_broker_options(chk)
    chk.set_defaults(func=run_check)


def _print(alerts: list[dict]) -> None:
    for a in alerts:
        ack = f"  acked: {a['ack_comment']}" if a["acked_at"] else ""
        print(f"{a['id']:>5} {a['raised_at'][:16]} {a['site_id']:<16} {a['kind']:<8} {a['message']}{ack}")


def run_list(args: argparse.Namespace) -> int:
    from server_sync.analysis.alerts import list_alerts
    from server_sync.central.db import connect
    db = connect(existing_database_url(args))
    try:
        alerts = list_alerts(db, open_only=args.open, site=args.site)
    finally:
        db.close()
    if args.json:
        print(json.dumps(alerts, indent=2, ensure_ascii=False))
    else:
        _print(alerts)
    return 0


def run_ack(args: argparse.Namespace) -> int:
    from server_sync.analysis.alerts import acknowledge
    from server_sync.central.db import connect
    db = connect(existing_database_url(args))
    try:
        a = acknowledge(db, args.id, args.comment, datetime.now(timezone.utc))
    finally:
        db.close()
    print(f"alert {a['id']} acknowledged: {a['ack_comment']}")
    return 0


def publish(settings, messages: list[tuple[str, bytes]], timeout_s: float = 10.0) -> bool:
    """Publish QoS 1 and wait for the broker's PUBACKs; False (logged) when the broker is away."""
    from server_sync.ingest import make_client, connect_properties
    client = make_client(settings, manual_ack=False)
    try:
        client.connect(settings.host, settings.port, settings.keepalive_s, properties=connect_properties(settings))
        client.loop_start()
        infos = [client.publish(topic, body, qos=1) for topic, body in messages]
        for info in infos:
            info.wait_for_publish(timeout_s)
        return all(info.is_published() for info in infos)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"kiosk-central: warning: alerts not published ({e}); they stay stored", file=sys.stderr)
        return False
    finally:
        client.loop_stop()
        client.disconnect()


def run_check(args: argparse.Namespace) -> int:
    from server_sync.analysis.alerts import check, deliver
    from server_sync.central.db import connect
    settings = None if args.no_publish else broker_settings(args, "kundpuls-alerts")
    now = datetime.now(timezone.utc)
    db = connect(existing_database_url(args))
    try:
        raised = check(db, now, site_ids=args.site or None, trend=args.trend)
        messages = deliver(db, raised, now, prefix=args.prefix, webhook_url=args.webhook,
                           timeout_s=args.webhook_timeout)
    finally:
        db.close()
    if messages and settings is not None:
        publish(settings, messages)
    if args.json:
        print(json.dumps(raised, indent=2, ensure_ascii=False))
    else:
        _print(raised)
        print(f"{len(raised)} new alert(s)")
    return 0
