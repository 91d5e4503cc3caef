"""The one rule of a store's time zone, for both programs: the kiosk's `kiosk.timezone` and a
site's zone at the centre (`site add|update --timezone`, and every reader of the stored one).

A store's zone is a place in the IANA database, like Europe/Stockholm. zoneinfo also opens a few
names that are files of the database but no place: `localtime` (whatever zone the machine reading
it is set to, so the same answers would fall on other days at the centre and on the kiosk),
`Factory` (the placeholder of an unconfigured machine, "-00"), `posixrules`, and the `posix/` and
`right/` copies (the latter counts leap seconds, so its hours are off by 27 s). Those are refused.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})


def iana_zone(name: object) -> ZoneInfo | None:
    """The IANA time zone `name` names, or None when it names no place."""
    if not isinstance(name, str) or name in NOT_PLACES or name.startswith(("posix/", "right/")):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):     # '', 'Mars/Olympus', '../x', 'zone.tab', …
        return None
