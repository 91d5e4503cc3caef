"""The audit log: who signed in (or failed, or was locked out), who exported what, who read which
comments, and from where. Written by the web app, read by admins (`/admin/audit`, `kiosk-central
user audit`). Never holds a password, token or comment text: only what was asked for.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from peewee import Database

from server_sync.web.people import now_utc

log = logging.getLogger("kundpuls.web.audit")

EVENTS = ("login", "login_failed", "login_locked", "logout", "password_changed", "export", "comments_viewed",
          "api_export")


def record(db: Database, event: str, *, user_name: str | None, address: str | None, **detail: Any) -> None:
    """Store one audit event (and log it, so a log collector sees lockouts too)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    p = db.param
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)[:4000]
    db.execute_sql(f"INSERT INTO audit_log (at, user_name, event, address, detail) VALUES ({p}, {p}, {p}, {p}, {p})",
                   (now_utc(), (user_name or "")[:64] or None, event, (address or "")[:64] or None, text))
    level = logging.WARNING if event in ("login_failed", "login_locked") else logging.INFO
    log.log(level, "%s user=%s address=%s %s", event, user_name, address, text)


def entries(db: Database, *, limit: int = 200, event: str | None = None, user_name: str | None = None) -> list[dict]:
    clauses, params = [], []
    if event:
        clauses.append(f"event = {db.param}")
        params.append(event)
    if user_name:
        clauses.append(f"user_name = {db.param}")
        params.append(user_name)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = db.execute_sql(f"SELECT at, user_name, event, address, detail FROM audit_log{where}"
                          f" ORDER BY id DESC LIMIT {int(limit)}", params).fetchall()
    return [{"at": str(at), "user": u, "event": e, "address": a, "detail": json.loads(d or "{}")}
            for at, u, e, a, d in rows]
