"""The one time format on the wire and in the kiosk's store: UTC with milliseconds,
`2026-11-23T12:00:00.123Z`, which sorts as text. Formatting and strict parsing, nothing else.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from server_sync.protocol.errors import ProtocolError

ISO_MS_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"
ISO_MS_RE = re.compile(ISO_MS_PATTERN)
EARLIEST = datetime(2020, 1, 1, tzinfo=timezone.utc)     # no Kundpuls answer is older
EARLIEST_TEXT = "2020-01-01T00:00:00.000Z"
FUTURE_SLACK = timedelta(days=1)                          # how far ahead a synced clock may be
# An unsynced clock may read far off (docs/sync.md, Time), but not off the calendar the centre
# places answers on: nothing before the Unix epoch (where a Pi that lost its saved time starts;
# no kiosk clock reads earlier), nothing in the last day `datetime` holds (every zone lies
# within a day of UTC: later, a site's local hour and day would not exist).
UNSYNCED_EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
UNSYNCED_LATEST = datetime.max.replace(tzinfo=timezone.utc) - timedelta(days=1)


def iso_ms(dt: datetime) -> str:
    """An aware (or naive UTC) datetime as wire text."""
    if dt.utcoffset():
        dt = dt.astimezone(timezone.utc)
    # f-string rather than strftime: the kiosk stamps every tap with it.
    return (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
            f"{dt.second:02d}.{dt.microsecond // 1000:03d}Z")


def parse_iso_ms(s: Any, what: str = "time") -> datetime:
    """Wire text -> aware UTC datetime, or ProtocolError naming `what`."""
    if type(s) is not str or not ISO_MS_RE.fullmatch(s):
        raise ProtocolError(f"{what} must be UTC with milliseconds like 2026-11-23T12:00:00.123Z, got {s!r:.80}")
    try:
        return datetime.fromisoformat(s)       # 3.11 reads the Z as UTC: an aware datetime
    except ValueError:
        raise ProtocolError(f"{what} is not a real date and time: {s}") from None


UNSYNCED_RANGE = (iso_ms(UNSYNCED_EARLIEST), iso_ms(UNSYNCED_LATEST))     # as wire text, which sorts


def latest_text(now: datetime) -> str:
    """The latest wire time a synced clock may report when the centre's clock says `now`."""
    return iso_ms(now + FUTURE_SLACK)
