"""Fleet status: every registered kiosk with online state, last seen, outbox depth, clock state,
free disk and config version (and how many of its events the centre refused for good); a kiosk
silent for more than `silent_after` of its site's opening hours is flagged (a closed shop's kiosk
may sleep; an open one must not), and so is one two devices answer as (a copied card), one whose
card is nearly full, one that holds answers the centre refused for good (they wait there for a
person), one whose answers do not reach the centre while it reports, and one that refused the
config the centre pushed (`_flag`). Deactivated
kiosks are listed, never flagged nor counted in the summary; so is a kiosk awaited (registered
ahead of a rollout, to be installed on a later day, and not reporting). Reads kiosk, site,
kiosk_status and kiosk_twin; never writes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Sequence

from peewee import Database

from server_sync.analysis.opening import (HOLIDAYS_SETTING, is_open, open_seconds_between, parse_hours, read_holidays,
                                          with_holidays)
from server_sync.central import twins
from server_sync.central.installation import install_start
from server_sync.central.registry import stored_zone
from server_sync.central.setting import get_setting
from server_sync.exc import StoredSettingError
from server_sync.protocol import EARLIEST

SILENT_AFTER = timedelta(hours=2)
DISK_LOW_MB = 50                    # `kiosk doctor` fails under it; at about 1 MB every tap is refused
BACKLOG_AFTER = timedelta(hours=2)  # a kiosk that reports, with answers unacknowledged this long
TWIN_FLAGGED_FOR = twins.WITHIN     # a kiosk two devices answered as, this long after the last sign
CENTRE_KINDS = ("twin", "config")   # flags its store cannot act on (`store_flag_kind` leaves them out)


def _dt(v) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v


def _rejected(payload: str | None) -> int | None:
    """Events the centre refused for good, as the kiosk's last status counted them (None when
    the kiosk has not said: an older kiosk, or no status yet; a Last Will keeps the counts of
    the status before it)."""
    try:
        value = json.loads(payload or "{}").get("rejected")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def fleet(db: Database, now: datetime, silent_after: timedelta = SILENT_AFTER,
          site_ids: Sequence[str] | None = None, unreadable: list[tuple[str, str]] | None = None) -> list[dict]:
    """Every kiosk, or those of `site_ids` (an empty list: none). A site whose stored opening hours
    cannot be read raises StoredSettingError; with an `unreadable` list, its kiosks are left out
    and (site, why) is added to it instead, so one site edited by hand does not hide the rest (the
    chain's holidays edited by hand: ('chain_holidays', why), and every site without them)."""
    where, params = "", []
    if site_ids is not None:
        if not site_ids:
            return []
        where = f" WHERE k.site_id IN ({', '.join([db.param] * len(site_ids))})"
        params = list(site_ids)
    rows = db.execute_sql(
        "SELECT k.id, k.site_id, s.name, s.timezone, s.opening_hours, k.registered_at, k.placed_at, k.installs_on,"
        " k.active, st.online,"
        " st.last_seen, st.outbox_depth, st.oldest_unacked_s, st.clock_synced, st.config_version,"
        " st.config_error, st.version, st.payload, st.disk_free_mb, tw.last_seen_at FROM kiosk k"
        " LEFT JOIN site s ON s.id = k.site_id LEFT JOIN kiosk_status st ON st.kiosk_id = k.id"
        f" LEFT JOIN kiosk_twin tw ON tw.kiosk_id = k.id{where} ORDER BY k.site_id, k.id", params).fetchall()
    hours_cache: dict[str | None, dict] = {}
    try:
        holidays = read_holidays(get_setting(db, HOLIDAYS_SETTING))
    except StoredSettingError as e:
        if unreadable is None:
            raise
        unreadable.append((HOLIDAYS_SETTING, str(e)))       # every site watched without them
        holidays = {}
    out = []
    for (kiosk, site, name, tz, opening, registered, placed, installs_on, active, online, last_seen, depth, oldest,
         synced, config_version, config_error, version, payload, disk_free_mb, twin_seen) in rows:
        try:
            zone = stored_zone(site, tz)
            if opening not in hours_cache:
                hours_cache[opening] = with_holidays(parse_hours(opening, site), holidays)
        except StoredSettingError as e:
            if unreadable is None:
                raise
            if site not in {s for s, _why in unreadable}:
                unreadable.append((site, str(e)))
            continue
        # Silent since its last status, or since it was brought back or moved if that is later.
        # No Kundpuls time is older than EARLIEST: a status stored dated year 1 (by a centre from
        # before ingest refused one) made every view of the fleet fail, and year 2 took 17 s a look.
        last_seen = None if last_seen is None else max(_dt(last_seen), EARLIEST)
        since = max(filter(None, (last_seen, _dt(placed))), default=None) or _dt(registered)
        # To be installed on a later day: never flagged before it (a Pi prepared and tried out
        # ahead is the installer's, not yet its store's), awaited while it is not reporting (its
        # status may still say online: a will the broker lost), and silent from INSTALL_HOUR of
        # the day if not heard since.
        due = install_start(installs_on, zone)
        if due is not None and since is not None and due > since:
            since = due
        seen = last_seen
        before_day = due is not None and now < due
        awaited = bool(active) and before_day and (seen is None or now - seen > REPORTING_WITHIN)
        silent_open = open_seconds_between(since, now, zone, hours_cache[opening]) if since else 0.0
        silent = bool(active) and silent_open > silent_after.total_seconds()
        # Heard only before its day: what that tryout's status said (online, its card, held answers,
        # backlog) is no news on the day, and not heard since it is never seen, not silent.
        tryout = due is not None and seen is not None and seen < due <= now
        if tryout:
            online = None
        rejected, disk, backlog = (None, None, None) if tryout else (_rejected(payload), disk_free_mb, oldest)
        # Answers the centre refused for good wait on the kiosk for a person (docs/deployment.md).
        held = bool(active) and (rejected or 0) > 0
        twin = _dt(twin_seen) is not None and now - _dt(twin_seen) < TWIN_FLAGGED_FOR

        refused = None if tryout else config_error

        def flag(twin: bool, refused: str | None) -> tuple[str | None, str | None]:
            return _flag(bool(active) and not before_day, silent, last_seen is None or tryout, held, rejected, online,
                         disk, backlog, synced, twin, refused)
        kind, text = flag(twin, refused)
        # A copied card is the admins' (kiosk_watch tells it apart), and a refused config is the
        # pusher's; what its store can act on is the flag it would have without them (a backlog
        # the twin ranks before, say).
        store_kind = kind if kind not in CENTRE_KINDS else flag(False, None)[0]
        out.append({
            "kiosk_id": kiosk, "site_id": site, "site_name": name or site, "timezone": zone.key,
            "active": bool(active), "installs_on": installs_on if due else None, "awaited": awaited,
            "online": None if online is None else bool(online),
            "last_seen": last_seen.isoformat() if last_seen is not None else None,
            "outbox_depth": depth, "oldest_unacked_s": oldest,
            "clock_synced": None if synced is None else bool(synced),
            "config_version": config_version, "config_error": config_error, "version": version,
            "rejected": _rejected(payload),
            "disk_free_mb": disk_free_mb,
            "twin_seen_at": _dt(twin_seen).isoformat() if twin_seen is not None else None,
            # Last heard about when its store closed: perhaps switched off for the night, so its
            # silence is not one with the other kiosks heard last at that hour (kiosk_watch).
            "heard_at_closing": _at_closing(last_seen, zone, hours_cache[opening]),
            "silent_open_hours": round(silent_open / 3600, 2), "silent": silent, "flagged": kind is not None,
            "flag_kind": kind, "flag": text, "store_flag_kind": store_kind,
            # What it refused of a push, whatever flag ranks before (a kiosk silent since): for
            # the admins' own track (kiosk_watch.refusal_plan). None after a tryout: no news.
            "config_refused": refused,
        })
    return out


REPORTING_WITHIN = timedelta(minutes=10)   # a kiosk reports every minute: heard this recently, it reports
AROUND_CLOSING = timedelta(hours=1)


def _at_closing(at: datetime | None, zone, hours) -> bool:
    """Whether the store was open an hour before `at` and is closed an hour after it."""
    return at is not None and is_open(at - AROUND_CLOSING, zone, hours) and not is_open(at + AROUND_CLOSING, zone,
                                                                                          hours)


def _flag(active: bool, silent: bool, never: bool, held: bool, rejected: int | None, online: object,
          disk_free_mb: int | None, oldest_unacked_s: int | None, clock_synced: object,
          twin: bool = False, config_error: str | None = None) -> tuple[str | None, str | None]:
    """What a person must look at on an active kiosk, the most urgent first, as (kind, the CLI's
    words): silent during opening hours (or never seen); its card (nearly) full, so every tap is
    refused while it reports (it showed green: a review); answers the centre refused for good; two
    devices answering as it (a copied card: central.twins); answers that do not reach the centre
    while it reports (an ACL, a setting the ingest refuses), by the kiosk's clock, so only
    when that is synced; a pushed config it refused (it runs its last good one, so it comes last:
    the kiosk still works, but not as the centre meant; `fleet` printed it unflagged: a review).
    The web page words each kind."""
    if not active:
        return None, None
    if silent:
        return ("never", "never seen") if never else ("silent", "silent during opening hours")
    if disk_free_mb is not None and disk_free_mb < DISK_LOW_MB:
        return "disk", f"disk nearly full: {disk_free_mb} MB free"
    if held:
        return "held", f"holds {rejected} answers the centre refused"
    if twin:
        return "twin", "two devices answer as this kiosk (a copied card?)"
    if online and clock_synced and (oldest_unacked_s or 0) > BACKLOG_AFTER.total_seconds():
        return "backlog", f"answers unacknowledged for {oldest_unacked_s / 3600:.1f} h"
    if config_error:
        return "config", "refused the pushed config; runs its last good one (reason below the table)"
    return None, None


def summary(rows: list[dict]) -> dict:
    # Online as its last status said, and heard from since: a kiosk silent for hours of opening
    # time whose status still says online is a status nobody replaced (its will lost with the
    # broker's restart, ingest down), not a kiosk that reports. Deactivated kiosks are not the
    # fleet's: a replaced one's last "online" (its will refused once it was deactivated) counted
    # as reporting for good (a review).
    # An awaited kiosk (registered ahead of its installation) is not the fleet's yet either.
    awaited = sum(1 for r in rows if r.get("awaited"))
    rows = [r for r in rows if r.get("active", True) and not r.get("awaited")]
    return {"kiosks": len(rows), "awaited": awaited, "online": sum(1 for r in rows if r["online"] and not r.get("silent")),
            "flagged": sum(1 for r in rows if r["flagged"]),
            "unsynced_clock": sum(1 for r in rows if r["clock_synced"] is False),
            "outbox_total": sum(r["outbox_depth"] or 0 for r in rows),
            "rejected_total": sum(r["rejected"] or 0 for r in rows)}
