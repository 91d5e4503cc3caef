"""`kiosk-central privacy show|set`: the centre's privacy settings, kept in the store so reports,
BI views and the web app all apply them: the minimum group for employee-pulse figures (never
below 5; docs/privacy.md)."""

from __future__ import annotations

import argparse
import json

from server_sync.cli import database_url


def add_parser(sub, common) -> None:
    p = sub.add_parser("privacy", parents=[common], help="show or set the centre's privacy settings")
    s = p.add_subparsers(dest="privacy_command", metavar="ACTION", required=True)
    show = s.add_parser("show", parents=[common], help="print the settings")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=show_settings)
    st = s.add_parser("set", parents=[common], help="change settings")
    st.add_argument("--min-employee-group", type=int, required=True, metavar="N",
                    help="employee-pulse figures only for groups of at least N answers (at least 5)")
    st.set_defaults(func=set_settings)


def _settings(db) -> dict:
    from server_sync.analysis.privacy import MIN_EMPLOYEE_GROUP
    from server_sync.central.setting import get_setting
    return {"min_employee_group": int(get_setting(db, "min_employee_group", str(MIN_EMPLOYEE_GROUP)))}


def show_settings(args: argparse.Namespace) -> int:
    from server_sync.central.db import connect
    db = connect(database_url(args))
    try:
        settings = _settings(db)
    finally:
        db.close()
    if args.json:
        print(json.dumps(settings, indent=2))
    else:
        for name, value in settings.items():
            print(f"{name} = {value}")
    return 0


def set_settings(args: argparse.Namespace) -> int:
    from server_sync.analysis.privacy import check_min_group
    from server_sync.central.db import connect
    from server_sync.central.setting import set_setting
    check_min_group(args.min_employee_group)
    db = connect(database_url(args))
    try:
        with db.atomic():
            set_setting(db, "min_employee_group", str(args.min_employee_group))
    finally:
        db.close()
    print(f"min_employee_group = {args.min_employee_group}: employee-pulse figures of smaller groups are "
          "left out of reports, BI views and the web app")
    return 0
