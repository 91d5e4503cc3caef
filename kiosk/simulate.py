"""Realistic simulated taps for demos and soak tests: when people tap, and what they answer.

Pure: given a period, a seeded `random.Random` and the opening hours, it returns tap times and
values; it never touches the database or the real clock. `kiosk simulate` feeds them, one by
one, through the same `Recorder` as a real press (with a FakeClock moved to each time).

The shape: taps only in opening hours (`server_sync.protocol.catalogue.OPENING_HOURS`, store-local time), busier at
lunch (11-13) and late afternoon (16-18), quiet early and late; Friday and Saturday busier than
mid-week. Times within an hour are uniform.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Mapping, Sequence
from zoneinfo import ZoneInfo

# Relative traffic per store-local hour (hours outside opening hours are dropped anyway).
HOUR_SHAPE: dict[int, float] = {
    7: 0.3, 8: 0.4, 9: 0.6, 10: 0.9, 11: 1.8, 12: 2.2, 13: 1.6, 14: 1.0, 15: 1.1,
    16: 1.7, 17: 1.9, 18: 1.4, 19: 0.9, 20: 0.5, 21: 0.3,
}
# Monday = 0.
WEEKDAY_SHAPE: dict[int, float] = {0: 0.85, 1: 0.8, 2: 0.9, 3: 1.0, 4: 1.25, 5: 1.45, 6: 0.75}

DEFAULT_MIX: dict[str, dict[int, float]] = {
    "smiley4": {1: 8, 2: 14, 3: 38, 4: 40},
    "smiley5": {1: 5, 2: 9, 3: 20, 4: 34, 5: 32},
    "nps11": {0: 2, 1: 1, 2: 1, 3: 2, 4: 2, 5: 5, 6: 6, 7: 14, 8: 22, 9: 22, 10: 23},
}


@dataclass(frozen=True)
class Slot:
    start: datetime       # UTC
    seconds: float
    weight: float


def opening_slots(start: datetime, end: datetime, tz: str,
                  opening_hours: Mapping[int, tuple[int, int]]) -> list[Slot]:
    """Every opening hour between start and end (UTC-aware), clipped to the period, weighted."""
    zone = ZoneInfo(tz)
    slots: list[Slot] = []
    day: date = start.astimezone(zone).date()
    last_day = end.astimezone(zone).date()
    while day <= last_day:
        hours = opening_hours.get(day.weekday())
        if hours:
            for h in range(hours[0], hours[1]):
                local = datetime(day.year, day.month, day.day, h, tzinfo=zone)
                s = max(local.astimezone(timezone.utc), start)
                e = min((local + timedelta(hours=1)).astimezone(timezone.utc), end)
                secs = (e - s).total_seconds()
                if secs <= 0:
                    continue
                w = HOUR_SHAPE.get(h, 0.2) * WEEKDAY_SHAPE[day.weekday()] * secs / 3600
                slots.append(Slot(s, secs, w))
        day += timedelta(days=1)
    return slots


def tap_times(n: int, start: datetime, end: datetime, tz: str, rng: random.Random,
              opening_hours: Mapping[int, tuple[int, int]] | None = None) -> list[datetime]:
    """`n` sorted UTC tap times in the opening hours between start and end."""
    if opening_hours is None:
        from server_sync.protocol.catalogue import OPENING_HOURS
        opening_hours = OPENING_HOURS
    if n <= 0:
        return []
    slots = opening_slots(start, end, tz, opening_hours)
    if not slots:
        raise ValueError("the period contains no opening hours")
    cum = list(itertools.accumulate(s.weight for s in slots))
    total = cum[-1]
    out = []
    for _ in range(n):
        slot = slots[min(bisect.bisect_right(cum, rng.random() * total), len(slots) - 1)]
        out.append(slot.start + timedelta(seconds=rng.random() * slot.seconds))
    out.sort()
    return out


def parse_mix(text: str) -> dict[int, float]:
    """`1=10,2=20,3=40,4=30` → weights, each finite and 0 or more, with a positive total
    (random.choices refuses nan and inf). ValueError with a message fit for the user otherwise;
    whether the values are on a question's scale is `mix_on_scale`."""
    mix: dict[int, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        k, sep, w = part.partition("=")
        try:
            value, weight = int(k), float(w)
        except ValueError:
            raise ValueError(f"{part!r}: write VALUE=WEIGHT, e.g. 4=30") from None
        if not sep or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"{part!r}: write VALUE=WEIGHT with a finite weight of 0 or more")
        if value in mix:                    # the later one silently won
            raise ValueError(f"{part!r}: value {value} is given twice")
        mix[value] = weight
    total = sum(mix.values())
    if not mix or total <= 0:
        raise ValueError("the mix needs at least one value with a positive weight")
    if not math.isfinite(total):
        raise ValueError("the weights add up to more than a number can hold; use smaller ones")
    return mix


def mix_on_scale(mix: Mapping[int, float], values: Sequence[int]) -> None:
    """Every value of the mix is an answer of the scale `values`. ValueError otherwise."""
    for value in mix:
        if value not in values:
            raise ValueError(f"value {value} is not on the scale ({values[0]}-{values[-1]})")


def pick_values(n: int, mix: Mapping[int, float], rng: random.Random) -> list[int]:
    values = list(mix)
    return rng.choices(values, weights=[mix[v] for v in values], k=n)
