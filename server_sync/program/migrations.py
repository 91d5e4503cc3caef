"""The one migration runner of both programs: numbered schema changes, applied in order, each
once, each in its own transaction together with the record that it was applied.

Where that record lives is the store's business, a small `Ledger`: the kiosk keeps its schema
version in SQLite's `PRAGMA user_version`; the centre keeps a `schema_migration` table and
serialises concurrent starts with a lock. The runner only orders, checks and applies.

Must never: import a store or a driver (it is shared, a leaf beside the protocol), edit the
list it is given, or apply a migration outside the ledger's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ContextManager, Protocol, Sequence


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    up: Callable[[], None]           # makes the change; runs inside the ledger's transaction


class SchemaTooNew(RuntimeError):
    """The store was migrated by newer software than this (its schema has numbers we lack)."""

    def __init__(self, current: int, latest: int) -> None:
        super().__init__(f"database schema {current} is newer than this software ({latest})")
        self.current = current
        self.latest = latest


class Ledger(Protocol):
    """Where a store records which migrations it has."""

    def prepare(self) -> None:
        """Make the record itself exist (idempotent, safe against concurrent starts)."""

    def transaction(self) -> ContextManager[object]:
        """A transaction in which no other process can apply migrations at the same time."""

    def applied(self, number: int) -> bool:
        """Whether `number` is applied (asked inside `transaction`)."""

    def record(self, migration: Migration) -> None:
        """Record `migration` as applied (inside `transaction`)."""

    def newest(self) -> int:
        """The newest migration number applied, 0 for none."""


def check_numbers(migrations: Sequence[Migration], what: str = "migrations") -> list[Migration]:
    """The migrations in order; two sharing a number, or a number below 1, is a programming error."""
    numbers = [m.number for m in migrations]
    if len(numbers) != len(set(numbers)) or any(n < 1 for n in numbers):
        raise RuntimeError(f"{what}: numbers must be unique and positive: {sorted(numbers)}")
    return sorted(migrations, key=lambda m: m.number)


def migrate(ledger: Ledger, migrations: Sequence[Migration], *, refuse_newer: bool = False) -> int:
    """Apply the pending `migrations`; return the newest number applied. With `refuse_newer`,
    a store that holds a number beyond the newest known raises SchemaTooNew before any change."""
    ordered = check_numbers(migrations)
    latest = ordered[-1].number if ordered else 0
    ledger.prepare()
    if refuse_newer and ledger.newest() > latest:
        raise SchemaTooNew(ledger.newest(), latest)
    for m in ordered:
        if ledger.applied(m.number):
            continue                    # the common start: no lock taken for what is done
        with ledger.transaction():
            # Asked again under the lock: another process may have applied it meanwhile.
            if not ledger.applied(m.number):
                m.up()
                ledger.record(m)
    return ledger.newest()
