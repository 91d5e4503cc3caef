"""Opening hours on the nights the clocks change, against a minute-by-minute walk of the store's
wall clock (the statistics review's opening_check.py found 30 minutes too many where a store
closed inside a skipped hour: zoneinfo reads a time that does not exist with the old offset).
The rule walked: day D's hours are open while the clock, counted from D's midnight, has reached
the opening time and not yet the closing time; "reached" is the furthest the clock has read, so
a repeated hour does not reopen or close the store a second time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from server_sync.analysis.opening import Hours, is_open, open_seconds_between, parse_spec

NIGHTS = [("America/New_York", "2026-03-07"), ("America/New_York", "2026-10-31"),    # forward, back
          ("Europe/Stockholm", "2026-03-28"), ("Europe/Stockholm", "2026-10-24"),
          ("Australia/Lord_Howe", "2026-10-03")]                                     # half an hour forward
SPECS = ["daily 8-21", "daily 1:30-2:30", "daily 2:15-2:45", "daily 2:30-8", "daily 23-2:30", "daily 1:45-1:15"]


def walk(start: datetime, end: datetime, tz: ZoneInfo, hours: Hours) -> tuple[int, list[datetime]]:
    """Open seconds in [start, end) and the minutes the store is open, by walking the clock."""
    days = [start.astimezone(tz).date() + timedelta(days=i) for i in range(-1, 4)]
    reached = dict.fromkeys(days, -10**9)               # the furthest reading from each day's midnight
    open_minutes = []
    t = start - timedelta(days=1)                       # from before yesterday's hours began
    while t < end:
        local = t.astimezone(tz)
        now_open = False
        for day in days:
            reading = (local.date() - day).days * 1440 + local.hour * 60 + local.minute
            reached[day] = max(reached[day], reading)
            span = hours.get(day.weekday())
            now_open |= bool(span) and span.opens <= reached[day] < span.closes
        if t >= start and now_open:
            open_minutes.append(t)
        t += timedelta(minutes=1)
    return 60 * len(open_minutes), open_minutes


@pytest.mark.parametrize("zone, first", NIGHTS)
def test_open_time_on_clock_change_nights_is_the_walked_clocks(zone, first):
    tz = ZoneInfo(zone)
    start = datetime.fromisoformat(first).replace(tzinfo=timezone.utc)
    end = start + timedelta(days=3)
    for spec in SPECS:
        hours = parse_spec(spec)
        seconds, minutes = walk(start, end, tz, hours)
        assert open_seconds_between(start, end, tz, hours) == seconds, (zone, spec)
        walked = set(minutes)
        # is_open at every minute where the walk opens or closes, and either side of it.
        changes = {t + timedelta(minutes=d) for t in walked for d in (-1, 0, 1)} - walked
        edges = {t + timedelta(minutes=d) for t in changes for d in (-1, 0, 1)}
        assert all(is_open(t, tz, hours) == (t in walked) for t in edges if start <= t < end), (zone, spec)


def test_a_store_closing_in_the_skipped_hour_closes_at_the_jump():
    # New York, 8 March 2026: 2:00 EST becomes 3:00 EDT at 07:00 UTC. Open 1:30-2:30: 30 minutes.
    ny = ZoneInfo("America/New_York")
    hours = parse_spec("daily 1:30-2:30")
    night = datetime(2026, 3, 8, 6, 0, tzinfo=timezone.utc), datetime(2026, 3, 8, 9, 0, tzinfo=timezone.utc)
    assert open_seconds_between(*night, ny, hours) == 30 * 60
    assert not is_open(datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc), ny, hours)    # 3:00 EDT
