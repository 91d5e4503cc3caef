"""The notification worker's I/O: POST each due webhook delivery (signed), send each due mail
over SMTP (a plain-text and an HTML part), and report every outcome to the queue. One failure
never stops the others; nothing here raises for a receiver that is down. Every exchange has a
total deadline (`deadline.bounded`): a receiver or mail server that answers too slowly fails that
delivery like one that is down, and the worker goes on. `stop` (set by SIGTERM) ends a round at
once, mid-send too; `progress` is called after each finished exchange (the worker pings the
systemd watchdog there). The HTTP and SMTP clients are injected, so tests use real local servers."""

from __future__ import annotations

import http.client
import logging
import re
import smtplib
import ssl
import threading
import time
import traceback
import urllib.error
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Callable

from peewee import Database

from server_sync.exc import CentralConfigError
from server_sync.notify import queue, smtp, smtp_errors
from server_sync.notify.deadline import Sockets, Stopped, bounded, stopping
from server_sync.notify.http_post import hide_address, post_json
from server_sync.notify.signing import signed_headers
from server_sync.notify.unrecorded import Unrecorded
from server_sync.workflow.people import mail_recipient_now

log = logging.getLogger("kundpuls.notify")

# Total deadlines of one exchange. Both are at most half of the notify unit's WatchdogSec=60
# (tests/central/test_notify_slow.py checks): the worker pings after each exchange, so however many
# receivers are slow, pings never pause long enough for systemd to take a working worker for a
# hung one.
HTTP_TIMEOUT_S = 10.0
SMTP_TIMEOUT_S = 30.0
STOPPED = "not finished: the worker was stopped during the send"
# Mails one round sets aside, each having ended a new connection at once, before it ends (each
# costs a connection): enough to get past a mail the server always refuses that way, and a server
# that ends every connection at once costs no more than this many connections a round.
MAX_SET_ASIDE = 3


def _nothing() -> None:
    """No progress report (outside the worker)."""


def round_clock(now: datetime, clock: Callable[[], float]) -> Callable[[], datetime]:
    """The time at each step of a round that began at `now`: `now` and what `clock` says has
    passed since. A round may last longer than a claim (`queue.CLAIM_S`: 90 mails at 4 s each
    take 6 minutes), so each claim and record is made with the time it is made at: claimed with
    the round's start, a mail taken after 5 minutes was due again at once, and a second worker
    sent it too (a review)."""
    start = clock()
    return lambda: now + timedelta(seconds=clock() - start)


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float | None = None,
         stop: threading.Event | None = None) -> tuple[bool, str]:
    """(delivered, status or error): 2xx is delivered; anything else is tried again later: a
    receiver that has not answered within `timeout_s` (default HTTP_TIMEOUT_S) too. Building the
    request is inside the `try`: an address stored before `check_url` existed (bad port, spaces,
    broken IPv6) fails this delivery like a receiver that is down. The error never shows the
    address's password, secret path or query values (`hide_address`). `deadline.Stopped` when `stop`
    is set meanwhile."""
    try:
        status = post_json(url, body, headers, HTTP_TIMEOUT_S if timeout_s is None else timeout_s, stop)
        return 200 <= status < 300, str(status)
    except urllib.error.HTTPError as e:
        return False, f"HTTP {e.code}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        # HTTPException: InvalidURL (a bad port or control characters), a broken response
        return False, hide_address(f"{type(e).__name__}: {getattr(e, 'reason', e)}", url)


def deliver_webhooks(db: Database, now: datetime, *, http_post: Callable[..., tuple[bool, str]] = post,
                     clock: Callable[[], float] = time.time, stop: threading.Event | None = None,
                     progress: Callable[[], None] = _nothing, unrecorded: Unrecorded | None = None) -> int:
    """Send every due webhook delivery, until `stop` is set; returns how many were delivered now.
    An endpoint whose delivery failed gets no more this round: its others wait for the next, no
    try counted. One receiver that did not answer cost every delivery queued for it its 10 s, and
    the other endpoints and the mail waited behind them all (a review: 100 of them, 17 minutes).
    `now`: when the round began; `clock` (seconds, wall time) the time since, and each
    signature's timestamp. `unrecorded`: the worker's outcomes that went but are not recorded
    yet, written first (the store failing, nothing goes)."""
    unrecorded = Unrecorded() if unrecorded is None else unrecorded
    unrecorded.flush(db)
    delivered, at = 0, round_clock(now, clock)
    failing: set[int] = set()
    for d in queue.due_webhooks(db, now):
        if stopping(stop):
            break
        if d.endpoint.id in failing:
            continue
        if not queue.claim(db, "webhook_delivery", d.id, at()):
            continue                        # another worker has it
        if not d.endpoint.active:
            queue.record_webhook(db, d, at(), "endpoint removed", False, "the endpoint was removed", final=True)
            continue
        url = d.endpoint.url
        try:
            ok, status = http_post(url, d.body, signed_headers(d.endpoint.secret, int(clock()), str(d.id), d.body),
                                   stop=stop)
        except Stopped:
            # The receiver may have it or not: a failed try, like any other (the same delivery
            # id comes again, so a receiver that got it does its work once).
            queue.record_webhook(db, d, at(), "stopped", False, STOPPED)
            break
        except Exception as e:  # noqa: BLE001 - whatever breaks one delivery is its failure, never the worker's
            log.error("webhook %s: delivery %d\n%s", d.endpoint.name, d.id, hide_address(traceback.format_exc(), url))
            ok, status = False, hide_address(f"{type(e).__name__}: {e}", url)
        if ok:
            unrecorded.webhook_delivered(db, d, at(), status)
        else:
            queue.record_webhook(db, d, at(), status, ok, status)
        progress()
        if ok:
            delivered += 1
        else:
            failing.add(d.endpoint.id)
            log.warning("webhook %s: %s (attempt %d)", d.endpoint.name, status, d.attempts + 1)
    return delivered


def message_id(mail: queue.DueMail, sender_address: str) -> str:
    """The mail's Message-ID, the same on every try: its outbox id and the moment it was queued
    (digits only, as either engine gives it), at the sender's domain. A mail sent again because
    its record was lost (the worker stopped while the store was down) carries the id of the first,
    so mail programs and archives take the copy for the same mail; a random one each try made it
    a second mail (a review). The moment keeps a new store's mail 1 from being taken for an old one's."""
    queued = re.sub(r"\D", "", str(mail.queued_at or ""))
    return f"<kundpuls.{mail.id}.{queued}@{sender_address.rpartition('@')[2] or 'localhost'}>"


def message(settings: smtp.SmtpSettings, mail: queue.DueMail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = mail.to_addr
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id(mail, settings.sender)
    msg.set_content(mail.text_body)
    msg.add_alternative(mail.html_body, subtype="html")
    return msg


class _SMTP(smtplib.SMTP):
    """smtplib.SMTP, connected at once, whose socket goes into `sockets` before anything is read
    from it (and before TLS)."""

    def __init__(self, sockets: Sockets, host: str, port: int, timeout_s: float) -> None:
        self.sockets = sockets
        super().__init__(host, port, timeout=timeout_s)

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        return self.sockets.add(super()._get_socket(host, port, timeout))


class _SMTPS(smtplib.SMTP_SSL, _SMTP):
    """smtplib.SMTP_SSL, its socket kept like _SMTP's (SMTP_SSL wraps what _SMTP's gave)."""

    def __init__(self, sockets: Sockets, host: str, port: int, timeout_s: float) -> None:
        self.sockets = sockets
        smtplib.SMTP_SSL.__init__(self, host, port, timeout=timeout_s, context=ssl.create_default_context())


def smtp_connection(settings: smtp.SmtpSettings, sockets: Sockets, timeout_s: float = SMTP_TIMEOUT_S) -> Any:
    """A logged-in SMTP connection whose socket is in `sockets` (so a deadline can end it)."""
    password = settings.password()          # first: a password that cannot be read opens no connection
    conn: Any = (_SMTPS if settings.security == "tls" else _SMTP)(sockets, settings.host, settings.port, timeout_s)
    try:
        if settings.security == "starttls":
            conn.starttls(context=ssl.create_default_context())
        if settings.username and password:
            conn.login(settings.username, password)
    except BaseException:
        conn.close()
        raise
    return conn


def _close(conn: Any, sockets: Sockets, stop: threading.Event | None, broken: bool) -> None:
    """QUIT (within the deadline) unless the connection is broken; closed either way."""
    if not broken:
        try:
            bounded(conn.quit, SMTP_TIMEOUT_S, sockets, stop)
            return
        except (Stopped, OSError, smtplib.SMTPException):
            pass
    conn.close()


def _all_wait(db: Database, due: list[queue.DueMail], now: datetime, why: str) -> int:
    """A problem of every mail (the server is down, the password file is unreadable, a stored
    setting is wrong) is recorded on each: it shows in `notify deliveries --failed` where the
    operator looks, the mails wait and are looked at again every few minutes (so fixing it lets
    them go), never given up for it (`queue.mail_waits`: not a try of the mail's own), and
    webhooks go on; said once per round in the log, not once per mail. None went: 0."""
    log.warning("%d mail(s) wait: %s", len(due), why)
    for mail in due:
        queue.mail_waits(db, mail, now, why)
    return 0


# (the mail in hand when the server ended the connection, why it ended): the mail is claimed
Ended = tuple[queue.DueMail, str]


def _waits(db: Database, mail: queue.DueMail, why: str, now: datetime) -> int:
    """The mail in hand when the server ended the round waits, no try counted. None went: 0."""
    log.warning("mail %d to %s waits: %s", mail.id, mail.to_addr, why)
    queue.mail_waits(db, mail, now, why)
    return 0


# A mail that ended a new connection at once: (it, why, how many mails the round had sent then)
SetAside = tuple[queue.DueMail, str, int]


def _settle_set_aside(db: Database, set_aside: list[SetAside], sent: int, now: datetime) -> None:
    """The mails that ended a new connection at once, at the end of the round that sent `sent`.
    When the server took another mail after one, on a connection that skipped it, it is that mail
    the server refuses (a content filter that drops the connection on it, every time): a try of
    its own, so the backoff and MAX_ATTEMPTS apply and it shows as failed; taken for the server's
    state, it waited every 5 minutes for ever (a review). When the server took none after it, the
    server's problem: it waits, no try counted. Mail taken before it tells nothing: a server that
    takes 5 mails and then ends the connection on every mail (a sending quota, an overload) had
    the next three charged a try each round, and given up under a quota that lasts (a review)."""
    for mail, why, sent_then in set_aside:
        if sent <= sent_then:
            _waits(db, mail, why, now)
            continue
        error = f"the server ended the connection on this mail while it took others: {why}"
        log.warning("mail %d to %s: %s (attempt %d)", mail.id, mail.to_addr, error, mail.attempts + 1)
        queue.record_mail(db, mail, now, False, error)


def _to_whom_now(db: Database, mail: queue.DueMail, now: datetime) -> queue.DueMail | None:
    """`mail` as it goes now: queued for a person, to their address of now, or given up (None)
    when they may no longer read it (`people.mail_recipient_now`: it may have waited hours)."""
    if mail.user_id is None:
        return mail
    address, why = mail_recipient_now(db, mail.user_id, mail.sites)
    if address is None:
        log.info("mail %d to %s: %s", mail.id, mail.to_addr, why)
        queue.give_up_mail(db, mail, now, why)
        return None
    return mail if address.lower() == mail.to_addr.lower() else queue.readdress_mail(db, mail, address)


def _send_over(db: Database, conn: Any, sockets: Sockets, settings: smtp.SmtpSettings, mails: list[queue.DueMail],
               claimed: set[int], at: Callable[[], datetime], stop: threading.Event | None,
               progress: Callable[[], None], unrecorded: Unrecorded) -> tuple[int, Ended | None, list[queue.DueMail]]:
    """Send `mails` in turn over `conn` (those in `claimed` are this worker's already): (how many
    went, how the server ended the connection if it did, the mails not tried yet then). A mail
    refused or broken fails alone; one that times out or is stopped fails and ends the round.
    A mail that went is recorded through `unrecorded`. The connection is closed at the end."""
    sent, broken = 0, False
    try:
        for i, mail in enumerate(mails):
            if stopping(stop):
                break
            if mail.id not in claimed and not queue.claim(db, "mail_outbox", mail.id, at()):
                continue                    # another worker has it
            mail = _to_whom_now(db, mail, at())
            if mail is None:
                progress()
                continue
            try:
                msg = message(settings, mail)
                bounded(lambda: conn.send_message(msg), SMTP_TIMEOUT_S, sockets, stop)
            except (Stopped, TimeoutError) as e:
                broken = True
                error = STOPPED if isinstance(e, Stopped) else f"TimeoutError: {e}"
                log.warning("mail %d to %s: %s", mail.id, mail.to_addr, error)
                queue.record_mail(db, mail, at(), False, error)
                progress()
                break
            except Exception as e:  # noqa: BLE001 - a mail that cannot be built or sent fails alone
                why = smtp_errors.server_ended(e)
                if why is not None:         # the server's or the mail's: the round tells (deliver_mail)
                    broken = True
                    progress()
                    return sent, (mail, why), mails[i + 1:]
                log.warning("mail %d to %s: %s: %s", mail.id, mail.to_addr, type(e).__name__, e)
                queue.record_mail(db, mail, at(), False, f"{type(e).__name__}: {e}")
                progress()
                continue
            unrecorded.mail_sent(db, mail, at())
            progress()
            sent += 1
        return sent, None, []
    finally:
        _close(conn, sockets, stop, broken)


def deliver_mail(db: Database, now: datetime, *, connect: Callable[[smtp.SmtpSettings, Sockets], Any] = smtp_connection,
                 clock: Callable[[], float] = time.time, stop: threading.Event | None = None,
                 progress: Callable[[], None] = _nothing, unrecorded: Unrecorded | None = None) -> int:
    """Send every due mail, over one SMTP connection or more, until `stop` is set; returns how
    many went. `unrecorded`: as `deliver_webhooks`'s, written first.
    Without SMTP settings mail waits in its queue (said once per run in the log). A mail the
    server has not taken within SMTP_TIMEOUT_S fails (and the connection with it): the mails
    after it wait for the next round. When the server ends the connection (a 421, hanging up)
    after taking a mail on it, a new one goes on where it ended (servers limit the mails of one
    connection). A mail that ends a new connection at once is set aside and the mails after it go
    on another (a review: they waited for the next round); at the end of the round it counts a try
    when the server took another mail after it, else waits (`_settle_set_aside`). After
    MAX_SET_ASIDE of them, or when the server cannot be reached again, the round ends: the mail in
    hand waits (`queue.mail_waits`, no try of its own), the others are not tried (a review: each
    was a failed try on a dead connection, and given up). `now`: when the round began; `clock`
    (seconds) the time since (`round_clock`)."""
    if stopping(stop):
        return 0
    unrecorded = Unrecorded() if unrecorded is None else unrecorded
    unrecorded.flush(db)
    due = queue.due_mail(db, now)
    if not due:
        return 0
    at = round_clock(now, clock)
    try:
        settings = smtp.load(db)
    except CentralConfigError as e:         # a stored setting edited by hand: every mail's problem
        return _all_wait(db, due, now, str(e))
    if settings is None:
        log.warning("%d mail(s) wait: no SMTP server is set (kiosk-central notify smtp set)", len(due))
        return 0
    sent, ended, mails, first = 0, None, due, True
    set_aside: list[SetAside] = []
    while True:
        with Sockets() as sockets:
            try:
                conn = bounded(lambda: connect(settings, sockets), SMTP_TIMEOUT_S, sockets, stop)
            except Stopped:                 # none (else) was tried: all stay due
                _settle_set_aside(db, set_aside, sent, at())
                return sent + (_waits(db, *ended, at()) if ended else 0)
            except Exception as e:  # noqa: BLE001 - e.g. OSError (a timeout too), SMTPException, CentralConfigError
                why = smtp_errors.cannot_connect(settings.host, settings.port, e)
                if first:
                    return _all_wait(db, due, now, why)
                _settle_set_aside(db, set_aside, sent, at())
                return sent + (_waits(db, ended[0], why, at()) if ended else 0)
            first = False
            progress()
            went, now_ended, mails = _send_over(db, conn, sockets, settings, [ended[0], *mails] if ended else mails,
                                                {ended[0].id} if ended else set(), at, stop, progress, unrecorded)
        sent += went
        if now_ended is None:
            break
        if went:                            # a limit of the connection, maybe: it goes first on the next
            ended = now_ended
            continue
        ended = None                        # it ended a new connection at once: the next go on without it
        set_aside.append((*now_ended, sent))
        if not mails or len(set_aside) >= MAX_SET_ASIDE:
            break
    _settle_set_aside(db, set_aside, sent, at())
    return sent
