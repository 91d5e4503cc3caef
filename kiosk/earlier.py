"""What a data directory remembers of a kiosk database it held before, outside that database: so a
database made where one went missing (fsck put kiosk.db in lost+found, someone deleted it)
continues the sequence from the time, as `kiosk repair` does for a damaged one, rather than
giving out seqs from 1 again under the same kiosk id.

The evidence: the marker the kiosk leaves beside the database when it opens it as its own
(`kiosk.db.made`, with the time it was first seen; `LocalStore.claim`), what `kiosk repair`
kept of a damaged one (`kiosk.db.damaged-…`) and a config the centre pushed (kiosk.pushed). A seq from the time is milliseconds since 2020, which
no kiosk counting one event at a time can have reached. Defence in depth only: an ack for the
lost database's events is ignored anyway (the sync agent's incarnation, docs/sync.md).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from pathlib import Path

SEQUENCE_EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)   # no kiosk recorded before (protocol.EARLIEST)


def marker(path: Path) -> Path:
    """The file that says a kiosk database was made at `path`."""
    return path.with_name(f"{path.name}.made")


def sequence_from_time(at: datetime) -> int:
    """A sequence value above every seq given out by `at` (milliseconds since 2020)."""
    return max(0, int((at - SEQUENCE_EPOCH).total_seconds() * 1000))


def earlier_use(path: Path) -> list[Path]:
    """The files beside `path` (a database that is not there) that show the directory held a
    kiosk database before; none on a fresh card."""
    from kiosk.pushed import PUSHED_FILE       # here: the kiosk app's start does not need the config push
    found = [p for p in (marker(path), path.with_name(PUSHED_FILE)) if p.exists()]
    return found + sorted(path.parent.glob(f"{path.name}.damaged-*"))


def start_sequence(path: Path, now: datetime) -> int:
    """Where a database made at `path` now starts its sequence: 0 on a fresh card; after an
    earlier one, from the latest of the clock and the evidence's times (a clock not synced may
    be behind them)."""
    evidence = earlier_use(path)
    if not evidence:
        return 0
    times = [datetime.fromtimestamp(p.stat().st_mtime, timezone.utc) for p in evidence]
    return sequence_from_time(max([now, *times]))


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
