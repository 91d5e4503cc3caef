"""`kiosk-central digest send`: the weekly digest, one mail per person with an e-mail address,
for their sites and in their language (server_sync.notify.digest); systemd runs it every Monday
morning (kundpuls-digest.timer). The mails are queued; `kiosk-central notify run` sends them."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from server_sync.cli import central_store
from server_sync.commands._argtypes import nonblank_name


def _now() -> datetime:
    return datetime.now(timezone.utc)            # tests pin it


def add_parser(sub, common) -> None:
    p = sub.add_parser("digest", parents=[common], help="the weekly digest by e-mail",
                       description="Each person with an e-mail address (kiosk-central user email) gets, for "
                                   "the sites they may see and in their language: each question's score with "
                                   "its interval and change, the top three reasons, open and overdue alerts, "
                                   "overdue actions and the actions that completed with their verdict.")
    s = p.add_subparsers(dest="digest_command", metavar="ACTION", required=True)
    snd = s.add_parser("send", parents=[common], help="close completed actions, then queue this week's digests")
    snd.add_argument("--dry-run", action="store_true", help="compose and print; queue, close and record nothing")
    snd.add_argument("--user", type=nonblank_name, metavar="NAME", help="only this person's digest")
    snd.add_argument("--force", action="store_true", help="queue it again even if this week's went already")
    snd.add_argument("--json", action="store_true", help="print JSON (with --dry-run: the mail bodies too)")
    snd.set_defaults(func=run_send)


def run_send(args: argparse.Namespace) -> int:
    from server_sync.exc import CentralConfigError
    from server_sync.notify.digest import already_sent, send, user_week
    from server_sync.web.people import require_user
    from server_sync.workflow.people import with_email
    now = _now()
    with central_store(args, existing=True) as db:
        readers = with_email(db)
        if args.user is not None:   # a name that is nobody's is a mistake, not "everyone"
            user = require_user(db, args.user)
            if user.name not in {u.name for u, _to in readers}:
                why = "is disabled" if user.disabled else "has no e-mail address"
                raise CentralConfigError(f"{user.name} {why}: no digest for them"
                                         + ("" if user.disabled else
                                            f" (set one: kiosk-central user email {user.name} ADDRESS)"))
            readers = [(u, to) for u, to in readers if u.name == user.name]
        # Whose digest of this week went already (said below: "0 queued" alone looked like a fault),
        # by the week it was for: each person's week is their sites' days (digest.week_of).
        went: dict[str, list[str]] = {}
        for u, _to in readers if not (args.force or args.dry_run) else []:
            period = user_week(db, u, now)
            if already_sent(db, u, period):
                went.setdefault(period, []).append(u.name)
        failed: list[tuple[str, str]] = []
        digests = send(db, now, dry_run=args.dry_run, only=args.user, force=args.force, failed=failed)
    if args.json:
        print(json.dumps([d.as_dict(bodies=args.dry_run) for d in digests], indent=2, ensure_ascii=False,
                         default=str))
        return report_failed(failed)
    for d in digests:
        if args.dry_run:
            print(f"To: {d.to}\nSubject: {d.subject}\n\n{d.text}")
        else:
            print(f"digest {d.period} queued for {d.user} <{d.to}> ({len(d.sites)} site(s), {d.language})")
    if not readers:
        # "0 digest(s) queued", or nothing at all for a dry run, looked like a fault.
        print("nobody gets a digest: no enabled user has an e-mail address (kiosk-central user email NAME ADDRESS)")
    if not args.dry_run:
        print(f"{len(digests)} digest(s) queued; `kiosk-central notify run` sends them")
        for period, names in sorted(went.items()):
            print(f"the digest for {period} went already to {', '.join(names)}; --force queues it again")
    if args.user is not None and not digests and not went and not any(
            what == f"no digest for {args.user}" for what, _why in failed):
        print(f"{args.user} sees no site: no digest to send")
    return report_failed(failed)


def report_failed(failed: list[tuple[str, str]]) -> int:
    """What could not be done, on stderr; exit 1 if anything, so the timer's unit shows the
    failure (the rest was done; the next run tries these again)."""
    for what, why in failed:
        print(f"kiosk-central: error: {what}: {why}", file=sys.stderr)
    return 1 if failed else 0
