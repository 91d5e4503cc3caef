"""The centre's own settings, kept in the store (table `central_setting`, migration m0012) so
every process that reads the store (reports, BI views, the web app, retention) applies the same
value: the minimum employee group, retention periods. Names and their checks live with the code
that uses them; this module stores text, and reads a whole number back for them (`stored_number`),
so that a value edited by hand is one clear error everywhere (`stored_error`: also a site's time
zone and opening hours, kept in the site's row). Never commits on its own: callers do."""

from __future__ import annotations

from peewee import Database

from server_sync.exc import StoredSettingError
from server_sync.program.numbers import plain_whole_number
from server_sync.protocol.codec import short


def get_setting(db: Database, name: str, default: str | None = None) -> str | None:
    row = db.execute_sql(f"SELECT value FROM central_setting WHERE name = {db.param}", (name,)).fetchone()
    return row[0] if row else default


def set_setting(db: Database, name: str, value: str) -> None:
    p = db.param
    db.execute_sql(f"INSERT INTO central_setting (name, value) VALUES ({p}, {p})"
                   " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))


def stored_number(name: str, text: str, low: int, high: int, *, kind: str, fix: str,
                  expected: str | None = None) -> int:
    """The stored setting `name`'s `text` as a whole number from `low` to `high`; anything else
    is stored_error(). int() alone gave a traceback for 'abc' (and its own ValueError for more
    than 4300 digits), and let a value no command would store through."""
    # No more digits than `high` has: int() would also take ' 25', '+5', '2_5' or another script's digits.
    value = plain_whole_number(text, len(str(high)))
    if value is None or not low <= value <= high:
        raise stored_error(name, text, expected or f"a whole number {low}-{high}", kind=kind, fix=fix)
    return value


def stored_error(name: str, value: str, expected: str, *, fix: str, kind: str = "", site: str | None = None,
                 problem: str | None = None) -> StoredSettingError:
    """The error of a stored setting edited by hand: which (`kind`, e.g. 'SMTP', and `name`; or
    `name` of site `site`), what it is, what is wrong with it (`problem`, when `expected` alone does
    not say), what it should be, and `fix`: the command that sets it again."""
    what = f"{name} of site {site}" if site else f"{kind} setting {name}".lstrip()
    said = f": {problem}; expected {expected}" if problem else f", not {expected}"
    return StoredSettingError(f"the stored {what} is {short(value)}{said} (set it again: {fix})", fix)
