"""`kiosk-central user add|list|disable|enable|password|token|audit`: the people of the web app,
their roles and what they may see, their API tokens, and the audit log.

A generated password or a token is printed once and never stored (only its hash); a password
read with --password-stdin is never echoed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from server_sync.cli import central_store
from server_sync.commands._argtypes import count, nonblank_name
from server_sync.exc import CentralConfigError
from server_sync.protocol.vocabulary import ID_RULE, LANGUAGES
from server_sync.web.vocabulary import AUDIT_EVENTS, ROLES
from server_sync.program.cli import nonempty


def add_parser(sub, common) -> None:
    p = sub.add_parser("user", parents=[common], help="web app users: add, list, disable, tokens, audit log",
                       description="People who sign in to `kiosk-central serve`: admin (everything, users), "
                                   "analyst (every site), regional-manager (the sites of their regions), "
                                   "store-manager (their sites).")
    s = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    a = s.add_parser("add", parents=[common], help="add a user; prints a one-time password")
    a.add_argument("name", metavar="NAME", help=f"user name ({ID_RULE})")
    a.add_argument("--role", required=True, choices=ROLES, help="what the user may do and see")
    a.add_argument("--region", action="append", type=nonempty, default=[], metavar="REGION",
                   help="a regional-manager's region (repeatable)")
    a.add_argument("--site", action="append", type=nonempty, default=[], metavar="SITE",
                   help="a store-manager's site (repeatable)")
    a.add_argument("--language", choices=LANGUAGES, default="sv", help="language of the pages (default sv)")
    a.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input instead of printing a one-time one")
    a.add_argument("--email", type=nonempty, metavar="ADDRESS", help="where alert notices and the weekly digest go")
    a.add_argument("--json", action="store_true", help="print JSON")
    a.set_defaults(func=run_add)
    em = s.add_parser("email", parents=[common], help="set (or with --clear remove) a user's e-mail address")
    em.add_argument("name", metavar="NAME")
    em.add_argument("address", metavar="ADDRESS", nargs="?", help="the address for notices and the digest")
    em.add_argument("--clear", action="store_true", help="remove the address: no more mail")
    em.set_defaults(func=run_email)
    ls = s.add_parser("list", parents=[common], help="list users with role, scope and state")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    for verb, helptext in (("disable", "disable a user: sessions end, API tokens are revoked, mail waiting for them is given up"),
                           ("enable", "enable a disabled user again")):
        d = s.add_parser(verb, parents=[common], help=helptext)
        d.add_argument("name", metavar="NAME")
        d.set_defaults(func=run_disable, disable=verb == "disable")
    pw = s.add_parser("password", parents=[common],
                      help="reset a password (prints a one-time one): sessions end, API tokens are revoked")
    pw.add_argument("name", metavar="NAME")
    pw.add_argument("--password-stdin", action="store_true", help="read the new password from standard input")
    pw.set_defaults(func=run_password)
    t = s.add_parser("token", parents=[common], help="make an API token for /api/v1 (printed once)")
    t.add_argument("name", metavar="NAME")
    t.add_argument("--label", type=nonempty, default=None, help="what the token is for, e.g. 'power-bi'; with --revoke, "
                                                 "only the tokens of that label")
    t.add_argument("--revoke", action="store_true", help="revoke every token of the user (or of --label) instead")
    t.set_defaults(func=run_token)
    au = s.add_parser("audit", parents=[common], help="the audit log: logins, exports, comment views")
    au.add_argument("--limit", type=count, default=50, help="newest N entries (default 50)")
    au.add_argument("--user", type=nonblank_name, metavar="NAME", help="only this user")
    au.add_argument("--event", choices=AUDIT_EVENTS, help="only this event")
    au.add_argument("--json", action="store_true", help="print JSON")
    au.set_defaults(func=run_audit)


def _read_password() -> str:
    """The password of --password-stdin: one line piped in or, from a terminal, typed without
    echo (getpass) and typed again to confirm."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CentralConfigError("--password-stdin: the two passwords differ")
        return password
    try:
        line = sys.stdin.readline()
    except UnicodeDecodeError:
        raise CentralConfigError("--password-stdin: standard input is not UTF-8 text") from None
    if not line:
        raise CentralConfigError("--password-stdin: nothing on standard input")
    return line.rstrip("\r\n").removeprefix("\ufeff")        # a file's byte-order mark is no part of it


def _warn_cheap() -> None:
    """A password just hashed with the test suite's profile (people.cheap_hashes_said) is said."""
    from server_sync.web.people import cheap_hashes_said
    if said := cheap_hashes_said():
        print(f"kiosk-central: warning: {said}", file=sys.stderr)


def run_add(args: argparse.Namespace) -> int:
    from server_sync.web.people import add_user
    password = _read_password() if args.password_stdin else None
    with central_store(args, existing=True) as db:
        with db.atomic():
            user, secret = add_user(db, args.name, args.role, regions=args.region, sites=args.site,
                                    language=args.language, password=password)
            if args.email:
                from server_sync.workflow.people import set_email
                set_email(db, user.name, args.email)
    _warn_cheap()
    if args.json:
        print(json.dumps(dict(user.as_dict(), one_time_password=secret), ensure_ascii=False))
    else:
        scope = ", ".join(user.regions or user.sites) or "every site"
        print(f"user {user.name} added: {user.role} ({scope}), language {user.language}")
        if secret:
            print(f"one-time password (shown once; it must be changed at the first login): {secret}")
    return 0


def run_email(args: argparse.Namespace) -> int:
    from server_sync.workflow.people import set_email
    if args.address and args.clear:
        raise CentralConfigError("give an ADDRESS to set, or --clear to remove the address: not both")
    if not args.address and not args.clear:
        raise CentralConfigError("give the ADDRESS, or --clear to remove it")
    with central_store(args, existing=True) as db:
        deleted = set_email(db, args.name, None if args.clear else args.address)
    print(f"{args.name}: " + (f"no e-mail address; no more mail ({deleted} mail{'s' if deleted != 1 else ''} to it"
                              " deleted)" if args.clear else f"mail goes to {args.address}"))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from server_sync.web.people import users
    with central_store(args, existing=True) as db:
        rows = [u.as_dict() for u in users(db)]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows:
        print("no users yet: kiosk-central user add NAME --role ROLE")
    else:
        for u in rows:
            scope = ",".join(u["regions"] or u["sites"]) or "*"
            state = "disabled" if u["disabled"] else "must change password" if u["must_change_password"] else ""
            print(f"{u['name']:<20} {u['role']:<17} {u['language']:<3} {scope:<30} {state}")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    from server_sync.web.people import set_disabled
    with central_store(args, existing=True) as db:
        u = set_disabled(db, args.name, args.disable)
    print(f"user {u.name} {'disabled: sessions ended, API tokens revoked, mail to them deleted' if u.disabled else 'enabled'}")
    return 0


def run_password(args: argparse.Namespace) -> int:
    from server_sync.web.people import reset_password
    password = _read_password() if args.password_stdin else None
    with central_store(args, existing=True) as db:
        secret, revoked = reset_password(db, args.name, password)
    _warn_cheap()
    ended = f"their sessions ended, {revoked} API token(s) revoked"
    if secret:
        print(f"one-time password for {args.name} (shown once; it must be changed at the next login): {secret}")
        print(ended + (" (new ones once they have changed it: 'user token')" if revoked else ""), file=sys.stderr)
    else:
        print(f"password of {args.name} set; {ended}" + (" (make new ones with 'user token')" if revoked else ""))
    return 0


def run_token(args: argparse.Namespace) -> int:
    from server_sync.web.people import add_token, revoke_tokens, token_label
    with central_store(args, existing=True) as db:
        if args.revoke:
            n = revoke_tokens(db, args.name, args.label)
            print(f"{n} token(s) of {args.name}" + (f" labelled {token_label(args.label)!r}" if args.label is not None else "")
                  + " revoked")
            return 0
        token = add_token(db, args.name, args.label or "")
    print(token)
    print(f"(API token for {args.name}, shown once: send it as 'Authorization: Bearer …' to /api/v1)",
          file=sys.stderr)
    return 0


def run_audit(args: argparse.Namespace) -> int:
    from server_sync.web.audit import entries
    with central_store(args, existing=True) as db:
        rows = entries(db, limit=args.limit, event=args.event, user_name=args.user)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows:                  # nothing printed read as a command that did nothing
        narrowed = [f"{what} {value}" for what, value in (("--event", args.event), ("--user", args.user)) if value]
        print("no audit entries" + (f" for {' and '.join(narrowed)}" if narrowed else " yet: sign-ins, "
                                    "exports and comment views are logged as the web app is used"))
    else:
        for r in rows:
            print(f"{r['at']:<20} {r['event']:<16} {r['user'] or '-':<20} {r['address'] or '-':<16} "
                  f"{json.dumps(r['detail'], ensure_ascii=False)}")
    return 0
