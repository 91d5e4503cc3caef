"""Acknowledged answers leave the SD card after `privacy.keep_acked_days` (default 90): once the
centre has committed an answer, the kiosk needs it only for its own staff statistics (a week
and the same weekday last week), so keeping years of answers on a card in a shop is data kept
for no purpose. What the centre has not acknowledged (unsent, in flight, or refused for good and
waiting for a person) is never removed, whatever its age, unless a person set it aside (`kiosk
refused set-aside`): it goes `keep_acked_days` after that decision.

The sync agent runs a pass (`RetentionPass`) at start and every few hours, one write transaction
per turn of its loop (`step`), PASS_PAUSE_S apart (kiosk.sync_agent). A tap's commit waits for
the write lock of the transaction running then, in another process (busy_timeout), and SQLite's
busy handler retries after 1, 2, 5, 10 … ms: each transaction is sized to last about
TRANSACTION_S (`next_size`, from how long the last one took: a Pi's card is slower than a
laptop's disk) and the next one comes only after the pause, so a tap gets in at its next retry.
The due rows are looked up outside the write transaction (a scan over every answer blocks no
tap) and the delete checks them again inside it, so an answer given a reason in between stays.
After each delete the pass checkpoints the WAL itself (PASSIVE: it takes no write lock): a
delete writes a page of every index for each row, and the WAL's automatic checkpoint at 1000
pages would otherwise run inside the commit of whichever came next, a tap's too. Measured in
benchmarks/retention_taps.py (222,000 of 300,000 answers due, x86; the stored run): the pass as
it was, 1000-row transactions back to back (~30-70 ms each), had taps waiting up to 42 ms (p99
39 ms; 61 and 66 ms in two trial runs); this one, p99 12 ms and at most 21 ms, beside 5 and 8 ms
with nothing else writing, over a pass of 28 s instead of 6. Follow-ups go before their answers
(an answer is kept while a follow-up of it is). The sequence counter is apart from the rows, so
no seq is ever reused.

A pass that removed anything ends by emptying the WAL (server_sync.program.sqlite_wal): the app
and the sync agent hold the store open for good, so SQLite never cuts the file, and a removed
comment stayed readable in kiosk.db-wal (a privacy review). A try waits for no one (SQLite would
hold the write lock, and a tap with it, while it waited for readers); while the app or `kiosk
stats` is reading it is tried again WAL_RETRY_S apart, WAL_TRIES times; a pass that gave up
leaves it to the next (`wal_owed`), which empties the WAL even when it has nothing to remove.
`secure_delete` (kiosk.store's PRAGMAS) zeroes the removed rows in kiosk.db itself.

An answer's age is its `recorded_at`, except for one stamped before the clock synced in the boot
running now: its wall time says nothing about its age (a Pi back from months in storage starts
at fake-hwclock's old time, so the answer a customer is giving a reason for looked months old the
moment NTP synced, and went). Its age is the boot's monotonic clock instead, which the answer
carries too. One stamped unsynced in an earlier boot goes by its `recorded_at`: that boot's
monotonic readings say nothing about now, and its follow-up screen went with it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Callable

from kiosk.store import LocalStore
from server_sync.program.sqlite_wal import empty_wal
from server_sync.protocol import iso_ms

TRANSACTION_S = 0.005     # a write transaction of a pass lasts about this long: what a tap waits for
MIN_ROWS = 8              # rows a transaction removes at the least (a card slower than the bound)
MAX_ROWS = 1000           # and at the most
WAL_RETRY_S = 1.0         # between two tries at emptying the WAL while another connection reads
WAL_TRIES = 30            # a pass's tries at it before it leaves it to the next pass
# Acknowledged before the cut-off, or refused for good and set aside by a person (`kiosk refused
# set-aside`) before it: those are kept the whole period from the decision, however old they
# were then (months under a wrong site, noticed late), so there is time to export them.
# ?1 the wall-clock cut-off, ?3 the boot running now, ?4 its monotonic cut-off (module docstring:
# a row stamped unsynced in this boot is aged by its monotonic_ns).
_RECORDED_BEFORE = "(CASE WHEN clock_synced = 0 AND boot_id = ?3 THEN monotonic_ns < ?4 ELSE recorded_at < ?1 END)"
_ACKED_BEFORE = (f"((acked_at IS NOT NULL AND {_RECORDED_BEFORE})"
                 " OR (set_aside_at IS NOT NULL AND set_aside_at < ?1))")
# What may go, per table, follow-ups first: an answer goes only once no follow-up of it is left.
_DUE = {"followup": _ACKED_BEFORE,
        "response": f"{_ACKED_BEFORE} AND NOT EXISTS (SELECT 1 FROM followup f WHERE f.response_id = response.id)"}


def next_size(size: int, took_s: float, target_s: float = TRANSACTION_S) -> int:
    """How many rows the next transaction removes: as many as `target_s` holds at the rate of
    the last one (`size` rows in `took_s`), at most twice `size`, within MIN_ROWS..MAX_ROWS."""
    fit = 2 * size if took_s <= 0 else int(size * target_s / took_s)
    return max(MIN_ROWS, min(MAX_ROWS, 2 * size, fit))


class RetentionPass:
    """One pass over the card: acknowledged (or set-aside) answers and follow-ups recorded more
    than `keep_days` before `now` go, a short write transaction per `step` until `done`.
    `boot_id` and `monotonic_ns` are the boot running now and its monotonic clock: what was
    stamped in it before the clock synced is aged by them. Once the rows are done, the WAL is
    emptied when the pass removed anything or `wal_owed` (an earlier pass could not);
    `wal_emptied` says whether it was (None: there was nothing to empty)."""

    START_ROWS = 64

    def __init__(self, store: LocalStore, keep_days: int, now: datetime, *, boot_id: str, monotonic_ns: int,
                 timer: Callable[[], float] = time.perf_counter, wal_owed: bool = False) -> None:
        self.store = store
        self.params = (iso_ms(now - timedelta(days=keep_days)), boot_id,
                       monotonic_ns - keep_days * 86400 * 1_000_000_000)
        self.timer = timer
        self.size = self.START_ROWS
        self.removed = 0
        self._tables = list(_DUE)
        self._wal_owed = wal_owed
        self.wal_tries = 0
        self.wal_emptied: bool | None = None

    @property
    def done(self) -> bool:
        return not self._tables and not self.emptying_wal

    @property
    def emptying_wal(self) -> bool:
        """The rows are done; the WAL is still to be emptied (its next try WAL_RETRY_S later)."""
        return (not self._tables and (self.removed > 0 or self._wal_owed) and self.wal_emptied is None
                and self.wal_tries < WAL_TRIES)

    def due(self, table: str, limit: int) -> list[str]:
        """Ids of up to `limit` rows of `table` that may go, looked up outside any write
        transaction (a read in WAL mode blocks no writer)."""
        cutoff, boot_id, mono_cutoff = self.params
        return [r[0] for r in self.store.db.execute_sql(
            f"SELECT id FROM {table} WHERE {_DUE[table]} LIMIT ?2", (cutoff, limit, boot_id, mono_cutoff))]

    def delete(self, table: str, ids: list[str]) -> int:
        """Remove those of `ids` that may still go (checked again: a follow-up may have come in
        since `due`), in one write transaction; how many went."""
        cutoff, boot_id, mono_cutoff = self.params
        marks = ", ".join(f"?{5 + i}" for i in range(len(ids)))
        with self.store.db.atomic("IMMEDIATE"):
            return self.store.db.execute_sql(
                f"DELETE FROM {table} WHERE id IN ({marks}) AND {_DUE[table]}",
                (cutoff, None, boot_id, mono_cutoff, *ids)).rowcount

    def step(self) -> int:
        """At most one write transaction: the next due rows of the table being pruned (the
        next table when this one has none left); how many went. With the rows done, a try at
        emptying the WAL."""
        while self._tables:
            table, size = self._tables[0], self.size
            ids = self.due(table, size)
            if len(ids) < size:
                self._tables.pop(0)              # the last of this table (the delete re-checks them)
            if ids:
                started = self.timer()
                n = self.delete(table, ids)
                self.size = next_size(size, self.timer() - started)
                self.store.db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")   # not in a tap's commit
                self.removed += n
                return n
        if self.emptying_wal:
            self.wal_tries += 1
            if empty_wal(self.store.db):
                self.wal_emptied = True
            elif self.wal_tries >= WAL_TRIES:
                self.wal_emptied = False
        return 0


def prune_acknowledged(store: LocalStore, keep_days: int, now: datetime, *, boot_id: str,
                       monotonic_ns: int) -> int:
    """A whole `RetentionPass` at once (each transaction still a short one, the WAL's tries
    WAL_RETRY_S apart); how many rows went."""
    p = RetentionPass(store, keep_days, now, boot_id=boot_id, monotonic_ns=monotonic_ns)
    while not p.done:
        if p.emptying_wal and p.wal_tries:
            time.sleep(WAL_RETRY_S)
        p.step()
    return p.removed
