"""Opening hours and "silent during opening hours" for the fleet view. Pure.

Opening hours are {weekday: Span} in the site's local time (weekday 0 = Monday), each Span the
minutes from that day's midnight at which the store opens and closes; a store open past midnight
closes after 24:00 (fri 18-2 is 18:00 to 26:00, as timetables write it), so a night belongs to
the day it began. Dates may be kept apart, {date: Span}, before the weekdays: a holiday closed
(Span(0, 0)) or with short hours ("2026-12-24 8-13, 2026-12-25 closed"), within that date. The
chain default is server_sync.protocol.catalogue.OPENING_HOURS (whole hours, no dates); a site may
override them (`kiosk-central site add|update --hours SPEC`). Two forms, each
read and written here only: the column's JSON (parse_hours, stored_hours) and the SPEC a store
manager types and reads (parse_spec, format_hours), "mon-fri 8-21, sat 10-18, sun closed",
"fri-sat 9:30-2". The chain's holidays (`kiosk-central site holidays SPEC`: dates only, kept in
the `chain_holidays` setting) count at every site that does not give that date its own hours
(`with_holidays`). Never touches the database.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from typing import Mapping, NamedTuple
from zoneinfo import ZoneInfo

from server_sync.analysis.days import parse_day
from server_sync.central.setting import stored_error
from server_sync.exc import CentralConfigError, StoredSettingError
from server_sync.protocol.catalogue import OPENING_HOURS

DAY_MINUTES = 24 * 60


class Span(NamedTuple):
    """One day's opening: minutes from its local midnight; `closes` may pass 24:00 (at most a
    day after `opens`), and then the hours run into the next day."""
    opens: int
    closes: int


Hours = Mapping["int | date", Span]      # weekday 0-6, or a date kept apart (a holiday)

FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")   # weekday 0-6
DAYS = tuple(name[:3] for name in FULL_DAYS)             # as format_hours says them: mon … sun
CHAIN_DEFAULT = "default"             # the SPEC that gives a site the chain's hours again (NULL)
EXAMPLE = "mon-fri 8-21, sat 10-18, sun closed"
# The fix of hours edited by hand; it names no site: a page shows it to people who may not see it.
HOURS_FIX = "kiosk-central site update SITE --hours SPEC"
HOLIDAYS_SETTING = "chain_holidays"    # central_setting: the chain's holidays, as stored_hours keeps dates
HOLIDAYS_FIX = "kiosk-central site holidays SPEC"
NO_HOLIDAYS = "none"
HOLIDAYS_EXAMPLE = "2026-12-24 8-13, 2026-12-25 closed"
_PART = re.compile(r"(?P<days>\d{4}-\d\d-\d\d|[a-z]+(?:\s*-\s*[a-z]+)?)\s+(?P<hours>\S.*)")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_DAY_RANGE = re.compile(r"\s*-\s*")
_TIME = r"\d{1,2}(?::\d\d)?"
_SPAN = re.compile(rf"(?P<open>{_TIME})\s*-\s*(?P<close>{_TIME})")
_STORED_TIME = re.compile(r"(?P<h>\d{1,2}):(?P<m>\d\d)")


def chain_hours() -> dict[int, Span]:
    """The chain's opening hours (catalogue.OPENING_HOURS, whole hours) as Spans."""
    return {day: Span(a * 60, b * 60) for day, (a, b) in OPENING_HOURS.items()}


def parse_hours(text: str | None, site: str | None = None) -> dict[int | date, Span]:
    """Site `site`'s opening_hours column (JSON {"0": [8, 21], "4": ["9:30", 26]}: hours since the
    day's midnight, whole as numbers, else "H:MM"; a weekday not in it is closed); None/empty
    means the default. One that is not hours by weekday was edited by hand, the store's fault
    and not the caller's (StoredSettingError, saying which site, what is wrong and the command
    that sets them again)."""
    if not text:
        return chain_hours()
    try:
        raw = json.loads(text)
        hours = {_stored_key(k): Span(_stored_minutes(v[0]), _stored_minutes(v[1])) for k, v in raw.items()}
    except (ValueError, TypeError, IndexError, AttributeError, OverflowError) as e:
        raise _stored_wrong(text, site, f"not hours by weekday ({e})") from None
    for day, span in hours.items():
        within_a_day = 0 <= span.opens < DAY_MINUTES and span.opens <= span.closes <= span.opens + DAY_MINUTES
        said = f"{_stored_value(span.opens)}-{_stored_value(span.closes)}"
        if isinstance(day, date):
            if not (0 <= span.opens <= span.closes <= DAY_MINUTES):
                raise _stored_wrong(text, site, f"{day} is {said} (a date's hours end by 24)")
        elif not (0 <= day <= 6 and within_a_day):
            raise _stored_wrong(text, site, f"weekday {day} is {said}")
    overlap = _overlap(hours)
    if overlap:
        raise _stored_wrong(text, site, overlap[1])
    return hours


def _stored_key(key: str) -> "int | date":
    """A weekday ("0"-"6") or a date kept apart ("2026-12-25") of the column."""
    return date.fromisoformat(key) if _DATE.fullmatch(key) else int(key)


def _weekdays(hours: Hours) -> list[tuple[int, Span]]:
    return sorted((d, span) for d, span in hours.items() if isinstance(d, int))


def _dates(hours: Hours) -> list[tuple[date, Span]]:
    return sorted((d, span) for d, span in hours.items() if isinstance(d, date))


def span_of(hours: Hours, day: date) -> Span | None:
    """The hours of local date `day`: its own, if it is kept apart (a holiday), else its weekday's."""
    return hours[day] if day in hours else hours.get(day.weekday())


def _stored_minutes(value: object) -> int:
    """Minutes of a stored time: a whole number of hours, or "H:MM" (hours may pass 24)."""
    if isinstance(value, bool):
        raise TypeError(f"{value!r} is not a time")
    if isinstance(value, int):
        return value * 60
    if isinstance(value, float) and value.is_integer():
        return int(value) * 60
    match = _STORED_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match["m"]) > 59:
        raise ValueError(f"{value!r} is not a time (hours, or \"H:MM\")")
    return int(match["h"]) * 60 + int(match["m"])


def _stored_wrong(text: str, site: str | None, problem: str) -> StoredSettingError:
    return stored_error("opening_hours", text, "JSON {\"0\": [8, 21], \"4\": [\"9:30\", 26], …} (weekday 0-6, Monday 0: "
                        "when it opens and closes, in hours or \"H:MM\" from the day's midnight; past midnight "
                        "after 24; a date kept apart, \"2026-12-25\": [0, 0], within it), or NULL for the chain "
                        "default", site=site, problem=problem, fix=HOURS_FIX)


def _overlap(hours: Hours) -> tuple[int, str] | None:
    """The first weekday whose hours run past midnight into the next day's opening, and what is
    wrong with it; None when no day does."""
    for day, span in _weekdays(hours):
        after = hours.get((day + 1) % 7)
        if span.closes > DAY_MINUTES and after and after.closes > after.opens \
                and span.closes - DAY_MINUTES > after.opens:
            return day, (f"{DAYS[day]} {_said(span.opens)}-{_said(span.closes)} runs past midnight into "
                         f"{DAYS[(day + 1) % 7]}'s opening at {_said(after.opens)}")
    return None


def _stored_value(minutes: int) -> int | str:
    """A time as the column keeps it: whole hours as a number (the column's form before minutes),
    else "H:MM"."""
    hours, rest = divmod(minutes, 60)
    return hours if rest == 0 else f"{hours}:{rest:02d}"


def stored_hours(hours: Hours | None) -> str | None:
    """The opening_hours column for `hours` (parse_spec's; None: the chain default, NULL): the
    open weekdays only, a day not in it being closed."""
    if hours is None:
        return None
    weekdays = {str(day): [_stored_value(a), _stored_value(b)]
                for day, (a, b) in _weekdays(hours) if b > a}
    dates = {day.isoformat(): [_stored_value(a), _stored_value(b)]     # closed ones too: [0, 0]
             for day, (a, b) in _dates(hours)}
    return json.dumps({**weekdays, **dates})


def parse_spec(text: str) -> dict[int | date, Span] | None:
    """Opening hours as a store manager types them: 'default' (the chain's: None), or parts
    separated by commas, each DAYS HOURS, e.g. "mon-fri 8-21, sat 10-18, sun closed". DAYS is a day
    (mon … sun, or more of its English name: tues, thursday), a range of them from Monday towards
    Sunday (mon-fri), or 'daily'; HOURS is OPEN-CLOSE, each H or H:MM (8:30-21, 08:00-21:00, 0-24),
    a CLOSE not after OPEN being the next morning's (fri 18-2), or 'closed'. Every day is given
    once: a day left out is a mistake, not a silent default. Else CentralConfigError naming the
    part and what is wrong with it."""
    said = " ".join(text.split()).lower()
    if not said:
        raise CentralConfigError(f"no hours: give them like {EXAMPLE!r}, or {CHAIN_DEFAULT!r} for the chain's")
    if said == CHAIN_DEFAULT:
        return None
    hours: dict[int, Span] = {}
    given: dict[int, str] = {}
    dates: dict[date, Span] = {}
    for part in (p.strip() for p in said.split(",")):
        match = _PART.fullmatch(part)
        if match is None:
            raise CentralConfigError(f"{part!r} is not DAYS HOURS (e.g. 'mon-fri 8-21' or 'sun closed')")
        span = _span(part, match["hours"])
        if _DATE.fullmatch(match["days"]):
            dates[_date(part, match["days"], dates)] = _within_the_date(part, span)
            continue
        for day in _days(part, match["days"]):
            if day in hours:
                raise CentralConfigError(f"{DAYS[day]} is given twice: in {given[day]!r} and in {part!r}")
            hours[day], given[day] = span, part
    missing = [DAYS[d] for d in range(7) if d not in hours]
    if missing:
        raise CentralConfigError(f"no hours for {', '.join(missing)}: give every day its hours or 'closed' "
                                 f"(e.g. {EXAMPLE!r}), or {CHAIN_DEFAULT!r} for the chain's")
    open_days = {day: span for day, span in sorted(hours.items()) if span.closes > span.opens}
    overlap = _overlap(open_days)
    if overlap:
        day, problem = overlap
        raise CentralConfigError(f"{given[day]!r}: {problem}")
    return {**open_days, **dict(sorted(dates.items()))}


def parse_holidays(text: str) -> dict[date, Span]:
    """The chain's holidays as typed: dates only, each with its HOURS as in a SPEC
    ("2026-12-24 8-13, 2026-12-25 closed"), or 'none'. Else CentralConfigError naming the part."""
    said = " ".join(text.split()).lower()
    if not said:
        raise CentralConfigError(f"no holidays: give them like {HOLIDAYS_EXAMPLE!r}, or {NO_HOLIDAYS!r}")
    if said == NO_HOLIDAYS:
        return {}
    dates: dict[date, Span] = {}
    for part in (p.strip() for p in said.split(",")):
        if not part:
            raise CentralConfigError(f"{text.strip()!r} has an empty part: a comma too many?")
        match = _PART.fullmatch(part)
        if match is None or not _DATE.fullmatch(match["days"]):
            raise CentralConfigError(f"{part!r} is not DATE HOURS (e.g. '2026-12-25 closed' or '2026-12-24 8-13'): "
                                     f"the chain's holidays are dates; a week's hours are each site's ({HOURS_FIX})")
        dates[_date(part, match["days"], dates)] = _within_the_date(part, _span(part, match["hours"]))
    return dict(sorted(dates.items()))


def stored_holidays(dates: Mapping[date, Span]) -> str:
    """The `chain_holidays` setting for `dates`: as the opening_hours column keeps dates."""
    return json.dumps({day.isoformat(): [_stored_value(a), _stored_value(b)] for day, (a, b) in sorted(dates.items())})


def read_holidays(text: str | None) -> dict[date, Span]:
    """The `chain_holidays` setting ({} when none is set); one edited by hand into something else
    is a StoredSettingError saying what is wrong and the command that sets it again."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
        dates = {date.fromisoformat(k): Span(_stored_minutes(v[0]), _stored_minutes(v[1])) for k, v in raw.items()}
    except (ValueError, TypeError, IndexError, AttributeError, OverflowError) as e:
        dates, problem = {}, f"not hours by date ({e})"
    else:
        problem = next((f"{day} is {_stored_value(a)}-{_stored_value(b)} (a date's hours end by 24)"
                        for day, (a, b) in dates.items() if not 0 <= a <= b <= DAY_MINUTES), None)
    if problem:
        raise stored_error(HOLIDAYS_SETTING, text, "JSON {\"2026-12-25\": [0, 0], \"2026-12-24\": [8, 13]} (a date's "
                           "hours from its midnight, in hours or \"H:MM\"; [0, 0] closed)", problem=problem,
                           fix=HOLIDAYS_FIX)
    return dates


def holidays_said(dates: Mapping[date, Span]) -> list[tuple[str, str]]:
    """Each date, in order, with its hours as a SPEC says them ("8-13", "closed")."""
    return [(day.isoformat(), _hours_said(span)) for day, span in sorted(dates.items())]


def format_holidays(dates: Mapping[date, Span]) -> str:
    """The chain's holidays as parse_holidays reads them back ('none' for none)."""
    return ", ".join(f"{day} {hours}" for day, hours in holidays_said(dates)) or NO_HOLIDAYS


def with_holidays(hours: Hours, holidays: Mapping[date, Span]) -> dict[int | date, Span]:
    """A site's hours with the chain's holidays. A holiday can only shorten a store's day: its hours
    within the weekday's (a store closed on Sundays stays closed on a Sunday holiday "10-16"); a
    date the site gives its own hours keeps them."""
    out: dict[int | date, Span] = dict(hours)
    for day, span in holidays.items():
        if day in hours:
            continue
        usual = hours.get(day.weekday())
        opens, closes = (max(span.opens, usual.opens), min(span.closes, usual.closes)) if usual else (0, 0)
        out[day] = Span(opens, closes) if closes > opens else Span(0, 0)
    return out


def _date(part: str, text: str, dates: Mapping[date, Span]) -> date:
    try:
        day = date.fromisoformat(parse_day(text))       # the range every date of the centre keeps to
    except CentralConfigError as e:
        raise CentralConfigError(f"{part!r}: {e}") from None
    if day in dates:
        raise CentralConfigError(f"{text} is given twice")
    return day


def _within_the_date(part: str, span: Span) -> Span:
    """A date's hours end by its midnight: one past it would overlap the next day's, which its
    weekday's hours already count."""
    if span.closes > DAY_MINUTES:
        raise CentralConfigError(f"{part!r}: a date's hours end by 24 (give the next date its own)")
    return span


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


def _span(part: str, words: str) -> Span:
    """The Span of `words`; closed: Span(0, 0). A CLOSE not after OPEN is the next morning's."""
    if words == "closed":
        return Span(0, 0)
    match = _SPAN.fullmatch(words)
    if match is None:
        raise CentralConfigError(f"{part!r}: {words!r} is not hours: OPEN-CLOSE, each H or H:MM (8-21, 9:30-18) "
                                 "or 'closed' (and parts are separated by commas)")
    opens, closes = _typed_minutes(part, match["open"]), _typed_minutes(part, match["close"])
    if opens == DAY_MINUTES:
        raise CentralConfigError(f"{part!r}: a day's hours cannot open at 24 (say the next day's from 0)")
    if closes == opens:
        raise CentralConfigError(f"{part!r}: opens and closes at {match['open']} (a day without hours is 'closed', "
                                 "one open round the clock 0-24)")
    if closes < opens:
        closes += DAY_MINUTES            # past midnight: closes the next morning
    return Span(opens, closes)


def _typed_minutes(part: str, time: str) -> int:
    """Minutes of an OPEN or CLOSE as typed: H or H:MM, 0-24."""
    hour, _, minute = time.partition(":")
    if int(hour) > 24 or (minute and int(minute) > 59) or (int(hour) == 24 and minute and int(minute)):
        raise CentralConfigError(f"{part!r}: {time} is not a time of day 0-24 (H or H:MM)")
    return int(hour) * 60 + int(minute or 0)


def _said(minutes: int) -> str:
    """A time as a SPEC says it: 8, 9:30; 24 is midnight at the end of the day, and a time past it
    is the next morning's (26:00 is said 2)."""
    if minutes > DAY_MINUTES:
        minutes -= DAY_MINUTES
    hours, rest = divmod(minutes, 60)
    return f"{hours}" if rest == 0 else f"{hours}:{rest:02d}"


def format_hours(hours: Hours) -> str:
    """`hours` as parse_spec reads them back: runs of days with the same hours, from Monday, e.g.
    "mon-fri 8-21, sat 10-18, sun closed" ("daily 8-21": the same every day; "fri-sat 18-2": to
    2 the next morning)."""
    spans = [hours.get(day) for day in range(7)]
    said = [_hours_said(s) for s in spans]
    parts, start = [], 0
    for day in range(1, 8):
        if day == 7 or said[day] != said[start]:
            parts.append(f"{_days_said(start, day - 1)} {said[start]}")
            start = day
    parts += [f"{day.isoformat()} {_hours_said(span)}"
              for day, span in _dates(hours)]
    return ", ".join(parts)


def _hours_said(span: Span | None) -> str:
    return f"{_said(span[0])}-{_said(span[1])}" if span and span[1] > span[0] else "closed"


def _days_said(first: int, last: int) -> str:
    """Weekdays `first` to `last` (0-6, both in) as a SPEC names them."""
    if (first, last) == (0, 6):
        return "daily"
    return DAYS[first] if first == last else f"{DAYS[first]}-{DAYS[last]}"


def _opening(day, span: Span, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """When `span` of local date `day` opens and closes, in UTC: local wall-clock times (a store
    opens at 8 on a daylight-saving day too), compared and subtracted as instants (Python takes
    the difference of two times in one zone by their wall clocks, an hour off on those days).
    Each is the first instant the store's clock reads that time or has passed it
    (`_first_reading`)."""
    midnight = datetime(day.year, day.month, day.day)
    return tuple(_first_reading(midnight + timedelta(minutes=m), tz) for m in span)


def _first_reading(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) at which a clock in `tz` reads naive `wall` or has passed it.
    In a repeated hour (clocks back) that is the first pass, fold=0: a store opening or closing
    at 1:30 does so the first time its clock says 1:30, not an hour later. In a skipped hour
    (clocks forward) it is the jump itself: a store closing at 2:30 on a night the clock goes
    from 2:00 to 3:00 is closed from 3:00, not (zoneinfo's fold=0 reading) from 3:30."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first                                           # the time exists (fold 0: first pass)
    # Skipped: fold=1 reads it with the new offset (before the jump), fold=0 with the old (after
    # it); the jump lies between, found to the second (zones change at whole seconds).
    before, after = wall.replace(tzinfo=tz, fold=1).astimezone(timezone.utc), first
    while after - before > timedelta(seconds=1):
        mid = before + (after - before) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            after = mid
        else:
            before = mid
    return after


def open_seconds_between(start: datetime, end: datetime, tz: ZoneInfo, hours: Hours) -> float:
    """Seconds of opening time between two aware datetimes (site-local opening hours; a night's
    hours past midnight count on the day they began)."""
    if end <= start:
        return 0.0
    total = 0.0
    counted = start                     # open time before this is counted: a night past midnight and
    day = start.astimezone(tz).date() - timedelta(days=1)      # the next date's own hours overlap
    last = end.astimezone(tz).date()
    while day <= last:
        span = span_of(hours, day)
        if span and span.closes > span.opens:
            o, c = _opening(day, span, tz)
            a, b = max(o, counted), min(c, end)
            if b > a:
                total += (b - a).total_seconds()
                counted = b
        day += timedelta(days=1)
    return total


def is_open(at: datetime, tz: ZoneInfo, hours: Hours) -> bool:
    """Whether the store is open at `at` (by its own hours or the night before's past midnight)."""
    today = at.astimezone(tz).date()
    for day in (today - timedelta(days=1), today):
        span = span_of(hours, day)
        if span and span.closes > span.opens:
            o, c = _opening(day, span, tz)
            if o <= at < c:
                return True
    return False
