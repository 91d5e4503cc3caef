"""A kiosk database as older kiosk software left it: for tests of what the current software does
on its first start after an update (docs/deployment.md B8). Imported by the tests and by the
scripts they run on a real small card (tests/test_sd_card.py), so it needs nothing but sqlite3."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kiosk.migrations import MIGRATIONS


def at_schema(path: Path, version: int, rows_from: Path | None = None) -> None:
    """Make a kiosk database at `path` whose schema is `version`: the kiosk's migrations up to
    it, applied as they were released (as tests/sync/test_rejected.py builds an old one), in WAL
    mode as the kiosk keeps it. With `rows_from` (a current kiosk database), it holds that one's
    rows, each column the old schema has: answers recorded by today's Recorder, as an older
    kiosk would have recorded them."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = wal")
        con.execute("BEGIN")
        for number, _name, statements in MIGRATIONS:
            if number > version:
                break
            for sql in statements:
                con.execute(sql)
            con.execute(f"PRAGMA user_version = {number}")
        con.execute("COMMIT")
        if rows_from is not None:
            con.execute("ATTACH DATABASE ? AS current", (str(rows_from),))
            con.execute("BEGIN")
            for table in ("sequence", "meta", "response", "followup"):
                columns = ", ".join(row[1] for row in con.execute(f"PRAGMA main.table_info({table})"))
                con.execute(f"INSERT OR REPLACE INTO main.{table} ({columns}) SELECT {columns} FROM current.{table}")
            con.execute("COMMIT")
            con.execute("DETACH DATABASE current")
    finally:
        con.close()                 # the last connection: the WAL is checkpointed and removed


def schema_of(path: Path) -> list:
    """The schema version of the kiosk database at `path`, and whether it has migration 7's
    index (`response_unsynced`), read as it stands on the card (immutable: no -shm file, which a
    full card has no room for); so only while no process writes to it."""
    con = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return [con.execute("PRAGMA user_version").fetchone()[0],
                con.execute("SELECT 1 FROM sqlite_master WHERE name = 'response_unsynced'").fetchone() is not None]
    finally:
        con.close()
