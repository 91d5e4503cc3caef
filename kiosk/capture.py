"""The one recording path for touch, buttons and simulation.

validate → filter → stamp (UUID, seq, UTC ms, clock_synced, boot_id, monotonic ns) → commit →
return. `Recorder.record` returns only after the commit is durable, so whoever called it may
say thank you; when the card fails (full, damaged) it raises a StoreError instead, and nobody
may. It never talks to the network and never sleeps.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from typing import Iterable
from zoneinfo import ZoneInfo

from kiosk.clock import Clock, SystemClock
from kiosk.config import KioskConfig, Question
from kiosk.exc import CaptureError
from kiosk.filters import PressFilter
from kiosk.scrub import scrub_comment
from kiosk.store import FollowUp, LocalStore, Response, insert_statement, row_values
from server_sync.protocol import FollowUpEvent, ResponseEvent, iso_ms

SOURCES = ("touch", "button", "simulate", "key")


@dataclass(frozen=True)
class Recorded:
    """What the caller learns about a committed answer."""
    id: str
    seq: int
    question_id: str
    value: int
    recorded_at: str
    filtered: str | None
    wants_followup: bool


@dataclass(frozen=True)
class RecordedFollowUp:
    id: str
    seq: int
    response_id: str
    reasons: tuple[str, ...]
    comment: str | None


_INSERT_RESPONSE = insert_statement(Response, ("source", "local_date", "local_hour"))
_INSERT_FOLLOWUP = insert_statement(FollowUp)
_NEXT_SEQ = "UPDATE sequence SET value = value + 1 WHERE name = 'event' RETURNING value"


class Recorder:
    """Records answers and follow-ups for one kiosk. Thread-safe; one per process."""

    def __init__(self, config: KioskConfig, store: LocalStore, clock: Clock | None = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock or SystemClock()
        self._tz = ZoneInfo(config.timezone)
        self._lock = threading.Lock()
        self._boot = self.clock.boot_id()
        self._filter = PressFilter(config.filters, self._recent_presses(self._boot))

    def _recent_presses(self, boot_id: str) -> Iterable[int]:
        # After a restart within the same boot the filters must remember the last minute.
        rows = self.store.db.execute_sql(
            "SELECT monotonic_ns FROM response WHERE boot_id = ? ORDER BY seq DESC LIMIT ?",
            (boot_id, max(self.config.filters.burst_per_minute, 1) + 1)).fetchall()
        return [r[0] for r in rows]

    def question(self, question_id: str) -> Question:
        try:
            return self.config.question(question_id)
        except KeyError:
            raise CaptureError(f"unknown question {question_id!r}") from None

    def record(self, question_id: str, value: int, *, language: str | None = None,
               source: str = "touch") -> Recorded:
        """Validate, filter, stamp and durably commit one answer."""
        q = self.question(question_id)
        if isinstance(value, bool) or not isinstance(value, int) or value not in q.values:
            raise CaptureError(f"value {value!r} is not on the {q.scale} scale of {q.id!r}")
        language = language or self.config.default_language
        if language not in self.config.languages:
            raise CaptureError(f"language {language!r} is not offered on this kiosk")
        if source not in SOURCES:
            raise CaptureError(f"unknown source {source!r}")

        with self._lock:
            boot = self.clock.boot_id()
            # Whether the clock is synced, read before the time (not inside the write transaction,
            # after a wait for the lock): an answer marked synced is then never stamped with a wall
            # time from before NTP stepped the clock, and its wall and monotonic readings are taken
            # together, so it can be its boot's clock anchor (kiosk.anchors; a review: a follow-up
            # that waited for the agent's write while the clock stepped was marked synced with the
            # old time, and named the anchor, moved the boot's unsynced answers by the step).
            synced = self.clock.clock_synced()
            mono = self.clock.monotonic_ns()
            if boot != self._boot:
                self._boot = boot
                self._filter.forget_since(mono)
            flag = self._filter.classify(mono, remember=False)
            now = self.clock.now()
            local = now.astimezone(self._tz)
            rid = str(uuid.uuid4())
            recorded_at = iso_ms(now)
            # The hot path talks to sqlite3 directly (peewee's per-call overhead was a third of
            # a tap's time): its statement cache keeps both statements prepared.
            con = self.store.db.connection()
            con.execute("BEGIN IMMEDIATE")
            try:
                seq = con.execute(_NEXT_SEQ).fetchone()[0]
                event = ResponseEvent(
                    id=rid, seq=seq, kiosk_id=self.config.kiosk_id, recorded_at=recorded_at,
                    clock_synced=synced, boot_id=boot, monotonic_ns=mono,
                    site_id=self.config.site_id, question_id=q.id, question_version=q.version,
                    scale=q.scale, value=value, audience=q.audience, language=language, filtered=flag)
                con.execute(_INSERT_RESPONSE, row_values(event) + (
                    source, f"{local.year:04d}-{local.month:02d}-{local.day:02d}", local.hour))
                con.execute("COMMIT")
            except BaseException as e:
                if con.in_transaction:
                    try:
                        con.execute("ROLLBACK")
                    except sqlite3.DatabaseError:
                        pass                    # the card failed; the error below says so
                failure = self.store.db.failure(e) if isinstance(e, sqlite3.DatabaseError) else None
                if failure is not None:
                    raise failure from None     # not stored: the caller must not say thank you
                raise
            self._filter.remember(mono)
        return Recorded(rid, seq, q.id, value, recorded_at, flag, q.wants_followup(value))

    def record_followup(self, response_id: str, reasons: Iterable[str] = (),
                        comment: str | None = None, *, unsent: bool = False) -> RecordedFollowUp:
        """Record why, against an answer already recorded on this kiosk. `unsent`: the customer
        did not press send (the screen saved what was chosen when they walked away)."""
        reasons = tuple(dict.fromkeys(reasons))        # de-duplicated, order kept
        db = self.store.db
        clean = scrub_comment(comment, self.config.followup.max_comment_chars,
                              names=self.config.privacy.staff_names) if comment else None
        if not reasons and not clean:
            raise CaptureError("a follow-up needs a reason or a comment")
        with self._lock:
            # Read together, the synced flag first, before any wait for the lock (as in `record`).
            synced, boot = self.clock.clock_synced(), self.clock.boot_id()
            now, mono = self.clock.now(), self.clock.monotonic_ns()
            fid = str(uuid.uuid4())
            with db.atomic("IMMEDIATE"):
                # Looked up inside the write transaction: the sync agent's retention may remove
                # the answer at any moment before it, and the insert would then fail on the
                # foreign key (a raw IntegrityError) instead of saying the answer is not here.
                row = db.execute_sql("SELECT question_id FROM response WHERE id = ?", (response_id,)).fetchone()
                if row is None:
                    raise CaptureError(f"no answer with id {response_id!r} on this kiosk")
                allowed = self._reasons_of(row[0])
                for code in reasons:
                    if code not in allowed:
                        raise CaptureError(f"reason {code!r} is not in the catalogue of question {row[0]!r}")
                if db.execute_sql("SELECT 1 FROM followup WHERE response_id = ?", (response_id,)).fetchone():
                    raise CaptureError(f"answer {response_id!r} already has a follow-up")
                seq = db.execute_sql(_NEXT_SEQ).fetchone()[0]
                db.execute_sql(_INSERT_FOLLOWUP, row_values(FollowUpEvent(
                    id=fid, seq=seq, kiosk_id=self.config.kiosk_id, recorded_at=iso_ms(now),
                    clock_synced=synced, boot_id=boot, monotonic_ns=mono, response_id=response_id,
                    reasons=list(reasons), comment=clean, unsent=unsent)))
        return RecordedFollowUp(fid, seq, response_id, reasons, clean)

    def _reasons_of(self, question_id: str) -> set[str]:
        try:
            return set(self.config.question(question_id).reasons)
        except KeyError:
            # The question was removed by a newer config; its follow-up still counts.
            return set(self.config.reasons)
