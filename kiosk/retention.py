"""Acknowledged answers leave the SD card after `privacy.keep_acked_days` (default 90): once the
centre has committed an answer, the kiosk needs it only for its own staff statistics (a week
and the same weekday last week), so keeping years of answers on a card in a shop is data kept
for no purpose. What the centre has not acknowledged (unsent, in flight, or refused for good and
waiting for a person) is never removed, whatever its age, unless a person set it aside (`kiosk
refused set-aside`): it goes `keep_acked_days` after that decision.

The sync agent runs `prune_acknowledged` at start and every few hours; each chunk is one short
transaction, so a tap recorded meanwhile waits at most a few milliseconds. Follow-ups go before
their answers (an answer is kept while a follow-up of it is). The sequence counter is apart from
the rows, so no seq is ever reused.

An answer's age is its `recorded_at`, except for one stamped before the clock synced in the boot
running now: its wall time says nothing about its age (a Pi back from months in storage starts
at fake-hwclock's old time, so the answer a customer is giving a reason for looked months old the
moment NTP synced, and went). Its age is the boot's monotonic clock instead, which the answer
carries too. One stamped unsynced in an earlier boot goes by its `recorded_at`: that boot's
monotonic readings say nothing about now, and its follow-up screen went with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kiosk.store import LocalStore
from server_sync.protocol import iso_ms

CHUNK = 1000
# Acknowledged before the cut-off, or refused for good and set aside by a person (`kiosk refused
# set-aside`) before it: those are kept the whole period from the decision, however old they
# were then (months under a wrong site, noticed late), so there is time to export them.
# ?1 the wall-clock cut-off, ?3 the boot running now, ?4 its monotonic cut-off (module docstring:
# a row stamped unsynced in this boot is aged by its monotonic_ns).
_RECORDED_BEFORE = "(CASE WHEN clock_synced = 0 AND boot_id = ?3 THEN monotonic_ns < ?4 ELSE recorded_at < ?1 END)"
_ACKED_BEFORE = (f"((acked_at IS NOT NULL AND {_RECORDED_BEFORE})"
                 " OR (set_aside_at IS NOT NULL AND set_aside_at < ?1))")


def prune_acknowledged(store: LocalStore, keep_days: int, now: datetime, *, boot_id: str,
                       monotonic_ns: int, chunk: int = CHUNK) -> int:
    """Remove acknowledged answers and follow-ups recorded more than `keep_days` before `now`;
    return how many rows went. `boot_id` and `monotonic_ns` are the boot running now and its
    monotonic clock: what was stamped in it before the clock synced is aged by them."""
    cutoff = iso_ms(now - timedelta(days=keep_days))
    mono_cutoff = monotonic_ns - keep_days * 86400 * 1_000_000_000
    db = store.db
    removed = 0
    for select in (f"SELECT id FROM followup WHERE {_ACKED_BEFORE} LIMIT ?2",
                   f"SELECT id FROM response r WHERE {_ACKED_BEFORE} AND NOT EXISTS"
                   " (SELECT 1 FROM followup f WHERE f.response_id = r.id) LIMIT ?2"):
        table = select.split(" FROM ")[1].split()[0]
        while True:
            with db.atomic("IMMEDIATE"):
                ids = [r[0] for r in db.execute_sql(select, (cutoff, chunk, boot_id, mono_cutoff)).fetchall()]
                if ids:
                    db.execute_sql(f"DELETE FROM {table} WHERE id IN ({', '.join('?' * len(ids))})", ids)
            removed += len(ids)
            if len(ids) < chunk:
                break
    return removed
