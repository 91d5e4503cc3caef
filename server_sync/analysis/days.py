"""What a day typed by a person (an action's date, a due date, a report's period) may be, said
once for the command line and the web app alike; and a time of such a day (`parse_day_time`:
when a kiosk was moved).

YYYY-MM-DD only, and within FIRST_DAY … LAST_DAY. Only that form: Python 3.11's
`date.fromisoformat` also reads 20261201 and 2026-W01-1, and the store keeps and compares days as
the text given (SQL compares them as text). Within the century: an action's effect windows reach
28 days either side of its date, and a report's previous period as far back as its own length, so
year 1 or 9999 overflows `date` in every later list of actions (and the notify worker's closing of
them). Kundpuls started in the 2020s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from server_sync.exc import CentralConfigError, FieldError

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
DAY_FORMAT = f"YYYY-MM-DD, {FIRST_DAY} to {LAST_DAY}"
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DAY_TIME_FORMAT = "YYYY-MM-DD HH:MM"
# A day, a space (or ISO's T) and a time to the minute; then ' UTC' or 'Z' when not the site's own.
_DAY_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}):([0-9]{2})( ?UTC|Z)?", re.IGNORECASE)


def parse_day(text: object, what: str = "", field: str | None = None) -> str:
    """`text` as a normalized YYYY-MM-DD day within the range, or a FieldError ("bad_day") whose
    message names `what` (e.g. '--due'; none where the caller names it, as argparse does) and
    whose `field` is the library's name of the value (e.g. "due_date")."""
    prefix = f"{what} " if what else ""
    try:
        value = date.fromisoformat(text) if isinstance(text, str) and _DAY.fullmatch(text) else None
    except ValueError:
        value = None
    if value is None:
        raise _bad_day(f"{prefix}{text!r} is not a date (YYYY-MM-DD)", field, text)
    if not FIRST_DAY <= value <= LAST_DAY:
        raise _bad_day(f"{prefix}{text} is outside {FIRST_DAY} … {LAST_DAY}", field, text)
    return value.isoformat()


def _bad_day(message: str, field: str | None, text: object) -> FieldError:
    return FieldError(message, field, "bad_day", value=text, first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())


def check_order(date_from: str | None, date_to: str | None, names: tuple[str, str] = ("date_from", "date_to")) -> None:
    """A first day after the last selects nothing: a swapped pair, not an empty period. `names`:
    what the caller calls the two (the library's parameters; the command line's --from, --to)."""
    if date_from and date_to and date_from > date_to:
        raise CentralConfigError(f"{names[0]} {date_from} is after {names[1]} {date_to}")


@dataclass(frozen=True)
class DayTime:
    """A time typed by a person: a wall-clock reading to the minute, of a site's own time zone
    unless typed as UTC."""
    wall: datetime          # naive
    utc: bool

    def in_utc(self, zone: ZoneInfo) -> datetime:
        """As naive UTC (the store's form), the wall clock read in `zone` unless typed as UTC. A
        reading the clocks skipped or gave twice (a change to or from summer time) is taken as
        the earlier offset would have it."""
        if self.utc:
            return self.wall
        return self.wall.replace(tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def parse_day_time(text: object, what: str = "") -> DayTime:
    """`text` as DAY_TIME_FORMAT (a T for the space will do), followed by ' UTC' or 'Z' for UTC,
    else the site's own time; its day as `parse_day` takes one. CentralConfigError naming `what`."""
    prefix = f"{what} " if what else ""
    m = _DAY_TIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise CentralConfigError(f"{prefix}{text!r} is not a time ({DAY_TIME_FORMAT}, the site's own, "
                                 "or followed by UTC)")
    day = date.fromisoformat(parse_day(m[1], what))
    hour, minute = int(m[2]), int(m[3])
    if hour > 23 or minute > 59:
        raise CentralConfigError(f"{prefix}{text.strip()!r} is not a time: {m[2]}:{m[3]} is no time of day "
                                 "(00:00 to 23:59)")
    return DayTime(datetime.combine(day, time(hour, minute)), m[4] is not None)
