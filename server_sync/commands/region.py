"""`kiosk-central region add|list|assign`: regions group sites; a regional manager sees the sites
of their regions."""

from __future__ import annotations

import argparse
import json

from server_sync.cli import central_store
from server_sync.commands._argtypes import nonblank_name
from server_sync.protocol.vocabulary import ID_RULE


def add_parser(sub, common) -> None:
    p = sub.add_parser("region", parents=[common], help="regions of sites (add, list, assign)",
                       description="Regions group sites; a regional manager of the web app sees the sites "
                                   "of their regions.")
    s = p.add_subparsers(dest="region_command", metavar="ACTION", required=True)
    a = s.add_parser("add", parents=[common], help="add a region")
    a.add_argument("id", metavar="ID", help=f"region id: {ID_RULE}")
    a.add_argument("--name", type=nonblank_name, required=True, help="display name, e.g. 'Stockholm city'")
    a.set_defaults(func=run_add)
    ls = s.add_parser("list", parents=[common], help="regions with their sites")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    g = s.add_parser("assign", parents=[common], help="put sites in a region (or in none)")
    g.add_argument("region", metavar="REGION", help="region id, or '-' for no region")
    g.add_argument("sites", metavar="SITE", nargs="+", help="site ids")
    g.set_defaults(func=run_assign)


def run_add(args: argparse.Namespace) -> int:
    from server_sync.web.people import add_region
    with central_store(args) as db:
        r = add_region(db, args.id, args.name)
    print(f"region {r['id']} ({r['name']}) added; put sites in it with: "
          f"kiosk-central region assign {r['id']} SITE …")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from server_sync.web.people import regions
    with central_store(args, existing=True) as db:
        rows = regions(db)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows:
        print("no regions yet: kiosk-central region add ID --name NAME, then region assign ID SITE …")
    else:
        for r in rows:
            ids = r["site_ids"][:8] + ([f"… {len(r['site_ids']) - 8} more"] if len(r["site_ids"]) > 8 else [])
            print(f"{r['id']:<24} {r['sites']:>4} sites  {r['name']}" + (f"  ({', '.join(ids)})" if ids else ""))
    return 0


def run_assign(args: argparse.Namespace) -> int:
    from server_sync.web.people import NO_REGION, assign_region
    region = None if args.region == NO_REGION else args.region
    sites = list(dict.fromkeys(args.sites))          # a site named twice is one site
    with central_store(args, existing=True) as db:
        assign_region(db, region, sites)
    print(f"{len(sites)} site(s) now in {'no region' if region is None else 'region ' + region}")
    return 0
