"""Text a damaged card left undecodable (a byte that is not UTF-8 in a text cell).

SQLite stores text as given and never checks it; Python's sqlite3 decodes each text cell it
reads and fails the whole statement on one bad byte ("Could not decode to UTF-8 column …").
The rescue paths (`kiosk export`, `kiosk repair`) read such text anyway, the damaged bytes as
U+FFFD and every other character as stored, so one byte does not cost every record. Everywhere
else the reading stays strict, and the error says how to mend the file (`undecodable`, used by
kiosk.store.card_failure).
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager
from typing import Iterator

# Python's sqlite3 says so (Modules/_sqlite/cursor.c); no SQLite error code comes with it. The
# "column" is the select's expression: a name, or the outbox's whole json_object(…).
_UNDECODABLE = "Could not decode to UTF-8 column '"
_COLUMN = re.compile(r"(\w+)'")


def decode_text(data: bytes) -> str:
    """A text cell as str, a byte that is not UTF-8 as U+FFFD."""
    return data.decode("utf-8", "replace")


@contextmanager
def tolerant_text(con: sqlite3.Connection) -> Iterator[None]:
    """While inside, `con` reads undecodable text as `decode_text` does; as before after."""
    before = con.text_factory
    con.text_factory = decode_text
    try:
        yield
    finally:
        con.text_factory = before


def undecodable(error: BaseException) -> str | None:
    """What `error` says could not be decoded, when that is what it is (also through peewee's
    wrapper): the column's name, or "" when the select named an expression; None for another
    error. The text itself is never repeated: it may be a customer's comment."""
    for e in (error, *(error.args[:1] if error.args else ()), error.__cause__, error.__context__):
        if isinstance(e, sqlite3.OperationalError) and e.args and isinstance(e.args[0], str) \
                and e.args[0].startswith(_UNDECODABLE):
            name = _COLUMN.match(e.args[0], len(_UNDECODABLE))
            return name.group(1) if name else ""
    return None
