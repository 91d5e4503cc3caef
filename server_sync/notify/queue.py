"""The notification queues in the central store: webhook endpoints, what is waiting for each
of them (`webhook_delivery`) and mail waiting to go (`mail_outbox`).

Adding to a queue is a plain INSERT in the caller's transaction (an alert and its notices commit
together; nothing waits for a network). The worker (`sender`) takes what is due, and reports
each outcome here: delivered, or tried again after a growing pause (1 min, 2, 4, … 6 h), or
given up after `MAX_ATTEMPTS` (kept, visible in `kiosk-central notify deliveries --failed` and
on the admin page); mail the SMTP server itself held up waits, its tries not counted
(`mail_waits`). What was delivered or given up goes after `notices_keep_days` (central.retention),
a person's mail when they leave (`forget_mail`). Never sends anything itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable
from urllib.parse import urlsplit

from peewee import Database

from server_sync.exc import PERCENT_ENCODE, CentralConfigError
from server_sync.notify.bodies import FORMATS, Notice, body
from server_sync.notify.http_post import hide_address, password_unencoded, redacted
from server_sync.notify.signing import new_secret
from server_sync.protocol.codec import short
from server_sync.protocol.vocabulary import ID_RE, ID_RULE

MAX_ATTEMPTS = 12
FIRST_DELAY_S = 60.0
LONGEST_DELAY_S = 6 * 3600.0
SERVER_DOWN_DELAY_S = 300.0     # mail waiting on the SMTP server itself: looked at again this often


def retry_delay(attempts: int) -> timedelta:
    """The pause after the `attempts`-th failed try: doubling from a minute up to six hours."""
    return timedelta(seconds=min(LONGEST_DELAY_S, FIRST_DELAY_S * 2 ** max(0, attempts - 1)))


def _naive(dt: datetime) -> datetime:
    """The store keeps naive UTC."""
    return dt if dt.tzinfo is None else dt.astimezone(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Endpoint:
    id: int
    name: str
    url: str
    format: str
    secret: str
    active: bool


def check_url(url: str, what: str) -> None:
    """Refuse, as a user mistake, an address the worker could not even try to POST to (or a
    browser open): checked when it is given, since a bad one found later only shows up as
    failed deliveries. ASCII only, because http.client cannot encode anything else in a request
    line (a non-ASCII host goes as punycode, a path percent-encoded). The address refused is
    shown redacted (`redacted`): a pasted Slack address with a space after it printed its token."""
    shown = repr(redacted(url))
    bad = [c for c in url if not " " < c < "\x7f"]
    if bad:
        raise CentralConfigError(f"{what} must be plain ASCII without spaces or control characters "
                                 f"(percent-encode them), found {bad[0]!r} in {shown}")
    if password_unencoded(url):             # urlsplit would read a piece of the password as the port
        raise CentralConfigError(f"{what} has a user and password that cannot be read: {PERCENT_ENCODE}, got {shown}")
    try:
        parts = urlsplit(url)
        port = parts.port                      # raises for a non-numeric port or one above 65535
    except ValueError as e:
        raise CentralConfigError(f"{what} is not a valid address ({hide_address(str(e), url)}), got {shown}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise CentralConfigError(f"{what} must be an http(s) address with a host, got {shown}")
    if port == 0:
        raise CentralConfigError(f"{what} port must be 1-65535, got {shown}")
    host = parts.hostname
    if not host.startswith("[") and ":" not in host:
        # What the resolver must encode (idna): an empty label or one over 63 characters can never
        # be looked up ("a..b", a pasted token), and failed only at each delivery.
        try:
            host.encode("idna")
        except UnicodeError:
            raise CentralConfigError(f"{what} host {host!r} is not a host name (a part between dots is empty "
                                     f"or longer than 63 characters), got {shown}") from None


def add_endpoint(db: Database, name: str, url: str, fmt: str, now: datetime, secret: str | None = None) -> Endpoint:
    """A new endpoint. The name of a removed one may be given again: that is a new endpoint (its
    own id, address and secret); the removed one's deliveries stay with it, and none of them goes
    to the new address."""
    if not ID_RE.fullmatch(name):
        raise CentralConfigError(f"webhook name must be {ID_RULE}, got {name!r}")
    check_url(url, "--url")
    if fmt not in FORMATS:
        raise CentralConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    p = db.param
    with db.atomic():
        if db.execute_sql(f"SELECT 1 FROM webhook_endpoint WHERE name = {p} AND active = {p}", (name, True)).fetchone():
            raise CentralConfigError(f"a webhook named {name!r} exists already (`kiosk-central notify webhook "
                                     f"update {name} --url URL` changes its address)")
        db.execute_sql(f"INSERT INTO webhook_endpoint (name, url, format, secret, active, created_at)"
                       f" VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
                       (name, url, fmt, secret or new_secret(), True, _naive(now)))
    return endpoint(db, name)


_COLUMNS = "id, name, url, format, secret, active"


def endpoint(db: Database, name: str) -> Endpoint:
    """The endpoint of that name: the active one, else the one removed last."""
    row = db.execute_sql(f"SELECT {_COLUMNS} FROM webhook_endpoint WHERE name = {db.param}"
                         " ORDER BY active DESC, id DESC LIMIT 1", (name,)).fetchone()
    if row is None:
        raise CentralConfigError(f"no webhook named {name!r} (kiosk-central notify webhook list)")
    return Endpoint(row[0], row[1], row[2], row[3], row[4], bool(row[5]))


def active_endpoint(db: Database, name: str) -> Endpoint:
    e = endpoint(db, name)
    if not e.active:
        raise CentralConfigError(f"the webhook {name!r} was removed (`kiosk-central notify webhook add {name} "
                                 "--url URL` makes a new one)")
    return e


def endpoints(db: Database, active_only: bool = True) -> list[Endpoint]:
    where = f" WHERE active = {db.param}" if active_only else ""
    rows = db.execute_sql(f"SELECT {_COLUMNS} FROM webhook_endpoint{where} ORDER BY name, id",
                          (True,) if active_only else ()).fetchall()
    return [Endpoint(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]


def update_endpoint(db: Database, name: str, url: str) -> Endpoint:
    """A new address for an active endpoint, its secret kept: what waits for it goes there."""
    check_url(url, "--url")
    e = active_endpoint(db, name)
    with db.atomic():
        db.execute_sql(f"UPDATE webhook_endpoint SET url = {db.param} WHERE id = {db.param}", (url, e.id))
    return endpoint(db, name)


def remove_endpoint(db: Database, name: str) -> None:
    e = active_endpoint(db, name)
    with db.atomic():
        db.execute_sql(f"UPDATE webhook_endpoint SET active = {db.param} WHERE id = {db.param}", (False, e.id))


def enqueue_webhooks(db: Database, notice: Notice, now: datetime) -> int:
    """One delivery per active endpoint, in the caller's transaction; returns how many."""
    p = db.param
    rows = [(e.id, notice.event, body(e.format, notice).decode("utf-8"), _naive(now), _naive(now))
            for e in endpoints(db)]
    for row in rows:
        db.execute_sql(f"INSERT INTO webhook_delivery (endpoint_id, event, body, created_at, next_attempt_at)"
                       f" VALUES ({p}, {p}, {p}, {p}, {p})", row)
    return len(rows)


# local@domain.tld without spaces, and none of the characters that would make one header carry
# another address or a display name (<>,;") or break it (controls: checked by isprintable).
_ADDRESS = re.compile(r'[^@\s<>,;"]+@[^@\s<>,;"]+\.[^@\s<>,;"]+')


def is_address(text: str) -> bool:
    """The one rule for an e-mail address the centre takes: a person's (`user email`, `user add
    --email`), `notify test --mail`, `notify smtp set --from`, and every mail queued."""
    return bool(_ADDRESS.fullmatch(text)) and text.isprintable()


def check_address(text: str) -> str:
    if not is_address(text):
        raise CentralConfigError(f"not an e-mail address: {short(text)}")
    return text


def enqueue_mail(db: Database, to_addr: str, subject: str, text_body: str, html_body: str, now: datetime, *,
                 user_id: int | None = None, sites: Iterable[str] = ()) -> None:
    """Queue a mail to `to_addr`; for a person (`user_id`) telling of `sites`, the sender checks at
    sending time that it may still go to them (`DueMail.user_id`)."""
    check_address(to_addr)
    p = db.param
    site_ids = " ".join(sorted(set(sites))) or None
    db.execute_sql(f"INSERT INTO mail_outbox (to_addr, subject, text_body, html_body, created_at, next_attempt_at,"
                   f" user_id, site_ids) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
                   (to_addr, subject.replace("\r", " ").replace("\n", " "), text_body, html_body, _naive(now), _naive(now),
                    user_id, site_ids))


def forget_mail(db: Database, user_id: int, to_addr: str | None, *, address_too: bool) -> int:
    """Delete every mail queued for person `user_id`, sent, given up or waiting, and with
    `address_too` every one to `to_addr` (its case aside) queued for no person (a test mail, one
    queued before mails named their person): the person is leaving, and each kept their address
    and the text of what it told (docs/privacy.md). A mail a worker is sending at that moment is
    the worker's to finish: it holds what it read, and its record then finds no row. How many."""
    p = db.param
    if address_too and to_addr:
        return db.execute_sql(f"DELETE FROM mail_outbox WHERE user_id = {p}"
                              f" OR (user_id IS NULL AND LOWER(to_addr) = LOWER({p}))", (user_id, to_addr)).rowcount
    return db.execute_sql(f"DELETE FROM mail_outbox WHERE user_id = {p}", (user_id,)).rowcount


@dataclass(frozen=True)
class DueWebhook:
    id: int
    attempts: int
    body: bytes
    endpoint: Endpoint


@dataclass(frozen=True)
class DueMail:
    id: int
    attempts: int
    to_addr: str
    subject: str
    text_body: str
    html_body: str
    user_id: int | None = None      # whom it was queued for (None: an address alone, as a test mail)
    sites: tuple[str, ...] = ()     # the sites it tells of
    queued_at: Any = None           # when it was queued, as the engine gives it (its Message-ID's)


def due_webhooks(db: Database, now: datetime, limit: int = 100) -> list[DueWebhook]:
    p = db.param
    rows = db.execute_sql(
        "SELECT d.id, d.attempts, d.body, e.id, e.name, e.url, e.format, e.secret, e.active"
        " FROM webhook_delivery d JOIN webhook_endpoint e ON e.id = d.endpoint_id"
        f" WHERE d.delivered_at IS NULL AND d.gave_up_at IS NULL AND d.next_attempt_at <= {p}"
        f" ORDER BY d.next_attempt_at, d.id LIMIT {int(limit)}", (_naive(now),)).fetchall()
    return [DueWebhook(r[0], r[1], r[2].encode("utf-8"), Endpoint(r[3], r[4], r[5], r[6], r[7], bool(r[8])))
            for r in rows]


def due_mail(db: Database, now: datetime, limit: int = 100) -> list[DueMail]:
    p = db.param
    rows = db.execute_sql(
        "SELECT id, attempts, to_addr, subject, text_body, html_body, user_id, site_ids, created_at FROM mail_outbox"
        f" WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= {p}"
        f" ORDER BY next_attempt_at, id LIMIT {int(limit)}", (_naive(now),)).fetchall()
    return [DueMail(*r[:7], tuple((r[7] or "").split()), r[8]) for r in rows]


CLAIM_S = 300.0     # a claimed delivery or mail is another worker's for this long (each try: 10 s or 30 s)
_DONE = {"webhook_delivery": "delivered_at", "mail_outbox": "sent_at"}


def claim(db: Database, table: str, row_id: int, now: datetime) -> bool:
    """Take one due delivery (`webhook_delivery`) or mail (`mail_outbox`) for this worker, right
    before trying it: False if another worker took it first. Two workers (the service and a
    hand-run `notify run --once`) each sent every due mail and notice (a review). What a worker
    took and never recorded (it was killed) is due again after CLAIM_S. `now`: the time of the
    claim itself, never an earlier round's start (`sender.round_clock`)."""
    p = db.param
    with db.atomic():
        return db.execute_sql(
            f"UPDATE {table} SET next_attempt_at = {p} WHERE id = {p} AND {_DONE[table]} IS NULL"
            f" AND gave_up_at IS NULL AND next_attempt_at <= {p}",
            (_naive(now + timedelta(seconds=CLAIM_S)), row_id, _naive(now))).rowcount == 1


def record_webhook(db: Database, delivery: DueWebhook, now: datetime, status: str, ok: bool, error: str | None,
                   *, final: bool = False) -> None:
    """A try of `delivery`; `final`: a failure no retry can cure (its endpoint was removed), given
    up at once instead of tried again for the whole backoff."""
    _record(db, "webhook_delivery", "delivered_at", delivery.id, delivery.attempts, now, ok, error, status, final)


def record_mail(db: Database, mail: DueMail, now: datetime, ok: bool, error: str | None) -> None:
    _record(db, "mail_outbox", "sent_at", mail.id, mail.attempts, now, ok, error, None)


def give_up_mail(db: Database, mail: DueMail, now: datetime, why: str) -> None:
    """`mail` is not to be sent at all (its person may no longer read it): given up, `why` kept."""
    p = db.param
    db.execute_sql(f"UPDATE mail_outbox SET gave_up_at = {p}, last_error = {p} WHERE id = {p}",
                   (_naive(now), why[:1000], mail.id))


def readdress_mail(db: Database, mail: DueMail, to_addr: str) -> DueMail:
    """`mail` goes to its person's address of now (changed since it was queued)."""
    db.execute_sql(f"UPDATE mail_outbox SET to_addr = {db.param} WHERE id = {db.param}", (to_addr, mail.id))
    return replace(mail, to_addr=to_addr)


def mail_waits(db: Database, mail: DueMail, now: datetime, why: str) -> None:
    """`mail` was not tried: the SMTP server is down, refuses the login or its settings cannot be
    read. That is no try of the mail's own, so it is never given up for it: a weekend's outage
    used up the 12 tries (about 20½ hours) and lost the week's digest, recorded as sent (a
    review). It waits, the reason shown, and is looked at again after SERVER_DOWN_DELAY_S."""
    p = db.param
    db.execute_sql(f"UPDATE mail_outbox SET next_attempt_at = {p}, last_error = {p} WHERE id = {p}",
                   (_naive(now + timedelta(seconds=SERVER_DOWN_DELAY_S)), why[:1000], mail.id))


def _record(db: Database, table: str, done_column: str, row_id: int, attempts: int, now: datetime, ok: bool,
            error: str | None, status: str | None, final: bool = False) -> None:
    p = db.param
    attempts += 1
    status_sql, status_params = ((", last_status = " + p), (status,)) if table == "webhook_delivery" else ("", ())
    with db.atomic():
        if ok:
            db.execute_sql(f"UPDATE {table} SET attempts = {p}, {done_column} = {p}, last_error = NULL{status_sql}"
                           f" WHERE id = {p}", (attempts, _naive(now), *status_params, row_id))
        elif attempts >= MAX_ATTEMPTS or final:
            db.execute_sql(f"UPDATE {table} SET attempts = {p}, gave_up_at = {p}, last_error = {p}{status_sql}"
                           f" WHERE id = {p}", (attempts, _naive(now), (error or "")[:1000], *status_params, row_id))
        else:
            db.execute_sql(f"UPDATE {table} SET attempts = {p}, next_attempt_at = {p}, last_error = {p}{status_sql}"
                           f" WHERE id = {p}", (attempts, _naive(now + retry_delay(attempts)), (error or "")[:1000],
                                                *status_params, row_id))


def deliveries(db: Database, *, failed_only: bool = False, limit: int = 200) -> list[dict[str, Any]]:
    """Webhook deliveries and mails, newest first: what went, what waits, what failed."""
    cond = " WHERE last_error IS NOT NULL" if failed_only else ""
    hooks = db.execute_sql(
        "SELECT 'webhook', d.id, e.name, d.event, d.created_at, d.attempts, d.delivered_at, d.gave_up_at,"
        f" d.next_attempt_at, d.last_error FROM webhook_delivery d JOIN webhook_endpoint e ON e.id = d.endpoint_id"
        f"{cond.replace('last_error', 'd.last_error')} ORDER BY d.id DESC LIMIT {int(limit)}").fetchall()
    mails = db.execute_sql(
        "SELECT 'mail', id, to_addr, subject, created_at, attempts, sent_at, gave_up_at, next_attempt_at, last_error"
        f" FROM mail_outbox{cond} ORDER BY id DESC LIMIT {int(limit)}").fetchall()
    keys = ("channel", "id", "to", "what", "created_at", "attempts", "done_at", "gave_up_at", "next_attempt_at", "last_error")
    out = [dict(zip(keys, r)) for r in hooks + mails]
    for d in out:
        d["state"] = "delivered" if d["done_at"] else ("failed" if d["gave_up_at"] else "waiting")
        for k in ("created_at", "done_at", "gave_up_at", "next_attempt_at"):
            d[k] = None if d[k] is None else str(d[k])
    return sorted(out, key=lambda d: d["created_at"], reverse=True)[:limit]
