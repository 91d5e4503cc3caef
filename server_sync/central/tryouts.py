"""A kiosk's stored answers set aside as tryouts, or counted again, when its installation day or
its site's time zone changes (`kiosk-central kiosk installs-on`, `kiosk add --installs-on`,
`site update --timezone`): ingest decides by the day it knows when an answer arrives
(`central.intake`), so a day given, changed or cleared later decides again for what is stored, by
the same rule (`central.installation`): what the kiosk recorded at its site since it was placed
there follows its day as it stands; what it recorded before keeps what was decided then.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.central import installation, rollups
from server_sync.central.dialect import time_param
from server_sync.central.event_rows import as_datetime


@dataclass(frozen=True)
class Recount:
    """How many of the kiosk's answers (flagged presses, never counted, left out) were set aside
    and counted again, and its site."""
    site_id: str
    set_aside: int
    counted_again: int

    @property
    def changed(self) -> bool:
        return bool(self.set_aside or self.counted_again)


_COLUMNS = ("id", "site_id", "kiosk_id", "question_id", "audience", "scale", "value", "filtered", "excluded",
            "recorded_at")


def recount(db: Database, kiosk_id: str, zone: ZoneInfo | None = None, counts: bool = True) -> Recount:
    """Decide again, by the kiosk's day as stored now (read in `zone`, default the site's stored
    one), for its answers at its site recorded since it was placed there, and move the rollup
    counts along (hourly and reasons, as a time correction does: the old rows with sign -1, the
    new ones +1, in the zone stored now; `counts` False: the marks only, for a caller that counts
    the site's rollups again from the raw rows). Call inside the transaction of the change,
    holding the kiosk's writer lock (`intake.kiosk_lock`), so no batch of it is stored meanwhile."""
    p = db.param
    ts = time_param(db)
    site_id, day, placed = db.execute_sql(
        f"SELECT k.site_id, k.installs_on, {installation.PLACED_SQL} FROM kiosk k WHERE k.id = {p}",
        (kiosk_id,)).fetchone()
    zones: dict = {}
    until = installation.tryout_until(day, zone or rollups.site_timezones(db, [site_id], zones)[site_id]) \
        if day else None
    where, params = f"kiosk_id = {p} AND site_id = {p}", [kiosk_id, site_id]
    if placed is not None:
        where, params = where + f" AND recorded_at >= {p}", params + [ts(as_datetime(placed))]
    # Only what changes: set aside before the day, counted again from it (or all, with no day).
    if until is None:
        aside, again = None, (f"excluded = {p}", [installation.TRYOUT])
    else:
        aside = (f"excluded IS NULL AND recorded_at < {p}", [ts(until)])
        again = (f"excluded = {p} AND recorded_at >= {p}", [installation.TRYOUT, ts(until)])
    changed = []
    for part, new in ((aside, installation.TRYOUT), (again, None)):
        if part is None:
            continue
        for r in db.execute_sql(f"SELECT {', '.join(_COLUMNS)} FROM response WHERE {where} AND {part[0]}",
                                params + part[1]).fetchall():
            old = dict(zip(_COLUMNS, r), recorded_at=as_datetime(r[-1]))
            changed.append((old, dict(old, excluded=new)))
    if not changed:
        return Recount(site_id, 0, 0)
    if not counts:
        _mark(db, where, params, aside, again)
        return _said(site_id, changed)
    delta: Counter = Counter()
    reason_delta: dict = {}
    reasons = rollups.followup_reasons(db, [r["id"] for r, _ in changed])
    rollups.count(db, [old for old, _ in changed], sign=-1, into=delta, zones=zones)
    rollups.count_reasons(db, reasons, sign=-1, into=reason_delta, zones=zones)     # as stored
    _mark(db, where, params, aside, again)
    rollups.count(db, [new for _, new in changed], into=delta, zones=zones)
    rollups.count_reasons(db, reasons, into=reason_delta, zones=zones)              # as now decided
    rollups.write(db, delta)
    rollups.write_reasons(db, reason_delta)
    return _said(site_id, changed)


def _mark(db: Database, where: str, params: list, aside: tuple | None, again: tuple) -> None:
    """The rows `recount` read, marked in SQL by the same conditions (under the kiosk's lock)."""
    for part, new in ((aside, installation.TRYOUT), (again, None)):
        if part is not None:
            db.execute_sql(f"UPDATE response SET excluded = {db.param} WHERE {where} AND {part[0]}",
                           [new, *params, *part[1]])


def _said(site_id: str, changed: list[tuple[dict, dict]]) -> Recount:
    counted = [new for _, new in changed if new["filtered"] is None]     # a flagged press never counted
    aside = sum(1 for new in counted if new["excluded"] is not None)
    return Recount(site_id, aside, len(counted) - aside)
