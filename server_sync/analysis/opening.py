"""Opening hours and "silent during opening hours" for the fleet view. Pure.

Opening hours are {weekday: (open_hour, close_hour)} in the site's local time (weekday
0 = Monday), the chain default being server_sync.protocol.catalogue.OPENING_HOURS; a site may override them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Mapping
from zoneinfo import ZoneInfo

from server_sync.central.setting import stored_error
from server_sync.exc import StoredSettingError
from server_sync.protocol.catalogue import OPENING_HOURS

Hours = Mapping[int, tuple[int, int]]


def parse_hours(text: str | None, site: str | None = None) -> dict[int, tuple[int, int]]:
    """Site `site`'s opening_hours column (JSON {"0": [8, 21], …}); None/empty means the default.
    No command stores it: one that is not hours by weekday was edited by hand, the store's fault
    and not the caller's (StoredSettingError, saying which site and what is wrong)."""
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
                        fix="site.opening_hours", by_command=False)


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
