"""Server-side sessions, CSRF tokens and login throttling.

- A session is a random 256-bit token in an HttpOnly cookie; the database keeps only its SHA-256,
  the user, the synchronizer CSRF token of its forms and when it was last used. It ends on
  logout (the row is deleted, so the cookie is worthless even if copied), after `idle` without a
  request, after `lifetime` in all, and when the user is disabled or their password changes.
- A visitor who opens the login page gets a session without a user: it carries the login form's
  CSRF token. Signing in replaces it with a new session (a fresh token: no session fixation).
- Throttling: failed passwords (at sign-in and at a password change) are counted per account and
  per address over a window, in the database (every web worker sees the same counts); an attempt
  is stored before its password is checked, so parallel ones count each other. Past the limit the
  account (or address) is locked until the window has passed, even for the right password; every
  lockout is audited. An IPv6 address is counted by its /64 (`address_key`): one customer holds
  a whole /64 and could take a new address for every guess. The audit keeps the address itself.

Never stores or logs a token or password in clear.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import Database

from server_sync.web import audit
from server_sync.web.people import User, as_datetime, now_utc, token_hash, user_by_id, verify_password


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    lockout_window: timedelta = timedelta(minutes=15)
    touch_every: timedelta = timedelta(seconds=30)     # last_seen_at is written at most this often


@dataclass(frozen=True)
class Session:
    token: str                      # the cookie's value (only in memory, never stored)
    csrf_token: str
    user: User | None
    created_at: datetime
    last_seen_at: datetime | None = None    # as stored once this request was counted (or not)


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def create(db: Database, user: User | None, *, address: str | None, user_agent: str | None) -> Session:
    token, csrf = _new_token(), _new_token()
    now = now_utc()
    p = db.param
    db.execute_sql(f"INSERT INTO web_session (token_hash, user_id, csrf_token, created_at, last_seen_at, address,"
                   f" user_agent) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
                   (token_hash(token), user.id if user else None, csrf, now, now, (address or "")[:64],
                    (user_agent or "")[:300]))
    return Session(token, csrf, user, now)


def load(db: Database, token: str | None, policy: SessionPolicy) -> Session | None:
    """The live session of a cookie value, or None (unknown, expired, or its user disabled)."""
    if not token or len(token) > 100:
        return None
    p = db.param
    h = token_hash(token)
    row = db.execute_sql(f"SELECT user_id, csrf_token, created_at, last_seen_at FROM web_session"
                         f" WHERE token_hash = {p}", (h,)).fetchone()
    if not row:
        return None
    user_id, csrf, created, seen = row[0], row[1], as_datetime(row[2]), as_datetime(row[3])
    now = now_utc()
    if now - seen > policy.idle or now - created > policy.lifetime:
        db.execute_sql(f"DELETE FROM web_session WHERE token_hash = {p}", (h,))
        return None
    user = None
    if user_id is not None:
        user = user_by_id(db, int(user_id))
        if user is None or user.disabled:
            db.execute_sql(f"DELETE FROM web_session WHERE token_hash = {p}", (h,))
            return None
    if now - seen >= policy.touch_every:
        db.execute_sql(f"UPDATE web_session SET last_seen_at = {p} WHERE token_hash = {p}", (now, h))
        seen = now
    return Session(token, csrf, user, created, seen)


def policy_for(idle: timedelta) -> SessionPolicy:
    """The policy of an idle limit: last_seen_at written at most every 30 s, or every tenth of a
    shorter limit (with 30 s, a limit under it was never moved by a request at all)."""
    return SessionPolicy(idle=idle, touch_every=min(SessionPolicy.touch_every, idle / 10))


def seconds_left(session: Session, policy: SessionPolicy) -> int:
    """Whole seconds until the session ends unless a request counts as activity: the idle limit
    from its last stored use, or its lifetime, whichever comes first (never below 0). The page's
    warning before the end (static/app.js) counts down from this."""
    now = now_utc()
    seen = session.last_seen_at or now
    left = min(seen + policy.idle, session.created_at + policy.lifetime) - now
    return max(0, int(left.total_seconds()))


def end(db: Database, token: str) -> None:
    db.execute_sql(f"DELETE FROM web_session WHERE token_hash = {db.param}", (token_hash(token),))


def purge(db: Database, policy: SessionPolicy) -> None:
    """Forget sessions idle for longer than the idle limit and old login attempts."""
    p = db.param
    now = now_utc()
    db.execute_sql(f"DELETE FROM web_session WHERE last_seen_at < {p}", (now - policy.idle,))
    db.execute_sql(f"DELETE FROM web_login_attempt WHERE at < {p}", (now - max(policy.lockout_window,
                                                                                timedelta(days=1)),))


def csrf_ok(session: Session | None, submitted: str | None) -> bool:
    """The synchronizer-token check of a form post (constant-time compare)."""
    if session is None or not submitted or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(session.csrf_token.encode(), submitted.encode("utf-8", "surrogatepass"))


class LockedOut(Exception):
    """Too many failed attempts for this account or from this address; try again later."""


def _account_failures(db: Database, name: str, since: datetime) -> int:
    # The account's failures since its last success inside the window: signing in proves who
    # one is, so the person's own earlier slips no longer count.
    p = db.param
    row = db.execute_sql(
        f"SELECT COUNT(*) FROM web_login_attempt WHERE account = {p} AND at >= {p} AND success = {p}"
        f" AND id > COALESCE((SELECT MAX(id) FROM web_login_attempt WHERE account = {p} AND success = {p}), 0)",
        (name, since, False, name, True)).fetchone()
    return int(row[0])


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def address_key(address: str) -> str:
    """What the attempts table counts an address under: an IPv6 address's /64 network (RFC 6177:
    one subscriber gets at least a /64, so each of its addresses alone would let every guess come
    from a new one), an IPv4 address mapped into IPv6 as the IPv4 address, anything else as is
    (IPv4, or a text that is no address, such as "unknown")."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 client carried in IPv6 is its IPv4 address: through a NAT64/SIIT gateway
        # (64:ff9b::/96, RFC 6052) every IPv4 client of the internet shares one /64, and one
        # attacker's 20 failures locked all of them out (a review); likewise Teredo (a relay's
        # clients share its /64), 6to4 and the old IPv4-compatible ::a.b.c.d.
        embedded = ip.ipv4_mapped or (ip.teredo[1] if ip.teredo else None) or ip.sixtofour
        if embedded is None and (ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 0xFFFF)):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return str(embedded)
        # the zone (fe80::1%eth0) names the server's interface, not the client: dropped
        return str(ipaddress.IPv6Network((int(ip), 64), strict=False))
    return str(ip)


def _address_failures(db: Database, address: str, since: datetime) -> int:
    # Every failure of the window, whatever succeeded in between: an insider who signs into their
    # own account now and then must not start the count of the names they spray afresh.
    p = db.param
    row = db.execute_sql(f"SELECT COUNT(*) FROM web_login_attempt WHERE address = {p} AND at >= {p}"
                         f" AND success = {p}", (address_key(address), since, False)).fetchone()
    return int(row[0])


def failures_left(db: Database, account: str, address: str, policy: SessionPolicy) -> int:
    """How many more failed attempts the account (`_account_key`: a user's name is its own) and
    the address may have in the window (the smaller of the two); 0: the limit is reached, below
    0: over it. Attempts still being checked by any worker count as failures."""
    since = now_utc() - policy.lockout_window
    return min(policy.max_failures_per_account - _account_failures(db, account, since),
               policy.max_failures_per_address - _address_failures(db, address, since))


def check_password(db: Database, name: str, password: str, *, address: str, policy: SessionPolicy) -> User | None:
    """The user if `password` is theirs, None if not; raises LockedOut (the password unchecked)
    while the account or address is locked. Sign-in and the password change both come here, so
    their failures share one count and one lockout.

    The attempt is stored as a failure first and counted with the others, and only then checked:
    parallel attempts each see the rest, so no more than the limit are ever checked (reading the
    count before the slow argon2 check let 40 parallel guesses through 11 times)."""
    account = _account_key(db, name)
    attempt = _attempt(db, account, address)
    if failures_left(db, account, address, policy) < 0:
        raise LockedOut()
    user = verify_password(db, name, password or "")
    if user is not None:
        db.execute_sql(f"UPDATE web_login_attempt SET success = {db.param} WHERE id = {db.param}", (True, attempt))
    return user


def _known_name(db: Database, name: str) -> str | None:
    """The name if such a user exists: all the audit log may record of a failed attempt (a
    password typed into the name field must not end up on /admin/audit or in the log). One
    indexed read whether or not it exists, so the time of the answer does not tell."""
    row = db.execute_sql(f"SELECT 1 FROM web_user WHERE name = {db.param}", (name,)).fetchone()
    return name if row else None


def _account_key(db: Database, name: str) -> str:
    """What the attempts table keeps of the name: the name of a user, a hash of anything else (so
    a name that is no user's is counted like one, but its text is not kept)."""
    return _known_name(db, name) or "?" + token_hash(name)[:63]


def login(db: Database, name: str, password: str, *, address: str, user_agent: str | None,
          policy: SessionPolicy) -> Session | None:
    """Check a login; a new session for the user, None for a wrong name or password; raises
    LockedOut while the account or address is locked (nothing is checked then)."""
    name = (name or "").strip()[:64]
    address = (address or "unknown")[:64]
    known = _known_name(db, name)          # all the audit log may say of the name
    try:
        user = check_password(db, name, password, address=address, policy=policy)
    except LockedOut:
        audit.record(db, "login_locked", user_name=known, address=address)
        raise
    if user is None:
        audit.record(db, "login_failed" if known else "login_unknown_name", user_name=known, address=address)
        return None
    audit.record(db, "login", user_name=user.name, address=address)
    return create(db, user, address=address, user_agent=user_agent)


def _attempt(db: Database, account: str, address: str) -> int:
    """Store an attempt as failed (until its password proves right); its id."""
    p = db.param
    with db.atomic():
        rows = db.execute_sql(f"INSERT INTO web_login_attempt (at, account, address, success)"
                              f" VALUES ({p}, {p}, {p}, {p}) RETURNING id",
                              (now_utc(), account, address_key(address), False)).fetchall()
    return int(rows[0][0])
