"""A kiosk's installation day (`kiosk.installs_on`, a day of its site's own calendar): from when the
kiosk is its store's.

Until INSTALL_HOUR that day a kiosk is the installer's. The fleet does not flag it
(`analysis.fleet`), and what it records then at its site (a Pi prepared and tried out ahead, a
smiley tapped to check it) is a tryout: stored, never lost, but not counted in its store's figures
(`response.excluded`). Only since the kiosk was placed there (`kiosk.placed_at`: moved there or
brought back; never either: from the start): what it recorded at a stay before, or before it was
deactivated, was its store's. Without a day, everything a kiosk records counts.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

INSTALL_HOUR = 8       # an installation day counts from 08:00 at the site: installers work days, so a
                       # store open all night is not flagged at 02:00 for a kiosk due that day
TRYOUT = "tryout"      # `response.excluded` of an answer recorded before its kiosk's installation


def install_start(day: str | None, zone: ZoneInfo) -> datetime | None:
    """INSTALL_HOUR on `day` (YYYY-MM-DD) at the site (aware), or None for no day. One that cannot
    be read (the column edited by hand) is none: the kiosk is then expected as if no day were
    given, so a broken date never hides a silent kiosk, nor its answers."""
    try:
        return datetime.combine(date.fromisoformat(day), time(INSTALL_HOUR), zone) if day else None
    except (TypeError, ValueError):
        return None


def tryout_until(day: str | None, zone: ZoneInfo) -> datetime | None:
    """`install_start` as naive UTC, the form the store keeps times in. None: no tryouts."""
    start = install_start(day, zone)
    return None if start is None else start.astimezone(timezone.utc).replace(tzinfo=None)


def excluded(recorded_at: datetime, since: datetime | None, until: datetime | None) -> str | None:
    """`response.excluded` of an answer recorded at `recorded_at` (naive UTC, the best known time)
    at its kiosk's site: a tryout between its placement there (`since`, None: from the start) and
    `tryout_until`."""
    if until is None or recorded_at >= until or (since is not None and recorded_at < since):
        return None
    return TRYOUT
