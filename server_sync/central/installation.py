"""A kiosk's installation day (`kiosk.installs_on`, a day of its site's own calendar): from when the
kiosk is its store's.

Until INSTALL_HOUR that day a kiosk is the installer's. The fleet does not flag it
(`analysis.fleet`), and what it records then at its site (a Pi prepared and tried out ahead, a
smiley tapped to check it) is a tryout: stored, never lost, but not counted in its store's figures
(`response.excluded`). The day decides for what the kiosk recorded since it was placed at its site
(`PLACED_SQL`: moved there or brought back; never either, from the start): what it recorded at a
stay before, or before it was last brought back, keeps what was decided then. Without a day, everything
a kiosk records counts. The figures follow the day as it stands: given, changed or cleared, the
stored answers are decided again (`central.tryouts`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

INSTALL_HOUR = 8       # an installation day counts from 08:00 at the site: installers work days, so a
                       # store open all night is not flagged at 02:00 for a kiosk due that day
TRYOUT = "tryout"      # `response.excluded` of an answer recorded before its kiosk's installation

# When the kiosk `k` was placed at its site (naive UTC, or NULL: from the start): moved there or
# brought back (`placed_at`, since m0049), else its last move before that (`kiosk_site_history`).
PLACED_SQL = ("COALESCE(k.placed_at, (SELECT MAX(h.moved_out_at) FROM kiosk_site_history h"
              " WHERE h.kiosk_id = k.id))")


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


def decides(recorded_at: datetime, since: datetime | None) -> bool:
    """Whether the day decides for an answer recorded at `recorded_at` (naive UTC) at its kiosk's
    site: since it was placed there (`since`, PLACED_SQL)."""
    return since is None or recorded_at >= since


def excluded(recorded_at: datetime, until: datetime | None) -> str | None:
    """`response.excluded` of an answer the day decides for (`decides`), recorded at `recorded_at`
    (naive UTC, the best known time): a tryout before `tryout_until`."""
    return TRYOUT if until is not None and recorded_at < until else None
