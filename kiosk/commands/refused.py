"""`kiosk refused list|retry|set-aside`: the events the centre refused for good. They stay on the
kiosk (never lost), out of the outbox; once the cause is fixed at the centre (a question
registered, the kiosk registered at its site) `retry` puts them back in the outbox, to be sent as
they were. When no fix can make the centre take them (answers recorded under a site the kiosk
never stood at: its config was wrong), `set-aside` is a person's decision that they will not go:
they no longer keep the kiosk flagged, and stay on the card until retention removes them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from kiosk.commands._types import argument_type
from server_sync.protocol.codec import short


@argument_type
def reason_text(text: str) -> str:
    """A --reason to match: some text. An empty one (an unset $REASON) matched every reason, so
    `set-aside --reason ""` set aside everything as --all does, and that cannot be undone."""
    if not text.strip():
        raise ValueError("must not be empty: give a word or phrase from the reason (`kiosk refused list` shows them)")
    return text


def add_parser(sub, common) -> None:
    p = sub.add_parser("refused", parents=[common], help="events the centre refused for good: list them, send them again")
    s = p.add_subparsers(dest="refused_command", metavar="ACTION", required=True)
    ls = s.add_parser("list", parents=[common], help="how many, by the centre's reason")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=list_refused)
    rt = s.add_parser("retry", parents=[common], help="put them back in the outbox (the sync agent sends them)")
    rt.add_argument("--reason", metavar="TEXT", type=reason_text, help="only those whose reason contains TEXT")
    rt.set_defaults(func=retry_refused)
    sa = s.add_parser("set-aside", parents=[common],
                      help="decide that they will never go: no longer held for the centre (kept on the card until "
                           "retention removes them, as acknowledged ones)")
    which = sa.add_mutually_exclusive_group(required=True)
    which.add_argument("--reason", metavar="TEXT", type=reason_text, help="those whose reason contains TEXT")
    which.add_argument("--all", action="store_true", help="every one")
    sa.set_defaults(func=set_aside_refused)


def list_refused(args: argparse.Namespace) -> int:
    from kiosk.loading import load_config
    from kiosk.store import LocalStore
    cfg = load_config(args)
    with LocalStore.existing(cfg.db_path, kiosk_id=cfg.kiosk_id) as store:
        refused = store.refused_by_reason()
    if args.json:
        print(json.dumps({"total": sum(refused.values()), "by_reason": refused}, ensure_ascii=False))
    elif not refused:
        print("no events refused by the centre")
    else:
        for reason, n in refused.items():
            print(f"{n:>7}  {reason}")
    return 0


def retry_refused(args: argparse.Namespace) -> int:
    n, cfg = _decide(args, lambda store: store.retry_refused(args.reason), "nothing to put back in the outbox")
    if n > 0:
        print(f"{n} event(s) back in the outbox; the sync agent sends them again (`kiosk sync --once` to wait for it)")
    return 2 if n < 0 else 0


def set_aside_refused(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from kiosk import clock
    from kiosk.exc import KioskError
    from server_sync.protocol import iso_ms
    if not clock.kernel_clock_synced():
        # The decision's time is what retention keeps them by (keep_acked_days from it): a Pi on
        # fake-hwclock's months-old time would stamp one that lets them go at the first pass
        # after the sync. The kernel's NTP state, as `kiosk doctor`'s clock row reads it.
        raise KioskError("the clock is not synchronised (see `kiosk doctor`, clock): set-aside events stay on the "
                         "card privacy.keep_acked_days from the time of the decision, and on this clock they would "
                         "go as soon as it syncs. Nothing was set aside; wait until NTP syncs (check "
                         "systemd-timesyncd and the network), then run it again")
    at = iso_ms(datetime.now(timezone.utc))
    n, cfg = _decide(args, lambda store: store.set_aside_refused(args.reason, at), "nothing to set aside")
    if n > 0:
        print(f"{n} event(s) set aside: the centre will never have them, and they no longer keep this kiosk "
              f"flagged; they stay on the card (the staff view counts them, `kiosk export` has them) for "
              f"{cfg.privacy.keep_acked_days} more days (privacy.keep_acked_days), then retention removes them")
    return 2 if n < 0 else 0


def _decide(args: argparse.Namespace, act: Callable[[Any], int], nothing: str) -> tuple[int, Any]:
    """Run `act` on the store: how many events it took (-1, the error said, when a --reason
    matched none of those held), and the config."""
    from kiosk.loading import load_config
    from kiosk.store import LocalStore
    cfg = load_config(args)
    with LocalStore.existing(cfg.db_path, kiosk_id=cfg.kiosk_id) as store:
        n = act(store)
        refused = store.refused_by_reason() if n == 0 else {}
        aside = store.set_aside_count(args.reason) if n == 0 else 0
    if aside:
        # Not a typo: they were set aside (by `set-aside`), and are no longer held for the centre.
        print(f"kiosk: error: the {aside} refused event(s)" + (f" whose reason contains {short(args.reason)}"
              if args.reason else "") + " were set aside (`kiosk refused set-aside`): never sent, no longer held"
              + (f"; held: {'; '.join(f'{reason} ({k})' for reason, k in refused.items())}" if refused else ""),
              file=sys.stderr)
        return -1, cfg
    if n == 0 and args.reason and refused:
        # A --reason that matches nothing is a mistake (a typo), not "nothing to do": say what
        # the reasons are.
        print(f"kiosk: error: no refused event's reason contains {short(args.reason)}; the reasons are: "
              + "; ".join(f"{reason} ({k})" for reason, k in refused.items())
              + " (`kiosk refused list`)", file=sys.stderr)
        return -1, cfg
    if n == 0:
        print(f"no events refused by the centre: {nothing}")
    return n, cfg
