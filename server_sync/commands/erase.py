"""`kiosk-central erase --contains TEXT`: a customer asked to have their comment removed. Removes
the text of every comment that contains TEXT (optionally of one site, between two dates); the
answer, its reasons and every figure stay. TEXT becomes [erased] in what office users wrote
(alert comments, action notes, …) and in the notices' copies of it (central.office_text). The privacy log records that an erasure happened and
how many comments it removed, never what they said."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from server_sync.cli import central_store
from server_sync.commands._argtypes import DAY_FORMAT, day, period
from server_sync.program.cli import nonempty


def add_parser(sub, common) -> None:
    p = sub.add_parser("erase", parents=[common], help="remove the comments that contain a text (a customer's request)")
    p.add_argument("--contains", required=True, metavar="TEXT", help="remove every comment containing TEXT (case-insensitive, at least 3 characters)")
    p.add_argument("--site", type=nonempty, metavar="SITE", help="only comments of this site (a registered one)")
    p.add_argument("--from", dest="date_from", type=day, metavar="YYYY-MM-DD",
                   help=f"only comments recorded on or after this day (UTC; {DAY_FORMAT})")
    p.add_argument("--to", dest="date_to", type=day, metavar="YYYY-MM-DD", help="only comments recorded on or before this day (UTC)")
    p.add_argument("--dry-run", action="store_true", help="count the matching comments, remove nothing")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from server_sync.analysis.queries import require_sites
    from server_sync.central.dialect import check_lower
    from server_sync.central.retention import erase_comments
    from server_sync.commands.retention import warn_wal_kept
    date_from, date_to = period(args)
    with central_store(args, existing=True) as db:
        require_sites(db, [args.site] if args.site else [])
        check_lower(db)             # the search folds every letter's case: said here, not an SQL error
        removed = erase_comments(db, args.contains, datetime.now(timezone.utc), site=args.site,
                                 date_from=date_from, date_to=date_to, dry_run=args.dry_run)
    warn_wal_kept(db, removed)
    if args.json:
        print(json.dumps(removed.as_dict(), indent=2))
    else:
        n = removed.counts["comments"]
        copies = removed.counts["conflicts"] + removed.counts["dead_letters"]
        print(f"{'would remove' if args.dry_run else 'removed'} {n} comment{'s' if n != 1 else ''}"
              + (f" and {copies} kept cop{'ies' if copies != 1 else 'y'} of what kiosks sent (conflicts, refused"
                 " messages) holding the text" if copies else "")
              + (f"; the words taken out of {removed.counts['audit_searches']} audit entr"
                 f"{'ies' if removed.counts['audit_searches'] != 1 else 'y'} (searches that found the comments)"
                 if removed.counts["audit_searches"] else "")
              + _office_text(removed.counts, args.dry_run)
              + ("" if args.dry_run else "; the privacy log records the erasure (not its content)"))
    if not any(n for kind, n in removed.counts.items() if kind != "audit_searches"):
        print("kiosk-central: warning: no comment matched", file=sys.stderr)
    return 0


# What office users wrote and the notices' copies of it (central.office_text): kind -> one, many.
_WRITTEN = {"alert_history": ("alert history entry", "alert history entries"),
            "alert_acknowledgements": ("acknowledgement", "acknowledgements"),
            "close_reasons": ("closing reason", "closing reasons"), "action_notes": ("action note", "action notes")}
_COPIES = {"mails": ("mail", "mails"), "webhook_deliveries": ("webhook delivery", "webhook deliveries")}


def _office_text(counts: dict[str, int], dry_run: bool) -> str:
    """"; the words replaced by [erased] in 3 alert history entries, 1 action note (what office
    users wrote) and 1 mail (the notices' copies)", or "" when none held them."""
    def listed(kinds: dict[str, tuple[str, str]]) -> str:
        return ", ".join(f"{counts[k]} {one if counts[k] == 1 else many}" for k, (one, many) in kinds.items()
                         if counts.get(k))
    parts = [f"{text} ({what})" for text, what in ((listed(_WRITTEN), "what office users wrote"),
                                                 (listed(_COPIES), "the notices' copies")) if text]
    verb = "would be replaced" if dry_run else "replaced"
    return f"; the words {verb} by [erased] in {' and '.join(parts)}" if parts else ""
