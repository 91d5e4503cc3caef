"""`response.excluded`: the centre's reason not to count an answer its kiosk counted, NULL for one
that counts. The one reason so far is `tryout` (`central.installation`): recorded at its kiosk's
site, since the kiosk was placed there, before 08:00 of its installation day. Such answers are
kept, like a kiosk's flagged presses (`filtered`), and left out wherever those are: the rollups
and the BI views of raw answers and reasons (same columns: replaced in place on PostgreSQL, so
what a BI tool built on them and the grants on them stay).

Kiosks given a day before this migration (m0051) have their answers stored since decided here
(`backfill`), and their sites' rollups counted again, so an upgraded centre reports as if the rule
had always been there."""

from datetime import date, datetime, time, timezone

from peewee import Database

from server_sync.central import registry, rollups
from server_sync.central.dialect import Dialect, time_param
from server_sync.central.migrations.m0012_employee_privacy import VIEWS as BEFORE

COUNTED = "r.filtered IS NULL AND r.excluded IS NULL"

VIEWS = {name: BEFORE[name].replace("r.filtered IS NULL", COUNTED) for name in ("v_answers", "v_followup_reasons")}

STATEMENTS = ["ALTER TABLE response ADD COLUMN excluded VARCHAR(16)"]

# installation.INSTALL_HOUR and PLACED_SQL as this migration was written (a migration is frozen).
INSTALL_HOUR = 8
PLACED = "COALESCE(k.placed_at, (SELECT MAX(h.moved_out_at) FROM kiosk_site_history h WHERE h.kiosk_id = k.id))"


def backfill(db: Database) -> set[str]:
    """Set aside the stored tryouts of every kiosk with a day; returns the sites that had any. A
    day or zone that cannot be read (edited by hand) sets nothing aside, as the rule reads it."""
    p, ts = db.param, time_param(db)
    sites = set()
    for kiosk, site, day, placed, zone_name in db.execute_sql(
            f"SELECT k.id, k.site_id, k.installs_on, {PLACED}, s.timezone FROM kiosk k JOIN site s ON s.id = k.site_id"
            " WHERE k.installs_on IS NOT NULL ORDER BY k.id").fetchall():
        zone = registry.time_zone(zone_name) if zone_name else None
        try:
            start = datetime.combine(date.fromisoformat(day), time(INSTALL_HOUR), zone) if zone else None
        except (TypeError, ValueError):
            start = None
        if start is None:
            continue
        until = start.astimezone(timezone.utc).replace(tzinfo=None)
        where, params = f"kiosk_id = {p} AND site_id = {p} AND recorded_at < {p}", [kiosk, site, ts(until)]
        if placed is not None:
            where, params = where + f" AND recorded_at >= {p}", params + [placed]
        if db.execute_sql(f"UPDATE response SET excluded = 'tryout' WHERE {where}", params).rowcount:
            sites.add(site)
    return sites


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
    for name, body in VIEWS.items():
        if dialect.name == "postgresql":
            db.execute_sql(f"CREATE OR REPLACE VIEW {name} AS {body}")
        else:
            db.execute_sql(f"DROP VIEW {name}")
            db.execute_sql(f"CREATE VIEW {name} AS {body}")
    for site in sorted(backfill(db)):
        rollups.rebuild_site(db, site)
