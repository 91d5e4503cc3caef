"""Who may own and act on an alert, and where to mail them: a site's store manager (the default
owner), the people who may see a site, and each person's e-mail address (`web_user.email`).

The set of sites a person may see is `server_sync.web.scope.visible_sites`' answer, never decided
here again; acting on an alert (assign, comment, close) needs a role that may act (not an analyst,
who reads).
"""

from __future__ import annotations

from peewee import Database

from server_sync.exc import CentralConfigError, FieldError
from server_sync.notify.queue import check_address
from server_sync.web.people import (ADMIN, REGIONAL, STORE, User, forget_mail_for, require_user, user_by_id,
                                    user_by_name, users)
from server_sync.web.scope import visible_sites

ACTING_ROLES = (ADMIN, REGIONAL, STORE)


def store_manager_of(db: Database, site_id: str) -> str | None:
    """The site's store manager (the first by name when a site has several), or None."""
    p = db.param
    row = db.execute_sql(
        "SELECT u.name FROM web_user u JOIN web_user_site us ON us.user_id = u.id"
        f" WHERE us.site_id = {p} AND u.role = {p} AND u.disabled_at IS NULL ORDER BY u.name LIMIT 1",
        (site_id, STORE)).fetchone()
    return row[0] if row else None


def may_see(db: Database, user: User, site_id: str) -> bool:
    return site_id in visible_sites(db, user)


def may_act(db: Database, user: User, site_id: str) -> bool:
    return user.role in ACTING_ROLES and not user.disabled and may_see(db, user, site_id)


def owner_for(db: Database, name: str, site_id: str) -> User:
    """`name` as an owner of something at `site_id`: an active person who may act there."""
    try:
        u = require_user(db, name)
    except CentralConfigError as e:
        raise FieldError(e.message, "owner", "not_offered", value=name) from None
    if not may_act(db, u, site_id):
        raise FieldError(may_not_act(name, site_id), "owner", "may_not_act", value=name)
    return u


def still_may_own(db: Database, name: str | None, site_id: str) -> str | None:
    """`name` when that person may still own something at `site_id` (an alert's owner, since
    disabled or moved to other sites, may not), else None: for a default owner that falls back
    (the site's store manager, or whoever acts) instead of refusing a form with no owner field."""
    if not name:
        return None
    try:
        return name if may_act(db, require_user(db, name), site_id) else None
    except CentralConfigError:
        return None


def may_not_act(name: str, site_id: str) -> str:
    """Why `name` may not own or handle something at `site_id`."""
    return (f"{name} may not act on site {site_id} (a store manager of it, its regional manager or an admin "
            "may; an analyst only reads, a disabled user nothing)")


def set_email(db: Database, name: str, email: str | None) -> int:
    """Set or (None) clear `name`'s address. Cleared (a person leaving: docs/privacy.md), their
    mail, sent or waiting, is deleted, as when they are disabled; how many (0 when set)."""
    u = require_user(db, name)
    if email:
        email = email.strip()
        check_address(email)
    with db.atomic():
        deleted = 0 if email else forget_mail_for(db, u.id)
        db.execute_sql(f"UPDATE web_user SET email = {db.param} WHERE name = {db.param}", (email or None, name))
    return deleted


def email_of(db: Database, name: str | None) -> str | None:
    if not name:
        return None
    row = db.execute_sql(f"SELECT email FROM web_user WHERE name = {db.param} AND disabled_at IS NULL",
                         (name,)).fetchone()
    return row[0] if row and row[0] else None


def mail_recipient_now(db: Database, user_id: int, sites: tuple[str, ...]) -> tuple[str | None, str]:
    """Whether a mail queued for person `user_id`, telling of `sites`, may still go to them, asked
    when it is sent (it may have waited hours for the SMTP server): (their address now, "") or
    (None, why not). Not when they were disabled, lost their address or may no longer see one of
    the sites; to their new address when they changed it."""
    u = user_by_id(db, user_id)
    if u is None:
        return None, "not sent: its recipient no longer exists"
    if u.disabled:
        return None, f"not sent: its recipient {u.name} was disabled"
    address = email_of(db, u.name)
    if not address:
        return None, f"not sent: its recipient {u.name} has no e-mail address now"
    hidden = sorted(set(sites) - visible_sites(db, u))
    if hidden:
        more = f" and {len(hidden) - 1} more" if len(hidden) > 1 else ""
        return None, f"not sent: its recipient {u.name} may no longer see site {hidden[0]}{more}"
    return address, ""


def language_of(db: Database, name: str | None, default: str = "en") -> str:
    u = user_by_name(db, name) if name else None
    return u.language if u else default


def with_email(db: Database) -> list[tuple[User, str]]:
    """Every active person with an e-mail address (the digest's readers)."""
    mails = {r[0]: r[1] for r in db.execute_sql("SELECT name, email FROM web_user WHERE email IS NOT NULL")}
    return [(u, mails[u.name]) for u in users(db) if not u.disabled and mails.get(u.name)]
