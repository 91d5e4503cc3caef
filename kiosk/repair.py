"""Salvage a damaged kiosk database (`kiosk repair`): every row a full scan can still read goes
into a fresh database, which takes the damaged one's place; the damaged files are kept beside
it, renamed, never deleted.

A damaged index (the usual harm a power cut or a worn card does) makes every query through it
fail while each row is still readable by a scan of its table, so the scan goes row by row in
rowid order and skips past a damaged stretch of the table itself. A text cell with a damaged byte
(not UTF-8) is read with U+FFFD in its place (kiosk.damaged_text): the row is kept. The sequence continues above
every seq the kiosk ever gave out: above the damaged file's sequence, when that is readable, and
the sent mark (a counter read from a file whose WAL was lost is behind), else (an empty file, a
lost sequence page) above the sent mark and at least from the time
(milliseconds since 2020, which no kiosk counting one event at a time can have reached;
kiosk.earlier): a seq is never used twice.

The database is read from a copy (with its WAL), so the damaged file is never written to. Run it
with the kiosk's services stopped: from the copy to the swap it holds the file so that nothing else
can use it, and refuses, naming the services to stop, when something has it open (a running app
would go on recording, and thanking, into the file that is then renamed aside: kiosk.sole_use).
It refuses a healthy database unless forced. It needs room for the copy and the fresh database:
on a disk without it, it says the disk is full and changes nothing (a full disk damages nothing;
SQLite merely cannot open a database there).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from kiosk.earlier import SEQUENCE_EPOCH, UNKNOWN_BAND, earlier_use, read_sent, resume_sequence
from kiosk.access import database_exists, no_access
from kiosk.damaged_text import decode_text
from kiosk.exc import DiskFull, StoreError
from kiosk.sole_use import held_alone
from kiosk.migrations import KIOSK_TABLES, user_tables
from kiosk.store import LocalStore, free_bytes, look_uri, not_ours, out_of_inodes

TABLES = ("response", "followup", "meta")          # in this order: answers before their follow-ups

OWN_TABLES = KIOSK_TABLES - {"response", "followup"}     # the kiosk's ledgers: the centre's store has those two


@dataclass
class Repaired:
    """What `repair` did."""
    path: str
    damaged_kept_as: list[str]
    salvaged: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)     # stretches of a table that could not be read
    sequence: int = 0                                            # the last seq given out; the next is above
    sequence_from: str = ""       # "damaged file", "sent mark", "time" or "unknown-time band"

    def as_dict(self) -> dict:
        return {"path": self.path, "damaged_kept_as": self.damaged_kept_as, "salvaged": self.salvaged,
                "unreadable": self.unreadable, "sequence": self.sequence,
                "sequence_from": self.sequence_from}


def _refuse_foreign_tables(path: Path) -> None:
    """Another program's database (the centre's store in the kiosk's data directory) is not
    rebuilt as a kiosk's, damaged or not, --force or not: its tables that can be read hold none of
    the kiosk's own ledgers (`sequence`, `meta`). Judged by the tables, not the schema version: a
    kiosk's file whose header lost its version is still salvaged, and one whose schema cannot be
    read at all is salvaged for what it holds."""
    try:
        con = sqlite3.connect(look_uri(path), uri=True, timeout=5)
    except sqlite3.Error:
        return
    try:
        tables = user_tables(con)
    except sqlite3.Error:
        return
    finally:
        con.close()
    if tables and not tables & OWN_TABLES:
        shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise not_ours(path, f"it holds tables but none of the kiosk's own ledgers ({shown})")


def healthy(path: Path) -> bool:
    """The file is a non-empty SQLite database whose integrity_check says ok."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        con = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return False
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        return False
    finally:
        con.close()


def repair(path: Path | str, *, now: datetime, force: bool = False, wait: float = 2.0) -> Repaired:
    """Salvage `path` into a fresh database that replaces it (see the module's docstring); `wait`
    is how long another program's hold on the file may take to end before repair refuses."""
    path = Path(path)
    if not database_exists(path):
        evidence = earlier_use(path)
        if evidence:
            raise StoreError(f"no database at {path}, though this directory held one ({', '.join(p.name for p in evidence)}): "
                             "the card lost it, and with it whatever it had not sent to the centre. Nothing to repair: "
                             "the next start makes a new one, whose sequence continues above every seq that left the kiosk")
        raise StoreError(f"no database at {path}: nothing to repair (a new one is made at the first start)")
    _refuse_foreign_tables(path)
    if not force and healthy(path):
        raise StoreError(f"{path} is not damaged (integrity_check ok): nothing to repair (--force rebuilds it anyway)")
    _refuse_a_full_disk(path)
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    try:
        # Held from before the copy until after the swap: nothing written meanwhile can be left
        # behind in the file renamed aside.
        with held_alone(path, wait=wait):
            work = Path(tempfile.mkdtemp(prefix=".repair-", dir=path.parent))
            try:
                rows, result = _salvage(path, work)
                fresh = work / "fresh.db"
                result.sequence, result.sequence_from = _write(fresh, rows, now, read_sent(path))
                result.path = str(path)
                result.damaged_kept_as = _swap(path, fresh, stamp)
                return result
            finally:
                shutil.rmtree(work, ignore_errors=True)
    except OSError as e:
        if isinstance(e, DiskFull) or e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _full(path) from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise no_access(path) or StoreError(f"cannot repair {path}: {e}") from None
        raise


def _full(path: Path) -> DiskFull:
    room = "delete files first (it has no free inodes)" if out_of_inodes(path) else "free space first"
    return DiskFull(f"the disk holding {path} is full: `kiosk repair` needs room for a copy of the database and a "
                    f"fresh one, so {room} (docs/deployment.md, A full SD card). The database was left as it "
                    "is; a full disk damages nothing, so run `kiosk doctor` once there is room before any repair")


def _refuse_a_full_disk(path: Path) -> None:
    """Say so before anything is written when the disk cannot hold the copy and the fresh
    database (each at most the size of the file and its WAL), plus a margin for SQLite."""
    size = sum(Path(f"{path}{suffix}").stat().st_size for suffix in ("", "-wal")
               if Path(f"{path}{suffix}").exists())
    free = free_bytes(path)
    if free is not None and free < 2 * size + 1024 * 1024:
        raise _full(path)


def _salvage(path: Path, work: Path) -> tuple[dict[str, tuple[list[str], list[tuple]]], Repaired]:
    """Every readable row of the kiosk's tables, read from a copy of the file and its WAL."""
    copy = work / "damaged.db"
    for suffix in ("", "-wal"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{copy}{suffix}")
    result = Repaired(str(path), [])
    rows: dict[str, tuple[list[str], list[tuple]]] = {}
    if copy.stat().st_size == 0:
        return rows, result
    con = sqlite3.connect(copy, timeout=5)
    # A damaged byte in a text cell reads as U+FFFD: the row is kept, not a stretch stepped over.
    con.text_factory = decode_text
    try:
        for table in TABLES + ("sequence",):
            try:
                columns = [r[1] for r in con.execute(f"PRAGMA table_info({table})").fetchall()]
            except sqlite3.DatabaseError:
                columns = []                            # the schema itself is unreadable
            got, bad = ([], 0) if not columns else _scan(con, table, columns)
            rows[table] = (columns, got)
            result.salvaged[table] = len(got)
            result.unreadable[table] = bad
    finally:
        con.close()
    return rows, result


def _scan(con: sqlite3.Connection, table: str, columns: list[str]) -> tuple[list[tuple], int]:
    """The table's rows in rowid order, never through an index (NOT INDEXED); a damaged stretch
    is stepped over by seeking ever further past it, then back to the first rowid after it that
    reads. Returns (rows, damaged stretches).

    Positions are sought with `rowid >= n`: SQLite finds that row through the interior pages,
    while `rowid > n - 1` starts in the leaf that holds n - 1 (damaged, at a stretch's end). And a
    row is read alone (LIMIT 1) where a scan fails: Python's cursor reads one row ahead, so the
    last readable row before a damaged page fails along with the next one in a scan."""
    select = f"SELECT rowid, {', '.join(columns)} FROM {table} NOT INDEXED WHERE rowid >= ? ORDER BY rowid"
    try:
        top = con.execute(f"SELECT MAX(rowid) FROM {table} NOT INDEXED").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        top = 2 ** 62

    def first_from(position: int) -> tuple[bool, tuple | None]:
        """(whether it reads, the first row at or after `position`, None past the end)."""
        try:
            got = con.execute(select + " LIMIT 1", (position,)).fetchall()
        except sqlite3.DatabaseError:
            return False, None
        return True, (got[0] if got else None)

    rows: list[tuple] = []
    last, stretches, in_stretch = 0, 0, False
    while True:
        with contextlib.suppress(sqlite3.DatabaseError):      # a failed read goes on below
            for row in _rows(con, select, last + 1):
                rows.append(row[1:])
                last, in_stretch = row[0], False
            return rows, stretches
        ok, row = first_from(last + 1)
        if ok:
            if row is None:
                return rows, stretches
            rows.append(row[1:])
            last, in_stretch = row[0], False
            continue
        if not in_stretch:
            stretches, in_stretch = stretches + 1, True
        # The row at last + 1 does not read: seek ever further, then back to the first that does.
        failed, k = 1, 2
        while not first_from(last + k)[0]:
            if last + k > top:
                return rows, stretches
            failed, k = k, k * 2
        while k - failed > 1:
            mid = (failed + k) // 2
            failed, k = (failed, mid) if first_from(last + mid)[0] else (mid, k)
        last += k - 1                     # at least one further: the loop ends


def _rows(con: sqlite3.Connection, select: str, after: int) -> Iterator[tuple]:
    """One row at a time: a read that fails leaves the caller's last row the last one read."""
    cursor = con.execute(select, (after,))
    while (row := cursor.fetchone()) is not None:
        yield row


def _write(fresh: Path, rows: dict[str, tuple[list[str], list[tuple]]], now: datetime,
           sent: int) -> tuple[int, str]:
    """A new database at `fresh` (schema by the migrations) holding the salvaged rows; returns
    the sequence it continues from and where that came from (`sent`: the sent mark)."""
    store = LocalStore(fresh)
    db = store.db
    try:
        known_seq = _sequence(rows)
        max_seq = 0
        db.execute_sql("PRAGMA foreign_keys = OFF")      # a follow-up whose answer was lost is kept too
        with db.atomic("IMMEDIATE"):
            for table in TABLES:
                columns, got = rows.get(table, ([], []))
                if not got:
                    continue
                have = {r[1] for r in db.execute_sql(f"PRAGMA table_info({table})").fetchall()}
                keep = [i for i, c in enumerate(columns) if c in have]
                names = ", ".join(columns[i] for i in keep)
                marks = ", ".join("?" * len(keep))
                db.connection().executemany(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})",
                                            [tuple(r[i] for i in keep) for r in got])
                if "seq" in columns:
                    at = columns.index("seq")
                    max_seq = max([max_seq] + [r[at] for r in got if isinstance(r[at], int)])
            if known_seq is not None:
                # Above the sent mark too: a counter read from a file whose WAL the card lost is
                # behind what was given out, and the lost seqs that left are under the mark.
                sequence = max(known_seq, max_seq, sent)
                source = "sent mark" if sent > max(known_seq, max_seq) else "damaged file"
            else:
                newest = max([now] + [_parse(r) for r in _times(rows)])
                resumed = resume_sequence(newest, sent)
                sequence = max(max_seq, resumed)
                source = ("sent mark" if sent and resumed == sent
                          else "unknown-time band" if resumed >= UNKNOWN_BAND else "time")
            db.execute_sql("UPDATE sequence SET value = ? WHERE name = 'event'", (sequence,))
        return sequence, source
    finally:
        store.close()


def _sequence(rows: dict[str, tuple[list[str], list[tuple]]]) -> int | None:
    columns, got = rows.get("sequence", ([], []))
    if "name" not in columns or "value" not in columns:
        return None
    for r in got:
        if r[columns.index("name")] == "event" and isinstance(r[columns.index("value")], int):
            return r[columns.index("value")]
    return None


def _times(rows: dict[str, tuple[list[str], list[tuple]]]) -> Iterator[str]:
    for table in ("response", "followup"):
        columns, got = rows.get(table, ([], []))
        if "recorded_at" in columns:
            at = columns.index("recorded_at")
            yield from (r[at] for r in got if isinstance(r[at], str))


def _parse(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return SEQUENCE_EPOCH


def _swap(path: Path, fresh: Path, stamp: str) -> list[str]:
    """Put `fresh` in place of `path`; the damaged file and its WAL are kept, renamed. The old
    WAL must leave first: left beside the new file, SQLite would play it into it. Should a step
    fail (a full directory), what was moved goes back: the database is left as it was."""
    for n in itertools.count(1):
        # A second repair within the same second (or under a clock that stands still) keeps
        # its damaged file beside the first one's, under a name of its own.
        name = stamp if n == 1 else f"{stamp}-{n}"
        target = path.with_name(f"{path.name}.damaged-{name}")
        try:
            os.link(path, target)
            break
        except FileExistsError:
            continue
    stamp = name
    kept = [str(target)]
    moved: list[tuple[Path, Path]] = []
    try:
        for suffix in ("-wal", "-shm"):
            old = Path(f"{path}{suffix}")
            if old.exists():
                aside = path.with_name(f"{path.name}.damaged-{stamp}{suffix}")
                os.replace(old, aside)
                moved.append((aside, old))
                kept.append(str(aside))
        os.replace(fresh, path)
    except OSError:
        for aside, old in reversed(moved):
            os.replace(aside, old)
        target.unlink()
        raise
    for suffix in ("-wal", "-shm"):
        Path(f"{fresh}{suffix}").unlink(missing_ok=True)
    return kept
