"""Changing a registered site after `kiosk-central site add`: its name, its opening hours, and its
time zone together with every rollup counted in it. A site's answers are counted into its local
days, hours and months (`central.rollups`), so a new zone recounts the site's rollups from its
stored answers and follow-up reasons, in the transaction that stores the zone: afterwards they are
what they would be had the site been registered in that zone from the start. Its kiosks' tryouts
are decided again first (`central.tryouts`): an installation day starts at 08:00 in the new zone.

Must never store a new zone without that recount, nor recount without the writer locks of every
kiosk that writes the site's answers (ingest's `intake.kiosk_lock`): a batch stored meanwhile
would be counted in the zone that is going. Opening hours come as the text of their column
(analysis.opening.stored_hours, which the command calls: the store never imports the analysis).
Pure database work; the command prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.central import registry, rollups, tryouts
from server_sync.central.dialect import group_transaction
from server_sync.central.intake import kiosk_lock
from server_sync.exc import CentralConfigError


@dataclass(frozen=True)
class SiteUpdate:
    """A site as it was and as it is; `rebuilt`: what the recount did (None: same zone). Opening
    hours are their column's text (None: the chain's)."""
    site_id: str
    was_name: str
    name: str
    was_timezone: str
    timezone: str
    was_opening_hours: str | None = None
    opening_hours: str | None = None
    rebuilt: rollups.SiteRebuild | None = None

    @property
    def renamed(self) -> bool:
        return self.name != self.was_name

    @property
    def hours_changed(self) -> bool:
        return self.opening_hours != self.was_opening_hours

    @property
    def changed(self) -> bool:
        return self.renamed or self.hours_changed or self.rebuilt is not None

    def as_dict(self) -> dict[str, Any]:
        r = self.rebuilt
        return {"id": self.site_id, "name": self.name, "timezone": self.timezone,
                "renamed": self.renamed, "was_name": self.was_name,
                "hours_changed": self.hours_changed,
                "rezoned": r is not None, "was_timezone": self.was_timezone,
                "answers": r.answers if r else 0, "hourly_rows_before": r.hourly_before if r else 0,
                "hourly_rows": r.hourly if r else 0, "reason_rows": r.reasons if r else 0}


def update_site(db: Database, site_id: str, *, name: str | None = None, timezone: str | None = None,
                opening_hours: str | None = None,
                progress: Callable[[int, int, str], None] | None = None) -> SiteUpdate:
    """Give site `site_id` the `name`, the IANA `timezone` and / or the `opening_hours` (the text of
    their column, analysis.opening.stored_hours, or '' for the chain's: NULL), each None to keep it,
    in one transaction; a new zone recounts the site's rollups (`rollups.rebuild_site`, whose steps
    `progress` is told). A stored zone or hours edited by hand are replaced like any other."""
    if name is not None and not name.strip():
        raise CentralConfigError("--name must not be empty")
    if timezone is not None:
        registry.check_zone(timezone)
    stored = registry.require_site(db, site_id)["timezone"]
    held = writer_locks(db, site_id) if timezone not in (None, stored) else set()
    while True:
        with group_transaction(db, sorted(held)):
            site = registry.require_site(db, site_id)
            rezone = timezone is not None and timezone != site["timezone"]
            # A kiosk registered at the site since the locks were counted: again, with its lock.
            wanted = writer_locks(db, site_id) if rezone else set()
            if wanted <= held:
                return _apply(db, site, name.strip() if name else site["name"], timezone if rezone else None,
                              opening_hours, progress)
        held |= wanted


def writer_locks(db: Database, site_id: str) -> set[str]:
    """The writer locks of every kiosk that can change the site's counted answers: those
    registered at it (new answers), those with answers stored for it (a kiosk moved away still
    corrects their times and sends their follow-ups) and those it was registered at before (a
    kiosk moved away still delivers what it recorded there: `site_history`)."""
    p = db.param
    return {kiosk_lock(k) for (k,) in db.execute_sql(
        f"SELECT id FROM kiosk WHERE site_id = {p} UNION SELECT DISTINCT kiosk_id FROM response WHERE site_id = {p}"
        f" UNION SELECT kiosk_id FROM kiosk_site_history WHERE site_id = {p}", (site_id, site_id, site_id)).fetchall()}


def _apply(db: Database, site: dict[str, Any], name: str, timezone: str | None, opening_hours: str | None,
           progress: Callable[[int, int, str], None] | None) -> SiteUpdate:
    p = db.param
    if name != site["name"]:
        db.execute_sql(f"UPDATE site SET name = {p} WHERE id = {p}", (name, site["id"]))
    (was_hours,) = db.execute_sql(f"SELECT opening_hours FROM site WHERE id = {p}", (site["id"],)).fetchone()
    hours = was_hours if opening_hours is None else opening_hours or None
    if hours != was_hours:
        db.execute_sql(f"UPDATE site SET opening_hours = {p} WHERE id = {p}", (hours, site["id"]))
    rebuilt = None
    if timezone is not None:
        # Marks only, by the day's 08:00 in the new zone: the recount below counts them.
        for (kiosk,) in db.execute_sql(f"SELECT id FROM kiosk WHERE site_id = {p} AND installs_on IS NOT NULL"
                                       " ORDER BY id", (site["id"],)).fetchall():
            tryouts.recount(db, kiosk, ZoneInfo(timezone), counts=False)
        db.execute_sql(f"UPDATE site SET timezone = {p} WHERE id = {p}", (timezone, site["id"]))
        rebuilt = rollups.rebuild_site(db, site["id"], progress)
    return SiteUpdate(site["id"], site["name"], name, site["timezone"], timezone or site["timezone"], was_hours, hours,
                      rebuilt)
