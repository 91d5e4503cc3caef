"""The errors every part of Kundpuls shares: one base, and the refusal of a message that does not
follow the contract. Each error also subclasses the built-in it resembles.

Kiosk errors (`kiosk.exc`) and centre errors (`server_sync.exc`) derive from `KundpulsError`, so
either command turns any of them into `prog: error: …` without importing the other side.
"""

from __future__ import annotations

from typing import Iterable


class KundpulsError(Exception):
    """Base of every error Kundpuls raises on purpose."""


class SettingError(KundpulsError, ValueError):
    """A setting is wrong: a config key, a command-line option, a file it names. `key`, `line`
    and `path` say where, when known; the message says what is wrong."""

    def __init__(self, message: str, key: str | None = None, line: int | None = None,
                 path: str | None = None) -> None:
        self.message = message
        self.key = key
        self.line = line
        self.path = path
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(str(self.path) + (f":{self.line}" if self.line else ""))
        elif self.line:
            where.append(f"line {self.line}")
        if self.key:
            where.append(f"key '{self.key}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class ProtocolError(KundpulsError, ValueError):
    """A message that does not follow the MQTT contract; `reason` goes to the dead-letter table."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# How a kiosk sends the events the centre refused again once the cause is fixed: named in the
# remedy of a refusal's reason. An import's reasons name its own remedy instead (importer.py).
KIOSK_RETRY = "`kiosk refused retry`"


class EventsRefused(ProtocolError):
    """A batch whose envelope is sound (its kiosk id is the topic's, its batch id valid) but that
    holds events refused for good: re-sending them cannot help. `seqs` names those events (the
    batch is still refused as a whole), so the centre's ack can tell the kiosk to stop sending
    them and send the others again without them."""

    def __init__(self, reason: str, batch_id: str, seqs: Iterable[int]) -> None:
        super().__init__(reason)
        self.batch_id = batch_id
        self.seqs = tuple(sorted(set(seqs)))
