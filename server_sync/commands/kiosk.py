"""`kiosk-central kiosk add ID --site SITE …`: register a kiosk and give it a broker credential.
(The fleet's health is `kiosk-central fleet`.)"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

from server_sync.cli import database_url
from server_sync.exc import CentralConfigError


def add_parser(sub, common) -> None:
    from server_sync.provision import DEFAULT_ACL_FILE, DEFAULT_PASSWORD_FILE
    p = sub.add_parser("kiosk", parents=[common], help="register kiosks (broker credential + ACL)")
    s = p.add_subparsers(dest="kiosk_command", metavar="ACTION", required=True)
    a = s.add_parser("add", parents=[common], help="register a kiosk and create its broker credential",
                     description="Registers the kiosk, writes its broker user to the mosquitto password file "
                                 "(a strong random password, printed once), appends its ACL block (its "
                                 "site's alerts), and prints the [broker] settings for its kiosk.toml.")
    a.add_argument("id", metavar="ID", help="kiosk id (also its broker user name)")
    a.add_argument("--site", required=True, help="the site it stands in (kiosk-central site add first)")
    a.add_argument("--password-file", type=Path, default=DEFAULT_PASSWORD_FILE, metavar="PATH",
                   help=f"mosquitto password file (default {DEFAULT_PASSWORD_FILE})")
    a.add_argument("--acl-file", type=Path, default=DEFAULT_ACL_FILE, metavar="PATH",
                   help=f"mosquitto ACL file (default {DEFAULT_ACL_FILE})")
    a.add_argument("--broker-host", default=None, metavar="HOST",
                   help="broker host name the kiosk connects to, as in its TLS certificate (default: this host's FQDN)")
    a.add_argument("--broker-port", type=int, default=8883, metavar="PORT", help="broker TLS port (default 8883)")
    a.add_argument("--prefix", default="", metavar="P", help="topic prefix before kundpuls/v1, if the fleet uses one")
    a.add_argument("--rotate-password", action="store_true",
                   help="the kiosk exists: issue a new broker password (the old one stops working on reload)")
    a.add_argument("--json", action="store_true", help="print the result as JSON (includes the password)")
    a.set_defaults(func=add)


def add(args: argparse.Namespace) -> int:
    from server_sync import provision
    from server_sync.central import registry
    from server_sync.central.db import connect
    from server_sync.protocol import PREFIX_RE

    if args.prefix and not PREFIX_RE.fullmatch(args.prefix):
        raise CentralConfigError(f"--prefix must end with '/' and contain no '+' or '#', got {args.prefix!r}")
    if not 1 <= args.broker_port <= 65535:
        raise CentralConfigError(f"--broker-port must be 1-65535, got {args.broker_port}")
    host = args.broker_host or socket.getfqdn()
    db = connect(database_url(args))
    password = provision.new_password()
    try:
        with db.atomic():
            if args.rotate_password:
                registry.check_id(args.id, "kiosk id")
                known = registry.kiosk(db, args.id)
                if known is None:
                    raise CentralConfigError(f"kiosk {args.id!r} does not exist; add it without --rotate-password")
                if known["site_id"] != args.site:
                    raise CentralConfigError(f"kiosk {args.id!r} is registered at site {known['site_id']!r}, "
                                             f"not {args.site!r}")
            else:
                registry.add_kiosk(db, args.id, args.site, datetime.now(timezone.utc).replace(tzinfo=None))
            # Inside the transaction: if the broker files cannot be written, the kiosk is not
            # registered. The ACL is checked before the password is written, so a refusal
            # never leaves a new password in force that nobody was shown.
            provision.check_acl(args.acl_file, args.id, args.site, args.prefix)
            provision.set_password(args.password_file, args.id, password)
            appended = provision.ensure_acl(args.acl_file, args.id, args.site, args.prefix)
    finally:
        db.close()
    toml = provision.kiosk_broker_toml(args.id, host, args.broker_port, args.prefix)
    if args.json:
        print(json.dumps({"kiosk_id": args.id, "site_id": args.site, "password": password,
                          "rotated": bool(args.rotate_password), "acl_appended": appended,
                          "password_file": str(args.password_file), "acl_file": str(args.acl_file),
                          "broker_toml": toml}, indent=2))
        return 0
    what = "new broker password for" if args.rotate_password else "registered"
    print(f"kiosk {args.id} {what} at site {args.site}.")
    print(f"Broker user written to {args.password_file}"
          + (f", ACL block appended to {args.acl_file}" if appended else "")
          + ". Make the broker read them: systemctl reload mosquitto")
    print(f"\nOn the kiosk, /etc/kundpuls/kiosk.toml gets (provision.sh --broker-host {host} does it):\n")
    print(toml)
    print(f"and its broker password goes to {provision.KIOSK_PASSWORD_FILE} (mode 0600, owner kundpuls),\n"
          "e.g. `provision.sh … --broker-password-stdin`. It is shown only now:\n")
    print(f"    {password}\n")
    if sys.stdout.isatty():
        print("(Copy it now; the password file keeps only a hash.)")
    return 0
