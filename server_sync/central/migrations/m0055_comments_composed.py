"""Comments stored composed (Unicode NFC): an "a" and a combining diaeresis becomes "ä", as ingest
now stores every comment (`events.check_event`). The search and erasure put a comment in lower
case in the database and compare it with the text searched for, composed and in lower case
(`dialect.fold`); a comment written decomposed (a keyboard or an import that writes letters so)
was missed. Composing each comment once here, rather than in every search, keeps the search's
speed (PostgreSQL's normalize() on every comment searched made it 5.5 times slower).

In Python on both engines, a page of comments at a time (PostgreSQL's normalize() would need a
UTF8 database): only the comments not composed are written."""

import unicodedata

from peewee import Database

from server_sync.central.dialect import Dialect

PAGE = 5000


def up(db: Database, dialect: Dialect) -> None:
    compose(db)


def compose(db: Database, page: int = PAGE) -> None:
    """Every stored comment not composed, composed; `page` comments read at a time."""
    p, last = db.param, ""
    while True:
        rows = db.execute_sql(f"SELECT id, comment FROM followup WHERE comment IS NOT NULL AND id > {p}"
                              f" ORDER BY id LIMIT {int(page)}", (last,)).fetchall()
        if not rows:
            return
        for row_id, text in rows:
            if not unicodedata.is_normalized("NFC", text):
                db.execute_sql(f"UPDATE followup SET comment = {p} WHERE id = {p}",
                               (unicodedata.normalize("NFC", text), row_id))
        last = rows[-1][0]
