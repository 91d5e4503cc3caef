"""`kiosk-central site add ID --name NAME [--timezone TZ]` and `site list`: the stores."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from server_sync.cli import database_url
from server_sync.commands._argtypes import nonblank_name


def add_parser(sub, common) -> None:
    p = sub.add_parser("site", parents=[common], help="register and list sites (stores)")
    s = p.add_subparsers(dest="site_command", metavar="ACTION", required=True)
    a = s.add_parser("add", parents=[common], help="register a site")
    a.add_argument("id", metavar="ID", help="site id: letters, digits, '-' and '_' (used in MQTT topics)")
    a.add_argument("--name", type=nonblank_name, required=True, help="display name, e.g. 'Stockholm Södermalm'")
    a.add_argument("--timezone", default="Europe/Stockholm",
                   help="IANA time zone of the store (default Europe/Stockholm): local days and hours")
    a.add_argument("--region", metavar="REGION", help="the region the site belongs to (kiosk-central region add); "
                                                      "change it later with kiosk-central region assign")
    a.set_defaults(func=add)
    ls = s.add_parser("list", parents=[common], help="list sites with their kiosk counts")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=list_sites)


def add(args: argparse.Namespace) -> int:
    from server_sync.central import registry
    from server_sync.central.db import connect
    from server_sync.web.people import assign_region, require_region
    db = connect(database_url(args))
    try:
        if args.region:
            require_region(db, args.region)
        with db.atomic():
            registry.add_site(db, args.id, args.name, args.timezone,
                              datetime.now(timezone.utc).replace(tzinfo=None))
            if args.region:
                assign_region(db, args.region, [args.id])
    finally:
        db.close()
    print(f"site {args.id} ({args.name}, {args.timezone}) registered; "
          f"add its kiosks with: kiosk-central kiosk add KIOSK_ID --site {args.id}")
    return 0


def list_sites(args: argparse.Namespace) -> int:
    from server_sync.central.db import connect
    db = connect(database_url(args))
    try:
        rows = db.execute_sql("SELECT s.id, s.name, s.timezone, COUNT(k.id) FROM site s"
                              " LEFT JOIN kiosk k ON k.site_id = s.id GROUP BY s.id, s.name, s.timezone"
                              " ORDER BY s.id").fetchall()
    finally:
        db.close()
    sites = [{"id": i, "name": n, "timezone": tz, "kiosks": k} for i, n, tz, k in rows]
    if args.json:
        print(json.dumps(sites, indent=2, ensure_ascii=False))
    else:
        for s in sites:
            print(f"{s['id']:<24} {s['kiosks']:>3} kiosks  {s['timezone']:<20} {s['name']}")
    return 0
