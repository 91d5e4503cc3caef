"""The one way kiosk events enter the central store: exactly once, one transaction per batch.

Both the MQTT ingest (`server_sync.ingest`) and `kiosk-central import` hand validated events
(`server_sync.protocol.validate_event`) to `Intake.accept`, which inside one transaction:
- checks the kiosk is registered and active and every answer names the kiosk's registered site,
  or one it was registered at when the answer was recorded (`site_history`: a moved kiosk still
  delivers what it recorded at the old store, counted there), by its best known time (an unsynced
  clock's corrected as below; with no synced event of its boot known, any site it stood at);
- checks answers against the centre's question definitions (`central.questions`: a kiosk's
  answers never define a question; one that disagrees is refused for that kiosk alone);
- takes a follow-up only for an answer of its own kiosk, and one per answer (a later one is a
  conflict);
- dedupes on the event id: an identical re-send is a duplicate, the same id with other content
  is recorded in `conflict` (once per distinct content), never an overwrite;
- corrects times recorded before the kiosk's clock synced from a synced event of the same boot,
  or the clock anchor the batch names for it (`Batch.anchors`: every batch holding a boot's
  unsynced answers names it, so however the kiosk split them they are judged alike), kept in
  `clock_anchor`, in both directions, moving rollup counts along;
- sets aside (`response.excluded`, stored, not counted) an answer recorded at the kiosk's site
  since it was placed there and before its installation day (`central.installation`: a tryout),
  by the best known time;
- inserts new answers and follow-ups in bulk and updates the rollups in the same transaction.

Group commit: inside `Intake.group(lock_names)` several batches share ONE transaction (one
durable commit); each `accept` then runs in its own SAVEPOINT, so a refused batch rolls back
alone, and the rollup deltas of the group (hourly and reasons) are summed and written once, in
key order, just before the commit.

A refusal raises `ProtocolError(reason)` before anything is committed; the caller dead-letters.
`EventsRefused` (a ProtocolError) names the events that re-sending as they are cannot change (an
answer for another site than the kiosk's, one that disagrees with its question's definition, a
follow-up to another kiosk's answer): the kiosk holds them, shows them and stops sending them.
An unknown or deactivated kiosk is a plain ProtocolError (`KioskDeactivated`): registering the
kiosk lets its re-sends through.
This module must never commit part of a batch, overwrite a stored event, or talk to MQTT.
"""

from __future__ import annotations

import json
import logging
from collections import ChainMap, Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.central import conflicts, dead_letters, installation, questions, rollups, site_history, speedups, twins
from server_sync.central.registry import KioskDeactivated
from server_sync.central.dialect import (StoredAlready, execute_many, group_transaction, in_list, insert_ignore,
                                         insert_new, insert_rows, placeholders, time_param, writer_transaction)
from server_sync.central.event_rows import (FOLLOWUP_COLUMNS, FOLLOWUP_WIRE, RESPONSE_COLUMNS, RESPONSE_WIRE,
                                            R, as_datetime, canonical, stored_wire, wire_of, wire_row)
from server_sync.protocol import (EARLIEST, FUTURE_SLACK, Anchor, Batch, Event, EventsRefused, FollowUpEvent,
                                  ProtocolError, ResponseEvent)

log = logging.getLogger("kundpuls.intake")
# Beside a stored follow-up's wire form when the centre removed its comment (an erasure, or
# retention): when. A re-send of that follow-up is compared, and kept as a conflict, without the
# removed text (`_as_stored`).
REMOVED = "comment_removed_at"

SYNCED, CORRECTED, UNCORRECTED = "synced", "corrected", "uncorrected"


def kiosk_lock(kiosk_id: str) -> str:
    """The writer lock a kiosk's batches are stored under: one at a time per kiosk, whichever
    ingestor has them; a site's new time zone takes those of the kiosks writing its answers."""
    return f"kiosk:{kiosk_id}"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def naive_utc(dt: datetime) -> datetime:
    """Aware -> naive UTC, the form the store keeps."""
    if dt.tzinfo is None:
        return dt
    if dt.tzinfo is not timezone.utc:          # decoded wire times are already UTC: skip the maths
        dt = dt.astimezone(timezone.utc)
    return dt.replace(tzinfo=None)


@dataclass
class Accepted:
    """What one accepted batch did; `seqs` are all its events, now committed centrally."""
    kiosk_id: str
    site_id: str
    batch_id: str
    seqs: list[int] = field(default_factory=list)
    new: int = 0
    duplicates: int = 0
    conflicts: int = 0
    corrected: int = 0          # earlier stored events corrected by an anchor in this batch
    former_sites: set[str] = field(default_factory=set)   # sites it has left that answers name (site_history)

    @property
    def changed_sites(self) -> set[str]:
        return {self.site_id} | self.former_sites if self.new or self.corrected else set()


@dataclass
class _Group:
    """What a group transaction keeps until its commit: summed rollup deltas of the batches
    accepted so far, the questions they registered (cached only once committed), and the site
    time zones read inside this transaction."""
    rollup: Counter = field(default_factory=Counter)
    reasons: dict[tuple, list[int]] = field(default_factory=dict)
    questions: dict[questions.Key, questions.Entry] = field(default_factory=dict)
    questions_checked: bool = False                          # the register's stamp, read once
    zones: dict[str, ZoneInfo] = field(default_factory=dict)
    locks: frozenset[str] = frozenset()                      # writer locks held since the start
    anchors: dict[tuple[str, str], "_Anchor"] = field(default_factory=dict)   # (kiosk, boot): stored
    sites: dict[str, "_Registration"] = field(default_factory=dict)      # registered, active kiosk -> it
    refusals: dead_letters.Pending = field(default_factory=dict)  # counted, written once at the end


@dataclass(frozen=True)
class _Registration:
    """What ingest reads of a registered, active kiosk: its site, its installation day, and since
    when it stands there (`installation.PLACED_SQL`, naive UTC)."""
    site_id: str
    installs_on: str | None
    since: datetime | None


@dataclass(frozen=True)
class _Tryouts:
    """When an answer of the batch's kiosk is a tryout (`central.installation`): at its registered
    site, recorded since it was placed there (`since`) and before `until`. At a site it has left,
    or before its placement, what was decided then stays (a new answer: none)."""
    site_id: str
    since: datetime | None
    until: datetime | None

    def at(self, site_id: str) -> "_Tryouts | None":
        """Self for answers at `site_id` that can be tryouts; None when none can."""
        return self if site_id == self.site_id and self.until is not None else None

    def excluded(self, site_id: str, recorded_at: datetime, stored: str | None = None,
                 was_at: datetime | None = None) -> str | None:
        """`response.excluded` of an answer at `site_id` recorded at `recorded_at` (naive UTC), as
        `central.tryouts` decides it; `stored`: what it was, when it was stored as recorded at
        `was_at` (a time correction)."""
        if site_id != self.site_id:
            return stored
        if installation.decides(recorded_at, self.since):
            return installation.excluded(recorded_at, self.until)
        # Before the placement: what was decided then stays, but one the day decided by a time it
        # was wrongly stored at is decided as a new answer at its true time would be: it counts.
        return None if was_at is not None and installation.decides(was_at, self.since) else stored


@dataclass(frozen=True)
class _Anchor:
    recorded_at: datetime       # naive UTC wall time of a synced event
    monotonic_ns: int

    def correct(self, monotonic_ns: int) -> datetime:
        t = self.recorded_at + timedelta(microseconds=(monotonic_ns - self.monotonic_ns) // 1000)
        return t.replace(microsecond=t.microsecond // 1000 * 1000)


class Intake:
    """Accepts batches of validated events into the central store bound to `db`."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self.db = db
        self.clock = clock
        self._ts = time_param(db)
        # The question register as read (committed entries only, the most recently used), dropped
        # whenever the centre's definitions changed (checked once per transaction): a definition
        # is in force at once.
        self._questions = questions.Cache()
        self._questions_stamp: tuple | None = None
        self._group: _Group | None = None

    @contextmanager
    def group(self, lock_names: Sequence[str]) -> Iterator[None]:
        """One transaction for several `accept` / `record_status` / `dead_letter` calls, holding
        the writer locks `lock_names` ("kiosk:ID", "status:ID") from the start. Commits when the
        block ends; an exception rolls the whole group back (and caches nothing)."""
        if self._group is not None:
            raise RuntimeError("Intake.group does not nest")
        self._group = group = _Group(locks=frozenset(lock_names))
        try:
            with group_transaction(self.db, lock_names):
                yield
                rollups.write(self.db, group.rollup)
                rollups.write_reasons(self.db, group.reasons)
                dead_letters.write_counts(self.db, group.refusals)
        finally:
            self._group = None
        self._questions.update(group.questions)                  # committed: now cache them

    def _zones(self) -> dict[str, ZoneInfo]:
        """Site time zones already read in this transaction (a group's; else a fresh cache)."""
        return self._group.zones if self._group is not None else {}

    # --- the batch path ------------------------------------------------------------------------

    def accept(self, batch: Batch, received_at: datetime | None = None) -> Accepted:
        """Commit `batch` (all of it, or nothing); raise ProtocolError when it must be refused."""
        try:
            return self._accept(batch, received_at, direct=True)
        except StoredAlready:
            # PostgreSQL: events of the batch are stored already (a re-send); the attempt was
            # rolled back with its savepoint. Again, sorting them out row by row.
            return self._accept(batch, received_at, direct=False)

    def _accept(self, batch: Batch, received_at: datetime | None, *, direct: bool) -> Accepted:
        received = naive_utc(received_at or self.clock())
        staged_questions: dict[questions.Key, questions.Entry] = {}
        delta: Counter = Counter()                  # this batch's hourly rollup changes
        reason_delta: dict[tuple, list[int]] = {}   # and its reason rollup changes
        with self._writer(kiosk_lock(batch.kiosk_id)):
            kiosk = self._registration(batch.kiosk_id)
            site_id = kiosk.site_id
            result = Accepted(batch.kiosk_id, site_id, batch.batch_id, [e.seq for e in batch.events])
            responses = [e for e in batch.events if e.type == "response"]
            followups = [e for e in batch.events if e.type == "followup"] if len(responses) < len(batch.events) else []
            # The boots' anchors before anything else: an answer naming a former site is judged
            # by its best known time (read here, stored below once the batch passes).
            anchors, new_anchors = self._anchors(batch.kiosk_id, batch.events, batch.anchors)
            def when(e: ResponseEvent) -> datetime | None:
                return self._known_time(e, anchors, received)

            wrong, former = site_history.elsewhere(self.db, batch.kiosk_id, site_id, responses, when)
            if wrong:
                # Named back to the kiosk (held and shown there, not re-sent forever): the kiosk's
                # config names another site than its registration, then and now.
                reason = site_history.refusal(batch.kiosk_id, site_id, wrong[0].site_id, former, when(wrong[0]))
                raise EventsRefused(f"event {wrong[0].id}: {reason}", batch.batch_id, [e.seq for e in wrong])
            # Answers recorded at a site the kiosk has since left count there (site_history).
            sites = sorted({site_id} | {e.site_id for e in responses}) if former else [site_id]
            result.former_sites = set(sites) - {site_id}
            staged_questions = questions.check_answers(self.db, responses, self._known_questions(),
                                                       received, batch.batch_id, batch.kiosk_id)
            followups, later = self._own_followups(batch, responses, followups)

            until = installation.tryout_until(kiosk.installs_on, rollups.site_timezones(
                self.db, [site_id], self._zones())[site_id]) if kiosk.installs_on else None
            tryouts = _Tryouts(site_id, kiosk.since, until)
            new_boots = self._store_anchors(batch.kiosk_id, new_anchors)
            if new_boots:
                result.corrected = self._correct_stored(batch.kiosk_id, new_boots, anchors, received, delta,
                                                        reason_delta, tryouts)

            # Insert first (ids already stored, in either table, are skipped by the database);
            # only what did not go in is read back and compared: duplicate or conflict.
            # As text on both engines (what time_param writes on SQLite; PostgreSQL's COPY reads
            # it as the same TIMESTAMP): converted once, not once per row.
            received_s = received.isoformat(" ")
            zones = rollups.site_timezones(self.db, sites, self._zones())
            parts = self._site_rows(responses, sites, zones, anchors, received, received_s, batch.batch_id, tryouts)
            rows = [row for _, site_rows, _ in parts for row in site_rows]
            rid = R["id"]
            clash, explained = self._followup_links([r[rid] for r in rows])
            inserted = insert_new(self.db, "response", RESPONSE_COLUMNS,
                                  [r for r in rows if r[rid] not in clash] if clash else rows, "id", direct=direct)
            # Two devices answering as this kiosk (a copied card): the fleet flags it (twins).
            twins.record(self.db, batch.kiosk_id, [(r[R["seq"]], r[R["boot_id"]]) for r in rows if r[rid] in inserted],
                         [r[R["seq"]] for r in rows if r[rid] not in clash], received, self._ts)
            # The new answers in the hourly rollup (the time zone maths once per distinct key).
            for at_site, site_rows, minutes in parts:
                new_rows = None if len(inserted) == len(rows) else [r[rid] in inserted for r in site_rows]
                rollups.count_hours(self.db, speedups.hourly_answer_counts(at_site, batch.kiosk_id, site_rows,
                                                                           minutes, new_rows),
                                    into=delta, zones=zones)
            # Follow-ups stored before their answer arrived count for the reasons only now.
            answered = sorted(explained & inserted)
            if answered:
                self._evict_foreign_pending(batch.kiosk_id, answered, received)
                rollups.count_reasons(self.db, rollups.followup_reasons(self.db, answered), into=reason_delta,
                                      zones=self._zones())
                execute_many(self.db, f"DELETE FROM followup_pending WHERE response_id = {self.db.param}",
                             [(a,) for a in answered])
                self._copy_answer_times(answered)

            answered_at = self._answer_times(sorted({e.response_id for e in followups}))
            frows = [self._followup_row(e, self._time(e, anchors, received), received_s, answered_at.get(e.response_id))
                     for e in followups]
            finserted = insert_new(self.db, "followup", FOLLOWUP_COLUMNS, frows, "id", ("response",), direct=direct)
            new_followups = [e for e in followups if e.id in finserted]
            insert_rows(self.db, "followup_reason", ("followup_id", "response_id", "reason"),
                        [(e.id, e.response_id, r) for e in new_followups for r in e.reasons])
            stored_answers: set[str] = set()
            rollups.count_reasons(self.db, [{"response_id": e.response_id, "reasons": list(e.reasons)}
                                            for e in new_followups], into=reason_delta, zones=self._zones(),
                                  found=stored_answers)
            # Those whose answer is not stored yet are counted when it comes (see above), and only
            # if it is their own kiosk's (_evict_foreign_pending).
            insert_ignore(self.db, "followup_pending", ("response_id", "followup_id"),
                          [(e.response_id, e.id) for e in new_followups if e.response_id not in stored_answers])

            result.new = len(inserted) + len(finserted)
            held = {e.id for e, _ in later}
            known = [e for e in batch.events if e.id not in inserted and e.id not in finserted and e.id not in held]
            stored = self._stored(known)
            clashes = list(later)
            for e in known:
                existing = stored.get(e.id)
                if existing is None:
                    raise RuntimeError(f"event {e.id} neither inserted nor found")
                if existing == self._as_stored(e, existing):
                    result.duplicates += 1
                else:
                    clashes.append((e, existing))
            result.conflicts = self._record_conflicts(batch.kiosk_id, clashes, received)
            if self._group is None:
                rollups.write(self.db, delta)
                rollups.write_reasons(self.db, reason_delta)
        if self._group is None:
            self._questions.update(staged_questions)      # only once committed
        else:                                             # its savepoint is released: the group's now
            self._group.rollup.update(delta)
            for key, d in reason_delta.items():
                acc = self._group.reasons.setdefault(key, [0, 0, 0])
                for i in range(3):
                    acc[i] += d[i]
            self._group.questions.update(staged_questions)
            # Stored now (read, or inserted by this batch): later batches of the group need not look.
            self._group.anchors.update(((batch.kiosk_id, boot), a) for boot, a in anchors.items())
        return result

    def _writer(self, lock_name: str):
        """The transaction of one message: inside a group that holds its lock already, just a
        savepoint (on PostgreSQL a statement less per message); else `writer_transaction`."""
        if self._group is not None and lock_name in self._group.locks:
            return self.db.atomic()
        return writer_transaction(self.db, lock_name)

    def _registration(self, kiosk_id: str) -> _Registration:
        """A registered, active kiosk (read once per group transaction, under the kiosk's writer
        lock, which a change of its day or placement takes too)."""
        if self._group is not None and kiosk_id in self._group.sites:
            return self._group.sites[kiosk_id]
        row = self.db.execute_sql(f"SELECT k.site_id, k.active, k.installs_on, {installation.PLACED_SQL}"
                                  f" FROM kiosk k WHERE k.id = {self.db.param}", (kiosk_id,)).fetchone()
        if row is None:
            raise ProtocolError(f"unknown kiosk {kiosk_id!r}: not registered (kiosk-central kiosk add)")
        if not row[1]:
            raise KioskDeactivated(f"kiosk {kiosk_id!r} is deactivated (kiosk-central kiosk deactivate)")
        found = _Registration(row[0], row[2], None if row[3] is None else as_datetime(row[3]))
        if self._group is not None:
            self._group.sites[kiosk_id] = found
        return found

    def _known_questions(self) -> Mapping[questions.Key, questions.Entry]:
        """The register's entries cached so far, dropped when the definitions changed."""
        if self._group is None or not self._group.questions_checked:
            stamp = questions.stamp(self.db)
            if stamp != self._questions_stamp:
                self._questions.clear()
                self._questions_stamp = stamp
            if self._group is not None:
                self._group.questions_checked = True
        # A view, not a copy: the cache may hold thousands of entries, a batch needs a few.
        return self._questions if self._group is None else ChainMap(self._group.questions, self._questions)

    def _own_followups(self, batch: Batch, responses: Sequence[ResponseEvent],
                       followups: Sequence[FollowUpEvent]) -> tuple[list[FollowUpEvent], list[tuple[Event, dict]]]:
        """A follow-up belongs to an answer of its own kiosk, one per answer. Returns the batch's
        follow-ups to store and the later ones for an answer that has one (conflicts: (event,
        the stored or earlier follow-up's wire form)); raises EventsRefused naming those whose
        answer is another kiosk's."""
        if not followups:
            return [], []
        p = self.db.param
        answer_ids = sorted({f.response_id for f in followups})
        owner = {e.id: batch.kiosk_id for e in responses}
        elsewhere = [a for a in answer_ids if a not in owner]    # mostly none: an answer and its why travel together
        if elsewhere:
            where, params = in_list(self.db, "id", elsewhere)
            owner.update(self.db.execute_sql(f"SELECT id, kiosk_id FROM response WHERE {where}", params).fetchall())
        foreign = [f for f in followups if owner.get(f.response_id, batch.kiosk_id) != batch.kiosk_id]
        if foreign:
            raise EventsRefused(f"event {foreign[0].id}: a follow-up to answer {foreign[0].response_id}, which is "
                                f"another kiosk's", batch.batch_id, [f.seq for f in foreign])
        where, params = in_list(self.db, "response_id", answer_ids)
        first: dict[str, str] = {}                # answer id -> the id of its first follow-up (this kiosk's)
        for fid, rid in self.db.execute_sql(
                f"SELECT id, response_id FROM followup WHERE {where} AND kiosk_id = {p} ORDER BY received_at, seq",
                params + [batch.kiosk_id]).fetchall():
            first.setdefault(rid, fid)
        stored = self._stored_by_id(sorted(set(first.values())))
        keep: list[FollowUpEvent] = []
        later: list[tuple[Event, dict]] = []
        for f in followups:
            fid = first.setdefault(f.response_id, f.id)
            if fid == f.id:                           # the first (or a re-send of it: dedupe decides)
                keep.append(f)
            else:
                ahead = stored.get(fid) or next({"type": g.type, **wire_of(g)} for g in keep if g.id == fid)
                later.append((f, ahead))
        return keep, later

    def _evict_foreign_pending(self, kiosk_id: str, answered: Sequence[str], received: datetime) -> None:
        """Follow-ups stored before their answer came, by another kiosk than the answer's: never
        counted, moved to `conflict` (their answer as `existing`), removed. (Answer ids are random
        UUIDs made at the tap, so this takes a kiosk that learnt another's ids in advance.)"""
        p = self.db.param
        where, params = in_list(self.db, "f.response_id", list(answered))
        ids = [r[0] for r in self.db.execute_sql(
            f"SELECT f.id FROM followup f WHERE {where} AND f.kiosk_id <> {p}", params + [kiosk_id]).fetchall()]
        if not ids:
            return
        stored = self._stored_by_id(ids)
        answers = self._stored_by_id(sorted({f["response_id"] for f in stored.values()}))
        by_kiosk: dict[str, list[conflicts.Row]] = {}
        for fid, f in stored.items():        # counted (and kept within its day's room) as its kiosk's
            by_kiosk.setdefault(f["kiosk_id"], []).append((fid, canonical(answers[f["response_id"]]), canonical(f)))
        for other, rows in sorted(by_kiosk.items()):
            conflicts.record(self.db, other, rows, received)
        for table, column in (("followup_reason", "followup_id"), ("followup_pending", "followup_id"),
                              ("followup", "id")):
            execute_many(self.db, f"DELETE FROM {table} WHERE {column} = {p}", [(fid,) for fid in ids])
        log.warning("kiosk %s: %d follow-ups of other kiosks to its answers removed (recorded as conflicts)",
                    kiosk_id, len(ids))

    def _stored(self, events: Iterable[Event]) -> dict[str, dict[str, Any]]:
        """Events already in the store (either table), by id, in wire form for comparison."""
        return self._stored_by_id(sorted({e.id for e in events}))

    def _stored_by_id(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored events by id, in wire form; a follow-up whose comment the centre removed
        (an erasure, or retention) also says when, under REMOVED."""
        if not ids:
            return {}
        out: dict[str, dict[str, Any]] = {}
        where, params = in_list(self.db, "id", ids)
        for row in self.db.execute_sql(f"SELECT {', '.join(RESPONSE_WIRE)} FROM response WHERE {where}",
                                       params).fetchall():
            out[row[0]] = {"type": ResponseEvent.type, **stored_wire(ResponseEvent, row)}
        for *row, removed_at in self.db.execute_sql(
                f"SELECT {', '.join(FOLLOWUP_WIRE)}, comment_removed_at FROM followup WHERE {where}",
                params).fetchall():
            wire = {"type": FollowUpEvent.type, **stored_wire(FollowUpEvent, row)}
            if removed_at is not None:
                wire[REMOVED] = str(removed_at)
            out[row[0]] = wire
        return out

    @staticmethod
    def _as_stored(e: Event, existing: Mapping[str, Any]) -> dict[str, Any]:
        """`e` in wire form, as the store would hold it beside `existing`: a comment the centre
        removed stays removed, so a kiosk (or an import of its export) sending it again is a
        duplicate if nothing else differs, and a conflict never keeps the removed text."""
        wire = {"type": e.type, **wire_of(e)}
        if REMOVED in existing and existing.get("id") == e.id:      # the same follow-up, not a later one
            wire.update(comment=existing["comment"], **{REMOVED: existing[REMOVED]})
        return wire

    # --- time correction -----------------------------------------------------------------------

    def _anchors(self, kiosk_id: str, events: Sequence[Event],
                 told: Sequence[Anchor] = ()) -> tuple[dict[str, _Anchor], dict[str, _Anchor]]:
        """Anchors of the batch's boots (stored, or new: the earliest of its synced events and the
        anchors it names, `told`), and which are new (`_store_anchors`). A boot with a stored
        anchor keeps it, so re-sent events and anchors never make another. Reads only."""
        boots = sorted({e.boot_id for e in events})
        p = self.db.param
        known = self._group.anchors if self._group is not None else {}
        anchors = {boot: known[(kiosk_id, boot)] for boot in boots if (kiosk_id, boot) in known}
        missing = [boot for boot in boots if boot not in anchors]
        if missing:
            where, params = in_list(self.db, "boot_id", missing)
            anchors.update((boot, _Anchor(as_datetime(at), mono)) for boot, at, mono in self.db.execute_sql(
                f"SELECT boot_id, recorded_at, monotonic_ns FROM clock_anchor WHERE kiosk_id = {p} AND {where}",
                [kiosk_id, *params]).fetchall())
        new: dict[str, _Anchor] = {}
        pending = set(missing) - anchors.keys()          # mostly none: the boot's anchor is stored
        if not pending:
            return anchors, new
        # The earliest synced reading of each boot: nearest the unsynced ones. A named anchor of a
        # boot the batch holds nothing of is not kept (nothing here needs it).
        readings = [(e.boot_id, e.monotonic_ns, e.recorded_at) for e in events if e.clock_synced]
        readings += [(a.boot_id, a.monotonic_ns, a.recorded_at) for a in told]
        for boot, mono, at in readings:
            if boot in pending and (boot not in new or mono < new[boot].monotonic_ns):
                new[boot] = _Anchor(naive_utc(datetime.fromisoformat(at)), mono)
        anchors.update(new)
        return anchors, new

    def _store_anchors(self, kiosk_id: str, new: Mapping[str, _Anchor]) -> list[str]:
        """Store the new anchors `_anchors` found; returns their boots."""
        insert_ignore(self.db, "clock_anchor", ("kiosk_id", "boot_id", "recorded_at", "monotonic_ns"),
                      [(kiosk_id, b, self._ts(a.recorded_at), a.monotonic_ns) for b, a in sorted(new.items())])
        return sorted(new)

    def _time(self, e: Event, anchors: Mapping[str, _Anchor],
              received: datetime) -> tuple[datetime, str, datetime]:
        """(best known time, time_status, what the kiosk's clock said), naive UTC."""
        kiosk_time = e.recorded.replace(tzinfo=None)          # decoded wire times are UTC
        if e.clock_synced:
            return kiosk_time, SYNCED, kiosk_time
        anchor = anchors.get(e.boot_id)
        if anchor is not None:
            t = anchor.correct(e.monotonic_ns)
            if _plausible(t, received):
                return t, CORRECTED, kiosk_time
        return kiosk_time, UNCORRECTED, kiosk_time

    def _known_time(self, e: ResponseEvent, anchors: Mapping[str, _Anchor], received: datetime) -> datetime | None:
        """When `e` was recorded as far as the centre can tell (naive UTC): its synced clock's time,
        or its unsynced clock's corrected by its boot's anchor; None when neither (`site_history`)."""
        best, status, _kiosk_time = self._time(e, anchors, received)
        return None if status == UNCORRECTED else best

    def _correct_stored(self, kiosk_id: str, boots: Sequence[str], anchors: Mapping[str, _Anchor],
                        received: datetime, delta: Counter, reason_delta: dict, tryouts: _Tryouts) -> int:
        """Correct stored uncorrected events of these boots; move their rollup counts along. An
        answer is a tryout or not by its corrected time (`tryouts`)."""
        p = self.db.param
        in_boots, boot_params = in_list(self.db, "boot_id", boots)
        where = f"kiosk_id = {p} AND {in_boots} AND time_status = {p}"
        params = [kiosk_id, *boot_params, UNCORRECTED]
        cols = ("id", "site_id", "kiosk_id", "question_id", "audience", "scale", "value", "filtered", "excluded",
                "recorded_at", "boot_id", "monotonic_ns")
        old = [dict(zip(cols, r)) for r in self.db.execute_sql(
            f"SELECT {', '.join(cols)} FROM response WHERE {where}", params).fetchall()]
        moved = []
        for r in old:
            r["recorded_at"] = as_datetime(r["recorded_at"])
            t = anchors[r["boot_id"]].correct(r["monotonic_ns"])
            if _plausible(t, received):
                moved.append((r, dict(r, recorded_at=t,
                                      excluded=tryouts.excluded(r["site_id"], t, r["excluded"], r["recorded_at"]))))
        if moved:
            ids = [r["id"] for r, _ in moved]
            reasons = rollups.followup_reasons(self.db, ids)
            rollups.count(self.db, [r for r, _ in moved], sign=-1, into=delta, zones=self._zones())
            rollups.count_reasons(self.db, reasons, sign=-1, into=reason_delta, zones=self._zones())
            execute_many(self.db, f"UPDATE response SET recorded_at = {p}, time_status = {p}, excluded = {p}"
                         f" WHERE id = {p}",
                         [(self._ts(new["recorded_at"]), CORRECTED, new["excluded"], new["id"]) for _, new in moved])
            self._copy_answer_times(ids)
            rollups.count(self.db, [new for _, new in moved], into=delta, zones=self._zones())
            rollups.count_reasons(self.db, reasons, into=reason_delta, zones=self._zones())
        fold = [(fid, at, boot, mono) for fid, at, boot, mono in self.db.execute_sql(
            f"SELECT id, recorded_at, boot_id, monotonic_ns FROM followup WHERE {where}", params).fetchall()]
        fmoved = [(anchors[boot].correct(mono), fid) for fid, _at, boot, mono in fold]
        fmoved = [(self._ts(t), CORRECTED, fid) for t, fid in fmoved if _plausible(t, received)]
        if fmoved:
            execute_many(self.db, f"UPDATE followup SET recorded_at = {p}, time_status = {p} WHERE id = {p}", fmoved)
        if moved or fmoved:
            log.info("kiosk %s: corrected %d answers and %d follow-ups recorded before its clock synced",
                     kiosk_id, len(moved), len(fmoved))
        return len(moved) + len(fmoved)

    def _followup_links(self, ids: Sequence[str]) -> tuple[set[str], set[str]]:
        """Of these answer ids, in one statement: the ids a stored follow-up has (ids are unique
        across event types: such an answer is a conflict, never inserted), and the answers that
        pending follow-ups explain (stored before their answer; `followup_pending`)."""
        clash: set[str] = set()
        explained: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            by_id, params = in_list(self.db, "id", chunk)
            by_answer, _ = in_list(self.db, "response_id", chunk)
            for kind, eid in self.db.execute_sql(
                    f"SELECT 'f', id FROM followup WHERE {by_id} UNION ALL"
                    f" SELECT 'p', response_id FROM followup_pending WHERE {by_answer}", params + params).fetchall():
                (clash if kind == "f" else explained).add(eid)
        return clash, explained

    # --- rows ------------------------------------------------------------------------------------

    def _site_rows(self, responses: Sequence[ResponseEvent], sites: Sequence[str], zones: Mapping[str, ZoneInfo],
                   anchors: Mapping[str, _Anchor], received: datetime, received_s: Any,
                   batch_id: str, tryouts: _Tryouts) -> list[tuple[str, list[list], list[str]]]:
        """(site, its `response` rows, their minutes) for each site the batch's answers name: the
        registered one, and a former one for answers recorded there (`_response_rows`)."""
        if len(sites) == 1:                         # the common batch: no split
            return [(sites[0], *self._response_rows(responses, zones[sites[0]], anchors, received, received_s,
                                                    batch_id, tryouts.at(sites[0])))]
        return [(site, *self._response_rows([e for e in responses if e.site_id == site], zones[site], anchors,
                                             received, received_s, batch_id, tryouts.at(site)))
                for site in sites]

    def _response_rows(self, responses: Sequence[ResponseEvent], zone: ZoneInfo, anchors: Mapping[str, _Anchor],
                       received: datetime, received_s: Any, batch_id: str,
                       tryouts: "_Tryouts | None") -> tuple[list[list], list[str]]:
        """The `response` rows of a batch (RESPONSE_COLUMNS order) and each one's UTC minute
        ("YYYY-MM-DDTHH:MM", `rollups.minute_key`, which the rollups bucket by the site-local
        hour in `zone`), as the first minute of its local hour inside its UTC hour
        (`speedups.local_hour_minute`: the count keeps at most two keys an hour). Runs once per
        answer at the centre, so the common case, a synced clock, takes its times straight from
        the wire text. `tryouts`: when answers at this site are tryouts (None: never)."""
        rows: list[list] = []
        minutes: list[str] = []
        kiosk_time = R["recorded_at"]
        splits: dict[str, int | None] = {}
        for e in responses:
            row = wire_row(e)
            excluded = None
            if e.clock_synced:
                best, status = row[kiosk_time], SYNCED
                minute = speedups.local_hour_minute(e.recorded_at[:16], zone, splits)
                if tryouts is not None:
                    excluded = tryouts.excluded(tryouts.site_id, naive_utc(e.recorded))
            else:
                best_t, status, kiosk_t = self._time(e, anchors, received)
                best = row[kiosk_time] if best_t is kiosk_t else self._ts(best_t)
                minute = speedups.local_hour_minute(rollups.minute_key(best_t), zone, splits)
                if tryouts is not None:
                    excluded = tryouts.excluded(tryouts.site_id, best_t)
            row += (best, status, received_s, batch_id, excluded)
            rows.append(row)
            minutes.append(minute)
        return rows, minutes

    def _followup_row(self, e: FollowUpEvent, time: tuple[datetime, str, datetime], received: Any,
                      answered_at: Any) -> list:
        best, status, _kiosk_time = time
        return wire_row(e) + [self._ts(best), status, received, answered_at]

    def _answer_times(self, response_ids: Sequence[str]) -> dict[str, Any]:
        """The stored answers' `recorded_at` as stored, by id: what their follow-ups' `answered_at`
        copies (m0054: the comments page reads a comment's day and order by it)."""
        out: dict[str, Any] = {}
        for i in range(0, len(response_ids), 500):
            where, params = in_list(self.db, "id", response_ids[i:i + 500])
            out.update(self.db.execute_sql(f"SELECT id, recorded_at FROM response WHERE {where}", params).fetchall())
        return out

    def _copy_answer_times(self, response_ids: Sequence[str]) -> None:
        """Copy these answers' `recorded_at` to their follow-ups' `answered_at` again: the answer
        came after its follow-up, or its time was corrected."""
        execute_many(self.db, "UPDATE followup SET answered_at = (SELECT r.recorded_at FROM response r"
                     f" WHERE r.id = followup.response_id) WHERE response_id = {self.db.param}",
                     [(a,) for a in response_ids])

    def _record_conflicts(self, kiosk_id: str, found: Sequence[tuple[Event, dict]],
                          received: datetime) -> int:
        """Count the batch's conflicts and keep each distinct incoming content once, within the
        kiosk's daily room (`central.conflicts`: re-sending its own ids with new content must not
        fill the store). Returns how many events conflicted."""
        if not found:
            return 0
        rows = [(e.id, canonical(existing), canonical(self._as_stored(e, existing))) for e, existing in found]
        kept = conflicts.record(self.db, kiosk_id, rows, received)
        log.warning("kiosk %s: %d events re-sent with different content (%d kept as conflicts)",
                    kiosk_id, len(rows), kept)
        return len(found)

    # --- dead letters and fleet status -----------------------------------------------------------

    def dead_letter(self, topic: str, reason: str, payload: bytes, kiosk_id: str | None = None,
                    received_at: datetime | None = None, *, keep: bool = True,
                    limits: dead_letters.Limits = dead_letters.Limits()) -> bool:
        """Count a refused message and keep it with its reason, within its kiosk's daily limits
        (`central.dead_letters`: a flood must not fill the disk); True if kept."""
        received = naive_utc(received_at or self.clock())
        # In a group, counted in memory and written once at its commit (dead_letters.record).
        pending = self._group.refusals if self._group is not None else None
        with self.db.atomic():
            return dead_letters.record(self.db, topic, reason, payload, kiosk_id, received, keep=keep,
                                       limits=limits, pending=pending)

    def record_status(self, kiosk_id: str, status: Any, *, retained: bool = False,
                      received_at: datetime | None = None) -> None:
        """Upsert `kiosk_status` from a decoded status (birth or Last Will)."""
        received = naive_utc(received_at or self.clock())
        p = self.db.param
        with self._writer(f"status:{kiosk_id}"):
            self._registration(kiosk_id)
            last_seen = status_time(status, received)
            said = status.as_dict()
            will = not status.online and status.ts is None
            if retained or will:
                row = self.db.execute_sql(f"SELECT last_seen, payload FROM kiosk_status WHERE kiosk_id = {p}",
                                          (kiosk_id,)).fetchone()
                if row:
                    # A retained status replayed at ingest start is old news, and a Last Will is
                    # the broker's word that the kiosk is gone, not the kiosk heard: both keep
                    # the last-seen time (the will arrives late after an outage of the ingest).
                    last_seen = as_datetime(row[0])
                elif retained:
                    last_seen = status_time(status, received, replayed=True)
                if row and will:
                    # The Last Will says only "offline": what the kiosk last told (its outbox, the
                    # answers it holds) stays in the payload the fleet view reads.
                    said = {**json.loads(row[1] or "{}"), **said}
            payload = json.dumps(said, separators=(",", ":"))
            cols = ("kiosk_id", "online", "last_seen", "version", "outbox_depth", "oldest_unacked_s",
                    "clock_synced", "disk_free_mb", "config_version", "config_error", "payload")
            values = (kiosk_id, status.online, self._ts(last_seen), status.version, status.outbox_depth,
                      status.oldest_unacked_s, status.clock_synced, status.disk_free_mb,
                      status.config_version, status.config_error, payload)
            # A Last Will says only "offline": keep what the last birth told (depth, versions). A
            # kiosk stopping cleanly says offline with what it holds then (an outbox it just
            # drained): that is what the fleet shows while it is away. One of a kiosk from before
            # that (software 0.1.0: `offline_payload`, a time and no counts) keeps them as a will.
            told = status.online or status.outbox_depth is not None
            updated = cols[1:] if told else ("online", "last_seen", "payload")
            # Never back in time: a status said before the last one heard (kept by the broker
            # while another ingestor took a newer one) changes nothing: neither when the kiosk was
            # last heard nor what it said then (a dead kiosk read online with an old backlog).
            self.db.execute_sql(
                f"INSERT INTO kiosk_status ({', '.join(cols)}) VALUES ({placeholders(self.db, len(cols))})"
                f" ON CONFLICT (kiosk_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in updated)
                + " WHERE excluded.last_seen >= kiosk_status.last_seen", values)


LIVE = timedelta(minutes=5)            # a status this fresh came as it was said: dated by its arrival
# The broker keeps a crashed ingest's session an hour (ingest.BrokerSettings.session_expiry_s): no
# status it hands over is older. A synced clock that reads further back is wrong, not queued.
QUEUED_AT_MOST = timedelta(hours=2)


def status_time(status: Any, received: datetime, *, replayed: bool = False) -> datetime:
    """When a status was said (naive UTC). The broker keeps a crashed ingest's statuses (its
    session persists) and hands them over at its restart: dated by their arrival, every kiosk that
    died meanwhile looked heard at the restart, and was flagged silent only 2 open hours after it
    (a review). So one that arrives between `LIVE` and `QUEUED_AT_MOST` after the kiosk's synced
    clock said it is dated by that clock; a retained one `replayed` with nothing known of the kiosk
    before, however long ago, but not before 2020 (`EARLIEST`: no Kundpuls clock that is synced
    reads earlier; a status dated year 1 made every view of the fleet fail); any other by its
    arrival."""
    if status.ts is None or not status.clock_synced:
        return received
    said = naive_utc(datetime.fromisoformat(status.ts.replace("Z", "+00:00")))
    if not _plausible(said, received) or said > received:
        return received
    return said if replayed or LIVE <= received - said <= QUEUED_AT_MOST else received


def _plausible(t: datetime, received: datetime) -> bool:
    return naive_utc(EARLIEST) <= t <= received + FUTURE_SLACK
