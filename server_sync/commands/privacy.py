"""`kiosk-central privacy show|set`: the centre's privacy settings, kept in the store so reports,
BI views, the web app and retention all apply them: the minimum group for employee-pulse figures
(never below 5) and the retention periods of comments, dead letters (and conflicts), audit entries
and the notices' mail and webhook deliveries (docs/privacy.md)."""

from __future__ import annotations

import argparse
import json
from functools import partial

from server_sync.central.retention_periods import PERIODS
from server_sync.cli import central_store
from server_sync.commands._argtypes import count, whole_number

# option -> (the retention period it sets, what it keeps for N of what)
PERIOD_OPTIONS = {"comments_months": ("comments_keep_months", "raw comments N months"),
                  "dead_letters_days": ("dead_letters_keep_days", "dead letters and conflicts N days"),
                  "audit_months": ("audit_keep_months", "audit entries N months"),
                  "notices_days": ("notices_keep_days", "mail and webhook deliveries N days once delivered or given up")}


def add_parser(sub, common) -> None:
    p = sub.add_parser("privacy", parents=[common], help="show or set the centre's privacy settings")
    s = p.add_subparsers(dest="privacy_command", metavar="ACTION", required=True)
    show = s.add_parser("show", parents=[common], help="print the settings")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=show_settings)
    st = s.add_parser("set", parents=[common], help="change settings")
    st.add_argument("--min-employee-group", type=count, metavar="N",
                    help="employee-pulse figures only for groups of at least N answers (at least 5)")
    # Bounded here by the store's own bounds (retention counts back from today: 100000 months
    # lands before year 1).
    for option, (name, kept) in PERIOD_OPTIONS.items():
        default, minimum, maximum = PERIODS[name]
        st.add_argument("--" + option.replace("_", "-"), type=whole_number(minimum, maximum), metavar="N",
                        help=f"keep {kept} ({minimum}-{maximum}; default {default})")
    st.set_defaults(func=set_settings)


# option -> (setting name, check)
def _options():
    from server_sync.analysis.privacy import check_min_group
    from server_sync.central.retention import check_period
    return {"min_employee_group": ("min_employee_group", check_min_group),
            **{option: (name, partial(check_period, name)) for option, (name, _kept) in PERIOD_OPTIONS.items()}}


def _settings(db) -> dict:
    from server_sync.analysis.chain_report import centre_employee_group
    from server_sync.central.retention import period
    out = {"min_employee_group": centre_employee_group(db)}
    out.update({name: period(db, name) for name in PERIODS})
    return out


def show_settings(args: argparse.Namespace) -> int:
    with central_store(args, existing=True) as db:
        settings = _settings(db)
    if args.json:
        print(json.dumps(settings, indent=2))
    else:
        for name, value in settings.items():
            print(f"{name} = {value}")
    return 0


def set_settings(args: argparse.Namespace) -> int:
    from server_sync.central.setting import set_setting
    from server_sync.exc import CentralConfigError
    changes = {}
    for option, (name, check) in _options().items():
        value = getattr(args, option)
        if value is not None:
            changes[name] = check(value)
    if not changes:
        raise CentralConfigError("nothing to set: give --min-employee-group, --comments-months, "
                                 "--dead-letters-days, --audit-months or --notices-days")
    with central_store(args, existing=True) as db:
        with db.atomic():
            for name, value in changes.items():
                set_setting(db, name, str(value))
    for name, value in changes.items():
        print(f"{name} = {value}")
    return 0
