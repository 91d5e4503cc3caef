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
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kiosk.store import LocalStore
from server_sync.protocol import iso_ms

CHUNK = 1000
# Acknowledged before the cut-off, or refused for good and set aside by a person (`kiosk refused
# set-aside`) before it: those are kept the whole period from the decision, however old they
# were then (months under a wrong site, noticed late), so there is time to export them.
_ACKED_BEFORE = "((acked_at IS NOT NULL AND recorded_at < ?1) OR (set_aside_at IS NOT NULL AND set_aside_at < ?1))"


def prune_acknowledged(store: LocalStore, keep_days: int, now: datetime, *, chunk: int = CHUNK) -> int:
    """Remove acknowledged answers and follow-ups recorded more than `keep_days` before `now`;
    return how many rows went."""
    cutoff = iso_ms(now - timedelta(days=keep_days))
    db = store.db
    removed = 0
    for select in (f"SELECT id FROM followup WHERE {_ACKED_BEFORE} LIMIT ?2",
                   f"SELECT id FROM response r WHERE {_ACKED_BEFORE} AND NOT EXISTS"
                   " (SELECT 1 FROM followup f WHERE f.response_id = r.id) LIMIT ?2"):
        table = select.split(" FROM ")[1].split()[0]
        while True:
            with db.atomic("IMMEDIATE"):
                ids = [r[0] for r in db.execute_sql(select, (cutoff, chunk)).fetchall()]
                if ids:
                    db.execute_sql(f"DELETE FROM {table} WHERE id IN ({', '.join('?' * len(ids))})", ids)
            removed += len(ids)
            if len(ids) < chunk:
                break
    return removed
