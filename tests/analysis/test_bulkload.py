"""seeds/bulkload.py: rows encoded column by column (binary COPY for PostgreSQL, fixed-width
records cut apart in SQL for SQLite) arrive exactly as the same values inserted one by one,
for every kind of column and every path the SQLite encoding picks (text of one length, a few
lengths through a CASE, many lengths through rtrim, NULLs, non-ASCII, integers with a common
factor)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from seeds import bulkload
from seeds.bulkload import Bool, Chars, Const, Int, Stamp, Table, Text
from server_sync.central.db import connect
from server_sync.central.dialect import POSTGRES, dialect_of

MANY = [f"reason-{'x' * (i % 7)}{i}" for i in range(20)]          # 20 entries of many lengths
ROWS = 500


def _table() -> Table:
    rng = np.random.default_rng(3)
    k = np.arange(ROWS)
    seconds = 1_700_000_000 + rng.integers(0, 10 ** 8, ROWS)
    question = np.where(k % 5 == 0, -1, k % 3)
    return Table("bulk_probe", {
        "k": Int(k, 32),
        "same_length": Text(k % 3, ["s001", "s002", "s003"]),
        "few_lengths": Text(question, ["visit", "recommend", "pulse"]),
        "same_index": Text(question, ["smiley4", "nps11", "smiley4"]),     # sent beside few_lengths
        "many_lengths": Text(np.where(k % 11 == 0, -1, k % 20), MANY),
        "non_ascii": Text(k % 2, ["Tromsø", "Malmö"]),
        "chars": Chars(bulkload.join_chars([bulkload.literal("id-"), bulkload.hex_chars(k * 977, 12)], ROWS)),
        "big": Int(k * 10 ** 9 + (k % 2) * 10 ** 12),                  # a common factor of 10^9
        "mixed": Int(rng.integers(0, 2 ** 40, ROWS)),
        "at": Stamp(seconds),
        "flag": Bool(k % 4 == 0),
        "version": Const(1),
        "status": Const("it's synced"),
        "absent": Const(None),
        "yes": Const(True),
        "same_index_too": Text(question, ["customer", "customer", "employee"]),
    }, ROWS)


def _part(table: Table, rows: slice) -> Table:
    def cut(c):
        if isinstance(c, Text):
            return Text(c.index[rows], c.vocab)
        if isinstance(c, Chars):
            return Chars(c.chars[rows])
        if isinstance(c, Int):
            return Int(c.values[rows], c.bits)
        if isinstance(c, Stamp):
            return Stamp(c.seconds[rows])
        if isinstance(c, Bool):
            return Bool(c.values[rows])
        return c
    columns = {n: cut(c) for n, c in table.columns.items()}
    return Table(table.name, columns, len(range(table.rows)[rows]))


def _head(table: Table, n: int) -> Table:
    return _part(table, slice(0, n))


def _tail(table: Table, n: int) -> Table:
    return _part(table, slice(n, None))


def _expected(table: Table) -> list[tuple]:
    cols = table.columns
    out = []
    for i in range(table.rows):
        row = []
        for col in cols.values():
            if isinstance(col, Text):
                row.append(None if col.index[i] < 0 else col.vocab[col.index[i]])
            elif isinstance(col, Chars):
                row.append(bytes(col.chars[i]).decode())
            elif isinstance(col, Int):
                row.append(int(col.values[i]))
            elif isinstance(col, Stamp):
                row.append(datetime.fromtimestamp(int(col.seconds[i]), timezone.utc).replace(tzinfo=None))
            elif isinstance(col, Bool):
                row.append(bool(col.values[i]))
            else:
                row.append(col.value)
        out.append(tuple(row))
    return out


def _normal(row: tuple) -> tuple:
    out = []
    for v in row:
        if isinstance(v, str) and len(v) == 19 and v[4] == "-" and v[10] == " ":
            v = datetime.fromisoformat(v)                # SQLite hands back timestamps as text
        out.append(v)
    return tuple(out)


def test_encoded_rows_arrive_as_the_values(central_url):
    db = connect(central_url)
    try:
        pg = dialect_of(db) is POSTGRES
        table = _table()
        with db.atomic():
            db.execute_sql("CREATE TABLE bulk_probe (k INTEGER PRIMARY KEY, same_length VARCHAR(8), few_lengths TEXT,"
                           " same_index TEXT, many_lengths TEXT, non_ascii TEXT, chars VARCHAR(20), big BIGINT, mixed BIGINT,"
                           f" at TIMESTAMP, flag {'BOOLEAN' if pg else 'INTEGER'}, version INTEGER, status TEXT,"
                           f" absent TEXT, yes {'BOOLEAN' if pg else 'INTEGER'},"
                           " same_index_too TEXT)")
            bulkload.load(db, bulkload.encode(_head(table, 0), pg))          # an empty chunk writes nothing
            bulkload.load(db, bulkload.encode(_head(table, 1), pg))          # one row, then the rest
            bulkload.load(db, bulkload.encode(_tail(table, 1), pg))
        got = [_normal(r) for r in db.execute_sql("SELECT * FROM bulk_probe ORDER BY k").fetchall()]
        want = _expected(table)
        if not pg:                                               # SQLite stores booleans as 0/1
            want = [tuple(int(v) if isinstance(v, bool) else v for v in r) for r in want]
        assert got == want
        types = db.execute_sql("SELECT typeof(big), typeof(many_lengths), typeof(chars) FROM bulk_probe"
                               " WHERE k = 1").fetchone() if not pg else ("integer", "text", "text")
        assert types == ("integer", "text", "text")
    finally:
        db.close()


def test_postgresql_copy_sends_text_of_one_index_side_by_side():
    chunk = bulkload.pg_copy_binary(_table())
    assert "few_lengths, same_index, same_index_too" in chunk.sql and "FREEZE" in chunk.sql
    assert chunk.data.startswith(b"PGCOPY\n\xff\r\n\x00") and chunk.data.endswith(b"\xff\xff")


def test_sqlite_records_pick_the_cheapest_expression_per_column():
    chunk = bulkload.sqlite_records(_table())
    assert "rtrim(" in chunk.sql and "CASE substr(" in chunk.sql and "* 1000000000" in chunk.sql
    # Constants (and the few texts a CASE picks from) are bound once, never written into the SQL.
    assert "it's synced" in chunk.constants and None in chunk.constants and "synced" not in chunk.sql
    assert chunk.offsets.startswith("[0,") and chunk.offsets.count(",") == ROWS - 1
    with pytest.raises(ValueError, match="negative"):
        bulkload.sqlite_records(Table("t", {"v": Int(np.array([1, -1]))}, 2))


def test_digits():
    v = np.array([0, 7, 59, 4096, 10 ** 9 - 1, 10 ** 9, 123_456_789_012, 2 ** 48 - 1])
    assert [bytes(r).decode() for r in bulkload.dec_chars(v, 16)] == [f"{x:016d}" for x in v]
    assert [bytes(r).decode() for r in bulkload.hex_chars(v, 12)] == [f"{x:012x}" for x in v]
    small = np.arange(100) % 7
    assert [bytes(r).decode() for r in bulkload.dec_chars(small, 2)] == [f"{x:02d}" for x in small]
    stamps = np.array([0, 951_782_400, 1_735_725_600 + 86_399])
    assert [bytes(r).decode() for r in bulkload.stamp_chars(stamps)] == \
        [datetime.fromtimestamp(int(s), timezone.utc).strftime("%Y-%m-%d %H:%M:%S") for s in stamps]
