"""`kiosk pin hash`: make the salted hash to put in staff.pin_hash (the PIN is never stored)."""

from __future__ import annotations

import argparse
import getpass
import sys

from kiosk.exc import ConfigError, KioskError
from kiosk.pin import hash_pin, pin_weakness


def add_parser(sub, common) -> None:
    p = sub.add_parser("pin", parents=[common], help="staff PIN tools")
    psub = p.add_subparsers(dest="pin_command", metavar="ACTION", required=True)
    h = psub.add_parser("hash", help="read a PIN (prompt or stdin) and print its hash for staff.pin_hash")
    h.add_argument("--stdin", action="store_true", help="read the PIN from standard input")
    h.set_defaults(func=hash_command)


def hash_command(args: argparse.Namespace) -> int:
    if args.stdin:
        pin = sys.stdin.readline().strip()
    elif not sys.stdin.isatty():
        raise KioskError("no terminal to ask for the PIN on: pipe it in with --stdin")
    else:
        pin = getpass.getpass("Staff PIN (4-12 digits): ")
        if getpass.getpass("Again: ") != pin:
            raise ConfigError("the two PINs differ")
    try:
        encoded = hash_pin(pin)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    weakness = pin_weakness(pin)
    if weakness:
        raise ConfigError(f"that PIN is too easy to guess ({weakness}); choose another")
    print(encoded)
    return 0
