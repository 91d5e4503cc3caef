"""The clock anchors a batch carries: for each boot whose unsynced events it holds, a reading of
that boot's wall clock once synced beside its monotonic clock (`protocol.Anchor`).

The centre corrects an unsynced time from its boot's anchor, and judges by the corrected time
whether an answer naming a site the kiosk has left was recorded there (server_sync.central
.site_history). It used to find the anchor only in a synced event of the same batch: a batch
split by `sync.batch_max_events` (the unsynced answers come first), sent before the clock synced,
or sent again alone after the boot's synced answers were refused, carried none, and its answers
went in for any site the kiosk ever stood at. So the outbox names the anchor with every batch.

A boot's anchor is its first synced event (an answer, or a follow-up: the centre reads either)
after its last unsynced answer (a boot's events are consecutive seqs: the next synced event, if
it is that boot's). A boot that synced but recorded nothing after has its clock kept in meta
(`keep_anchor`, `clock.anchor.<boot>`: the sync agent writes it the first time it sees the boot
synced): without it, its held answers went after a reboot with no anchor, and the centre kept
them uncorrected (a review: 30 days off, from fake-hwclock). For the running boot, with neither,
the clock now, once synced (`live`). Only batches holding an unsynced event cost a statement. An
event whose cells the card damaged (a time that is not one, a number turned text) is never
named: the next synced event of the boot is (`_first_synced_after`); a kept anchor the card
damaged is not named either.

While the running boot's clock has not synced, no anchor can be named: its unsynced events wait
for the sync (`Hold`), in the boot's first `sync.clock_wait_s` only (then they go without, as
before: a kiosk offline from NTP must not hold its answers for ever). Nothing is dropped: they stay in the outbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from peewee import Database

from kiosk.damaged_text import tolerant_text
from server_sync import protocol as P

_UNSYNCED = '"clock_synced":false'       # as SQLite's json_object writes it (kiosk.store.event_json_sql)
# How many synced answers are looked at for a boot's anchor: the first, and those after it should
# the card have damaged it (more damaged rows in a row than that: no anchor, as before anchors).
_LOOK_PAST = 8
KEPT = "clock.anchor."                   # meta: + a boot id, that boot's anchor (`keep_anchor`)
# Kept anchors no event waiting for the centre needs: of boots with no unsynced event unacked.
_FORGET = (f"DELETE FROM meta WHERE key LIKE '{KEPT}%' AND key != ?1 AND substr(key, {len(KEPT) + 1}) NOT IN"
           " (SELECT boot_id FROM response WHERE clock_synced = 0 AND acked_at IS NULL"
           " UNION SELECT boot_id FROM followup WHERE clock_synced = 0 AND acked_at IS NULL)")


def unsynced_boots(events_json: Sequence[str]) -> list[str]:
    """The boots of the unsynced events among these wire JSON texts, in order of first sight."""
    boots: dict[str, None] = {}
    for text in events_json:
        if _UNSYNCED in text:
            event = json.loads(text)
            if event.get("clock_synced") is False and isinstance(event.get("boot_id"), str):
                boots.setdefault(event["boot_id"])
    return list(boots)


def batch_anchors(db: Database, events_json: Sequence[str], live: P.Anchor | None = None) -> tuple[P.Anchor, ...]:
    """The anchors of the boots whose unsynced events are among `events_json` (none known for a
    boot: none for it). `live`: the running boot's, from its synced clock now (None: not synced)."""
    out = []
    for boot in unsynced_boots(events_json)[:P.MAX_ANCHORS]:
        anchor = _first_synced_after(db, boot) or kept_anchor(db, boot)
        if anchor is None and live is not None and live.boot_id == boot:
            anchor = live
        if anchor is not None:
            out.append(anchor)
    return tuple(out)


def _first_synced_after(db: Database, boot: str) -> P.Anchor | None:
    """The boot's first synced event (answer or follow-up) after its last unsynced answer whose
    cells make an anchor (`P.valid_anchor`), as an anchor; None if the next such event is
    another boot's, or there is none among the next few synced ones."""
    last = db.execute_sql("SELECT MAX(seq) FROM response WHERE clock_synced = 0 AND boot_id = ?"
                          " AND typeof(seq) = 'integer'", (boot,)).fetchone()[0]
    # Read as the card left them (a byte not UTF-8 as U+FFFD, kiosk.damaged_text): one damaged
    # cell must not fail the batch's read, nor be named as it is: the centre refused every batch
    # naming an anchor off the contract, and the kiosk named it again at every try, for good. A
    # later synced answer of the boot reads its clock as well; a damaged row of another boot is
    # passed over too, and stops nothing: no answer of this boot comes after another boot's.
    with tolerant_text(db.connection()):
        rows = [row for table in ("response", "followup") for row in db.execute_sql(
            f"SELECT seq, boot_id, recorded_at, monotonic_ns FROM {table} WHERE seq > ? AND clock_synced = 1"
            " AND typeof(seq) = 'integer' ORDER BY seq LIMIT ?", (last or 0, _LOOK_PAST)).fetchall()]
    for _, *row in sorted(rows, key=lambda r: r[0])[:_LOOK_PAST]:
        anchor = P.valid_anchor(*row)
        if anchor is not None:
            return anchor if anchor.boot_id == boot else None
    return None


def keep_anchor(db: Database, anchor: P.Anchor) -> None:
    """Keep the running boot's anchor (its first kept stays: nearest its unsynced answers), and
    forget those of boots no unacked unsynced event needs any more: one row per such boot."""
    value = json.dumps({"recorded_at": anchor.recorded_at, "monotonic_ns": anchor.monotonic_ns})
    key = KEPT + anchor.boot_id
    with db.atomic():
        db.execute_sql("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
        db.execute_sql(_FORGET, (key,))


def kept_anchor(db: Database, boot: str) -> P.Anchor | None:
    """The anchor kept for `boot` (`keep_anchor`), if any and the card left it whole."""
    with tolerant_text(db.connection()):
        row = db.execute_sql("SELECT value FROM meta WHERE key = ?", (KEPT + boot,)).fetchone()
    try:
        value = json.loads(row[0]) if row is not None else None
    except (TypeError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    return P.valid_anchor(boot, value.get("recorded_at"), value.get("monotonic_ns"))


@dataclass(frozen=True)
class Hold:
    """The running boot's unsynced events wait: its clock has not synced, in the boot's first
    `sync.clock_wait_s` (`hold_for`; so no event of it has waited longer than that)."""
    boot_id: str


def held_from(events_json: Sequence[str], hold: Hold | None) -> int | None:
    """The index of the first of these events that waits (it and all after it stay: a batch is
    consecutive seqs); None when none does."""
    if hold is None:
        return None
    for i, text in enumerate(events_json):
        if _UNSYNCED in text:
            event = json.loads(text)
            if event.get("boot_id") == hold.boot_id and event.get("clock_synced") is False:
                return i
    return None


def hold_for(boot_id: str, synced: bool, monotonic_ns: int, longest_s: float) -> Hold | None:
    """What of the running boot waits for its clock now: nothing once it has synced, and nothing
    once the boot is older than `longest_s` (monotonic time counts from the boot) without a sync:
    a clock that has not synced by then has no NTP to sync from (a laptop's demo, a kiosk whose
    network blocks NTP), and holding every answer of its for good would make the live pages
    `longest_s` late for ever (a review: the demo's key press never reached its dashboard)."""
    if synced or longest_s <= 0 or monotonic_ns > longest_s * 1e9:
        return None
    return Hold(boot_id)


def live_anchor(boot_id: str, synced: bool, now_text: str, monotonic_ns: int) -> P.Anchor | None:
    """The running boot's anchor from its clock read now (`now_text`: wire time), if synced."""
    return P.Anchor(boot_id, now_text, monotonic_ns) if synced else None
