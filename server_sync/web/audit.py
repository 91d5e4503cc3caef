"""The audit log: who signed in (or failed, or was locked out), who exported what, who read which
comments, and from where. Written by the web app, read by admins (`/admin/audit`, `kiosk-central
user audit`). Never holds a password, token or comment text: only what was asked for.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import weakref
from collections import OrderedDict
from typing import Any

from peewee import Database

from server_sync.web.outage import Connections
from server_sync.web.people import now_utc
from server_sync.web.vocabulary import AUDIT_EVENTS as EVENTS
from server_sync.web.vocabulary import AUDIT_WARNINGS

log = logging.getLogger("kundpuls.web.audit")
INSERT = "INSERT INTO audit_log (at, user_name, event, address, detail) VALUES ({p}, {p}, {p}, {p}, {p})"
DETAIL_MOST = 4000      # characters of an event's detail (JSON) kept
TEXT_MOST = 200         # characters of one text in it (a search is at most filters.MAX_SEARCH_CHARS)


def _bounded(value: Any, most: int) -> Any:
    """`value` with every text in it (keys too) cut to `most` characters, marked "…"."""
    if isinstance(value, str):
        return value if len(value) <= most else value[:most] + "…"
    if isinstance(value, dict):
        return {_bounded(str(k), most): _bounded(v, most) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_bounded(v, most) for v in value]
    return value


def detail_text(detail: dict) -> str:
    """The detail as the JSON stored, always whole: its texts cut until it fits `DETAIL_MOST`.
    Cut as text, a query of 4,500 spaces (which the search strips) left JSON no reader could
    parse: the admins' audit page and `user audit` failed, and every key after it was lost."""
    for most in (TEXT_MOST, 40, 8):
        text = json.dumps(_bounded(detail, most), ensure_ascii=False, sort_keys=True, default=str)
        if len(text) <= DETAIL_MOST:
            return text
    return json.dumps({"cut": len(detail)})             # more keys than fit: how many there were


def record(db: Database, event: str, *, user_name: str | None, address: str | None, **detail: Any) -> None:
    """Store one audit event (and log it, so a log collector sees lockouts too)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    text = detail_text(detail)
    row = (now_utc(), (user_name or "")[:64] or None, event, (address or "")[:64] or None, text)
    writer = _writers.get(db)
    if writer is not None:
        writer.write(row)
    else:
        db.execute_sql(INSERT.format(p=db.param), row)
    level = logging.WARNING if event in AUDIT_WARNINGS else logging.INFO
    log.log(level, "%s user=%s address=%s %s", event, user_name, address, text)


def _where(db: Database, event: str | None, user_name: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    if event:
        clauses.append(f"event = {db.param}")
        params.append(event)
    if user_name:
        clauses.append(f"user_name = {db.param}")
        params.append(user_name)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def entries(db: Database, *, limit: int | None = 200, event: str | None = None,
            user_name: str | None = None) -> list[dict]:
    """The newest `limit` entries (every one with None), newest first."""
    where, params = _where(db, event, user_name)
    cut = "" if limit is None else f" LIMIT {int(limit)}"
    rows = db.execute_sql(f"SELECT at, user_name, event, address, detail FROM audit_log{where}"
                          f" ORDER BY id DESC{cut}", params).fetchall()
    return [{"at": str(at), "user": u, "event": e, "address": a, "detail": _read(d)} for at, u, e, a, d in rows]


def count(db: Database, *, event: str | None = None, user_name: str | None = None) -> int:
    """How many entries `entries` finds with no limit."""
    where, params = _where(db, event, user_name)
    return int(db.execute_sql(f"SELECT COUNT(*) FROM audit_log{where}", params).fetchone()[0])


def _read(stored: str | None) -> dict:
    """An event's detail as stored; one stored cut by an earlier version (not JSON any more) is
    shown as the text it is rather than failing the whole log."""
    try:
        detail = json.loads(stored or "{}")
    except ValueError:
        return {"unreadable": stored}
    return detail if isinstance(detail, dict) else {"unreadable": stored}


class ViewLedger:
    """The comment views this web worker audited, by session and page (path and query): a page
    that refreshes itself when answers arrive (a live refresh, several a minute) is not audited
    again for a view already audited here. Anything else is audited, whatever the request's
    headers say: the live header alone (which a client can send itself) skipped the audit of
    every view (a review). A refresh that reaches another worker is audited there once more:
    more rows, never fewer. Holds at most `size` views, the oldest forgotten first."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def audit_due(self, session_token: str | None, view: str, live: bool) -> bool:
        """Whether this view is to be audited; remembered as audited when it is. Without a
        session (an API call: no page refreshes itself there) always."""
        if session_token is None:
            return True
        key = (session_token, view)
        with self._lock:
            if live and key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            self._seen.move_to_end(key)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
        return True


class GroupWriter:
    """The audit events of one web worker's threads, stored by one thread in shared commits
    (group commit): `write` returns once its event is committed, as a direct INSERT would, and
    raises if the commit failed; events that arrive while a commit is under way go together in
    the next one. On SQLite each commit is an fsync under the one write lock that every worker
    and ingest share: with a comment view audited per request, 50 users' threads queued for it
    (measured under 50 users, 2 workers: an audited page's INSERT p50 17 ms, p99 244 ms)."""

    def __init__(self, db: Database, max_batch: int = 500, connections: Connections | None = None) -> None:
        self.db = db
        self.max_batch = max_batch
        # The writer's thread has a connection of its own: closed after a store failure, as the
        # requests' are (outage.py), or it would fail every event after a database restart.
        self.connections = connections or Connections(db)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()
        _writers[db] = self

    def write(self, row: tuple) -> None:
        item = _Pending(row)
        self._queue.put(item)
        item.done.wait()
        if item.error is not None:
            raise item.error

    def close(self) -> None:
        _writers.pop(self.db, None)
        self._queue.put(None)
        self._thread.join(10)

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                while len(batch) < self.max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        self._queue.put(None)          # stop after this batch
                        break
                    batch.append(item)
                error = None
                try:
                    self.connections.run(self._store, batch)
                except Exception as e:                 # each waiting request raises it
                    error = e
                for item in batch:
                    item.error = error
                    item.done.set()
        finally:
            if not self.db.is_closed():
                self.db.close()                        # this thread's connection

    def _store(self, batch: list["_Pending"]) -> None:
        with self.db.atomic():
            sql = INSERT.format(p=self.db.param)
            for item in batch:
                self.db.execute_sql(sql, item.row)


class _Pending:
    __slots__ = ("row", "done", "error")

    def __init__(self, row: tuple) -> None:
        self.row = row
        self.done = threading.Event()
        self.error: BaseException | None = None


_writers: "weakref.WeakKeyDictionary[Database, GroupWriter]" = weakref.WeakKeyDictionary()
