"""Two devices answering as one kiosk: a memory card copied from a working kiosk (an image made of
it, or the card itself put in a second Pi) keeps the kiosk's identity, its broker password and its
outbox's answer numbers. Both devices then send answers of the same numbers (`seq`), each with its
own ids, from their own boots, at the same time: all are stored (no answer is lost), but the site
counts answers from a device that may stand in another store, and the broker knocks each device
off in turn (one client id). Found at ingest (`record`, after a batch's new answers are stored):
a new answer whose number another boot of the kiosk used for an answer received in the last
`WITHIN`. A kiosk reinstalled under its old id starts its numbers again too, but its earlier
answers of those numbers came long before. Kept per kiosk in `kiosk_twin`; the fleet flags it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from peewee import Database

from server_sync.central.dialect import in_list, time_param

WITHIN = timedelta(days=1)


def record(db: Database, kiosk_id: str, new: Sequence[tuple[int, str]], answers: int, received: datetime,
           ts: Callable[[datetime], Any] | None = None) -> bool:
    """After a batch's new answers (`new`: (seq, boot_id) each, of its `answers` in all) are stored,
    in its transaction: whether another boot of `kiosk_id` used one of their numbers for an answer
    received within `WITHIN` before `received` (naive UTC); if so it is kept in `kiosk_twin`."""
    if not new:
        return False
    p = db.param
    seqs, boots = sorted({s for s, _b in new}), sorted({b for _s, b in new})
    # The common batch: its answers are all the kiosk has in their range of numbers (counted from
    # the index alone); only a range holding more is looked at answer by answer (the check cost
    # a third of ingest's time on PostgreSQL, benchmarks/ingest_store).
    held = db.execute_sql(f"SELECT COUNT(*) FROM response WHERE kiosk_id = {p} AND seq BETWEEN {p} AND {p}",
                          (kiosk_id, seqs[0], seqs[-1])).fetchone()[0]
    if held <= answers:
        return False
    ts = ts or time_param(db)
    where, params = in_list(db, "seq", seqs)
    other, other_params = in_list(db, "boot_id", boots)
    row = db.execute_sql(
        f"SELECT seq, boot_id FROM response WHERE kiosk_id = {p} AND {where} AND NOT ({other})"
        f" AND received_at >= {p} LIMIT 1", [kiosk_id, *params, *other_params, ts(received - WITHIN)]).fetchone()
    if row is None:
        return False
    seq, twin_boot = row
    boot = next(b for s, b in new if s == seq)
    db.execute_sql(
        f"INSERT INTO kiosk_twin (kiosk_id, first_seen_at, last_seen_at, seq, boot_id, other_boot_id)"
        f" VALUES ({p}, {p}, {p}, {p}, {p}, {p}) ON CONFLICT (kiosk_id) DO UPDATE SET"
        " last_seen_at = excluded.last_seen_at, seq = excluded.seq, boot_id = excluded.boot_id,"
        " other_boot_id = excluded.other_boot_id",
        (kiosk_id, ts(received), ts(received), seq, boot, twin_boot))
    return True
