"""Two devices answering as one kiosk: a memory card copied from a working kiosk (an image made of
it, or the card itself put in a second Pi) keeps the kiosk's identity, its broker password and its
outbox's answer numbers. Both devices then send answers of the same numbers (`seq`), each with its
own ids, from their own boots: all are stored (no answer is lost), but the site counts answers
from a device that may stand in another store, and the broker knocks each device off in turn (one
client id). Found at ingest (`record`, after a batch's new answers are stored): a new answer whose
number another boot of the kiosk used for an answer (at any time: a copy of an old image runs
behind the original), while another boot's newest answer came within `WITHIN`: the original still
sends. A kiosk's numbers only go up across its boots (`kiosk repair` and a lost database carry on
above the highest sent), so one device alone never does this. A kiosk reinstalled under its old id
numbers its answers from 1 again: it is taken for a twin only if the old device sent within the
day before. Follow-ups share the kiosk's numbers but are not compared. Kept per kiosk in
`kiosk_twin`; the fleet flags it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from peewee import Database

from server_sync.central.dialect import in_list, time_param
from server_sync.central.event_rows import as_datetime

WITHIN = timedelta(days=1)


def record(db: Database, kiosk_id: str, new: Sequence[tuple[int, str]], stored: Sequence[int], received: datetime,
           ts: Callable[[datetime], Any] | None = None) -> bool:
    """After a batch's answers are stored, in its transaction: `new` the (seq, boot_id) of those it
    added, `stored` the seq of each of its answers now in the store (added, or there already).
    Whether another boot of `kiosk_id` used one of the new numbers while another boot's newest
    answer came within `WITHIN` before `received` (naive UTC); if so it is kept in `kiosk_twin`."""
    if not new:
        return False
    p = db.param
    seqs, boots = sorted({s for s, _b in new}), sorted({b for _s, b in new})
    # The common batch: its answers are all the kiosk has in the range of its new numbers (counted
    # from the index alone); only a range holding more is looked at answer by answer (the check
    # cost a third of ingest's time on PostgreSQL that way, benchmarks/ingest_store).
    held = db.execute_sql(f"SELECT COUNT(*) FROM response WHERE kiosk_id = {p} AND seq BETWEEN {p} AND {p}",
                          (kiosk_id, seqs[0], seqs[-1])).fetchone()[0]
    if held <= sum(1 for s in stored if seqs[0] <= s <= seqs[-1]):
        return False
    where, params = in_list(db, "seq", seqs)
    others, other_params = in_list(db, "boot_id", boots)
    row = db.execute_sql(f"SELECT seq, boot_id FROM response WHERE kiosk_id = {p} AND {where} AND NOT ({others})"
                         " LIMIT 1", [kiosk_id, *params, *other_params]).fetchone()
    if row is None:
        return False
    seq, twin_boot = row
    ts = ts or time_param(db)
    newest = db.execute_sql(f"SELECT received_at FROM response WHERE kiosk_id = {p} AND NOT ({others})"
                            " ORDER BY seq DESC LIMIT 1", [kiosk_id, *other_params]).fetchone()
    if newest is None or as_datetime(newest[0]) < received - WITHIN:
        return False                    # the other device is gone: a kiosk reinstalled under its old id
    boot = next(b for s, b in new if s == seq)
    db.execute_sql(
        f"INSERT INTO kiosk_twin (kiosk_id, first_seen_at, last_seen_at, seq, boot_id, other_boot_id)"
        f" VALUES ({p}, {p}, {p}, {p}, {p}, {p}) ON CONFLICT (kiosk_id) DO UPDATE SET"
        " last_seen_at = excluded.last_seen_at, seq = excluded.seq, boot_id = excluded.boot_id,"
        " other_boot_id = excluded.other_boot_id",
        (kiosk_id, ts(received), ts(received), seq, boot, twin_boot))
    return True
