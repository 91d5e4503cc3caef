"""PostgreSQL COPY text rows (`dialect._copy_line`, and `dialect.copy_text` for a whole batch,
column by column): the fast paths write exactly what the field-by-field escaping (`_copy_value`)
writes, for any mix of text, numbers, booleans, NULLs and times, including text full of tabs,
newlines and backslashes. (The round trip through a real
PostgreSQL is tests/central/test_ingest.py's tricky comment.)"""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings, strategies as st

from server_sync.central.dialect import _copy_line, _copy_value, copy_text

values = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 63, 2 ** 63 - 1),
                   st.text(alphabet=st.sampled_from("ab\\\t\n\rN å'\"0"), max_size=8), st.text(max_size=6),
                   st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))


@settings(max_examples=300, deadline=None)
@given(st.lists(values, min_size=1, max_size=20).map(tuple))
def test_fast_copy_line_equals_field_by_field_escaping(row):
    assert _copy_line(row) == "\t".join(map(_copy_value, row)) + "\n"


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 8).flatmap(lambda width: st.lists(st.lists(values, min_size=width, max_size=width).map(tuple),
                                                       min_size=1, max_size=12)))
def test_batch_copy_text_equals_field_by_field_escaping(rows):
    assert copy_text(rows) == "".join("\t".join(map(_copy_value, row)) + "\n" for row in rows)


def test_batch_copy_text_columns_of_one_kind():
    """The common batch: every column plain (text, numbers, times) or all NULL or all booleans."""
    rows = [("a", 1, datetime(2026, 1, 1, 12, 0, 0, 123000), None, True, "x"),
            ("b", 2, datetime(2026, 1, 1, 12, 0, 1), None, False, "y")]
    assert copy_text(rows) == ("a\t1\t2026-01-01 12:00:00.123000\t\\N\tt\tx\n"
                               "b\t2\t2026-01-01 12:00:01\t\\N\tf\ty\n")
