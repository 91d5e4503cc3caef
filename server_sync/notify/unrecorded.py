"""What went but is not recorded yet: a mail the SMTP server took, a webhook delivery a receiver
answered 2xx, whose record then failed with the store (PostgreSQL restarting, a full disk). The
fact that it went was lost with the exception, its claim ran out after 5 minutes and the person got
the mail again (a review). The worker keeps such outcomes here, in its memory, and writes them
first once the store is back: `flush` at the start of every round and of every send, which fails
while the store does, so nothing goes while an outcome waits (and that one is never sent again).
What a worker
stopped or killed meanwhile held is lost with it: that one goes again after its claim, with the
same delivery id or Message-ID."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from peewee import Database

from server_sync.notify import queue

Write = Callable[[Database], None]


class Unrecorded:
    """Outcomes to write, by (table, row id), in the order they happened."""

    def __init__(self) -> None:
        self._writes: dict[tuple[str, int], Write] = {}

    def __len__(self) -> int:
        return len(self._writes)

    def mail_sent(self, db: Database, mail: queue.DueMail, at: datetime) -> None:
        """The SMTP server took `mail` at `at`."""
        self._record(db, ("mail_outbox", mail.id), lambda db: queue.record_mail(db, mail, at, True, None))

    def webhook_delivered(self, db: Database, delivery: queue.DueWebhook, at: datetime, status: str) -> None:
        """The receiver answered `delivery` with `status` (2xx) at `at`."""
        self._record(db, ("webhook_delivery", delivery.id),
                     lambda db: queue.record_webhook(db, delivery, at, status, True, None))

    def _record(self, db: Database, key: tuple[str, int], write: Write) -> None:
        """`write(db)`, kept here first: if it raises, it waits for `flush` and the error goes on
        to the caller (the round fails on the store)."""
        self._writes[key] = write
        write(db)
        del self._writes[key]

    def flush(self, db: Database) -> None:
        """Write every outcome that waits, oldest first; each one written is forgotten, and the
        first that fails raises (the rest wait with it)."""
        for key, write in list(self._writes.items()):
            write(db)
            del self._writes[key]

    def described(self) -> list[str]:
        """What waits, one text each ("mail_outbox 12"), for the log of a worker that exits."""
        return [f"{table} {row_id}" for table, row_id in self._writes]
