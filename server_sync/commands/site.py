"""`kiosk-central site add ID --name NAME [--timezone TZ] [--hours SPEC]`, `site update ID [--name
NAME] [--timezone TZ] [--hours SPEC]` and `site list`: the stores; `site holidays [SPEC]`: the
chain's holidays. Opening hours are said as a store manager types them (analysis.opening:
parse_spec, format_hours; parse_holidays, format_holidays)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import Any

from server_sync.cli import central_store, connect_new_store, existing_database_url
from server_sync.commands._argtypes import holidays_spec, nonblank_name, opening_hours, time_zone_name
from server_sync.exc import CentralConfigError, StoredSettingError
from server_sync.program.cli import nonempty
from server_sync.program.progress import progress_callback
from server_sync.protocol.vocabulary import ID_RULE


HOURS_HELP = ("opening hours, e.g. 'mon-fri 8-21, sat 10-18, sun closed': every day, H or H:MM 0-24, a close "
              "before the opening the next morning's (fri 18-2); holidays after the week (2026-12-24 8-13, "
              "2026-12-25 closed); 'default': the chain's. The fleet flags a kiosk silent for over 2 of them")


def add_parser(sub, common) -> None:
    p = sub.add_parser("site", parents=[common], help="register, change and list sites (stores)")
    s = p.add_subparsers(dest="site_command", metavar="ACTION", required=True)
    a = s.add_parser("add", parents=[common], help="register a site")
    a.add_argument("id", metavar="ID", help=f"site id: {ID_RULE} (used in MQTT topics)")
    a.add_argument("--name", type=nonblank_name, required=True, help="display name, e.g. 'Stockholm Södermalm'")
    a.add_argument("--timezone", type=time_zone_name, default="Europe/Stockholm",
                   help="IANA time zone of the store (default Europe/Stockholm): local days and hours")
    a.add_argument("--hours", type=opening_hours, metavar="SPEC", help=HOURS_HELP + " (default: the chain's)")
    a.add_argument("--region", type=nonempty, metavar="REGION", help="the region the site belongs to (kiosk-central region add); "
                                                      "change it later with kiosk-central region assign")
    a.set_defaults(func=add)
    u = s.add_parser("update", parents=[common], help="rename a site, change its time zone or opening hours",
                     description="Give a site another name, time zone or opening hours. A new zone recounts every "
                                 "rollup of the site (hourly, daily, monthly, reasons, its share of the chain's) from "
                                 "its stored answers in one transaction, while its kiosks' ingest waits: the figures "
                                 "are then those of a site registered in that zone from the start. Opening hours "
                                 "decide which of its silent kiosks the fleet view flags.")
    u.add_argument("id", metavar="ID", help="the site's id")
    u.add_argument("--name", type=nonblank_name, help="its new display name")
    u.add_argument("--timezone", type=time_zone_name, metavar="TZ",
                   help="its new IANA time zone, e.g. Europe/Oslo: its answers are recounted into local days and hours")
    u.add_argument("--hours", type=opening_hours, metavar="SPEC", help=HOURS_HELP)
    u.add_argument("--json", action="store_true", help="print JSON")
    u.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    u.set_defaults(func=update)
    h = s.add_parser("holidays", parents=[common], help="the chain's holidays: dates closed or with short hours",
                     description="The chain's holidays, for every site: dates closed or with short hours, e.g. "
                                 "'2026-12-24 8-13, 2026-12-25 closed' ('none': no holidays). A site that gives a "
                                 "date its own hours (site update --hours) keeps them. The fleet does not flag a "
                                 "kiosk silent on a day its store is closed. Without SPEC: print them.")
    h.add_argument("spec", metavar="SPEC", nargs="?", type=holidays_spec,
                   help="dates and their hours: DATE HOURS, comma-separated (HOURS as in --hours, or 'closed')")
    h.add_argument("--json", action="store_true", help="print JSON")
    h.set_defaults(func=holidays)
    ls = s.add_parser("list", parents=[common], help="list sites with their kiosk counts")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=list_sites)


def add(args: argparse.Namespace) -> int:
    from server_sync.central import registry
    from server_sync.web.people import assign_region, require_region
    db = connect_new_store(args)
    try:
        if args.region:
            require_region(db, args.region)
        with db.atomic():
            registry.add_site(db, args.id, args.name, args.timezone,
                              datetime.now(timezone.utc).replace(tzinfo=None), args.hours)
            if args.region:
                assign_region(db, args.region, [args.id])
    finally:
        db.close()
    print(f"site {args.id} ({args.name}, {args.timezone}, open {_hours(args.id, args.hours)['said']}) registered; "
          f"add its kiosks with: kiosk-central kiosk add KIOSK_ID --site {args.id}")
    return 0


def update(args: argparse.Namespace) -> int:
    from server_sync.central.db import connect
    from server_sync.central.site_update import update_site
    from server_sync.web.marks import bump
    if args.name is None and args.timezone is None and args.hours is None:
        raise CentralConfigError("nothing to change: give --name, --timezone or --hours")
    progress = progress_callback(unit="step", desc=f"site {args.id}", enabled=not (args.no_progress or args.json),
                                 detail=str)
    db = connect(existing_database_url(args))
    try:
        done = update_site(db, args.id, name=args.name, timezone=args.timezone, opening_hours=args.hours,
                           progress=progress)
        if done.changed:
            bump(db, {done.site_id}, datetime.now(timezone.utc))      # open web pages show it at once
    finally:
        db.close()
    hours, was_hours = _hours(done.site_id, done.opening_hours), _hours(done.site_id, done.was_opening_hours)
    if args.json:
        print(json.dumps({**done.as_dict(), "hours": hours["hours"], "hours_default": hours["hours_default"],
                          "was_hours": was_hours["hours"] or done.was_opening_hours}, indent=2, ensure_ascii=False))
        return 0
    if done.renamed:
        print(f"site {done.site_id}: renamed from {done.was_name!r} to {done.name!r}")
    if done.hours_changed:
        print(f"site {done.site_id}: opening hours {was_hours['said']} -> {hours['said']}")
    r = done.rebuilt
    if r is not None:
        print(f"site {done.site_id}: time zone {done.was_timezone} -> {done.timezone}; its rollups recounted from "
              f"{r.answers:,} answers: {r.hourly_before:,} hourly rows replaced by {r.hourly:,} (daily, monthly and "
              f"the chain's with them), {r.reasons:,} daily reason rows")
    if not done.changed:
        print(f"site {done.site_id}: nothing changed (it is {done.name!r}, in {done.timezone}, open {hours['said']})")
    return 0


def holidays(args: argparse.Namespace) -> int:
    from server_sync.analysis.opening import (HOLIDAYS_SETTING, format_holidays, holidays_said, read_holidays,
                                              stored_holidays)
    from server_sync.central.setting import get_setting, set_setting
    with central_store(args, existing=True) as db:
        try:
            before = read_holidays(get_setting(db, HOLIDAYS_SETTING))
        except StoredSettingError:
            if args.spec is None:
                raise
            before = {}             # a damaged setting: SPEC is its repair (the error says so)
        if args.spec is not None:
            with db.atomic():
                set_setting(db, HOLIDAYS_SETTING, stored_holidays(args.spec))
        dates = read_holidays(get_setting(db, HOLIDAYS_SETTING))
    # SPEC is the whole list: dates it leaves out are no longer holidays, said, not dropped unseen.
    dropped = {day: span for day, span in before.items() if day not in dates}
    if args.json:
        print(json.dumps({"holidays": [{"date": day, "hours": hours} for day, hours in holidays_said(dates)],
                          "removed": [{"date": day, "hours": hours} for day, hours in holidays_said(dropped)]},
                         indent=2))
    else:
        print(f"the chain's holidays: {format_holidays(dates)}"
              + (" (a site's own hours for a date come first)" if dates else ""))
        if dropped:
            print(f"no longer holidays (SPEC is the whole list): {format_holidays(dropped)}")
    return 0


def list_sites(args: argparse.Namespace) -> int:
    from server_sync.central.db import connect
    db = connect(existing_database_url(args))
    try:
        # Active kiosks, as the fleet counts them (a deactivated one was counted here).
        rows = db.execute_sql("SELECT s.id, s.name, s.timezone, s.opening_hours, s.region_id, COUNT(k.id) FROM site s"
                              f" LEFT JOIN kiosk k ON k.site_id = s.id AND k.active = {db.param}"
                              " GROUP BY s.id, s.name, s.timezone, s.opening_hours, s.region_id ORDER BY s.id",
                              (True,)).fetchall()
    finally:
        db.close()
    sites = [{"id": i, "name": n, "timezone": tz, "region": region, "kiosks": k, **_hours(i, stored)}
             for i, n, tz, stored, region, k in rows]
    if args.json:
        print(json.dumps([{k: v for k, v in s.items() if k != "said"} for s in sites], indent=2, ensure_ascii=False))
    elif not sites:
        print("no sites yet: kiosk-central site add ID --name NAME")
    else:
        for s in sites:
            region = f"region {s['region']}" if s["region"] else "no region"
            print(f"{s['id']:<24} {s['kiosks']:>3} kiosks  {s['timezone']:<20} {region:<20} {s['name']}  open {s['said']}")
    return 0


def _hours(site_id: str, stored: str | None) -> dict[str, Any]:
    """A site's opening_hours column as the commands say it: `hours` its SPEC (format_hours),
    `hours_default` whether it is the chain's, `hours_error` the stored-setting error of hours
    edited by hand (then `hours` is None: the listing still lists, and the update that mends them
    says what they were), `said` all that in a line."""
    from server_sync.analysis.opening import HOURS_FIX, format_hours, parse_hours
    try:
        hours = format_hours(parse_hours(stored, site_id))
    except StoredSettingError as e:
        return {"hours": None, "hours_default": False, "hours_error": str(e),
                "said": f"{stored!r} (not valid; set them again: {HOURS_FIX.replace('SITE', site_id)})"}
    return {"hours": hours, "hours_default": not stored, "hours_error": None,
            "said": f"{hours} (chain default)" if not stored else hours}
