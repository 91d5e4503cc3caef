"""The question register: what a question (id and version) asks, on which scale and of whom.

Only the centre defines a question: `kiosk-central config push` (each question it pushes) and
`kiosk-central question define`. A kiosk's answers never do, so no kiosk can decide for the others
what a question is (one publish of `pulse v1` as nps11 would otherwise have every other kiosk's
smiley answers to `pulse` refused). An answer to a question the centre has not defined is
stored as it came, with its own scale and audience, and the first one seen is noted
(`first_seen`, `defined_at` NULL) so reports can name the question. An answer that disagrees
with a definition is refused for its own kiosk alone (`EventsRefused`: named in that kiosk's ack,
held and flagged there, sent again with `kiosk refused retry` once its config or the definition is
fixed); nobody else's answers are touched.

The register is shared, so no kiosk may fill it: every unknown version once went in, and every
page of the web app and every report reads the whole table (200,000 rows made each page 0.45 s
slower). A kiosk may bring at most `NEW_PER_DAY` versions the register does not know into it per
UTC day (`allowance`; counted by `first_kiosk_id` and `first_seen`); the default catalogue's
versions (`protocol.catalogue`), which every kiosk may ask unconfigured, are free. An answer to a
further unknown version is refused for its own kiosk (`EventsRefused`: held on the kiosk, whose
other answers go in; `kiosk refused retry` once the centre defined it, or the next day). Nothing
acknowledged is lost. This is the one place the rule is made.

Reads and writes inside the caller's transaction; never commits.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator, Mapping, Sequence

from peewee import Database

from server_sync.central.dialect import in_list, insert_ignore, time_param, writer_locks
from server_sync.exc import CentralConfigError
from server_sync.protocol import EventsRefused, ResponseEvent
from server_sync.protocol.errors import KIOSK_RETRY
from server_sync.protocol.catalogue import QUESTIONS as CATALOGUE
from server_sync.protocol.scales import SCALE_NAMES
from server_sync.protocol.vocabulary import AUDIENCES

Key = tuple[str, int]                          # (question id, version)

NEW_PER_DAY = 20        # unknown versions one kiosk may bring into the register per UTC day
CACHED = 4096           # register entries an ingestor keeps in memory (the most recently used)
FREE: frozenset[Key] = frozenset((q["id"], q["version"]) for q in CATALOGUE.values())   # need no allowance


@dataclass(frozen=True)
class Entry:
    """What the register says of one question version."""
    scale: str
    audience: str
    defined: bool                              # by the centre; else only seen in answers

    def refuses(self, e: ResponseEvent) -> bool:
        return self.defined and (e.scale, e.audience) != (self.scale, self.audience)


def check_answers(db: Database, responses: Sequence[ResponseEvent], known: Mapping[Key, Entry], received: datetime,
                  batch_id: str, kiosk_id: str) -> dict[Key, Entry]:
    """Check a batch's answers against the register (`known`: entries read earlier, which the
    caller may cache); note unknown questions as seen, within the kiosk's daily allowance.
    Returns the entries read or noted here. Raises EventsRefused naming the answers that disagree
    with the centre's definition, or that would bring in more unknown versions than allowed."""
    distinct = {(e.question_id, e.question_version) for e in responses}
    staged: dict[Key, Entry] = {}
    missing = [k for k in distinct if k not in known]
    if missing:
        staged = read(db, sorted({q for q, _ in missing}))
        unseen = {}
        for e in responses:
            k = (e.question_id, e.question_version)
            if k in missing and k not in staged and k not in unseen:
                unseen[k] = Entry(e.scale, e.audience, defined=False)
        allowance(db, kiosk_id, unseen, responses, received, batch_id)
        at = time_param(db)(received)
        insert_ignore(db, "question", ("id", "version", "scale", "audience", "text", "first_seen", "first_kiosk_id"),
                      [(q, v, entry.scale, entry.audience, "{}", at, None if (q, v) in FREE else kiosk_id)
                       for (q, v), entry in sorted(unseen.items())])
        staged.update(unseen)
    # Only this batch's keys: `known` may be a large cache, not to be copied per batch.
    entries = {k: staged[k] if k in staged else known[k] for k in distinct}
    wrong = [e for e in responses if entries[(e.question_id, e.question_version)].refuses(e)]
    if wrong:
        e = wrong[0]
        d = entries[(e.question_id, e.question_version)]
        raise EventsRefused(
            f"event {e.id}: question {e.question_id} v{e.question_version} is defined by the centre as "
            f"{d.scale}/{d.audience}, this kiosk's answer says {e.scale}/{e.audience} (its config disagrees: "
            f"fix it, or the definition, then {KIOSK_RETRY})", batch_id, [w.seq for w in wrong])
    return staged


def allowance(db: Database, kiosk_id: str, unseen: Mapping[Key, Entry], responses: Sequence[ResponseEvent],
              received: datetime, batch_id: str, per_day: int = NEW_PER_DAY) -> None:
    """The rule: a kiosk brings at most `per_day` unknown versions (the catalogue's aside) into the
    register per UTC day. Raises EventsRefused naming the answers to those beyond it (the first
    versions in key order fit, so the batch sent again without the rest goes in)."""
    counted = sorted(k for k in unseen if k not in FREE)
    if not counted:
        return
    room = max(0, per_day - brought_in(db, kiosk_id, received))
    over = set(counted[room:])
    if not over:
        return
    refused = [e for e in responses if (e.question_id, e.question_version) in over]
    q, v = min(over)
    raise EventsRefused(
        f"event {refused[0].id}: question {q} v{v} is not in the centre's register, and kiosk {kiosk_id} may bring "
        f"at most {per_day} unknown question versions into it a UTC day ({len(over)} more in this batch): define it "
        f"(`kiosk-central question define` or `config push`), then {KIOSK_RETRY} (or retry the next day)",
        batch_id, [e.seq for e in refused])


def brought_in(db: Database, kiosk_id: str, received: datetime) -> int:
    """How many versions this kiosk's answers brought into the register on `received`'s UTC day."""
    p = db.param
    ts = time_param(db)
    start = datetime.combine(received.date(), datetime.min.time())
    return int(db.execute_sql(
        f"SELECT COUNT(*) FROM question WHERE first_kiosk_id = {p} AND first_seen >= {p} AND first_seen < {p}",
        (kiosk_id, ts(start), ts(start + timedelta(days=1)))).fetchone()[0])


class Cache(Mapping[Key, Entry]):
    """An ingestor's register entries, the `size` most recently used: the register may hold many
    versions (each kiosk's allowance, day after day) and an ingestor runs for months."""

    def __init__(self, size: int = CACHED) -> None:
        self.size = size
        self._items: OrderedDict[Key, Entry] = OrderedDict()

    def __getitem__(self, key: Key) -> Entry:
        entry = self._items[key]
        self._items.move_to_end(key)
        return entry

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[Key]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def update(self, entries: Mapping[Key, Entry]) -> None:
        """Add `entries`, dropping the least recently used beyond `size`."""
        for key, entry in entries.items():
            self._items[key] = entry
            self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


def stamp(db: Database) -> tuple:
    """Changes whenever the centre defines a question (or changes a definition): a reader that
    caches entries drops them when it does. One small query (`defined_at` is indexed: m0046)."""
    return tuple(db.execute_sql("SELECT COUNT(*), MAX(defined_at) FROM question WHERE defined_at IS NOT NULL")
                 .fetchone())


def read(db: Database, question_ids: Sequence[str]) -> dict[Key, Entry]:
    """The register's entries of these question ids (every version)."""
    if not question_ids:
        return {}
    where, params = in_list(db, "id", list(question_ids))
    return {(q, v): Entry(scale, audience, defined is not None) for q, v, scale, audience, defined in db.execute_sql(
        f"SELECT id, version, scale, audience, defined_at FROM question WHERE {where}", params).fetchall()}


@dataclass(frozen=True)
class Answered:
    """What the stored answers to a question version say against a definition: the (scale,
    audience, answers) that disagree, and the kiosks that answered it otherwise and as defined."""
    disagreeing: tuple[tuple[str, str, int], ...]
    kiosks_otherwise: int
    kiosks_agreeing: int


def answered(db: Database, question_id: str, version: int, scale: str, audience: str) -> Answered:
    """The stored answers to (question, version) against `scale`/`audience`: two scans of the
    answers, which a caller runs before its transaction (on SQLite every transaction holds the
    single write lock from its BEGIN: 0.8 s a million answers that ingest would wait)."""
    p = db.param
    stored = db.execute_sql(
        f"SELECT scale, audience, COUNT(*) FROM response WHERE question_id = {p} AND question_version = {p}"
        f" GROUP BY scale, audience ORDER BY 3 DESC, 1, 2", (question_id, version)).fetchall()
    return Answered(tuple((sc, au, int(n)) for sc, au, n in stored if (sc, au) != (scale, audience)),
                    *kiosks_answering(db, question_id, version, scale, audience))


def lock_name(question_id: str, version: int) -> str:
    """The writer lock a definition of (question, version) is made under (`define`)."""
    return f"question:{question_id}:{version}"


def define(db: Database, question_id: str, version: int, scale: str, audience: str, text: Mapping[str, str],
           now: datetime, *, replace: bool = False, force: bool = False, seen: Answered | None = None) -> int:
    """Make (question, version) mean `scale`/`audience` for the whole chain. A definition the
    centre gave before is never changed silently (answers would mix scales): another one is
    refused unless `replace`. Nor is a version the kiosks have been answering otherwise: a first
    definition that most stored answers contradict (a mistyped scale would hold every kiosk's
    answers from then on) is refused unless `force`; "most" counts kiosks, and takes two (one
    kiosk's answers to a version the centre only plans must not block its push). Returns how many
    stored answers of that version disagree with the new definition (they stay as they are).
    A catalogue version (`protocol.catalogue`) is held to the catalogue's meaning as a defined one
    is (`binding`). `seen`: `answered` for this definition, read before the caller's transaction
    (else here). Holds the version's writer lock (`lock_name`) to the caller's commit: two
    definitions of it at once would both read it free, and the last would silently win (a review:
    a push's kiosks were sent one scale, the register kept another)."""
    if scale not in SCALE_NAMES:
        raise CentralConfigError(f"unknown scale {scale!r}; use {', '.join(SCALE_NAMES)}")
    if audience not in AUDIENCES:
        raise CentralConfigError(f"unknown audience {audience!r}; use {', '.join(AUDIENCES)}")
    p = db.param
    ts = time_param(db)
    writer_locks(db, [lock_name(question_id, version)])
    register = read(db, [question_id])
    current = register.get((question_id, version))
    # The version to suggest for a new meaning: above every one the centre defined (v + 1 may be
    # taken: define v2, then v1 otherwise, was told "give it version 2"; a review).
    free = 1 + max([version, *(v for (_q, v), entry in register.items() if entry.defined)])
    held = binding(current, question_id, version)
    if held and (held.scale, held.audience) != (scale, audience) and not replace:
        said = (f"is defined as {held.scale}/{held.audience}" if held.defined else
                f"is the catalogue's {held.scale}/{held.audience}, which every kiosk without questions of its own asks")
        raise CentralConfigError(
            f"question {question_id} v{version} {said}; a defined version keeps its meaning: give the new wording "
            f"version {free} (or question define --replace)")
    seen = seen or answered(db, question_id, version, scale, audience)
    disagreeing = seen.disagreeing
    otherwise = sum(n for *_, n in disagreeing)
    kiosks_otherwise, kiosks_agreeing = seen.kiosks_otherwise, seen.kiosks_agreeing
    # Most kiosks that answered it ask it otherwise: this is a slip (a stray kiosk on another
    # scale is what the definition is there to hold). Kiosks, not answers, and more than one:
    # a single credential answering a version ahead of the centre must not block its push.
    if kiosks_otherwise > max(1, kiosks_agreeing) and not (replace or force or (current and current.defined)):
        seen = ", ".join(f"{n} {sc}/{au}" for sc, au, n in disagreeing)
        raise CentralConfigError(
            f"question {question_id} v{version}: most kiosks that answered it ({kiosks_otherwise} of "
            f"{kiosks_otherwise + kiosks_agreeing}) ask it otherwise than {scale}/{audience} ({seen}); "
            f"so defined, the kiosks' answers to it would be held from now on. A new scale or audience is a new "
            f"version (give it version {free}); --force defines it so anyway")
    wording = json.dumps(dict(text), ensure_ascii=False, sort_keys=True)
    # An answer may bring the version in meanwhile (ingest notes it seen, under no question lock):
    # then it is defined as a seen one is.
    inserted = current is None and db.execute_sql(
        f"INSERT INTO question (id, version, scale, audience, text, first_seen, defined_at)"
        f" VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) ON CONFLICT DO NOTHING",
        (question_id, version, scale, audience, wording, ts(now), ts(now))).rowcount == 1
    if not inserted:
        db.execute_sql(f"UPDATE question SET scale = {p}, audience = {p}, defined_at = {p}"
                       + (f", text = {p}" if text else "") + f" WHERE id = {p} AND version = {p}",
                       (scale, audience, ts(now), *((wording,) if text else ()), question_id, version))
    return otherwise


def note_pushed(db: Database, keys: Sequence[Key], defined_at: datetime) -> None:
    """Keep the register rows of these versions as they stand (`pushed_definition`), before a
    push defines them at `defined_at`: what `undefine` puts back if the push is taken back. Call
    holding their writer locks (`lock_name`)."""
    p = db.param
    at = time_param(db)(defined_at)
    for question_id, version in keys:
        row = db.execute_sql(f"SELECT scale, audience, text, defined_at FROM question WHERE id = {p} AND version = {p}",
                             (question_id, version)).fetchone()
        db.execute_sql(f"INSERT INTO pushed_definition (question_id, version, defined_at, before_scale, before_audience,"
                       f" before_text, before_defined_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
                       (question_id, version, at, *(row or (None, None, None, None))))


def keep_pushed(db: Database, keys: Sequence[Key], defined_at: datetime) -> None:
    """The definitions a push gave at `defined_at` stand (the broker took it for a kiosk): drop
    what `undefine` would have put back. Takes their writer locks."""
    writer_locks(db, [lock_name(*k) for k in keys])
    at = time_param(db)(defined_at)
    db.cursor().executemany(f"DELETE FROM pushed_definition WHERE question_id = {db.param} AND version = {db.param}"
                            f" AND defined_at = {db.param}", [(q, v, at) for q, v in keys])


def undefine(db: Database, key: Key, defined_at: datetime) -> None:
    """Take back the definition a push gave `key` at `defined_at` (the broker took it for no
    kiosk): the row as it stood before it (`note_pushed`); a version that was not in the register
    is taken out of it, or, when answers to it came in meanwhile, left as seen. Defined again
    since, the later definition stands; one a push gave, that push's undo puts back this one's
    "before" from now on (it put back this definition: two pushes of a new version both refused,
    the earlier first, left it defined; a review). Call holding the version's writer lock
    (`lock_name`)."""
    p = db.param
    at = time_param(db)(defined_at)
    question_id, version = key
    where = f"question_id = {p} AND version = {p} AND defined_at = {p}"
    before = db.execute_sql(f"SELECT before_scale, before_audience, before_text, before_defined_at FROM"
                            f" pushed_definition WHERE {where}", (question_id, version, at)).fetchone()
    if before is None:                         # kept already (`keep_pushed`)
        return
    db.execute_sql(f"DELETE FROM pushed_definition WHERE {where}", (question_id, version, at))
    # A push not yet sent defined it again on top of this one: taking that one back must put back
    # what this one would, not this definition (none matches while the row is still this one's).
    db.execute_sql(f"UPDATE pushed_definition SET before_scale = {p}, before_audience = {p}, before_text = {p},"
                   f" before_defined_at = {p} WHERE question_id = {p} AND version = {p} AND before_defined_at = {p}",
                   (*before, question_id, version, at))
    scale, audience, text, was_defined = before
    if scale is not None:
        db.execute_sql(f"UPDATE question SET scale = {p}, audience = {p}, text = {p}, defined_at = {p}"
                       f" WHERE id = {p} AND version = {p} AND defined_at = {p}",
                       (scale, audience, text, was_defined, question_id, version, at))
        return
    db.execute_sql(f"DELETE FROM question WHERE id = {p} AND version = {p} AND defined_at = {p} AND NOT EXISTS"
                   f" (SELECT 1 FROM response WHERE question_id = {p} AND question_version = {p})",
                   (question_id, version, at, question_id, version))
    db.execute_sql(f"UPDATE question SET defined_at = NULL WHERE id = {p} AND version = {p} AND defined_at = {p}",
                   (question_id, version, at))


def binding(current: Entry | None, question_id: str, version: int) -> Entry | None:
    """What (question, version) already means for the whole chain: the centre's definition, else,
    for a catalogue version, the catalogue's (every kiosk without questions of its own asks it, so
    one push giving it another scale would hold every other kiosk's answers: a review). None: free."""
    if current and current.defined:
        return current
    shipped = CATALOGUE.get(question_id)
    if shipped and shipped["version"] == version:
        return Entry(shipped["scale"], shipped["audience"], defined=False)
    return None


def kiosks_answering(db: Database, question_id: str, version: int, scale: str, audience: str) -> tuple[int, int]:
    """(kiosks with a stored answer to the version on another scale or audience, kiosks with one
    on `scale`/`audience`); a kiosk that answered it both ways counts in both."""
    p = db.param
    row = db.execute_sql(
        f"SELECT COUNT(DISTINCT CASE WHEN scale = {p} AND audience = {p} THEN NULL ELSE kiosk_id END),"
        f" COUNT(DISTINCT CASE WHEN scale = {p} AND audience = {p} THEN kiosk_id END)"
        f" FROM response WHERE question_id = {p} AND question_version = {p}",
        (scale, audience, scale, audience, question_id, version)).fetchone()
    return int(row[0]), int(row[1])


def register(db: Database) -> list[dict[str, Any]]:
    """Every question version: its definition (or what was first seen) and the answers stored."""
    rows = db.execute_sql(
        "SELECT q.id, q.version, q.scale, q.audience, q.defined_at, q.first_seen,"
        " (SELECT COUNT(*) FROM response r WHERE r.question_id = q.id AND r.question_version = q.version),"
        " (SELECT COUNT(*) FROM response r WHERE r.question_id = q.id AND r.question_version = q.version"
        "  AND NOT (r.scale = q.scale AND r.audience = q.audience))"
        " FROM question q ORDER BY q.id, q.version").fetchall()
    return [{"id": q, "version": v, "scale": scale, "audience": audience, "defined": defined is not None,
             "defined_at": None if defined is None else str(defined), "first_seen": str(first),
             "answers": int(n), "answers_otherwise": int(other)}
            for q, v, scale, audience, defined, first, n, other in rows]
