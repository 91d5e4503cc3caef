"""What a data directory remembers of a kiosk database it held before, outside that database: so a
database made where one went missing (fsck put kiosk.db in lost+found, someone deleted it)
continues the sequence from the time, as `kiosk repair` does for a damaged one, rather than
giving out seqs from 1 again under the same kiosk id.

The evidence: the marker the kiosk leaves beside the database when it opens it as its own
(`kiosk.db.made`, with the time it was first seen; `LocalStore.claim`), what `kiosk repair`
kept of a damaged one (`kiosk.db.damaged-…`), a config the centre pushed (kiosk.pushed) and the
sent mark (`kiosk.db.sent`, `SentMark`). A seq from the time is milliseconds since 2020, which
no kiosk counting one event at a time can have reached, but only with a clock that knows the
time: a Pi has no real-time clock and may start in 1970. What the centre must never get twice is
a seq it has already seen, and only the outbox and an export hand seqs out: the sent mark,
written before they do, is above every seq that left the kiosk, whatever the clock says.
Defence in depth too: an ack for the lost database's events is ignored anyway (the sync agent's
incarnation, docs/sync.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from kiosk.durable_file import replace_file

SEQUENCE_EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)   # no kiosk recorded before (protocol.EARLIEST)
# The sent mark is written this far ahead of the seq that needs it: one write per this many
# events sent, and a gap of at most this many seqs after a lost database (seqs need not be dense).
SENT_RESERVE = 100_000
# Where a database starts when nothing knows the time or what was sent: far above any seq from
# the time (2^62 ms is 146 million years), at a random point of a band 2^61 wide, so two such
# starts do not meet; the protocol's seqs go to 2^63 - 1.
UNKNOWN_BAND = 2**62
UNKNOWN_WIDTH = 2**61

log = logging.getLogger(__name__)


def marker(path: Path) -> Path:
    """The file that says a kiosk database was made at `path`."""
    return path.with_name(f"{path.name}.made")


def sequence_from_time(at: datetime) -> int:
    """A sequence value above every seq given out by `at` (milliseconds since 2020)."""
    return max(0, int((at - SEQUENCE_EPOCH).total_seconds() * 1000))


def sent_file(path: Path) -> Path:
    """The file that holds the sent mark of the kiosk database at `path`."""
    return path.with_name(f"{path.name}.sent")


def read_sent(path: Path) -> int:
    """The sent mark beside the database at `path`: no seq above it has left the kiosk (0: none
    known; an unreadable file says nothing)."""
    try:
        words = sent_file(path).read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return 0
    ok = len(words) >= 2 and words[0] == "seq" and words[1].isascii() and words[1].isdigit()
    return int(words[1]) if ok else 0


class SentMark:
    """Keeps the sent mark above every seq handed out of the database at `path`.

    `cover(seq)` before a seq leaves (published, exported): when the mark is below it, the mark
    is moved SENT_RESERVE above it, atomically and durably. A card that takes no write leaves the
    mark where it was and the seq still goes (the kiosk keeps working on a full card); the clock
    is then what a lost database's successor relies on, as before the mark existed."""

    def __init__(self, path: Path, reserve: int = SENT_RESERVE) -> None:
        self.path = Path(path)
        self.reserve = reserve
        self.covered = read_sent(self.path)
        self._failing = False

    def cover(self, seq: int) -> None:
        if seq <= self.covered:
            return
        try:
            # Another process (an export beside the sync agent) may move the mark too: read and
            # replace it under a lock they take as well, and never write it lower than it stands.
            with _writers_lock(self.path.parent):
                value = max(seq + self.reserve, read_sent(self.path))
                replace_file(sent_file(self.path), f"seq {value}\n")
        except OSError as e:
            if not self._failing:
                log.warning("cannot write the sent mark %s (%s): seqs go out above it", sent_file(self.path), e)
            self._failing = True
            return
        self._failing = False
        self.covered = value


@contextlib.contextmanager
def _writers_lock(directory: Path):
    """An exclusive lock among the sent mark's writers: flock(2) on the data directory itself,
    so a card with no room for a lock file still serialises them (released with the fd, also
    when the process dies)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def earlier_use(path: Path) -> list[Path]:
    """The files beside `path` (a database that is not there) that show the directory held a
    kiosk database before; none on a fresh card."""
    from kiosk.pushed import PUSHED_FILE       # here: the kiosk app's start does not need the config push
    found = [p for p in (marker(path), sent_file(path), path.with_name(PUSHED_FILE)) if p.exists()]
    return found + sorted(path.parent.glob(f"{path.name}.damaged-*"))


def start_sequence(path: Path, now: datetime, randbelow: Callable[[int], int] = secrets.randbelow) -> int:
    """Where a database made at `path` now starts its sequence: 0 on a fresh card; after an
    earlier one, above the sent mark and at least from the latest of the clock and the
    evidence's times (a clock not synced may be behind them). When neither the mark nor any time
    is known (the clock and every file's time before 2020: a Pi without a real-time clock that
    has not reached a time server), at a random point far above every seq from the time."""
    evidence = earlier_use(path)
    if not evidence:
        return 0
    times = [datetime.fromtimestamp(p.stat().st_mtime, timezone.utc) for p in evidence]
    return resume_sequence(max([now, *times]), read_sent(path), randbelow)


def resume_sequence(latest: datetime, sent: int,
                    randbelow: Callable[[int], int] = secrets.randbelow) -> int:
    """A sequence value above every seq the centre can have seen from a database that is gone:
    the sent mark `sent` (0: none), and at least the seq from the time `latest` (the latest time
    known); from the unknown band when neither is known."""
    if latest < SEQUENCE_EPOCH and not sent:
        return UNKNOWN_BAND + randbelow(UNKNOWN_WIDTH)
    return max(sequence_from_time(latest), sent)


def mark_made(path: Path, now: datetime) -> None:
    """Leave the marker beside the database at `path`, once. Best effort: a card that takes no
    write (full, read only) leaves the database without it, as before this marker existed."""
    m = marker(path)
    if m.exists():
        return
    try:
        m.write_text(f"a kiosk database was made here; first seen {now.isoformat()}\n", encoding="utf-8")
    except OSError:
        with contextlib.suppress(OSError):     # an empty file left by a full card says nothing
            m.unlink(missing_ok=True)
