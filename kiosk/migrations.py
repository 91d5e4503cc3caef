"""Numbered schema migrations of the kiosk's SQLite database, and where it records them.

The schema version lives in `PRAGMA user_version` (`UserVersion`, the ledger of the shared
runner `server_sync.program.migrations`). Each migration runs once, in order, inside one
transaction; never edit a released migration, add a new one. Start-up never ALTERs ad hoc, and
never migrates a database that is not a kiosk's (`not_a_kiosk_database`).
"""

from __future__ import annotations

from typing import Any, ContextManager

from server_sync.program.migrations import Migration

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "responses, follow-ups, outbox state, sequence", [
        """CREATE TABLE sequence (
               name TEXT PRIMARY KEY,
               value INTEGER NOT NULL)""",
        "INSERT INTO sequence (name, value) VALUES ('event', 0)",
        """CREATE TABLE response (
               id TEXT PRIMARY KEY,
               seq INTEGER NOT NULL UNIQUE,
               kiosk_id TEXT NOT NULL,
               site_id TEXT NOT NULL,
               question_id TEXT NOT NULL,
               question_version INTEGER NOT NULL,
               scale TEXT NOT NULL,
               value INTEGER NOT NULL,
               audience TEXT NOT NULL,
               language TEXT NOT NULL,
               recorded_at TEXT NOT NULL,
               clock_synced INTEGER NOT NULL,
               boot_id TEXT NOT NULL,
               monotonic_ns INTEGER NOT NULL,
               filtered TEXT,
               source TEXT NOT NULL,
               local_date TEXT NOT NULL,
               local_hour INTEGER NOT NULL,
               sent_at TEXT,
               send_count INTEGER NOT NULL DEFAULT 0,
               acked_at TEXT)""",
        "CREATE INDEX response_local_date ON response (local_date, question_id)",
        "CREATE INDEX response_unacked ON response (seq) WHERE acked_at IS NULL",
        """CREATE TABLE followup (
               id TEXT PRIMARY KEY,
               seq INTEGER NOT NULL UNIQUE,
               kiosk_id TEXT NOT NULL,
               response_id TEXT NOT NULL UNIQUE REFERENCES response (id),
               reasons TEXT NOT NULL,
               comment TEXT,
               recorded_at TEXT NOT NULL,
               clock_synced INTEGER NOT NULL,
               boot_id TEXT NOT NULL,
               monotonic_ns INTEGER NOT NULL,
               sent_at TEXT,
               send_count INTEGER NOT NULL DEFAULT 0,
               acked_at TEXT)""",
        "CREATE INDEX followup_unacked ON followup (seq) WHERE acked_at IS NULL",
        """CREATE TABLE meta (
               key TEXT PRIMARY KEY,
               value TEXT NOT NULL)""",
    ]),
    (2, "covering index for local stats", [
        # `kiosk stats` groups a date range by question, value and hour; with every column it
        # reads in one index the query never touches the table (1M answers in well under 200 ms).
        # It starts with local_date, so it replaces response_local_date.
        "DROP INDEX response_local_date",
        "CREATE INDEX response_stats ON response"
        " (local_date, question_id, scale, value, local_hour, filtered)",
    ]),
    (3, "events the centre refused for good", [
        # The centre's ack can name events it dead-lettered and that re-sending cannot fix
        # (server_sync/protocol.py `rejected`): they stay here, out of the outbox, never sent again.
        "ALTER TABLE response ADD COLUMN rejected_at TEXT",
        "ALTER TABLE response ADD COLUMN rejected_reason TEXT",
        "ALTER TABLE followup ADD COLUMN rejected_at TEXT",
        "ALTER TABLE followup ADD COLUMN rejected_reason TEXT",
        # The outbox is what is neither acked nor rejected; the index stays as small as it.
        "DROP INDEX response_unacked",
        "CREATE INDEX response_outbox ON response (seq) WHERE acked_at IS NULL AND rejected_at IS NULL",
        "CREATE INDEX response_rejected ON response (seq) WHERE rejected_at IS NOT NULL",
        "DROP INDEX followup_unacked",
        "CREATE INDEX followup_outbox ON followup (seq) WHERE acked_at IS NULL AND rejected_at IS NULL",
        "CREATE INDEX followup_rejected ON followup (seq) WHERE rejected_at IS NOT NULL",
    ]),
    (4, "follow-ups the customer never sent", [
        # Saved when the customer walked away (idle timeout, next answer, staff gesture): a reason
        # chosen or a comment typed, but never sent; the centre can tell them from sent ones.
        "ALTER TABLE followup ADD COLUMN unsent INTEGER",
    ]),
    (5, "employee answers indexed apart", [
        # The staff screen and `kiosk stats` show no employee question's answers (kiosk.stats
        # `withheld_questions`); this small partial index lists those questions without reading
        # the customers' answers.
        "CREATE INDEX response_employee ON response (question_id) WHERE audience != 'customer'",
    ]),
    (6, "refused events set aside", [
        # `kiosk refused set-aside`: a person decided that events the centre refused for good
        # will never go (they name a site the kiosk never stood at, say). They stay on the card
        # (the staff view and `kiosk export` still have them) until retention removes them as it
        # removes acknowledged ones, and no longer keep the kiosk flagged as holding answers.
        "ALTER TABLE response ADD COLUMN set_aside_at TEXT",
        "ALTER TABLE followup ADD COLUMN set_aside_at TEXT",
    ]),
    (7, "answers stamped before the clock synced, indexed apart", [
        # kiosk.local_day puts a boot's unsynced answers on their right local day once the clock
        # syncs: this small partial index finds them (none, mostly) without reading every answer
        # under the write lock a tap waits for.
        "CREATE INDEX response_unsynced ON response (boot_id, seq) WHERE clock_synced = 0",
    ]),
]

LATEST = MIGRATIONS[-1][0]

# Migrations a kiosk may run without for a while: on a card too full to apply them, the first
# start after an update reads the database as it stands (kiosk.store `LocalStore.even_full`),
# and they are applied once there is room (`KioskDatabase._share`), before its next statement,
# so before any write. Only one that nothing reading the database needs may be listed: the
# staff view and `kiosk stats` (kiosk.stats), sending the outbox (kiosk.outbox), the app's
# screens. Any other keeps a kiosk on a full card from starting (it says the disk is full).
MAY_WAIT: frozenset[int] = frozenset({
    # 7 adds an index only (no column, no row changed), which no query names (`INDEXED BY`):
    # without it every read runs as it did before 7. The one query it serves, the restamp of
    # unsynced answers (kiosk.local_day), runs in a write transaction, which a database read as
    # it stands refuses; the first one once there is room comes after `_share` applied 7.
    7,
})
# What the first migration makes: every kiosk database past version 0 has these tables.
KIOSK_TABLES = frozenset({"sequence", "response", "followup", "meta"})


def user_tables(con: Any) -> set[str]:
    """The tables of the SQLite database on `con` (a sqlite3 connection), SQLite's own left out."""
    return {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not row[0].startswith("sqlite_")}


def not_a_kiosk_database(con: Any) -> str | None:
    """Why the SQLite database on `con` (a sqlite3 connection) is not a kiosk's, or None. Another
    program's database (the centre's store in the kiosk's data directory, say) has tables but
    user_version 0, or lacks the kiosk's tables: migrating it would add ours to it, or fail half
    way. A new, empty database (version 0, no tables) is a kiosk's to be."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    tables = user_tables(con)
    if version == 0 and tables:
        shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        return f"it holds tables but no kiosk schema version ({shown})"
    missing = KIOSK_TABLES - tables if version > 0 else set()
    if missing:
        return f"schema version {version} without the kiosk's tables ({', '.join(sorted(missing))})"
    return None


def pending_may_wait(version: int) -> bool:
    """A database at schema `version` (not newer than LATEST) can be read as it stands: each
    migration it still lacks is one that may wait (MAY_WAIT)."""
    return all(number in MAY_WAIT for number, _name, _statements in MIGRATIONS if number > version)


class UserVersion:
    """The kiosk's ledger: the newest applied number is `PRAGMA user_version`; a migration runs
    under SQLite's write lock (BEGIN IMMEDIATE), so a second process opening the file waits."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def prepare(self) -> None:
        pass                                    # every SQLite file has a user_version (0)

    def transaction(self) -> ContextManager[object]:
        return self.db.atomic("IMMEDIATE")

    def applied(self, number: int) -> bool:
        return self.newest() >= number

    def record(self, migration: Migration) -> None:
        # A PRAGMA takes no parameters; the number is one of ours, an int.
        self.db.execute_sql(f"PRAGMA user_version = {int(migration.number)}")

    def newest(self) -> int:
        return self.db.execute_sql("PRAGMA user_version").fetchone()[0]


def migrations(db: Any) -> list[Migration]:
    """MIGRATIONS as the shared runner takes them, each running its statements on `db`."""
    def up(statements: list[str]):
        return lambda: [db.execute_sql(sql) for sql in statements]
    return [Migration(number, name, up(statements)) for number, name, statements in MIGRATIONS]
