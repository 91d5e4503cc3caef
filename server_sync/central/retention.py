"""Retention and erasure in the central store: raw comments are removed after a period (default
13 months) while their reasons, scores and every rollup stay, so the analysis still adds up;
dead letters and conflicts (both hold what a kiosk sent, comments too) with their daily counts
after `dead_letters_keep_days`, audit entries after their own period, the notices' mails and
webhook deliveries once delivered or given up after `notices_keep_days`; `erase` removes the comments a search
finds (a customer asked), and the words of the search in what office users wrote about it
(central.office_text). Every run writes one `privacy_log` row with counts only: what kind of
thing was removed and how many, never the content. A comment is removed by clearing its text and
marking when (`comment_removed_at`); the follow-up row, its reasons and the answer remain.
On SQLite, an erasure that removed anything and every retention run then empty the write-ahead
log (program.sqlite_wal: it kept the text while the services held the store open); a run that
could not (a read held open throughout WAL_WAIT_S) says so, and the next retention run does it.

The periods are the centre's settings (`kiosk-central privacy set`); `kiosk-central retention
run`, started daily by a systemd timer, applies them. Never deletes an answer or a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterator, Sequence

from peewee import Database, SqliteDatabase

from server_sync.central import site_history
from server_sync.central.dialect import dialect_of, fold, reading_transaction
from server_sync.central.event_rows import as_datetime
from server_sync.central.office_text import ERASED, erase_office_text
from server_sync.central.retention_periods import PERIODS
from server_sync.central.setting import get_setting, stored_number
from server_sync.exc import CentralConfigError
from server_sync.program.sqlite_wal import empty_wal_within
from server_sync.protocol.vocabulary import MAX_COMMENT_CHARS


def period(db: Database, name: str) -> int:
    """The stored period `name`; StoredSettingError naming it when the stored value is one
    `kiosk-central privacy set` would not store (a row edited by hand)."""
    default, minimum, maximum = PERIODS[name]
    return stored_number(name, get_setting(db, name, str(default)), minimum, maximum, kind="privacy",
                         fix="kiosk-central privacy set …")


def check_period(name: str, value: int) -> int:
    _default, minimum, maximum = PERIODS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise CentralConfigError(f"{name} must be a whole number {minimum}-{maximum}, got {value!r}")
    return value


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the month's last day when it is shorter)."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    month = m + 1
    last = (date(y + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, month, min(day.day, last))


# How long an erasure or a retention run tries to empty SQLite's WAL while other connections
# read or write (each try waits for none of them: the services' commits get in between).
WAL_WAIT_S = 10.0


@dataclass
class Removed:
    """What a run removed (or would remove, in a dry run), by kind. `wal_emptied`: on SQLite,
    whether the WAL was emptied afterwards (None: not tried, nothing to empty or PostgreSQL)."""
    action: str
    counts: dict[str, int] = field(default_factory=dict)
    cutoffs: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    wal_emptied: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "counts": self.counts, "cutoffs": self.cutoffs, "dry_run": self.dry_run,
                "wal_emptied": self.wal_emptied}


def _empty_wal(db: Database, removed: Removed) -> None:
    """After the commit: the removed text out of SQLite's WAL too (module docstring)."""
    if isinstance(db, SqliteDatabase) and not removed.dry_run and not db.in_transaction():
        removed.wal_emptied = empty_wal_within(db, WAL_WAIT_S)


def _count(db: Database, sql: str, params: tuple) -> int:
    return int(db.execute_sql(f"SELECT COUNT(*) {sql}", params).fetchone()[0])


def _table_exists(db: Database, name: str) -> bool:
    return name in db.get_tables()


# The notices' queues: (kind, table, the rows done with before the cut-off: delivered or given up).
_NOTICES = (("mails", "mail_outbox", "sent_at < {p} OR gave_up_at < {p}"),
            ("webhook_deliveries", "webhook_delivery", "delivered_at < {p} OR gave_up_at < {p}"))


def apply_retention(db: Database, now: datetime, *, dry_run: bool = False, actor: str = "retention") -> Removed:
    """Remove what is past its period; one transaction, one privacy_log row (unless a dry run)."""
    today = now.date()
    p = db.param
    comments_cut = datetime.combine(months_before(today, period(db, "comments_keep_months")), datetime.min.time())
    letters_cut = now.replace(tzinfo=None) - timedelta(days=period(db, "dead_letters_keep_days"))
    audit_cut = datetime.combine(months_before(today, period(db, "audit_keep_months")), datetime.min.time())
    notices_cut = now.replace(tzinfo=None) - timedelta(days=period(db, "notices_keep_days"))
    out = Removed("retention", dry_run=dry_run, cutoffs={
        "comments_before": comments_cut.date().isoformat(), "dead_letters_before": letters_cut.isoformat(" ", "seconds"),
        "audit_before": audit_cut.date().isoformat(), "notices_before": notices_cut.isoformat(" ", "seconds")})
    with reading_transaction(db) if dry_run else db.atomic():
        where = f"FROM followup WHERE comment IS NOT NULL AND recorded_at < {p}"
        out.counts["comments"] = _count(db, where, (comments_cut,))
        out.counts["dead_letters"] = _count(db, f"FROM dead_letter WHERE received_at < {p}", (letters_cut,))
        out.counts["conflicts"] = _count(db, f"FROM conflict WHERE received_at < {p}", (letters_cut,))
        has_audit = _table_exists(db, "audit_log")
        out.counts["audit_entries"] = _count(db, f"FROM audit_log WHERE at < {p}", (audit_cut,)) if has_audit else 0
        # Done with, by either end; what waits or is being sent (claimed) stays, whatever its age.
        for kind, table, done in _NOTICES:
            out.counts[kind] = _count(db, f"FROM {table} WHERE {done.format(p=p)}", (notices_cut, notices_cut))
        if not dry_run:
            db.execute_sql(f"UPDATE followup SET comment = NULL, comment_removed_at = {p}"
                           f" WHERE comment IS NOT NULL AND recorded_at < {p}", (now.replace(tzinfo=None), comments_cut))
            db.execute_sql(f"DELETE FROM dead_letter WHERE received_at < {p}", (letters_cut,))
            # The daily counts of refused messages (central.dead_letters) go with them.
            db.execute_sql(f"DELETE FROM dead_letter_count WHERE day < {p}", (letters_cut.date().isoformat(),))
            # Conflicts keep both versions of an event, its comment too: personal data, kept as
            # long as the refused messages are (central.conflicts), with their daily counts.
            db.execute_sql(f"DELETE FROM conflict WHERE received_at < {p}", (letters_cut,))
            db.execute_sql(f"DELETE FROM conflict_count WHERE day < {p}", (letters_cut.date().isoformat(),))
            if has_audit:
                db.execute_sql(f"DELETE FROM audit_log WHERE at < {p}", (audit_cut,))
            for _kind, table, done in _NOTICES:
                db.execute_sql(f"DELETE FROM {table} WHERE {done.format(p=p)}", (notices_cut, notices_cut))
            _log(db, now, out, actor)
    # Every run, whatever it removed: an erasure's text left behind by a busy WAL goes here.
    _empty_wal(db, out)
    return out


def erase_comments(db: Database, contains: str, now: datetime, *, site: str | None = None,
                   date_from: str | None = None, date_to: str | None = None, dry_run: bool = False,
                   actor: str = "erase") -> Removed:
    """Remove the comments containing `contains` (case-insensitive), optionally of one site and
    recorded between two dates (UTC, inclusive). The log says how many, never which."""
    needle = contains.strip()
    if len(needle) < 3:
        raise CentralConfigError("--contains needs at least 3 characters (it would match too much)")
    if len(needle) > MAX_COMMENT_CHARS:      # no comment holds it (and SQLite refused the pattern)
        raise CentralConfigError(f"--contains is {len(needle)} characters; a comment holds at most "
                                 f"{MAX_COMMENT_CHARS}")
    p = db.param
    # Every letter's case ("öberg" finds "ÖBERG"), on both engines, whatever the database's locale.
    clauses = ["f.comment IS NOT NULL", f"{dialect_of(db).lower.format(text='f.comment')} LIKE {p} ESCAPE '!'"]
    params: list[Any] = ["%" + _like_escape(fold(needle)) + "%"]
    if date_from:
        clauses.append(f"f.recorded_at >= {p}")
        params.append(datetime.fromisoformat(date_from))
    if date_to:
        clauses.append(f"f.recorded_at < {p}")
        params.append(datetime.fromisoformat(date_to) + timedelta(days=1))
    where = " AND ".join(clauses)
    out = Removed("erasure", dry_run=dry_run)
    with reading_transaction(db) if dry_run else db.atomic():
        if site:
            rows = db.execute_sql(f"SELECT f.id, f.comment FROM followup f WHERE {where}"
                                  f" AND f.response_id IN (SELECT id FROM response WHERE site_id = {p})",
                                  [*params, site]).fetchall()
            rows += _unanswered_at(db, site, where, params)
        else:
            rows = db.execute_sql(f"SELECT f.id, f.comment FROM followup f WHERE {where}", params).fetchall()
        ids = [r[0] for r in rows]
        out.counts["comments"] = len(ids)
        if ids and not dry_run:
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                db.execute_sql(f"UPDATE followup SET comment = NULL, comment_removed_at = {p}"
                               f" WHERE id IN ({', '.join([p] * len(chunk))})", [now.replace(tzinfo=None), *chunk])
        # What a kiosk sent and the centre kept only for the operator to look at (a conflict's two
        # versions, a refused message) holds comments too: a message holding the words goes whole,
        # whatever the narrowing (it is kept for diagnosis, never counted).
        for kind, table, columns in (("conflicts", "conflict", "existing, incoming"), ("dead_letters", "dead_letter", "payload")):
            found = _holding(db, table, columns, needle)
            out.counts[kind] = len(found)
            if found and not dry_run:
                for i in range(0, len(found), 500):
                    chunk = found[i:i + 500]
                    db.execute_sql(f"DELETE FROM {table} WHERE id IN ({', '.join([p] * len(chunk))})", chunk)
        # A search of the web's comments for the words (to find the comment asked about) put them
        # in the audit log for its 24 months, where the erasure left them (a privacy review): the
        # entry stays (who looked, and when), the words in it go. So do the words of a search
        # that found an erased comment by a part of it ("lundqvist" for "Lisa Lundqvist").
        erased = [fold(comment) for _id, comment in rows]
        found = _searches_for(db, fold(needle), erased) if _table_exists(db, "audit_log") else []
        out.counts["audit_searches"] = len(found)
        if found and not dry_run:
            _erase_searches(db, found)
        # What office users wrote quoting the customer (an alert's comment, an action's note) and
        # the notices' copies of it: the words become ERASED wherever they stand, whatever the
        # narrowing, as the kept copies above.
        out.counts.update(erase_office_text(db, needle, dry_run=dry_run))
        if not dry_run:
            _log(db, now, out, actor)
    if any(out.counts.values()):
        _empty_wal(db, out)
    return out


def _unanswered_at(db: Database, site: str, where: str, params: list[Any]) -> list[tuple[str, str]]:
    """(id, comment) of the follow-ups found by `where` whose answer has not arrived (stored before
    it: its batch was refused or comes later) and that were recorded at `site`: their kiosk's
    site when they were recorded (site_history), as ingest decides where their answer counts."""
    p = db.param
    rows = db.execute_sql(
        f"SELECT f.id, f.comment, f.kiosk_id, f.recorded_at, f.clock_synced FROM followup f WHERE {where}"
        f" AND NOT EXISTS (SELECT 1 FROM response r WHERE r.id = f.response_id)"
        f" AND f.kiosk_id IN (SELECT id FROM kiosk WHERE site_id = {p}"
        f" UNION SELECT kiosk_id FROM kiosk_site_history WHERE site_id = {p})", [*params, site, site]).fetchall()
    kiosks: dict[str, tuple[str, list[site_history.Stay]]] = {}
    found = []
    for followup_id, comment, kiosk_id, recorded_at, synced in rows:
        if kiosk_id not in kiosks:
            (current,), = db.execute_sql(f"SELECT site_id FROM kiosk WHERE id = {p}", (kiosk_id,)).fetchall()
            kiosks[kiosk_id] = current, site_history.stays(db, kiosk_id)
        # An unsynced clock's time (or none stored) says nothing of where: any site it stood at.
        at = as_datetime(recorded_at) if synced else None
        if site_history.may_have_stood_at(site, *kiosks[kiosk_id], at):
            found.append((followup_id, comment))
    return found


def _search_detail(stored: str | None) -> dict | None:
    """An audit entry's detail when it records a search (`filters.q`), else None."""
    try:
        detail = json.loads(stored or "")
    except ValueError:
        return None
    filters = detail.get("filters") if isinstance(detail, dict) else None
    return detail if isinstance(filters, dict) and isinstance(filters.get("q"), str) else None


def _searches_for(db: Database, wanted: str, erased: Sequence[str] = ()) -> list[tuple[int, dict]]:
    """The audit entries recording a search whose text holds `wanted` (folded), or is held by one
    of the `erased` comments (folded: as the web's search found them, anywhere in the text), with
    their detail. Only the search: a page, a site id or another filter that holds the words (a
    store named Lund, a customer named Lundqvist) is what was looked at, and stays."""
    found, last = [], 0
    while True:
        rows = db.execute_sql(f"SELECT id, detail FROM audit_log WHERE id > {db.param} ORDER BY id LIMIT 1000",
                              (last,)).fetchall()
        if not rows:
            return found
        for entry_id, stored in rows:
            detail = _search_detail(stored)
            if detail is not None and _searched_for(fold(detail["filters"]["q"]), wanted, erased):
                found.append((entry_id, detail))
        last = rows[-1][0]


def _searched_for(searched: str, wanted: str, erased: Sequence[str]) -> bool:
    """A search's text (folded) holds the words erased, or found an erased comment: it is a part
    of one. An empty search (the whole list) is none."""
    return wanted in searched or (bool(searched.strip()) and any(searched in comment for comment in erased))


def _erase_searches(db: Database, found: list[tuple[int, dict]]) -> None:
    for entry_id, detail in found:
        kept = dict(detail, filters=dict(detail["filters"], q=ERASED))
        db.execute_sql(f"UPDATE audit_log SET detail = {db.param} WHERE id = {db.param}",
                       (json.dumps(kept, ensure_ascii=False, sort_keys=True), entry_id))


def _holding(db: Database, table: str, columns: str, needle: str) -> list[int]:
    """The ids of the rows of `table` whose `columns` hold `needle`, in lower case as the comments
    are searched (dialect.fold, every alphabet's), as sent or with the JSON's escapes read. In Python: a hostile message may escape
    what SQL's LIKE would look for, and there are few such rows (each kept within a daily room)."""
    wanted = fold(needle)
    found: list[int] = []
    last = 0
    while True:
        rows = db.execute_sql(f"SELECT id, {columns} FROM {table} WHERE id > {db.param} ORDER BY id LIMIT 1000",
                              (last,)).fetchall()
        if not rows:
            return found
        found += [row[0] for row in rows if any(_holds(raw, wanted) for raw in row[1:])]
        last = rows[-1][0]


def _holds(raw: Any, wanted: str) -> bool:
    text = bytes(raw).decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray, memoryview)) else str(raw)
    if wanted in fold(text):
        return True
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return any(wanted in fold(s) for s in _strings(data))


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield key
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


def _like_escape(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _log(db: Database, now: datetime, removed: Removed, actor: str) -> None:
    p = db.param
    db.execute_sql(f"INSERT INTO privacy_log (at, action, actor, counts) VALUES ({p}, {p}, {p}, {p})",
                   (now.replace(tzinfo=None), removed.action, actor, json.dumps(removed.counts, sort_keys=True)))


def privacy_log(db: Database, limit: int = 50) -> list[dict[str, Any]]:
    rows = db.execute_sql(f"SELECT at, action, actor, counts FROM privacy_log ORDER BY id DESC LIMIT {int(limit)}").fetchall()
    return [{"at": str(at), "action": action, "actor": actor, "counts": json.loads(counts)}
            for at, action, actor, counts in rows]
