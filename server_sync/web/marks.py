"""The high-water marks that make pages live across processes: `live_mark` holds one version per
site, bumped by ingest after each commit that added or corrected that site's answers (the
after-commit hook below, listed in server_sync/commands/ingest.py AFTER_COMMIT_HOOKS), and read
by every web worker a few times a second. Ingestors and web workers meet only here, in the
database; it works the same on SQLite and PostgreSQL.

Imports nothing of the web framework (ingest loads this module). Never blocks or fails ingest:
a failing hook is logged by ingest and the commit stands.
"""

from __future__ import annotations

from datetime import datetime, timezone

from peewee import Database

from server_sync.central.dialect import execute_many


def bump(db: Database, site_ids: set[str], now: datetime) -> None:
    """Move the mark of each site on by one (in one short transaction, sorted: no deadlocks)."""
    if not site_ids:
        return
    stamp = now.astimezone(timezone.utc).replace(tzinfo=None) if now.tzinfo else now
    p = db.param
    with db.atomic():
        execute_many(db, f"INSERT INTO live_mark (site_id, version, changed_at) VALUES ({p}, {p}, {p})"
                         " ON CONFLICT (site_id) DO UPDATE SET version = live_mark.version + 1,"
                         " changed_at = excluded.changed_at",
                     [(s, 1, stamp) for s in sorted(site_ids)])


def bump_hook(db: Database, site_ids: set[str], now: datetime, prefix: str = "") -> list[tuple[str, bytes]]:
    """Ingest's after-commit hook: bump the marks; nothing to publish on MQTT."""
    bump(db, site_ids, now)
    return []


def versions(db: Database) -> dict[str, int]:
    """site -> version, for every site that ever had answers through ingest (a small table)."""
    return {s: int(v) for s, v in db.execute_sql("SELECT site_id, version FROM live_mark")}


def fleet_marks(db: Database) -> dict[str, tuple]:
    """site -> (newest last_seen, kiosks online, summed outbox) of its kiosks' status: what makes
    the fleet page change when a kiosk comes, goes or reports."""
    rows = db.execute_sql("SELECT k.site_id, MAX(st.last_seen), SUM(CASE WHEN st.online THEN 1 ELSE 0 END),"
                          " SUM(st.outbox_depth) FROM kiosk k JOIN kiosk_status st ON st.kiosk_id = k.id"
                          " GROUP BY k.site_id")
    return {s: (str(seen), int(on or 0), int(depth or 0)) for s, seen, on, depth in rows}
