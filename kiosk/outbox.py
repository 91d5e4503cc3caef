"""The kiosk's outbox: which recorded events still have to reach the centre, as SQL on the kiosk
database (shared with the running kiosk app).

An event is in the outbox while `acked_at IS NULL AND rejected_at IS NULL` (`kiosk.store.OUTBOX`).
`sent_at` marks "sent in this session of the sync agent, waiting for the centre's ack":
`next_batch` takes the lowest unsent seqs, `requeue` clears `sent_at` so they go again (after an
ack timeout, a reconnect or a restart), `mark_acked` sets `acked_at` for the seqs the centre's
ack names, and nothing else ever does; `mark_rejected` sets `rejected_at` (and the reason) for the
seqs the ack names as refused for good: they stay in the database and are never sent again.

A text cell the card damaged (a byte that is not UTF-8) does not stop the outbox: its event goes
with the damaged characters as U+FFFD, as `kiosk export` writes it (kiosk.damaged_text), and the
batch names where, so the agent can say so; nothing else reads text that way. A follow-up's
reasons no longer JSON go as the text they hold (kiosk.store.event_json_sql): the centre refuses
that event alone.

Every write is one short transaction (a few milliseconds for a full batch), so a tap recorded
by the app at the same moment waits at most that long. This module never deletes a row and
never talks to the network.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from kiosk.anchors import Hold, batch_anchors, held_from
from kiosk.damaged_text import damaged_columns, tolerant_text
from kiosk.earlier import SentMark
from kiosk.store import OUTBOX, FollowUp, LocalStore, Response, event_json_sql
from server_sync import protocol as P
from server_sync.protocol import ProtocolError

_TABLES = ("response", "followup")

# Each event's wire JSON is built by SQLite's json_object (in C) from the declaration of its
# fields (kiosk.store.event_json_sql): the agent then only joins text, which keeps its CPU free
# for the app and, on a central laptop demo, the ingest.
_RESPONSE_JSON = event_json_sql(Response)
_FOLLOWUP_JSON = event_json_sql(FollowUp)
_RECORDED_AT = "COALESCE(CAST(recorded_at AS TEXT), '')"      # a cell the card made NULL: ''
_INTEGER_SEQ = "typeof(seq) = 'integer'"


@dataclass(frozen=True)
class OutboxBatch:
    """One events message ready to publish."""
    batch_id: str
    seqs: tuple[int, ...]
    payload: bytes
    invalid: str | None = None       # the reason, when this is a lone event that fails validation
    # (seq, "table.column") of each text cell in it the card damaged (sent with U+FFFD): named by
    # the first batch of this process that carries it only.
    damaged: tuple[tuple[int, str], ...] = ()

    @property
    def count(self) -> int:
        return len(self.seqs)


class Outbox:
    def __init__(self, store: LocalStore, kiosk_id: str, *,
                 new_batch_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.store = store
        self.db = store.db
        self.kiosk_id = kiosk_id
        self._new_batch_id = new_batch_id
        # Above every seq that left: a database made where this one went missing starts there.
        self._sent = SentMark(store.path)
        # Every unsent event this process knows of has a seq above this (rows sent but unacked
        # are skipped without scanning them); a requeue or a rescan lowers it to 0.
        self._floor = 0
        # While the card takes no write: the highest seq published without being marked sent
        # (`next_batch(mark=False)`); back to 0 once a batch is marked again.
        self._unmarked_floor = 0
        # The seqs whose damaged text a batch named already (`_damaged`).
        self._damaged_named: set[int] = set()

    # --- reading ------------------------------------------------------------------------------

    def depth(self) -> int:
        return self.store.outbox_depth()

    def empty(self) -> bool:
        """Nothing left to send or confirm (cheaper than depth() == 0 on a long outbox)."""
        return not any(self.db.execute_sql(
            f"SELECT EXISTS (SELECT 1 FROM {t} WHERE {OUTBOX})").fetchone()[0] for t in _TABLES)

    def unsent_count(self) -> int:
        return sum(self.db.execute_sql(
            f"SELECT COUNT(*) FROM {t} WHERE {OUTBOX} AND sent_at IS NULL").fetchone()[0]
            for t in _TABLES)

    def _unsent(self, limit: int, *, marked: bool = True) -> tuple[list[tuple[int, str, str]], bool]:
        """(seq, recorded_at, event JSON) of the lowest unsent events, at most `limit`, and whether
        a text cell among those read was damaged (read with U+FFFD); not `marked`: those above
        what was published unmarked, whatever their sent_at says (a mark from an earlier run the
        requeue could not clear)."""
        floor, unsent = (self._floor, " AND sent_at IS NULL") if marked else (self._unmarked_floor, "")
        # One damaged byte must not hold back every event after it (kiosk.damaged_text). The time
        # is read as text as its event's JSON has it: a cell the card turned into a BLOB came back
        # as bytes, and comparing it with text (`next_batch`) raised a TypeError at every try.
        # A seq the card made other than an integer cannot be acked nor refused (acks name seq
        # ranges), and mixed with integers it failed the batch's sort and marks at every try: such
        # an event stays out of every batch (still counted in the outbox's depth), the rest goes.
        with tolerant_text(self.db.connection()) as read:
            rows = self.db.execute_sql(
                f"SELECT seq, {_RECORDED_AT}, {_RESPONSE_JSON} FROM response"
                f" WHERE {OUTBOX}{unsent} AND seq > ? AND {_INTEGER_SEQ} ORDER BY seq LIMIT ?",
                (floor, limit)).fetchall()
            # Follow-ups are few: only those up to the last response taken can be in this batch.
            bound = rows[-1][0] if len(rows) == limit else P.MAX_INT64
            fus = self.db.execute_sql(
                f"SELECT seq, {_RECORDED_AT}, {_FOLLOWUP_JSON} FROM followup"
                f" WHERE {OUTBOX}{unsent} AND seq > ? AND seq <= ? AND {_INTEGER_SEQ} ORDER BY seq LIMIT ?",
                (floor, bound, limit)).fetchall()
        if fus:
            rows.extend(fus)
            rows.sort()
        return rows[:limit], read.damaged > 0

    def _damaged(self, events: Sequence[tuple[int, str, str]]) -> tuple[tuple[int, str], ...]:
        """(seq, "table.column") of the damaged text cells of `events` not named before. Only
        after a read that met damage: an event holding U+FFFD as typed is looked at, not named."""
        out = []
        con = self.db.connection()
        for seq, recorded_at, text in events:
            if seq in self._damaged_named or "\ufffd" not in recorded_at + text:
                continue
            for t in _TABLES:
                for column in damaged_columns(con, t, "seq = ?", (seq,)):
                    out.append((seq, f"{t}.{column}"))
        return tuple(out)

    # --- writing (each a short transaction) ---------------------------------------------------

    def next_batch(self, max_events: int, max_bytes: int, *, now: datetime, sent_at: str,
                   mark: bool = True, live: P.Anchor | None = None, hold: Hold | None = None) -> OutboxBatch | None:
        """Take the lowest unsent seqs, at most `max_events` and `max_bytes` of payload, and mark
        them sent. An event that fails the protocol's own validation travels alone, so the
        centre dead-letters it with its reason without holding back the events around it. The
        batch names the clock anchor of each boot whose unsynced events it holds (kiosk.anchors;
        `live`: the running boot's, its clock synced now); `hold`: the running boot's unsynced
        events that wait for its clock, and the events after them.

        Not `mark` (the card takes no write, e.g. full): only read, the next events above those
        published so; nothing records that they went, so once the card takes writes again they
        go again, marked, and the centre counts each once."""
        with self.db.atomic("IMMEDIATE" if mark else "DEFERRED"):
            events, damaged = self._unsent(max_events, marked=mark)
            waits = held_from([e[2] for e in events], hold)
            if waits is not None:
                events = events[:waits]
            if not events:
                return None
            batch_id = self._new_batch_id()
            invalid = None
            # The Recorder made these rows, so only their time can be out of the centre's bounds
            # (a clock far off); that is checked on the text, and a suspect gets the full check.
            latest = P.iso_ms(now + P.FUTURE_SLACK)
            for i, (_seq, recorded_at, text) in enumerate(events):
                if not P.EARLIEST_TEXT <= recorded_at <= latest:
                    try:
                        P.validate_event(json.loads(text), self.kiosk_id, now=now)
                        continue
                    except ProtocolError as err:
                        if i == 0:
                            events, invalid = [events[0]], err.reason
                        else:
                            events = events[:i]
                        break
            anchors = batch_anchors(self.db, [e[2] for e in events], live)
            head = P.encode_batch(self.kiosk_id, batch_id, [], anchors)
            payload = head[:-2] + ",".join(e[2] for e in events).encode("utf-8") + head[-2:]
            if len(payload) > max_bytes and len(events) > 1:
                # Over the byte budget (rare: long comments): measure event by event and cut.
                budget = max_bytes - len(head)
                chosen: list[bytes] = []
                for e in events:
                    body = e[2].encode("utf-8")
                    budget -= len(body) + (1 if chosen else 0)
                    if chosen and budget < 0:
                        break
                    chosen.append(body)
                events = events[:len(chosen)]
                payload = P.encode_batch_json(self.kiosk_id, batch_id, chosen, anchors)
            seqs = [e[0] for e in events]
            named = self._damaged(events) if damaged else ()
            if mark:
                self._mark_sent(seqs, sent_at)
        # Only once the marks are committed: a commit the card refuses (full) leaves them unsent,
        # and a floor moved past them would skip them until the next rescan.
        self._damaged_named.update(seq for seq, _ in named)
        if mark:
            self._floor, self._unmarked_floor = seqs[-1], 0
        else:
            self._unmarked_floor = seqs[-1]
        self._sent.cover(seqs[-1])              # before the batch can be published
        return OutboxBatch(batch_id, tuple(seqs), payload, invalid, named)

    def _mark_sent(self, seqs: Sequence[int], sent_at: str) -> None:
        # The batch is exactly the unsent rows between its first and last seq (it was taken in
        # seq order inside this transaction), so a range update marks exactly it.
        lo, hi = seqs[0], seqs[-1]
        for t in _TABLES:
            self.db.execute_sql(
                f"UPDATE {t} SET sent_at = ?, send_count = send_count + 1"
                f" WHERE {OUTBOX} AND sent_at IS NULL AND seq BETWEEN ? AND ?", (sent_at, lo, hi))

    def mark_acked(self, ranges: Iterable[tuple[int, int]], acked_at: str,
                   meta: dict[str, str] | None = None) -> int:
        """Set acked_at on the still-unacked events with seqs in `ranges` (and the `meta` keys,
        in the same transaction); return how many events.

        Only events that were sent at least once: an ack can never confirm an event the centre
        was never given. (That alone does not stop a stale ack for a re-imaged kiosk whose new
        events reuse seqs and were just sent: the agent applies only the acks of its own
        incarnation, kiosk.sync_agent.)
        """
        n = 0
        with self.db.atomic("IMMEDIATE"):
            for key, value in (meta or {}).items():
                self.store.set_meta(key, value)
            for lo, hi in ranges:
                for t in _TABLES:
                    n += self.db.execute_sql(
                        f"UPDATE {t} SET acked_at = ? WHERE {OUTBOX} AND send_count > 0"
                        " AND seq BETWEEN ? AND ?",
                        (acked_at, lo, hi)).rowcount
        return n

    def mark_rejected(self, refused: Iterable[tuple[Iterable[tuple[int, int]], str]], rejected_at: str) -> int:
        """Set rejected_at and the centre's reason on the events in the outbox with seqs in these
        ranges; return how many. As with acks, only events that were sent at least once: a
        centre can only refuse what it was given. They are kept, and never sent again."""
        n = 0
        with self.db.atomic("IMMEDIATE"):
            for ranges, reason in refused:
                for lo, hi in ranges:
                    for t in _TABLES:
                        n += self.db.execute_sql(
                            f"UPDATE {t} SET rejected_at = ?, rejected_reason = ? WHERE {OUTBOX}"
                            " AND send_count > 0 AND seq BETWEEN ? AND ?", (rejected_at, reason, lo, hi)).rowcount
        return n

    def has_floor(self) -> bool:
        """Events below some seq are being skipped (see `rescan`)."""
        return self._floor > 0

    def rescan(self) -> bool:
        """True, and the next batch looks from the lowest seq again, when there are unsent events
        below the floor: another process made them sendable again (`kiosk refused retry`). One
        look past the rows in flight; the agent calls it only when nothing is left above the
        floor, at most once per ack timeout, so a drain never pays it."""
        if self._floor and any(self.db.execute_sql(
                f"SELECT EXISTS (SELECT 1 FROM {t} WHERE {OUTBOX} AND sent_at IS NULL AND seq <= ?)",
                (self._floor,)).fetchone()[0] for t in _TABLES):
            self._floor = 0
            return True
        return False

    def requeue(self, seqs: Iterable[int] | None = None) -> int:
        """Make unacked events sendable again: those in `seqs`, or all (reconnect, restart)."""
        n = 0
        self._floor = 0
        with self.db.atomic("IMMEDIATE"):
            if seqs is None:
                for t in _TABLES:
                    n += self.db.execute_sql(
                        f"UPDATE {t} SET sent_at = NULL WHERE {OUTBOX} AND sent_at IS NOT NULL").rowcount
            else:
                for lo, hi in P.seq_ranges(seqs):
                    for t in _TABLES:
                        n += self.db.execute_sql(
                            f"UPDATE {t} SET sent_at = NULL WHERE {OUTBOX} AND seq BETWEEN ? AND ?",
                            (lo, hi)).rowcount
        return n


class Inflight:
    """Batches published and not yet fully acked, with the monotonic time they went out."""

    def __init__(self) -> None:
        # batch id -> (first seq, last seq, seqs still unacked, sent at)
        self._batches: dict[str, tuple[int, int, set[int], float]] = {}

    def __len__(self) -> int:
        return len(self._batches)

    @property
    def events(self) -> int:
        return sum(len(b[2]) for b in self._batches.values())

    def add(self, batch_id: str, seqs: Iterable[int], at: float) -> None:
        seqs = set(seqs)
        self._batches[batch_id] = (min(seqs), max(seqs), seqs, at)

    def ack(self, ack: P.Ack) -> None:
        """Forget the acked or rejected seqs (in whichever batch they were: an ack of an older
        send counts)."""
        settled = ack.settled
        for bid in list(self._batches):
            first, last, seqs, _ = self._batches[bid]
            for lo, hi in settled:
                if hi < first or lo > last:
                    continue
                if lo <= first and last <= hi:
                    seqs.clear()
                else:
                    seqs.difference_update([s for s in seqs if lo <= s <= hi])
            if not seqs:
                del self._batches[bid]

    def unacked(self, batch_id: str) -> list[int]:
        """The seqs of batch `batch_id` still unacked (none if it is not in flight)."""
        batch = self._batches.get(batch_id)
        return sorted(batch[2]) if batch else []

    def forget(self, batch_id: str) -> None:
        """Batch `batch_id` is no longer in flight (its rest was made sendable again)."""
        self._batches.pop(batch_id, None)

    def expired(self, now: float, timeout: float) -> list[int]:
        """Remove and return the seqs of batches older than `timeout` still unacked."""
        out: list[int] = []
        for bid in list(self._batches):
            _, _, seqs, at = self._batches[bid]
            if now - at >= timeout:
                out.extend(seqs)
                del self._batches[bid]
        return sorted(out)

    def clear(self) -> None:
        self._batches.clear()
