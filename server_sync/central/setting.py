"""The centre's own settings, kept in the store (table `central_setting`, migration m0012) so
every process that reads the store (reports, BI views, the web app, retention) applies the same
value: the minimum employee group, retention periods. Names and their checks live with the code
that uses them; this module only stores text. Never commits on its own: callers do."""

from __future__ import annotations

from peewee import Database


def get_setting(db: Database, name: str, default: str | None = None) -> str | None:
    row = db.execute_sql(f"SELECT value FROM central_setting WHERE name = {db.param}", (name,)).fetchone()
    return row[0] if row else default


def set_setting(db: Database, name: str, value: str) -> None:
    p = db.param
    db.execute_sql(f"INSERT INTO central_setting (name, value) VALUES ({p}, {p})"
                   " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))
