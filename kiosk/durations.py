"""Durations typed on the command line (`--since 7d`, `simulate --over 12h`): one parser, one cap.

Why a cap: a period of millions of days reaches past the year 1, which `datetime` cannot hold
(an OverflowError, not a message); ten years is far beyond any kiosk's history.
"""

from __future__ import annotations

import re
from datetime import timedelta

MAX_DAYS = 3660
UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60}
_SHAPE = re.compile(r"([+-]?)(\d+)([a-z])")
_EXAMPLES = {"d": "7d", "h": "12h", "m": "90m"}


def examples(units: str) -> str:
    """`7d, 12h or 90m` for the units allowed, for messages and help."""
    shown = [_EXAMPLES[u] for u in units]
    return " or ".join(filter(None, (", ".join(shown[:-1]), shown[-1])))


def is_duration(text: str, units: str = "dhm") -> bool:
    """Whether `text` is written like a duration (a number and a unit, signed or not)."""
    m = _SHAPE.fullmatch(text.strip().lower())
    return m is not None and m[3] in units


def parse_duration(text: str, units: str = "dhm") -> timedelta:
    """`7d`, `12h`, `90m` (of the units allowed) as a positive timedelta of at most MAX_DAYS.
    Raises ValueError with a message fit for the user."""
    m = _SHAPE.fullmatch(text.strip().lower())
    if m is None or m[3] not in units:
        raise ValueError(f"{text!r}: write a duration like {examples(units)}")
    seconds = int(m[2]) * UNIT_SECONDS[m[3]]
    if m[1] == "-" or seconds == 0:
        raise ValueError(f"{text!r}: must be a positive duration like {examples(units)}")
    if seconds > MAX_DAYS * UNIT_SECONDS["d"]:
        raise ValueError(f"{text!r}: at most {MAX_DAYS} days")
    return timedelta(seconds=seconds)
