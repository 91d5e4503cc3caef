"""Text a damaged card left undecodable (a byte that is not UTF-8 in a text cell).

SQLite stores text as given and never checks it; Python's sqlite3 decodes each text cell it
reads and fails the whole statement on one bad byte ("Could not decode to UTF-8 column …").
The rescue paths (`kiosk export`, `kiosk repair`), the sync agent's outbox and the staff
screen's figures (question ids, reasons, latest comments) read such text anyway, the damaged bytes as U+FFFD and every other
character as stored, so one byte does not cost every record, nor stop a kiosk from delivering what
it can read, nor close the app; `damaged_columns` then says where (never the text: it may be a
customer's comment). Everywhere else the reading stays strict,
and the error says how to mend the file (`undecodable`, used by kiosk.store.card_failure).
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

# Python's sqlite3 says so (Modules/_sqlite/cursor.c); no SQLite error code comes with it. The
# "column" is the select's expression: a name, or an expression (a json_object(…)).
_UNDECODABLE = "Could not decode to UTF-8 column '"
_COLUMN = re.compile(r"(\w+)'")


def decode_text(data: bytes) -> str:
    """A text cell as str, a byte that is not UTF-8 as U+FFFD."""
    return data.decode("utf-8", "replace")


@dataclass
class TolerantRead:
    """What a tolerant read met: `damaged`, how many text cells had a byte that is not UTF-8."""
    damaged: int = 0


@contextmanager
def tolerant_text(con: sqlite3.Connection) -> Iterator[TolerantRead]:
    """While inside, `con` reads undecodable text as `decode_text` does, counting such cells in
    the TolerantRead it yields; as before after."""
    before = con.text_factory
    read = TolerantRead()

    def text(data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            read.damaged += 1
            return decode_text(data)

    con.text_factory = text
    try:
        yield read
    finally:
        con.text_factory = before


def not_utf8(names: Sequence[str], values: Sequence[Any]) -> list[str]:
    """The names of the `values` (text read as bytes) that are not UTF-8."""
    out = []
    for name, value in zip(names, values):
        if isinstance(value, bytes):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                out.append(name)
    return out


def damaged_columns(con: sqlite3.Connection, table: str, where: str, params: Sequence[Any]) -> list[str]:
    """The columns of `table`'s first row `where` selects whose text is not UTF-8 (none when no
    row does): where a tolerant read met damage, to say so without repeating the text."""
    before = con.text_factory
    con.text_factory = bytes
    try:
        cur = con.execute(f"SELECT * FROM {table} WHERE {where}", params)
        row = cur.fetchone()
        return not_utf8([d[0] for d in cur.description], row) if row else []
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
