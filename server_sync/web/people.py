"""The people of the web app: regions of sites, users with a role and a scope, their passwords
(argon2id hashes) and their API tokens. The CLI (`kiosk-central region|user`) and the web app
call these same functions.

A password or token is never stored, logged or returned after the call that made it: only its
hash is kept (argon2id for passwords; SHA-256 for random 256-bit tokens, which need no slow hash).
What a user may *see* is `scope.visible_sites`' job, not this module's.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import Database

from server_sync.central.registry import check_id, site
from server_sync.exc import CentralConfigError
from server_sync.notify import queue
from server_sync.protocol.codec import short
from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.web.guessable import is_guessable
from server_sync.web.vocabulary import ADMIN, ANALYST, REGIONAL, ROLES, STORE

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024          # argon2 takes any length; a megabyte "password" is an attack
# argon2id with RFC 9106's second recommended profile (t=3, 64 MiB, p=4): 0.2 s of CPU a check.
# With $KUNDPULS_TEST_CHEAP_PASSWORD_HASH=1 (the test suite's, never a server's: `cheap_hashes_said`)
# argon2-cffi's profile for tests (t=1, 8 KiB, a 4-byte hash): the suite signs in a few hundred
# times, and each login cost 0.2 s of CPU that tested nothing of the login. A hash of either
# profile verifies under the other, and one made cheap is made again at full cost at its user's
# next login without it.
CHEAP_HASH_ENV = "KUNDPULS_TEST_CHEAP_PASSWORD_HASH"
CHEAP_HASHES = os.environ.get(CHEAP_HASH_ENV) == "1"
HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST if CHEAP_HASHES else profiles.RFC_9106_LOW_MEMORY)


def cheap_hashes_said() -> str | None:
    """The warning a server gives at start (and `user add|password`) when passwords are hashed for
    tests, else None."""
    if not CHEAP_HASHES:
        return None
    return (f"${CHEAP_HASH_ENV}=1: passwords are hashed with the test profile (argon2id t=1, 8 KiB, "
            "a 4-byte hash), which a stolen database gives up at once; unset it on a server")


def now_utc() -> datetime:
    """Naive UTC, whole seconds: how every time of these tables is stored."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def as_datetime(v: Any) -> datetime | None:
    """A stored time as a naive-UTC datetime (SQLite hands back text, PostgreSQL a datetime)."""
    if v is None or isinstance(v, datetime):
        return v
    return datetime.fromisoformat(str(v))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- regions ----------------------------------------------------------------------------------

# `region assign - SITE…` takes sites out of every region: a region with this id could be made,
# and no site could then be assigned to it (a review).
NO_REGION = "-"


def add_region(db: Database, region_id: str, name: str) -> dict:
    check_id(region_id, "region id")
    if region_id == NO_REGION:
        raise CentralConfigError(f"region id {NO_REGION!r} means no region (region assign {NO_REGION} SITE…);"
                                 f" choose another id")
    if not name.strip():
        raise CentralConfigError("--name must not be empty")
    p = db.param
    with db.atomic():
        if region(db, region_id):
            raise CentralConfigError(f"region {region_id!r} already exists")
        db.execute_sql(f"INSERT INTO region (id, name, created_at) VALUES ({p}, {p}, {p})",
                       (region_id, name.strip(), now_utc()))
    return region(db, region_id)


def region(db: Database, region_id: str) -> dict | None:
    row = db.execute_sql(f"SELECT id, name FROM region WHERE id = {db.param}", (region_id,)).fetchone()
    return {"id": row[0], "name": row[1]} if row else None


def require_region(db: Database, region_id: str) -> dict:
    """The region, or CentralConfigError saying how to add it; an id that could never be a
    region's is told so instead (the hint would be a command that fails)."""
    found = region(db, check_id(region_id, "region id"))
    if found is None:
        raise CentralConfigError(f"unknown region {region_id!r}; add it first: kiosk-central region add "
                                 f"{region_id} --name NAME")
    return found


def regions(db: Database) -> list[dict]:
    """Every region with its number of sites and their ids."""
    rows = db.execute_sql("SELECT r.id, r.name, COUNT(s.id) FROM region r LEFT JOIN site s ON s.region_id = r.id"
                          " GROUP BY r.id, r.name ORDER BY r.id").fetchall()
    members: dict[str, list[str]] = {}
    for region_id, site_id in db.execute_sql("SELECT region_id, id FROM site WHERE region_id IS NOT NULL"
                                             " ORDER BY region_id, id"):
        members.setdefault(region_id, []).append(site_id)
    return [{"id": i, "name": n, "sites": int(c), "site_ids": members.get(i, [])} for i, n, c in rows]


def assign_region(db: Database, region_id: str | None, site_ids: Iterable[str]) -> None:
    """Put sites in a region (None: in none)."""
    site_ids = list(site_ids)
    if not site_ids:
        raise CentralConfigError("name at least one site")
    if region_id is not None:
        require_region(db, region_id)
    with db.atomic():
        for s in site_ids:
            if site(db, s) is None:
                raise CentralConfigError(f"unknown site {short(s)}")
            db.execute_sql(f"UPDATE site SET region_id = {db.param} WHERE id = {db.param}", (region_id, s))


# --- users ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class User:
    """A signed-in person (or an API token's owner) and what their role grants."""
    id: int
    name: str
    role: str
    language: str
    must_change_password: bool = False
    regions: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    disabled: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def whole_chain(self) -> bool:
        """Whether the role sees every site (then `regions` and `sites` say nothing)."""
        return self.role in (ADMIN, ANALYST)

    def as_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "language": self.language, "regions": list(self.regions),
                "sites": list(self.sites), "whole_chain": self.whole_chain, "disabled": self.disabled,
                "must_change_password": self.must_change_password}


# What may be wrong with a chosen password: its code (the web's text is "password_" + code, in
# the reader's language) and the command line's words.
PASSWORD_PROBLEMS = {
    "control": "a password may not hold control characters or bytes that are not UTF-8 text",
    "short": f"a password needs at least {MIN_PASSWORD_CHARS} characters",
    "long": f"a password may have at most {MAX_PASSWORD_CHARS} characters",
    "trivial": "a password may not be only spaces or one character repeated",
    "has_name": "a password may not contain the user name",
    "common": ("a password may not be a commonly used one, nor one easily guessed from such a one"
               " (digits or symbols added, a keyboard row, a sequence, a date)"),
}


def password_problem(password: str, name: str = "") -> str | None:
    """What is wrong with `password` as a web user's (named `name`), as a PASSWORD_PROBLEMS code,
    or None: long enough, text without control characters, not guessable from the account
    alone (the user's name of 4 characters or more, one character repeated, only spaces) and not
    a commonly used password or one guessed easily from such a one (guessable.is_guessable), as
    NIST SP 800-63B § 5.1.1.2 asks of a chosen password; no rules of composition."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        return "control"
    if len(password) < MIN_PASSWORD_CHARS:
        return "short"
    if len(password) > MAX_PASSWORD_CHARS:
        return "long"
    if not password.strip() or len(set(password)) == 1:
        return "trivial"
    if len(name) >= 4 and name.casefold() in password.casefold():      # a shorter one is a syllable
        return "has_name"
    if is_guessable(password):
        return "common"
    return None


def check_password(password: str, name: str = "") -> str:
    """`password` when it may be a web user's (password_problem); else CentralConfigError saying
    what is wrong, never echoing it."""
    if problem := password_problem(password, name):
        raise CentralConfigError(PASSWORD_PROBLEMS[problem])
    return password


def one_time_password() -> str:
    """A random password to hand over once; the user must change it at the first login."""
    return secrets.token_urlsafe(12)


def _check_scope(db: Database, role: str, regions: Iterable[str], sites: Iterable[str]) -> tuple[list, list]:
    regions, sites = list(dict.fromkeys(regions)), list(dict.fromkeys(sites))
    if role not in ROLES:
        raise CentralConfigError(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    if role in (ADMIN, ANALYST) and (regions or sites):
        raise CentralConfigError(f"an {role} sees every site: give no --region or --site")
    if role == REGIONAL and (sites or not regions):
        raise CentralConfigError("a regional-manager needs --region (one or more) and no --site")
    if role == STORE and (regions or not sites):
        raise CentralConfigError("a store-manager needs --site (one or more) and no --region")
    for r in regions:
        if region(db, r) is None:
            raise CentralConfigError(f"unknown region {short(r)}")
    for s in sites:
        if site(db, s) is None:
            raise CentralConfigError(f"unknown site {short(s)}")
    return regions, sites


def add_user(db: Database, name: str, role: str, *, regions: Iterable[str] = (), sites: Iterable[str] = (),
             language: str = "sv", password: str | None = None) -> tuple[User, str | None]:
    """Create a user. Without `password` a one-time password is made and returned (the user must
    change it at the first login); with one, None is returned in its place."""
    check_id(name, "user name")
    if language not in LANGUAGES:
        raise CentralConfigError(f"--language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    regions, sites = _check_scope(db, role, regions, sites)
    generated = password is None
    secret = one_time_password() if generated else check_password(password, name)
    now = now_utc()
    p = db.param
    with db.atomic():
        # Names differ by more than case: "Sara" and "sara" would be two accounts of one person.
        same = db.execute_sql(f"SELECT name FROM web_user WHERE LOWER(name) = LOWER({p})", (name,)).fetchone()
        if same:
            raise CentralConfigError(f"user {name!r} already exists" if same[0] == name
                                     else f"user {same[0]!r} already exists (names that differ only in case are one user)")
        db.execute_sql("INSERT INTO web_user (name, role, language, password_hash, must_change_password, created_at,"
                       f" password_changed_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
                       (name, role, language, HASHER.hash(secret), generated, now, now))
        uid = int(db.execute_sql(f"SELECT id FROM web_user WHERE name = {p}", (name,)).fetchone()[0])
        for r in regions:
            db.execute_sql(f"INSERT INTO web_user_region (user_id, region_id) VALUES ({p}, {p})", (uid, r))
        for s in sites:
            db.execute_sql(f"INSERT INTO web_user_site (user_id, site_id) VALUES ({p}, {p})", (uid, s))
    return user_by_id(db, uid), (secret if generated else None)


_USER_COLUMNS = "id, name, role, language, must_change_password, disabled_at"


def _user(db: Database, row) -> User:
    uid = int(row[0])
    p = db.param
    regions = tuple(r[0] for r in db.execute_sql(
        f"SELECT region_id FROM web_user_region WHERE user_id = {p} ORDER BY region_id", (uid,)))
    sites = tuple(r[0] for r in db.execute_sql(
        f"SELECT site_id FROM web_user_site WHERE user_id = {p} ORDER BY site_id", (uid,)))
    return User(uid, row[1], row[2], row[3], bool(row[4]), regions, sites, row[5] is not None)


def user_by_id(db: Database, user_id: int) -> User | None:
    row = db.execute_sql(f"SELECT {_USER_COLUMNS} FROM web_user WHERE id = {db.param}", (user_id,)).fetchone()
    return _user(db, row) if row else None


def user_by_name(db: Database, name: str) -> User | None:
    row = db.execute_sql(f"SELECT {_USER_COLUMNS} FROM web_user WHERE name = {db.param}", (name,)).fetchone()
    return _user(db, row) if row else None


def users(db: Database) -> list[User]:
    return [_user(db, r) for r in db.execute_sql(f"SELECT {_USER_COLUMNS} FROM web_user ORDER BY name").fetchall()]


def require_user(db: Database, name: str) -> User:
    u = user_by_name(db, name)
    if u is None:
        raise CentralConfigError(f"no user {short(name)} (kiosk-central user list shows them)")
    return u


def verify_password(db: Database, name: str, password: str) -> User | None:
    """The user if `password` is theirs and they are not disabled, else None. Takes the same
    time (one argon2 verification) whether or not the user exists, so timing does not tell."""
    row = db.execute_sql(f"SELECT id, password_hash, disabled_at FROM web_user WHERE name = {db.param}",
                         (name,)).fetchone()
    stored = row[1] if row else _dummy_hash()
    try:
        ok = HASHER.verify(stored, password[:MAX_PASSWORD_CHARS])
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None or row[2] is not None:
        return None
    if HASHER.check_needs_rehash(stored):
        db.execute_sql(f"UPDATE web_user SET password_hash = {db.param} WHERE id = {db.param}",
                       (HASHER.hash(password), row[0]))
    return user_by_id(db, int(row[0]))


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist (made once, on first need)."""
    return HASHER.hash(secrets.token_urlsafe(16))


def set_password(db: Database, name: str, password: str | None, *, one_time: bool) -> str | None:
    """Set a user's password: given (checked), or a generated one returned once. `one_time`: it
    must be changed at the next login. Every session of the user ends."""
    u = require_user(db, name)
    secret = one_time_password() if password is None else check_password(password, u.name)
    p = db.param
    with db.atomic():
        db.execute_sql(f"UPDATE web_user SET password_hash = {p}, must_change_password = {p},"
                       f" password_changed_at = {p} WHERE id = {p}", (HASHER.hash(secret), one_time, now_utc(), u.id))
        db.execute_sql(f"DELETE FROM web_session WHERE user_id = {p}", (u.id,))
    return secret if password is None else None


def reset_password(db: Database, name: str, password: str | None) -> tuple[str | None, int]:
    """An admin's reset of a user's password (`set_password`: a one-time one unless given), and
    their API tokens revoked with it, in one transaction: a reset is for an account someone else
    may have used, and a token made with it worked again once the new password was set (a
    review). (The generated password, or None; how many tokens were revoked.)"""
    with db.atomic():
        secret = set_password(db, name, password, one_time=password is None)
        return secret, revoke_tokens(db, name)


def set_language(db: Database, user_id: int, language: str) -> None:
    if language not in LANGUAGES:
        raise CentralConfigError(f"language must be one of {', '.join(LANGUAGES)}")
    db.execute_sql(f"UPDATE web_user SET language = {db.param} WHERE id = {db.param}", (language, user_id))


def set_disabled(db: Database, name: str, disabled: bool) -> User:
    """Disable (sessions end, tokens are revoked, their mail is deleted: `forget_mail_for`) or
    enable a user. The last active admin is not disabled: nobody would be left to manage users in
    the web app."""
    u = require_user(db, name)
    p = db.param
    now = now_utc()
    with db.atomic():
        if disabled and u.is_admin and not u.disabled:
            others = db.execute_sql(f"SELECT COUNT(*) FROM web_user WHERE role = {p} AND disabled_at IS NULL"
                                    f" AND id != {p}", (ADMIN, u.id)).fetchone()[0]
            if not others:
                raise CentralConfigError(f"{name} is the last active admin: add or enable another admin first")
        db.execute_sql(f"UPDATE web_user SET disabled_at = {p} WHERE id = {p}", (now if disabled else None, u.id))
        if disabled:
            db.execute_sql(f"DELETE FROM web_session WHERE user_id = {p}", (u.id,))
            db.execute_sql(f"UPDATE api_token SET revoked_at = {p} WHERE user_id = {p} AND revoked_at IS NULL",
                           (now, u.id))
            forget_mail_for(db, u.id)
    return user_by_id(db, u.id)


def forget_mail_for(db: Database, user_id: int) -> int:
    """Delete user `user_id`'s mail, sent, given up or waiting (`queue.forget_mail`), as they stop
    being its reader (disabled, or their address cleared): waiting, it tells of sites they may no
    longer see (a review); kept, it held their address and its text for good (a privacy review).
    A mail to their address queued for no person goes too, unless another active user has the
    same address (a shop's shared mailbox), whose mail it is as much. How many."""
    p = db.param
    row = db.execute_sql(f"SELECT email FROM web_user WHERE id = {p}", (user_id,)).fetchone()
    address = row[0] if row else None
    shared = address and db.execute_sql(f"SELECT 1 FROM web_user WHERE LOWER(email) = LOWER({p}) AND id <> {p}"
                                        " AND disabled_at IS NULL", (address, user_id)).fetchone()
    return queue.forget_mail(db, user_id, address, address_too=not shared)


# --- API tokens -------------------------------------------------------------------------------

TOKEN_PREFIX = "kp_"


def add_token(db: Database, name: str, label: str = "") -> str:
    """A new API token for the user, returned once (only its hash is stored)."""
    u = require_user(db, name)
    if u.disabled:
        raise CentralConfigError(f"user {name!r} is disabled")
    if u.must_change_password:
        raise CentralConfigError(f"user {name!r} must change the one-time password first (sign in to the web app),"
                                 " then ask for a token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    p = db.param
    db.execute_sql(f"INSERT INTO api_token (token_hash, user_id, label, created_at) VALUES ({p}, {p}, {p}, {p})",
                   (token_hash(token), u.id, token_label(label), now_utc()))
    return token


def user_by_token(db: Database, token: str) -> User | None:
    """The owner of a valid (not revoked, owner not disabled) API token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    p = db.param
    h = token_hash(token)
    row = db.execute_sql(f"SELECT t.user_id, t.last_used_at FROM api_token t JOIN web_user u ON u.id = t.user_id"
                         f" WHERE t.token_hash = {p} AND t.revoked_at IS NULL AND u.disabled_at IS NULL",
                         (h,)).fetchone()
    if not row:
        return None
    now = now_utc()
    last = as_datetime(row[1])
    if last is None or (now - last).total_seconds() > 60:      # at most one write a minute per token
        db.execute_sql(f"UPDATE api_token SET last_used_at = {p} WHERE token_hash = {p}", (now, h))
    return user_by_id(db, int(row[0]))


def revoke_tokens(db: Database, name: str, label: str | None = None) -> int:
    """Revoke the user's live API tokens, or only those labelled `label` (CentralConfigError,
    naming the labels there are, when none is): how many were revoked."""
    u = require_user(db, name)
    p = db.param
    only, params = ("", ()) if label is None else (f" AND label = {p}", (token_label(label),))
    cur = db.execute_sql(f"UPDATE api_token SET revoked_at = {p} WHERE user_id = {p} AND revoked_at IS NULL{only}",
                         (now_utc(), u.id, *params))
    n = cur.rowcount or 0
    if label is not None and not n:
        live = sorted({t["label"] for t in tokens(db, name) if not t["revoked"]})
        raise CentralConfigError(f"user {name!r} has no live API token labelled {token_label(label)!r} "
                                 + (f"(their labels: {', '.join(live)})" if live else "(they have none)"))
    return n


def token_label(label: str) -> str:
    """A token's label as stored: trimmed, at most 200 characters, "api" when none was given."""
    return label.strip()[:200] or "api"


def tokens(db: Database, name: str) -> list[dict]:
    u = require_user(db, name)
    rows = db.execute_sql("SELECT label, created_at, last_used_at, revoked_at FROM api_token"
                          f" WHERE user_id = {db.param} ORDER BY created_at", (u.id,)).fetchall()
    return [{"label": label, "created_at": str(c), "last_used_at": None if lu is None else str(lu),
             "revoked": rv is not None} for label, c, lu, rv in rows]
