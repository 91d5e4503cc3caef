"""The fleet register: sites and kiosks the centre knows. Ingest accepts answers only from a
registered, active kiosk, for its registered site (or a site it was registered at when
the answer was recorded: `site_history`). A deactivated kiosk stays registered (its
answers are kept); what it still sends is refused (`KioskDeactivated`) and only counted. A site's
time zone, which its answers are counted in, has one rule for the commands that store it and for
every reader of the store, ingest's included (`time_zone`, `check_zone`, `stored_zone`,
`site_zones`); changing it recounts the site's rollups (`central.site_update`).

Pure database work; broker credentials are `server_sync.provision`'s job.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.central import site_history
from server_sync.central.dialect import in_list, placeholders
from server_sync.central.event_rows import as_datetime
from server_sync.central.installation import INSTALL_HOUR, tryout_until
from server_sync.central.setting import stored_error
from server_sync.exc import CentralConfigError, ProtocolError
from server_sync.program.zones import iana_zone
from server_sync.protocol import ID_RE
from server_sync.protocol.codec import short
from server_sync.protocol.vocabulary import ID_RULE, RESERVED_KIOSK_IDS
DEFAULT_ZONE = "Europe/Stockholm"               # the site table's default (m0001) and `site add`'s
# The fix of a zone edited by hand; it names no site: a page shows it to people who may not see it.
ZONE_FIX = "kiosk-central site update SITE --timezone ZONE"


class KioskDeactivated(ProtocolError):
    """A message from a deactivated kiosk: refused and counted, never kept (dead_letters)."""


def check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise CentralConfigError(f"{what} must be {ID_RULE}, got {short(value)}")
    return value


def add_site(db: Database, site_id: str, name: str, timezone: str, now: datetime,
             opening_hours: str | None = None) -> None:
    """Register a site; `opening_hours`: the text of its column (analysis.opening.stored_hours;
    None or '': the chain's, NULL)."""
    check_id(site_id, "site id")
    if not name.strip():
        raise CentralConfigError("--name must not be empty")
    check_zone(timezone)
    with db.atomic():
        if site(db, site_id):
            raise CentralConfigError(f"site {site_id!r} already exists")
        db.execute_sql("INSERT INTO site (id, name, timezone, created_at, opening_hours)"
                       f" VALUES ({placeholders(db, 5)})", (site_id, name.strip(), timezone, now, opening_hours or None))


def time_zone(name: str) -> ZoneInfo | None:
    """The IANA time zone `name`, or None when it names none: the one rule of a site's zone, for
    the commands that store it (check_zone) and for every reader of the store (stored_zone)."""
    return iana_zone(name)                          # the kiosk's kiosk.timezone has the same rule


def check_zone(name: str) -> str:
    """`name` if it is an IANA time zone (time_zone), else the error `site add` and `site update`
    give for it."""
    if time_zone(name) is None:
        raise CentralConfigError(f"unknown time zone {short(name)} (use an IANA name like {DEFAULT_ZONE})")
    return name


def stored_zone(site_id: str, name: str | None) -> ZoneInfo:
    """Site `site_id`'s time zone as stored (`name`; None: there is no such site, see
    site_zones); a value check_zone would refuse was edited by hand: StoredSettingError naming the
    site, the value and the fix, `site update --timezone`, which sets a zone and recounts the
    site's rollups in it from the stored answers (whatever zone they were counted in before)."""
    if name is None:
        return ZoneInfo(DEFAULT_ZONE)
    zone = time_zone(name)
    if zone is None:
        raise stored_error("timezone", name, f"an IANA time zone such as {DEFAULT_ZONE}, which the site's answers are"
                           " counted in", site=site_id, fix=ZONE_FIX)
    return zone


def site_zones(db: Database, site_ids: Iterable[str] | None = None) -> dict[str, ZoneInfo]:
    """The time zone (stored_zone) of each of `site_ids` (None: of every site). An id no site
    has gets the zone a site gets by default (DEFAULT_ZONE, as the rollups count its answers:
    answers and alerts name their site without a foreign key)."""
    if site_ids is None:
        rows = db.execute_sql("SELECT id, timezone FROM site").fetchall()
        return {sid: stored_zone(sid, name) for sid, name in rows}
    ids = sorted(set(site_ids))
    if not ids:
        return {}
    where, params = in_list(db, "id", ids)
    stored = dict(db.execute_sql(f"SELECT id, timezone FROM site WHERE {where}", params).fetchall())
    return {sid: stored_zone(sid, stored.get(sid)) for sid in ids}


def site_todays(db: Database, site_ids: Iterable[str], now: datetime) -> dict[str, str]:
    """The date at `now` where each site is (its zone): an action's first day, an alert's due
    date and whether it is overdue are the store's days, as its answers are. UTC's date was the
    day before in Stockholm from midnight to 01:00 (02:00 in summer), and a day ahead west of
    UTC: an action logged then started the day before it was taken, and an alert due today
    showed as overdue in the store's last hour."""
    at = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return {site: at.astimezone(zone).date().isoformat() for site, zone in site_zones(db, site_ids).items()}


def site_today(db: Database, site_id: str, now: datetime) -> str:
    """The date at `now` where site `site_id` is (site_todays)."""
    return site_todays(db, [site_id], now)[site_id]


def site_lock(site_id: str) -> str:
    """The writer lock of a site's kiosks: who comes to it (`kiosk add`, `kiosk move`) and who
    pushes its kiosks a config (`config_push_store.record`) take it, so each sees the other's
    result. Taken before any kiosk's lock (`dialect.writer_locks`)."""
    return f"site:{site_id}"


def site(db: Database, site_id: str) -> dict[str, Any] | None:
    row = db.execute_sql(f"SELECT id, name, timezone FROM site WHERE id = {db.param}", (site_id,)).fetchone()
    return dict(zip(("id", "name", "timezone"), row)) if row else None


def require_site(db: Database, site_id: str) -> dict[str, Any]:
    """The site, or CentralConfigError saying how to add it; an id that could never be a site's
    is told so instead (the hint would be a command that fails)."""
    found = site(db, check_id(site_id, "site id"))
    if found is None:
        raise CentralConfigError(f"unknown site {site_id!r}; add it first: kiosk-central site add {site_id} --name NAME")
    return found


def kiosk(db: Database, kiosk_id: str) -> dict[str, Any] | None:
    row = db.execute_sql(f"SELECT id, site_id, active, deactivated_at, installs_on FROM kiosk WHERE id = {db.param}",
                         (kiosk_id,)).fetchone()
    return {"id": row[0], "site_id": row[1], "active": bool(row[2]), "deactivated_at": row[3],
            "installs_on": row[4]} if row else None


def kiosks(db: Database) -> list[dict[str, Any]]:
    """Every registered kiosk, active or not, with how many answers the centre keeps of it."""
    rows = db.execute_sql(
        "SELECT k.id, k.site_id, k.active, k.registered_at, k.deactivated_at, k.installs_on,"
        " (SELECT COUNT(*) FROM response r WHERE r.kiosk_id = k.id) FROM kiosk k ORDER BY k.site_id, k.id").fetchall()
    return [{"id": kid, "site_id": site, "active": bool(active), "registered_at": str(registered),
             "deactivated_at": None if deactivated is None else str(deactivated), "installs_on": installs_on,
             "answers": int(answers)}
            for kid, site, active, registered, deactivated, installs_on, answers in rows]


def set_installs_on(db: Database, kiosk_id: str, day: str | None, now: datetime) -> str | None:
    """The day (the site's, YYYY-MM-DD: `commands._argtypes.day`) the kiosk is to be installed, or
    None for none: until then it is not silent, and not reporting it is awaited (analysis.fleet),
    and what it records at its site is a tryout (central.installation). A day whose 08:00 has
    passed at the site (`now`, naive UTC) is taken for a kiosk that has reported since then (a day
    cleared once the kiosk was installed, given back: it sets aside the answers recorded before
    it); for one that has not, a new such day is refused: it would make a kiosk in service never
    seen. A new day
    starts afresh a silence flag the notify worker kept untold or told as never seen (`kiosk_flag`:
    it is told again if the kiosk is still not heard from once the day has come). Returns
    when the kiosk was last heard (None: never), for the caller to warn that a day hides the
    silence of a kiosk in service."""
    known = kiosk(db, kiosk_id)
    if known is None:
        raise CentralConfigError(f"no kiosk {short(kiosk_id)} is registered")
    p = db.param
    seen = db.execute_sql(f"SELECT last_seen FROM kiosk_status WHERE kiosk_id = {p}", (kiosk_id,)).fetchone()
    last_seen = None if seen is None or seen[0] is None else as_datetime(seen[0])
    before = db.execute_sql(f"SELECT installs_on FROM kiosk WHERE id = {p}", (kiosk_id,)).fetchone()[0]
    if day is not None and day != before:
        place = site(db, known["site_id"])
        zone = stored_zone(known["site_id"], place["timezone"] if place else None)
        start = tryout_until(day, zone)
        if start is not None and start <= now and (last_seen is None or last_seen < start):
            today = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date().isoformat()
            heard = "has never reported" if last_seen is None else f"was last heard {str(seen[0])[:16]} UTC"
            raise CentralConfigError(f"installation day {day} has begun at site {known['site_id']} "
                                     f"({INSTALL_HOUR:02d}:00; today there: {today}) and kiosk {kiosk_id} {heard}, "
                                     "before it: give a day to come, or none")
    if before != day:
        db.execute_sql(f"UPDATE kiosk SET installs_on = {p} WHERE id = {p}", (day, kiosk_id))
        # A silence untold, or told as never seen (an installation's, the admins'), starts afresh.
        # One told otherwise stays: the notify worker tells it over (kiosk.awaited, or its return).
        db.execute_sql(f"DELETE FROM kiosk_flag WHERE kiosk_id = {p} AND kind IN ('never', 'silent')"
                       " AND (told_kind IS NULL OR told_kind = 'never')", (kiosk_id,))
    return None if last_seen is None else str(seen[0])[:16]


def set_active(db: Database, kiosk_id: str, active: bool, now: datetime) -> None:
    """Deactivate a kiosk (its answers stay; ingest refuses what it still sends), or bring it
    back; call inside the caller's transaction with the broker files' changes."""
    p = db.param
    db.execute_sql(f"UPDATE kiosk SET active = {p}, deactivated_at = {p} WHERE id = {p}",
                   (active, None if active else now, kiosk_id))
    if active:                      # its silence counts from here (analysis.fleet)
        db.execute_sql(f"UPDATE kiosk SET placed_at = {p} WHERE id = {p}", (now, kiosk_id))


def kiosks_of_site(db: Database, site_id: str) -> list[str]:
    return [r[0] for r in db.execute_sql(
        f"SELECT id FROM kiosk WHERE site_id = {db.param} AND active = {db.param} ORDER BY id",
        (site_id, True)).fetchall()]


def add_kiosk(db: Database, kiosk_id: str, site_id: str, now: datetime) -> None:
    """Register a kiosk; call inside the caller's transaction when other steps must succeed too."""
    check_id(kiosk_id, "kiosk id")
    if kiosk_id in RESERVED_KIOSK_IDS:
        raise CentralConfigError(f"kiosk id {kiosk_id!r} is reserved for the central ingest")
    require_site(db, site_id)
    existing = kiosk(db, kiosk_id)
    if existing:
        raise CentralConfigError(f"kiosk {kiosk_id!r} already exists (site {existing['site_id']}); "
                                 "use --rotate-password to issue a new broker password")
    db.execute_sql(f"INSERT INTO kiosk (id, site_id, registered_at) VALUES ({placeholders(db, 3)})",
                   (kiosk_id, site_id, now))


def move_kiosk(db: Database, kiosk_id: str, site_id: str, now: datetime | None = None, *,
               moved_at: datetime | None = None) -> str:
    """Register a kiosk at another site (it was moved, or registered at the wrong one) as of
    `moved_at` (naive UTC: when it was carried over, in the past and after its previous move;
    None: `now`, the present, None: the clock's); returns the site it was at. Its stored answers
    keep the site they were recorded for, and so do those it still holds: the stay it leaves is
    kept (`site_history`), so ingest takes its answers recorded there. Call inside a transaction."""
    known = kiosk(db, kiosk_id)
    if known is None:
        raise CentralConfigError(f"no kiosk {short(kiosk_id)} is registered")
    require_site(db, site_id)
    if known["site_id"] != site_id:
        at = moved_at or now or datetime.now(ZoneInfo("UTC")).replace(tzinfo=None)
        if moved_at is not None:
            _check_move_time(kiosk_id, moved_at, site_history.last_move(db, kiosk_id), now)
        site_history.record_move(db, kiosk_id, known["site_id"], at)
        # Its silence counts from here (analysis.fleet): it may have been in a box meanwhile. A
        # day it was to be installed on was the old site's.
        db.execute_sql(f"UPDATE kiosk SET placed_at = {db.param}, installs_on = NULL WHERE id = {db.param}",
                       (at, kiosk_id))
    db.execute_sql(f"UPDATE kiosk SET site_id = {db.param} WHERE id = {db.param}", (site_id, kiosk_id))
    return known["site_id"]


def date_move(db: Database, kiosk_id: str, moved_at: datetime, now: datetime | None = None) -> site_history.Stay:
    """Date the kiosk's last move `moved_at` (naive UTC, in the past and after the move before;
    `now`: the present, None: the clock's): typed before it was carried over, or after, the stay
    it ended ends when it really did, and ingest judges answers by it. Returns that stay as it
    was. A kiosk placed at its site by that move is placed then (analysis.fleet counts its silence
    from it); one brought back since keeps that. Call inside a transaction holding its writer lock."""
    known = kiosk(db, kiosk_id)
    if known is None:
        raise CentralConfigError(f"no kiosk {short(kiosk_id)} is registered")
    former = site_history.stays(db, kiosk_id)
    if not former:
        raise CentralConfigError(f"kiosk {kiosk_id} has stood at site {known['site_id']} since it was registered: "
                                 "it has no move to date")
    _check_move_time(kiosk_id, moved_at, former[-1].moved_in_at, now)
    site_history.date_last_move(db, kiosk_id, moved_at)
    p = db.param
    placed = db.execute_sql(f"SELECT placed_at FROM kiosk WHERE id = {p}", (kiosk_id,)).fetchone()[0]
    if placed is not None and as_datetime(placed) == former[-1].moved_out_at:
        db.execute_sql(f"UPDATE kiosk SET placed_at = {p} WHERE id = {p}", (moved_at, kiosk_id))
    return former[-1]


def _check_move_time(kiosk_id: str, at: datetime, previous: datetime | None, now: datetime | None) -> None:
    """A move's time said by a person: in the past, after the kiosk's previous move."""
    now = now or datetime.now(ZoneInfo("UTC")).replace(tzinfo=None)
    if at > now:
        raise CentralConfigError(f"the move's time {at:%Y-%m-%d %H:%M} UTC is in the future (it is "
                                 f"{now:%Y-%m-%d %H:%M} UTC)")
    if previous is not None and at <= previous:
        raise CentralConfigError(f"the move's time {at:%Y-%m-%d %H:%M} UTC is not after kiosk {kiosk_id}'s previous "
                                 f"move ({previous:%Y-%m-%d %H:%M} UTC)")
