"""`kiosk-central fleet`: every kiosk's health; silent kiosks during opening hours flagged."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from server_sync.cli import existing_database_url


def add_parser(sub, common) -> None:
    p = sub.add_parser("fleet", parents=[common], help="kiosk health: online, last seen, outbox, clock, config",
                       description="Every registered kiosk with online state, last seen, outbox depth, clock "
                                   "state and config version (and a config the kiosk refused, with its reason). A "
                                   "kiosk silent for over 2 hours of its site's opening hours is flagged. A kiosk "
                                   "to be installed on a later day (kiosk installs-on) is awaited until then: "
                                   "listed, never flagged. Exit 1 when any kiosk is flagged.")
    p.add_argument("--json", action="store_true", help="print JSON (a list of kiosks and a summary)")
    p.add_argument("--flagged", action="store_true", help="only flagged kiosks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from server_sync.analysis.fleet import fleet, summary
    from server_sync.central.db import connect

    db = connect(existing_database_url(args))
    try:
        rows = fleet(db, datetime.now(timezone.utc))
    finally:
        db.close()
    total = summary(rows)
    if args.flagged:
        rows = [r for r in rows if r["flagged"]]
    if args.json:
        print(json.dumps({"summary": total, "kiosks": rows}, indent=2, ensure_ascii=False))
    else:
        print(f"{'kiosk':<16} {'site':<18} {'state':<8} {'last seen (UTC)':<20} {'outbox':>6} {'clock':<6}"
              f" {'config':>6}  flag")
        for r in rows:
            # "stale": its last status said online, but nothing was heard since for hours of
            # opening time (the web page: "unknown – not heard since").
            state = ("deactiv." if not r["active"] else "awaited" if r["awaited"] else
                     "stale" if r["online"] and r["silent"] else
                     "online" if r["online"] else "offline" if r["online"] is False else "unknown")
            seen = f"due {r['installs_on']}" if r["awaited"] else (r["last_seen"] or "never")[:19].replace("T", " ")
            clock = {True: "synced", False: "UNSYNC", None: "?"}[r["clock_synced"]]
            print(f"{r['kiosk_id']:<16} {r['site_id']:<18} {state:<8} {seen:<20} {r['outbox_depth'] or 0:>6}"
                  f" {clock:<6} {r['config_version'] if r['config_version'] is not None else '-':>6}  {r['flag'] or ''}")
        print(f"{total['kiosks']} kiosks, {total['online']} online, {total['flagged']} flagged"
              + (f", {total['awaited']} awaited (to be installed)" if total["awaited"] else ""))
        for r in rows:
            if r["config_error"]:
                # The kiosk runs its last good config; its own words say why it refused the new one.
                print(f"{r['kiosk_id']}: config refused: {r['config_error']}")
        if total["rejected_total"]:
            refused = ", ".join(f"{r['kiosk_id']} {r['rejected']}" for r in rows if r["rejected"])
            print(f"events refused for good (kept on the kiosk, see dead_letter): {refused}")
    return 1 if total["flagged"] else 0
