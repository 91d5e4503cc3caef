"""The notification worker's I/O: POST each due webhook delivery (signed), send each due mail
over SMTP (a plain-text and an HTML part), and report every outcome to the queue. One failure
never stops the others; nothing here raises for a receiver that is down. The HTTP and SMTP
clients are injected, so tests use real local servers."""

from __future__ import annotations

import http.client
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Callable

from peewee import Database

from server_sync.exc import CentralConfigError
from server_sync.notify import queue, smtp
from server_sync.notify.http_post import open_url
from server_sync.notify.signing import signed_headers

log = logging.getLogger("kundpuls.notify")

HTTP_TIMEOUT_S = 10.0


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float = HTTP_TIMEOUT_S) -> tuple[bool, str]:
    """(delivered, status or error): 2xx is delivered; anything else is tried again later.
    Building the request is inside the `try`: an address stored before `check_url` existed
    (bad port, spaces, broken IPv6) fails this delivery like a receiver that is down."""
    try:
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "kundpuls-central", **headers})
        with open_url(request, timeout=timeout_s) as response:
            return 200 <= response.status < 300, str(response.status)
    except urllib.error.HTTPError as e:
        return False, f"HTTP {e.code}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        # HTTPException: InvalidURL (a bad port or control characters), a broken response
        return False, f"{type(e).__name__}: {getattr(e, 'reason', e)}"


def deliver_webhooks(db: Database, now: datetime, *, http_post: Callable[..., tuple[bool, str]] = post,
                     clock: Callable[[], float] = time.time) -> int:
    """Send every due webhook delivery; returns how many were delivered now."""
    delivered = 0
    for d in queue.due_webhooks(db, now):
        if not d.endpoint.active:
            queue.record_webhook(db, d, now, "endpoint removed", False, "the endpoint was removed")
            continue
        try:
            ok, status = http_post(d.endpoint.url, d.body, signed_headers(d.endpoint.secret, int(clock()), str(d.id), d.body))
        except Exception as e:  # noqa: BLE001 - whatever breaks one delivery is its failure, never the worker's
            log.exception("webhook %s: delivery %d", d.endpoint.name, d.id)
            ok, status = False, f"{type(e).__name__}: {e}"
        queue.record_webhook(db, d, now, status, ok, None if ok else status)
        if ok:
            delivered += 1
        else:
            log.warning("webhook %s: %s (attempt %d)", d.endpoint.name, status, d.attempts + 1)
    return delivered


def message(settings: smtp.SmtpSettings, mail: queue.DueMail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = mail.to_addr
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    msg.set_content(mail.text_body)
    msg.add_alternative(mail.html_body, subtype="html")
    return msg


def smtp_connection(settings: smtp.SmtpSettings, timeout_s: float = 30.0) -> Any:
    password = settings.password()          # first: a password that cannot be read opens no connection
    if settings.security == "tls":
        conn: Any = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout_s,
                                     context=ssl.create_default_context())
    else:
        conn = smtplib.SMTP(settings.host, settings.port, timeout=timeout_s)
        if settings.security == "starttls":
            conn.starttls(context=ssl.create_default_context())
    if settings.username and password:
        conn.login(settings.username, password)
    return conn


def _all_wait(db: Database, due: list[queue.DueMail], now: datetime, why: str) -> int:
    """A problem of every mail (the server is down, the password file is unreadable, a stored
    setting is wrong) is recorded on each, like any failed try: it shows in `notify deliveries
    --failed` where the operator looks, the mails are tried again with backoff (so fixing it lets
    them go) and webhooks go on; said once per round in the log, not once per mail. None went: 0."""
    log.warning("%d mail(s) wait: %s", len(due), why)
    for mail in due:
        queue.record_mail(db, mail, now, False, why)
    return 0


def deliver_mail(db: Database, now: datetime, *, connect: Callable[[smtp.SmtpSettings], Any] = smtp_connection) -> int:
    """Send every due mail over one SMTP connection; returns how many went. Without SMTP
    settings mail waits in its queue (said once per run in the log)."""
    due = queue.due_mail(db, now)
    if not due:
        return 0
    try:
        settings = smtp.load(db)
    except CentralConfigError as e:         # a stored setting edited by hand: every mail's problem
        return _all_wait(db, due, now, str(e))
    if settings is None:
        log.warning("%d mail(s) wait: no SMTP server is set (kiosk-central notify smtp set)", len(due))
        return 0
    try:
        conn = connect(settings)
    except Exception as e:  # noqa: BLE001 - e.g. OSError, SMTPException, CentralConfigError
        return _all_wait(db, due, now, str(e) if isinstance(e, CentralConfigError) else
                         f"cannot reach {settings.host}:{settings.port}: {e}" if isinstance(e, OSError) else
                         f"cannot connect to {settings.host}:{settings.port}: {type(e).__name__}: {e}")
    sent = 0
    try:
        for mail in due:
            try:
                conn.send_message(message(settings, mail))
            except Exception as e:  # noqa: BLE001 - a mail that cannot be built or sent fails alone
                log.warning("mail %d to %s: %s: %s", mail.id, mail.to_addr, type(e).__name__, e)
                queue.record_mail(db, mail, now, False, f"{type(e).__name__}: {e}")
                continue
            queue.record_mail(db, mail, now, True, None)
            sent += 1
    finally:
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return sent
