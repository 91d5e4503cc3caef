"""What a date, an id, a count or a name on the `kiosk-central` command line may be, said once.

Each is an argparse `type`, so a mistake ends as `kiosk-central CMD: error: argument X: …` (exit
2) before it reaches the store: there a date is kept and compared as the text typed (SQL compares
dates as text), and a huge number overflows SQLite's or PostgreSQL's integers (a traceback). Then
`period`: --from after --to, said in the command line's words. The module's name starts with '_',
so it is not taken for a subcommand.
"""

from __future__ import annotations

import argparse
from typing import Callable

from server_sync.analysis.days import (DAY_FORMAT, DAY_TIME_FORMAT, DayTime, check_order,  # formats: for the help
                                       parse_day, parse_day_time)
from server_sync.exc import CentralConfigError
from server_sync.program.cli import whole_number as whole_number_text
from server_sync.protocol.codec import TEXT_WHITESPACE, one_line_break, unsafe_character

BIGINT_MAX = 2 ** 63 - 1       # ids: SQLite's INTEGER, PostgreSQL's BIGSERIAL
INT_MAX = 2 ** 31 - 1          # versions, counts: PostgreSQL's INTEGER columns
MAX_NAME = 200                 # a person's or a place's name, not a text


def day(text: str) -> str:
    """A day as analysis.days.parse_day takes it (YYYY-MM-DD within the century), normalized."""
    try:
        return parse_day(text)
    except CentralConfigError as e:
        raise argparse.ArgumentTypeError(e.message) from None


def day_time(text: str) -> DayTime:
    """A time of a day (analysis.days.parse_day_time: DAY_TIME_FORMAT, the site's own or UTC)."""
    try:
        return parse_day_time(text)
    except CentralConfigError as e:
        raise argparse.ArgumentTypeError(e.message) from None


def period(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """A command's --from and --to (each a `day`), refused in the command line's words when the
    first is after the last (the library says it in its own: date_from, date_to)."""
    check_order(args.date_from, args.date_to, ("--from", "--to"))
    return args.date_from, args.date_to


def topic_prefix(text: str) -> str:
    """A topic prefix (protocol.topics.check_prefix): it goes into the broker's ACL file and a
    kiosk.toml as typed, so it is checked before either is written."""
    from server_sync.protocol.topics import check_prefix
    try:
        return check_prefix(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""
    def parse(text: str) -> int:
        value = whole_number_text(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value
    return parse


def number(low: float, high: float, unit: str, *, above_low: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number from `low` (or above it) to `high`, in `unit` (nan, inf
    and 1e309 pass a plain `float` and a `> 0` check, then fail deep inside: a worker's traceback,
    a wait for ever)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {unit}") from None
        inside = (low < value if above_low else low <= value) and value <= high     # False for nan
        if not inside:
            if above_low:
                raise argparse.ArgumentTypeError(f"{text} must be more than {low:g} and at most {high:g} {unit}")
            raise argparse.ArgumentTypeError(f"{text} is not between {low:g} and {high:g} {unit}")
        return value
    return parse


# A timeout: more than 0 and at most 600 s (nan, inf or -5 reach the socket as a crash or a hang).
seconds = number(0, 600, "seconds", above_low=True)


record_id = whole_number(1, BIGINT_MAX)      # an alert's, an action's id
count = whole_number(1, INT_MAX)             # a version, a limit, a number of answers


def nonblank_name(text: str) -> str:
    """A user's, a site's or a region's name: not blank (an empty --by would sign the history
    with nobody), at most MAX_NAME characters, no control character (an escape sequence in a
    site's name reached every terminal that printed it: a review); stripped."""
    value = text.strip()
    if not value:
        raise argparse.ArgumentTypeError("must not be empty")
    if len(value) > MAX_NAME:
        raise argparse.ArgumentTypeError(f"is {len(value)} characters; at most {MAX_NAME}")
    if bad := unsafe_character(value):
        raise argparse.ArgumentTypeError(f"contains a control or formatting character ({bad})")
    return value


def free_text(text: str) -> str:
    """A note, a comment, a reason: line breaks and tabs as in the web app's text boxes
    (codec.TEXT_WHITESPACE), but no other control or formatting character, by the rule names
    follow (an escape sequence in a note acted on the terminal that echoed or listed it: a
    review). Its line breaks are read as LF, as the web's. Its length and whether it may be empty
    are the store's to say, naming the field."""
    text = one_line_break(text)
    if bad := unsafe_character(text.translate(_TEXT_WHITESPACE_GONE)):
        raise argparse.ArgumentTypeError(f"contains a control or formatting character ({bad})")
    return text


_TEXT_WHITESPACE_GONE = str.maketrans("", "", TEXT_WHITESPACE)


def time_zone_name(text: str) -> str:
    """A site's time zone: an IANA name, by the rule every reader of the store takes
    (central.registry.check_zone)."""
    from server_sync.central.registry import check_zone      # with peewee: not while the parser is built
    try:
        return check_zone(text)
    except CentralConfigError as e:
        raise argparse.ArgumentTypeError(e.message) from None


def holidays_spec(text: str):
    """`site holidays`' SPEC: dates and their hours, as analysis.opening.parse_holidays reads them."""
    from server_sync.analysis.opening import parse_holidays
    try:
        return parse_holidays(text)
    except CentralConfigError as e:
        raise argparse.ArgumentTypeError(e.message) from None


def opening_hours(text: str) -> str:
    """A site's --hours: a SPEC as analysis.opening.parse_spec reads it ('mon-fri 8-21, sat 10-18,
    sun closed', or 'default'), given as the text of the site's opening_hours column (stored_hours),
    '' for the chain's: parse_hours reads it so, and an option not given stays None."""
    from server_sync.analysis.opening import parse_spec, stored_hours      # with peewee, as time_zone_name
    try:
        return stored_hours(parse_spec(text)) or ""
    except CentralConfigError as e:
        raise argparse.ArgumentTypeError(e.message) from None


def broker_host(text: str) -> str:
    """A broker's host name or IP address (server_sync.program.hosts)."""
    from server_sync.program.hosts import host_problem
    problem = host_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def proxy_addresses(text: str) -> str:
    """`serve --forwarded-allow-ips`: comma-separated IP addresses and CIDR networks, or `*` (every
    proxy), as uvicorn reads them. uvicorn keeps anything else as a literal that no TCP peer ever
    matches, so a typo would silently distrust the real proxy: refused here instead."""
    import ipaddress
    items = [item.strip() for item in text.split(",")]
    if items == ["*"]:
        return "*"
    if not any(items):
        raise argparse.ArgumentTypeError("empty: give IP addresses or CIDR networks, e.g. 127.0.0.1,10.0.0.0/8 (or * for any)")
    for item in items:
        try:
            ipaddress.ip_network(item) if "/" in item else ipaddress.ip_address(item)
        except ValueError:
            what = "an empty entry" if not item else repr(item[:80])
            raise argparse.ArgumentTypeError(
                f"{what} is not an IP address or CIDR network; give a comma-separated list such as "
                "127.0.0.1,10.0.0.0/8, or * for any proxy") from None
    return ",".join(items)
