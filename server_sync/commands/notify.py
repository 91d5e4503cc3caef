"""`kiosk-central notify`: where notices go and the worker that sends them.
`webhook add|list|update|remove` (Slack, Teams or JSON endpoints, each with its own signing
secret; addresses are printed redacted),
`smtp set|show` (the mail server), `web-url` (the web app's address for links), `test` (queue a
test notice for every endpoint), `run` (the worker: deliver what is due, retry with backoff,
close completed actions hourly, and tell people of kiosks that need a person; systemd runs it as kundpuls-notify.service) and `deliveries` (what
went, what waits, what failed)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from server_sync.cli import central_store, store_failure
from server_sync.protocol.vocabulary import ID_RULE

log = logging.getLogger("kundpuls.notify")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def add_parser(sub, common) -> None:
    p = sub.add_parser("notify", parents=[common], help="webhooks, e-mail and the worker that delivers notices")
    s = p.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    w = s.add_parser("webhook", parents=[common], help="webhook endpoints")
    ws = w.add_subparsers(dest="webhook_command", metavar="ACTION", required=True)
    add = ws.add_parser("add", parents=[common], help="add an endpoint; prints its signing secret once")
    add.add_argument("name", metavar="NAME", help=f"a name for it: {ID_RULE}")
    add.add_argument("--url", required=True, help="where to POST (https://…)")
    add.add_argument("--format", choices=("slack", "teams", "json"), default="json",
                     help="the body: Slack incoming webhook, Teams (Adaptive Card) or plain JSON (default)")
    add.set_defaults(func=webhook_add)
    ls = ws.add_parser("list", parents=[common], help="the endpoints")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=webhook_list)
    up = ws.add_parser("update", parents=[common], help="a new address for an endpoint (its secret stays)")
    up.add_argument("name", metavar="NAME")
    up.add_argument("--url", required=True, help="where to POST from now on, what waits too (https://…)")
    up.set_defaults(func=webhook_update)
    rm = ws.add_parser("remove", parents=[common],
                       help="stop sending to an endpoint (its history stays; its name may be added again)")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(func=webhook_remove)
    m = s.add_parser("smtp", parents=[common], help="the mail server")
    ms = m.add_subparsers(dest="smtp_command", metavar="ACTION", required=True)
    st = ms.add_parser("set", parents=[common], help="set the SMTP server")
    st.add_argument("--host", required=True)
    st.add_argument("--port", type=int, default=587)
    st.add_argument("--from", dest="sender", required=True, metavar="ADDRESS", help="the sender address")
    st.add_argument("--security", choices=("starttls", "tls", "none"), default="starttls")
    st.add_argument("--username", default="")
    st.add_argument("--password-file", default="", metavar="FILE",
                    help="file holding the password (else $KUNDPULS_SMTP_PASSWORD)")
    st.set_defaults(func=smtp_set)
    sh = ms.add_parser("show", parents=[common], help="print the SMTP settings (never the password)")
    sh.set_defaults(func=smtp_show)
    t = s.add_parser("test", parents=[common], help="queue a test notice for every webhook (and a mail to --mail)")
    t.add_argument("--mail", metavar="ADDRESS", help="also mail it here")
    t.set_defaults(func=send_test)
    r = s.add_parser("run", parents=[common], help="deliver what is due, until SIGTERM (or once)")
    r.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    r.add_argument("--interval", type=float, default=10.0, metavar="S", help="seconds between rounds (default 10, at most 3600)")
    r.add_argument("--close-every", type=float, default=3600.0, metavar="S",
                   help="seconds between closing completed actions (default 3600; 0: never)")
    r.add_argument("--watch-every", type=float, default=300.0, metavar="S",
                   help="seconds between looks at the fleet, to tell of kiosks flagged or well again "
                        "(default 300; 0: never)")
    r.set_defaults(func=run)
    u = s.add_parser("web-url", parents=[common], help="the web app's address, for links in notices and digests")
    u.add_argument("url", metavar="URL", nargs="?", help="e.g. https://kundpuls.example (none: print it)")
    u.set_defaults(func=web_url)
    d = s.add_parser("deliveries", parents=[common], help="what went, what waits, what failed")
    d.add_argument("--failed", action="store_true", help="only those with an error")
    d.add_argument("--json", action="store_true", help="print JSON")
    d.set_defaults(func=list_deliveries)


def webhook_add(args: argparse.Namespace) -> int:
    from server_sync.notify import queue
    from server_sync.notify.http_post import redacted
    with central_store(args, existing=True) as db:
        e = queue.add_endpoint(db, args.name, args.url, args.format, _now())
    print(f"webhook {e.name} ({e.format}) -> {redacted(e.url)}\nsigning secret (shown once; the receiver checks "
          f"X-Kundpuls-Signature with it, see docs/notifications.md):\n{e.secret}")
    return 0


def webhook_update(args: argparse.Namespace) -> int:
    from server_sync.notify import queue
    from server_sync.notify.http_post import redacted
    with central_store(args, existing=True) as db:
        e = queue.update_endpoint(db, args.name, args.url)
    print(f"webhook {e.name} ({e.format}) -> {redacted(e.url)}; what waits for it goes there, signed as before")
    return 0


def webhook_list(args: argparse.Namespace) -> int:
    from server_sync.notify import queue
    from server_sync.notify.http_post import redacted
    with central_store(args, existing=True) as db:
        rows = [{"name": e.name, "url": redacted(e.url), "format": e.format, "active": e.active}
                for e in queue.endpoints(db, active_only=False)]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no webhook endpoints yet: kiosk-central notify webhook add NAME --url URL")
    else:
        for r in rows:
            print(f"{r['name']:<20} {r['format']:<6} {'active ' if r['active'] else 'removed'} {r['url']}")
    return 0


def webhook_remove(args: argparse.Namespace) -> int:
    from server_sync.notify import queue
    with central_store(args, existing=True) as db:
        queue.remove_endpoint(db, args.name)
    print(f"webhook {args.name} removed; nothing more is sent to it")
    return 0


def smtp_set(args: argparse.Namespace) -> int:
    from server_sync.notify import smtp
    with central_store(args, existing=True) as db:
        smtp.save(db, smtp.SmtpSettings(args.host, args.port, args.sender, args.security, args.username,
                                        args.password_file))
    print(f"mail goes through {args.host}:{args.port} ({args.security}) from {args.sender}")
    return 0


def smtp_show(args: argparse.Namespace) -> int:
    from server_sync.notify import smtp
    with central_store(args, existing=True) as db:
        s = smtp.load(db)
    print("no SMTP server is set" if s is None else
          f"{s.host}:{s.port} ({s.security}) from {s.sender}" + (f", user {s.username}" if s.username else ""))
    return 0


def send_test(args: argparse.Namespace) -> int:
    from server_sync.notify import queue
    from server_sync.notify.bodies import Notice
    notice = Notice("test", "Kundpuls test", "A test notice from kiosk-central notify test.")
    with central_store(args, existing=True) as db:
        with db.atomic():
            n = queue.enqueue_webhooks(db, notice, _now())
            if not n and args.mail is None:     # "queued for 0 webhook(s)", exit 0, read as on its way
                from server_sync.exc import CentralConfigError
                raise CentralConfigError("nothing to send: no webhook is set (kiosk-central notify webhook add "
                                         "NAME --url URL) and no --mail given")
            if args.mail is not None:           # an empty --mail is a mistake (enqueue_mail says so)
                queue.enqueue_mail(db, args.mail, notice.title, notice.text, f"<p>{notice.text}</p>", _now())
    print(f"queued for {n} webhook(s)" + (f" and {args.mail}" if args.mail is not None else "") +
          "; `kiosk-central notify run --once` sends it now")
    return 0


def check_seconds(value: float, option: str, lowest: float, highest: float) -> None:
    """`option` is a real span of time within [lowest, highest]: nan compares false with every
    bound, a span of 0 or less makes the worker spin a core, one too long overflows Event.wait."""
    from server_sync.exc import CentralConfigError
    if not lowest <= value <= highest:
        raise CentralConfigError(f"{option} must be {lowest:g}-{highest:g} seconds, got {value}")


def side_job(db, what: str, job: Callable[[Any, datetime], Any]) -> Any:
    """`job(db, now)`, a side job of the worker (closing completed actions, looking at the fleet):
    if it fails (a row it cannot handle) that is logged and delivery goes on; it is done again
    next time. Its result, or None when it failed. A failing store is raised: nothing of the round
    can go on without it."""
    try:
        return job(db, _now())
    except Exception as e:  # noqa: BLE001 - never stop delivering for it
        if store_failure(e):
            raise                   # the store, not the job: the round waits for it (run)
        log.exception("%s failed; delivering anyway", what)
        return None


def close_what_completed(db) -> None:
    """Close the actions whose after-window completed."""
    from server_sync.workflow import actions
    side_job(db, "closing completed actions", lambda db, now: actions.close_completed(db, now))


def watch_fleet(db) -> None:
    """Tell of kiosks flagged or well again (workflow.kiosk_watch); the next look tells what a
    failed one could not."""
    from server_sync.workflow import kiosk_watch
    told = side_job(db, "looking at the fleet", kiosk_watch.watch)
    if told and (told.flagged or told.recovered or told.awaited or told.to_admins):
        log.info(
            "fleet: %d kiosk(s) told flagged, %d well again, %d put off to a later day; to the admins: %s",
            told.flagged, told.recovered, told.awaited, ", ".join(told.to_admins) or "-")


def run(args: argparse.Namespace) -> int:
    from peewee import DatabaseError

    from server_sync.program.logs import configure_logging
    from server_sync.program.systemd import SystemdNotifier
    check_seconds(args.interval, "--interval", 0.1, 3600.0)
    check_seconds(args.close_every, "--close-every", 0.0, 7 * 86400.0)
    check_seconds(args.watch_every, "--watch-every", 0.0, 86400.0)
    configure_logging(logging.INFO, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    notifier = SystemdNotifier()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with central_store(args) as db:
        notifier.ready("delivering notices")
        rounds = Rounds(args)
        try:
            while not stop.is_set():
                try:
                    delivered = rounds.one(db, stop, notifier)
                except DatabaseError as e:
                    why = store_failure(e)
                    if why is None:
                        raise                       # a bug, to be seen
                    if args.once:
                        raise why from e            # one round asked for: the CLI says it in one line
                    if rounds.wait_for_the_store(db, why, stop, notifier):
                        return 0
                    continue
                rounds.delay = FIRST_RETRY_S
                if args.once:
                    hooks, mails = delivered
                    print(f"delivered {hooks} webhook(s) and {mails} mail(s)" + ("; stopped" if stop.is_set() else ""))
                    return 0
                if stop.is_set():
                    return 0
                notifier.ping()
                if notifier.wait(stop, args.interval):     # up to an hour, the watchdog fed meanwhile
                    return 0
            return 0
        finally:
            if rounds.unrecorded:
                log.warning("the worker ends with what went not recorded (the store failed): %s; each goes again "
                            "once its claim runs out (5 minutes), with the same delivery id or Message-ID",
                            ", ".join(rounds.unrecorded.described()))
            notifier.stopping()


FIRST_RETRY_S, LAST_RETRY_S = 1.0, 60.0      # the wait after a store failure, doubled up to the last


class Rounds:
    """The worker's rounds: side jobs when they are due, then every due delivery. A round the
    store failed under is run again whole after `delay` (doubling), as ingest retries a group:
    the worker waits out a database restart instead of exiting into systemd's restart loop. What
    went but could not be recorded (`unrecorded`) is written first, before anything goes."""

    def __init__(self, args: argparse.Namespace) -> None:
        from server_sync.notify.unrecorded import Unrecorded
        self.args = args
        self.unrecorded = Unrecorded()
        self.closed_at = self.watched_at = float("-inf")
        self.delay = FIRST_RETRY_S

    def failed(self) -> None:
        self.delay = min(self.delay * 2, LAST_RETRY_S)

    def wait_for_the_store(self, db, why: Exception, stop: threading.Event, notifier) -> bool:
        """After the store failed (`why`): say so in one line, wait, reconnect; while it cannot be
        reached, one line a try, the wait doubling. No round runs before a reconnection works: on a
        closed connection peewee opened one itself and wrapped its failure once more, and the
        worker exited with a traceback (a review: PostgreSQL down longer than the first retry).
        True when stopped meanwhile."""
        from server_sync.central.db import reconnect
        from server_sync.central.dialect import first_line
        log.error("%s; nothing is lost (what is queued stays queued), trying again in %.0f s", why, self.delay)
        while True:
            if notifier.wait(stop, self.delay):
                return True
            self.failed()
            if (still := reconnect(db)) is None:
                return False
            log.error("the central store cannot be reached yet: %s; trying again in %.0f s", first_line(still), self.delay)

    def one(self, db, stop: threading.Event, notifier) -> tuple[int, int]:
        """One round: (webhooks delivered, mails delivered)."""
        from server_sync.notify import sender
        args = self.args
        self.unrecorded.flush(db)           # the store back: what went is recorded before anything goes
        if args.close_every and time.monotonic() - self.closed_at >= args.close_every:
            # Actions whose after-window completed close here (their notices go out in this same
            # round), so no separate timer is needed for them.
            close_what_completed(db)
            self.closed_at = time.monotonic()
        if args.watch_every and time.monotonic() - self.watched_at >= args.watch_every:
            # Before delivering, so what it queues goes out in this same round.
            watch_fleet(db)
            self.watched_at = time.monotonic()
        # The watchdog is fed from here only, after each finished exchange (each within its
        # deadline): never from a thread that would keep a stuck worker alive.
        hooks = sender.deliver_webhooks(db, _now(), stop=stop, progress=notifier.ping, unrecorded=self.unrecorded)
        mails = sender.deliver_mail(db, _now(), stop=stop, progress=notifier.ping, unrecorded=self.unrecorded)
        return hooks, mails


def web_url(args: argparse.Namespace) -> int:
    from server_sync.central.setting import get_setting, set_setting
    from server_sync.notify.queue import check_url
    from server_sync.workflow.notices import WEB_URL_SETTING
    with central_store(args, existing=True) as db:
        if args.url is None:
            print(get_setting(db, WEB_URL_SETTING, "") or "no web address is set: notices carry no links")
            return 0
        check_url(args.url, "the web address")
        with db.atomic():
            set_setting(db, WEB_URL_SETTING, args.url.rstrip("/"))
    print(f"notices link to {args.url.rstrip('/')}")
    return 0


def list_deliveries(args: argparse.Namespace) -> int:
    from server_sync.notify import queue
    with central_store(args, existing=True) as db:
        rows = queue.deliveries(db, failed_only=args.failed)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no failed deliveries" if args.failed else
              "no deliveries yet (kiosk-central notify test queues one to try)")
    else:
        for r in rows:
            err = f"  {r['last_error']}" if r["last_error"] else ""
            print(f"{r['created_at'][:19]} UTC  {r['channel']:<7} {r['state']:<9} {r['attempts']:>2}× {r['to']}: {r['what']}{err}")
    return 0
