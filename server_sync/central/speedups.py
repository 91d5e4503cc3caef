"""The centre's speed tricks, each beside the plain version it must agree with.

A trick lives here so that the domain modules (intake, rollups) read as domain code; each has a
plain twin, and a property test (tests/central/test_speedups.py) holds the two to the same
result on random input. Why each one pays is in the benchmark notes (docs/central.md#speed).

- `sqlite_constant_columns`: an SQLite `executemany` writes a column that holds the same value
  in every row into the statement once, as the literal SQLite's own `quote()` makes of it,
  instead of binding it in every row (plain: `plain_values`).
- `hourly_answer_counts`: a batch's answers counted per rollup bucket from their stored rows,
  by position and at C speed (plain: `rollups.answer_counts` over the same answers as mappings).
- `local_hour_minute`: an answer's UTC minute counted as the first minute of its site-local hour
  inside its UTC hour, so a batch's count holds at most two keys an hour, not one per minute
  (plain: the minute itself, `rollups.minute_key`; `rollups.count_hours` buckets both the same).
- `postgres_joined_keys`: a list of text keys (ids) matched on PostgreSQL as one joined text
  split by the server, instead of one array parameter (plain: `dialect.POSTGRES.any_of`).

Must never: change what is stored or counted; a trick that cannot be exact for some input hands
that input to the plain way.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

from server_sync.central.event_rows import EXCLUDED, R


def plain_values(rows: Sequence[Sequence]) -> tuple[str, Sequence[Sequence]]:
    """(the VALUES list, the parameters per row) binding every value of every row."""
    return ", ".join("?" * len(rows[0])), rows


def sqlite_constant_columns(connection: Any, rows: Sequence[Sequence]) -> tuple[str, Sequence[Sequence]]:
    """`plain_values`, except that a column holding one value in every row is written into the
    statement once as a literal: SQLite copies every bound text, and sqlite3 binds a bool through
    two failed adapter look-ups per row (measured: 10.8 -> 8.9 us per 19-column answer row).

    The literal is SQLite's own: one `SELECT quote(?), …` over the constant values. Only values
    whose literal reads back as the same value and storage class qualify: integers, booleans
    (bound as 0/1), NULL, and text without NUL; anything else is bound.
    """
    if len(rows) < 2:
        return plain_values(rows)
    columns = list(zip(*rows))
    constant: dict[int, Any] = {}
    for i, col in enumerate(columns):
        first = col[0]
        kind = type(first)
        if (first is None or kind is int or kind is bool or (kind is str and "\x00" not in first)) \
                and col.count(first) == len(col) and all(type(v) is kind for v in col):
            constant[i] = first
    if not constant:
        return plain_values(rows)
    literals = dict(zip(constant, connection.execute(
        f"SELECT {', '.join(['quote(?)'] * len(constant))}", list(constant.values())).fetchone()))
    values = ", ".join(literals.get(i, "?") for i in range(len(columns)))
    varying = [col for i, col in enumerate(columns) if i not in constant]
    return values, list(zip(*varying)) if varying else [()] * len(rows)


def hourly_answer_counts(site_id: str, kiosk_id: str, rows: Sequence[Sequence], minutes: Sequence[str],
                         counted: Iterable[bool] | None = None) -> Counter:
    """Answers that count per (site, kiosk, question, audience, scale, value, UTC minute key) from
    `response` rows of one kiosk (RESPONSE_COLUMNS order: `event_rows.R` positions) and each row's `rollups.minute_key`; `counted`,
    if given, says which rows to count (the ones really inserted). Equals
    `rollups.answer_counts` of the same answers as mappings."""
    q, aud, sc, val, flt, exc = R["question_id"], R["audience"], R["scale"], R["value"], R["filtered"], EXCLUDED
    pairs: Iterable = zip(rows, minutes) if counted is None else \
        (pair for pair, keep in zip(zip(rows, minutes), counted) if keep)
    return Counter((site_id, kiosk_id, r[q], r[aud], r[sc], r[val], minute)
                   for r, minute in pairs if r[flt] is None and r[exc] is None)


def local_hour_minute(minute: str, tz: ZoneInfo, splits: dict[str, int | None]) -> str:
    """`minute` ("YYYY-MM-DDTHH:MM", UTC) as the first minute of its local hour in `tz` inside
    its UTC hour: a UTC hour holds at most two local hours, split at one minute where the offset
    does not change inside it (measured, 500 answers of one batch: 0.12 ms to count per UTC hour,
    1.6 ms per minute, 0.6 ms per local hour this way). Unchanged in an hour with a transition
    inside. `splits`: the split minute per hour text (None: that hour has a transition)."""
    hour = minute[:13]
    if hour in splits:
        split = splits[hour]
    else:
        split = splits[hour] = _local_hour_split(hour, tz)
    if split is None:
        return minute
    return f"{hour}:{split:02d}" if split and int(minute[14:16]) >= split else f"{hour}:00"


def _local_hour_split(hour: str, tz: ZoneInfo) -> int | None:
    """The minute of the UTC hour `hour` ("YYYY-MM-DDTHH") at which a local hour begins in `tz`
    (0: the whole hour is one local hour), or None when the offset differs at the hour's two ends
    or is not whole minutes. Two transitions within one hour are assumed away: no zone has one."""
    start = datetime.fromisoformat(hour + ":00").replace(tzinfo=timezone.utc)
    offset = start.astimezone(tz).utcoffset()
    if offset is None or offset != (start + timedelta(hours=1)).astimezone(tz).utcoffset() \
            or offset.total_seconds() % 60:
        return None
    return int(-offset.total_seconds() // 60) % 60


def postgres_joined_keys(column: str, keys: Sequence[Any]) -> tuple[str, list] | None:
    """(`column` is one of `keys`, as PostgreSQL SQL; its one parameter): the keys joined by
    commas and split again by the server. psycopg dumps an array element by element in Python
    (500 ids: 0.2 ms of CPU, the joined text 0.08 ms; ingest looks up about four such lists per
    batch). None, for the plain array parameter, unless every key is non-empty text without a
    comma."""
    if not keys or not all(type(k) is str and k for k in keys):
        return None
    joined = ",".join(keys)
    if joined.count(",") != len(keys) - 1:
        return None
    return f"{column} = ANY(string_to_array(%s, ','))", [joined]
