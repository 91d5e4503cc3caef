"""A kiosk's stored answers set aside as tryouts, or counted again, when its installation day
changes (`kiosk-central kiosk installs-on`, `kiosk add --installs-on`): ingest decides by the day
it knows when an answer arrives (`central.intake`), so a day given or changed later re-decides what
is stored. The rule is `central.installation`'s; its answers at the kiosk's registered site only,
as at ingest."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from peewee import Database

from server_sync.central import installation, rollups
from server_sync.central.dialect import execute_many, time_param
from server_sync.central.event_rows import as_datetime


@dataclass(frozen=True)
class Recount:
    """How many of the kiosk's answers a new day set aside and counted again."""
    set_aside: int
    counted_again: int


_COLUMNS = ("id", "site_id", "kiosk_id", "question_id", "audience", "scale", "value", "filtered", "excluded",
            "recorded_at")


def recount(db: Database, kiosk_id: str) -> Recount:
    """Mark the kiosk's answers at its registered site by its installation day as it is now, and
    move the rollup counts along (hourly and reasons: as a time correction does, the old rows
    with sign -1, the new ones +1). Call inside the transaction that changed the day, holding the
    kiosk's writer lock (`intake.kiosk_lock`), so no batch of it is stored meanwhile."""
    p = db.param
    site_id, day = db.execute_sql(f"SELECT site_id, installs_on FROM kiosk WHERE id = {p}", (kiosk_id,)).fetchone()
    zones: dict = {}
    until = installation.tryout_until(day, rollups.site_timezones(db, [site_id], zones)[site_id]) if day else None
    # Only those that change: set aside before the day, counted again from it.
    if until is None:
        which, params = f"excluded = {p}", [installation.TRYOUT]
    else:
        ts = time_param(db)(until)
        which = f"(excluded IS NULL AND recorded_at < {p}) OR (excluded = {p} AND recorded_at >= {p})"
        params = [ts, installation.TRYOUT, ts]
    changed = []
    for r in db.execute_sql(f"SELECT {', '.join(_COLUMNS)} FROM response WHERE kiosk_id = {p} AND site_id = {p}"
                            f" AND ({which})", [kiosk_id, site_id, *params]).fetchall():
        old = dict(zip(_COLUMNS, r), recorded_at=as_datetime(r[-1]))
        changed.append((old, dict(old, excluded=installation.excluded(old["recorded_at"], until))))
    if not changed:
        return Recount(0, 0)
    delta: Counter = Counter()
    reason_delta: dict = {}
    ids = [r["id"] for r, _ in changed]
    reasons = rollups.followup_reasons(db, ids)
    rollups.count(db, [old for old, _ in changed], sign=-1, into=delta, zones=zones)
    rollups.count_reasons(db, reasons, sign=-1, into=reason_delta, zones=zones)     # as stored
    execute_many(db, f"UPDATE response SET excluded = {p} WHERE id = {p}",
                 [(new["excluded"], new["id"]) for _, new in changed])
    rollups.count(db, [new for _, new in changed], into=delta, zones=zones)
    rollups.count_reasons(db, reasons, into=reason_delta, zones=zones)              # as now marked
    rollups.write(db, delta)
    rollups.write_reasons(db, reason_delta)
    aside = sum(1 for _, new in changed if new["excluded"] is not None)
    return Recount(aside, len(changed) - aside)

