"""Opening hours and "silent during opening hours" for the fleet view. Pure.

Opening hours are {weekday: (open_hour, close_hour)} in the site's local time (weekday
0 = Monday), the chain default being server_sync.protocol.catalogue.OPENING_HOURS; a site may
override them (`kiosk-central site add|update --hours SPEC`). Two forms, each read and written
here only: the column's JSON (parse_hours, stored_hours) and the SPEC a store manager types and
reads (parse_spec, format_hours), "mon-fri 8-21, sat 10-18, sun closed". Whole hours: the column
holds whole numbers. Never touches the database.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Mapping
from zoneinfo import ZoneInfo

from server_sync.central.setting import stored_error
from server_sync.exc import CentralConfigError, StoredSettingError
from server_sync.protocol.catalogue import OPENING_HOURS

Hours = Mapping[int, tuple[int, int]]

FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")   # weekday 0-6
DAYS = tuple(name[:3] for name in FULL_DAYS)             # as format_hours says them: mon … sun
CHAIN_DEFAULT = "default"             # the SPEC that gives a site the chain's hours again (NULL)
EXAMPLE = "mon-fri 8-21, sat 10-18, sun closed"
# The fix of hours edited by hand; it names no site: a page shows it to people who may not see it.
HOURS_FIX = "kiosk-central site update SITE --hours SPEC"
_PART = re.compile(r"(?P<days>[a-z]+(?:\s*-\s*[a-z]+)?)\s+(?P<hours>\S.*)")
_DAY_RANGE = re.compile(r"\s*-\s*")
_SPAN = re.compile(r"(?P<open>\d{1,2})(?::(?P<om>\d\d))?\s*-\s*(?P<close>\d{1,2})(?::(?P<cm>\d\d))?")


def parse_hours(text: str | None, site: str | None = None) -> dict[int, tuple[int, int]]:
    """Site `site`'s opening_hours column (JSON {"0": [8, 21], …}; a weekday not in it is closed);
    None/empty means the default. One that is not hours by weekday was edited by hand, the store's
    fault and not the caller's (StoredSettingError, saying which site, what is wrong and the
    command that sets them again)."""
    if not text:
        return dict(OPENING_HOURS)
    try:
        raw = json.loads(text)
        hours = {int(k): (int(v[0]), int(v[1])) for k, v in raw.items()}
    except (ValueError, TypeError, IndexError, AttributeError, OverflowError) as e:
        raise _stored_wrong(text, site, f"not hours by weekday ({e})") from None
    for day, (a, b) in hours.items():
        if not (0 <= day <= 6 and 0 <= a <= b <= 24):
            raise _stored_wrong(text, site, f"weekday {day} is {a}-{b}")
    return hours


def _stored_wrong(text: str, site: str | None, problem: str) -> StoredSettingError:
    return stored_error("opening_hours", text, "JSON {\"0\": [8, 21], …} (weekday 0-6, Monday 0: its opening and "
                        "closing hour, 0-24), or NULL for the chain default", site=site, problem=problem,
                        fix=HOURS_FIX)


def stored_hours(hours: Hours | None) -> str | None:
    """The opening_hours column for `hours` (parse_spec's; None: the chain default, NULL): the
    open weekdays only, a day not in it being closed."""
    if hours is None:
        return None
    return json.dumps({str(day): [a, b] for day, (a, b) in sorted(hours.items()) if b > a})


def parse_spec(text: str) -> dict[int, tuple[int, int]] | None:
    """Opening hours as a store manager types them: 'default' (the chain's: None), or parts
    separated by commas, each DAYS HOURS, e.g. "mon-fri 8-21, sat 10-18, sun closed". DAYS is a day
    (mon … sun, or more of its English name: tues, thursday), a range of them from Monday towards Sunday (mon-fri), or
    'daily'; HOURS is OPEN-CLOSE in whole hours 0-24 (8-21, 08:00-21:00), or 'closed'. Every day
    is given once: a day left out is a mistake, not a silent default. Else CentralConfigError
    naming the part and what is wrong with it."""
    said = " ".join(text.split()).lower()
    if not said:
        raise CentralConfigError(f"no hours: give them like {EXAMPLE!r}, or {CHAIN_DEFAULT!r} for the chain's")
    if said == CHAIN_DEFAULT:
        return None
    hours: dict[int, tuple[int, int]] = {}
    given: dict[int, str] = {}
    for part in (p.strip() for p in said.split(",")):
        match = _PART.fullmatch(part)
        if match is None:
            raise CentralConfigError(f"{part!r} is not DAYS HOURS (e.g. 'mon-fri 8-21' or 'sun closed')")
        span = _span(part, match["hours"])
        for day in _days(part, match["days"]):
            if day in hours:
                raise CentralConfigError(f"{DAYS[day]} is given twice: in {given[day]!r} and in {part!r}")
            hours[day], given[day] = span, part
    missing = [DAYS[d] for d in range(7) if d not in hours]
    if missing:
        raise CentralConfigError(f"no hours for {', '.join(missing)}: give every day its hours or 'closed' "
                                 f"(e.g. {EXAMPLE!r}), or {CHAIN_DEFAULT!r} for the chain's")
    return {day: span for day, span in sorted(hours.items()) if span[1] > span[0]}


def _day(part: str, word: str) -> int:
    for day, name in enumerate(FULL_DAYS):
        if len(word) >= 3 and name.startswith(word):
            return day
    raise CentralConfigError(f"{part!r}: {word!r} is not a day ({', '.join(DAYS)}, or daily)")


def _days(part: str, words: str) -> range:
    if words == "daily":
        return range(7)
    first, _, last = _DAY_RANGE.sub("-", words).partition("-")
    start, end = _day(part, first), _day(part, last or first)
    if end < start:
        raise CentralConfigError(f"{part!r}: {DAYS[start]}-{DAYS[end]} runs backwards; a range of days runs from "
                                 f"mon towards sun (say {_days_said(start, 6)}, {_days_said(0, end)})")
    return range(start, end + 1)


def _span(part: str, words: str) -> tuple[int, int]:
    """(open, close) of `words`; closed: (0, 0)."""
    if words == "closed":
        return (0, 0)
    match = _SPAN.fullmatch(words)
    if match is None:
        raise CentralConfigError(f"{part!r}: {words!r} is not hours: OPEN-CLOSE in whole hours (8-21) "
                                 "or 'closed' (and parts are separated by commas)")
    if (match["om"] or "00") != "00" or (match["cm"] or "00") != "00":
        raise CentralConfigError(f"{part!r}: {words} is not in whole hours (opening hours are kept in hours: 8-21)")
    opens, closes = int(match["open"]), int(match["close"])
    for hour in (opens, closes):
        if hour > 24:
            raise CentralConfigError(f"{part!r}: {hour} is not an hour 0-24")
    if closes < opens:
        raise CentralConfigError(f"{part!r}: closes at {closes}, before it opens at {opens} (hours past midnight "
                                 f"cannot be kept: at most {opens}-24)")
    if closes == opens:
        raise CentralConfigError(f"{part!r}: opens and closes at {opens} (a day without hours is 'closed')")
    return (opens, closes)


def format_hours(hours: Hours) -> str:
    """`hours` as parse_spec reads them back: runs of days with the same hours, from Monday, e.g.
    "mon-fri 8-21, sat 10-18, sun closed" ("daily 8-21": the same every day)."""
    spans = [hours.get(day) for day in range(7)]
    spans = [f"{s[0]}-{s[1]}" if s and s[1] > s[0] else "closed" for s in spans]
    parts, start = [], 0
    for day in range(1, 8):
        if day == 7 or spans[day] != spans[start]:
            parts.append(f"{_days_said(start, day - 1)} {spans[start]}")
            start = day
    return ", ".join(parts)


def _days_said(first: int, last: int) -> str:
    """Weekdays `first` to `last` (0-6, both in) as a SPEC names them."""
    if (first, last) == (0, 6):
        return "daily"
    return DAYS[first] if first == last else f"{DAYS[first]}-{DAYS[last]}"


def open_seconds_between(start: datetime, end: datetime, tz: ZoneInfo, hours: Hours) -> float:
    """Seconds of opening time between two aware datetimes (site-local opening hours)."""
    if end <= start:
        return 0.0
    total = 0.0
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    while day <= last:
        span = hours.get(day.weekday())
        if span and span[1] > span[0]:
            o = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(hours=span[0])
            c = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(hours=span[1])
            a, b = max(o, start), min(c, end)
            if b > a:
                total += (b - a).total_seconds()
        day += timedelta(days=1)
    return total


def is_open(at: datetime, tz: ZoneInfo, hours: Hours) -> bool:
    local = at.astimezone(tz)
    span = hours.get(local.weekday())
    return bool(span) and span[0] <= local.hour + local.minute / 60 < span[1]
