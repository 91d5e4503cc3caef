"""Opening hours as a store manager types and reads them (`--hours SPEC`, analysis.opening): what
format_hours says, parse_spec reads back to the same hours and the column keeps as before; a
mistake names the part and what is wrong with it."""

import json
import random

import pytest

from server_sync.analysis.opening import format_hours, parse_hours, parse_spec, stored_hours
from server_sync.exc import CentralConfigError
from server_sync.protocol.catalogue import OPENING_HOURS


@pytest.mark.parametrize("spec, hours, said", [
    ("mon-fri 8-21, sat 10-18, sun closed", {**{d: (8, 21) for d in range(5)}, 5: (10, 18)}, None),
    ("daily 0-24", {d: (0, 24) for d in range(7)}, None),
    ("daily closed", {}, None),
    # Full names, any case, 08:00, spaces around '-': said back short.
    ("Monday-Friday 08:00-21:00 , SAT 9 - 18,sunday 10-17", OPENING_HOURS, "mon-fri 8-21, sat 9-18, sun 10-17"),
    ("sun 10-17, tue-sat 9-18, mon closed", {**{d: (9, 18) for d in range(1, 6)}, 6: (10, 17)},
     "mon closed, tue-sat 9-18, sun 10-17"),
])
def test_a_spec_is_read_said_back_and_stored_as_the_column_was(spec, hours, said):
    assert parse_spec(spec) == hours
    assert format_hours(hours) == (said or spec)
    column = stored_hours(parse_spec(spec))
    assert parse_hours(column) == hours and json.loads(column) == {str(d): list(s) for d, s in hours.items()}


def test_default_is_the_chains_and_every_stored_week_reads_back():
    assert parse_spec(" Default ") is None and stored_hours(None) is None
    rng = random.Random(7)
    for _ in range(300):
        week = {}                       # a day left out of the column is closed, and so is one like [9, 9]
        for day in rng.sample(range(7), rng.randint(0, 7)):
            opens = rng.randint(0, 23)
            week[day] = rng.choice([(opens, opens), (opens, rng.randint(opens + 1, 24)), (8, 21)])
        open_days = {d: s for d, s in sorted(week.items()) if s[1] > s[0]}
        assert parse_spec(format_hours(week)) == open_days, format_hours(week)
        assert parse_hours(stored_hours(open_days)) == open_days


@pytest.mark.parametrize("spec, error", [
    ("", "no hours: give them like 'mon-fri 8-21, sat 10-18, sun closed', or 'default'"),
    ("mon-fri 8-21, sat 10-18", "no hours for sun: give every day its hours or 'closed'"),
    ("daily 8-21, sat 10-18", "sat is given twice: in 'daily 8-21' and in 'sat 10-18'"),
    ("mon-sat 8-21, sun", "'sun' is not DAYS HOURS"),
    ("mo-fr 8-21, sat-sun closed", "'mo-fr 8-21': 'mo' is not a day (mon, tue, wed, thu, fri, sat, sun, or daily)"),
    ("fri-mon 8-21, tue-thu closed", "'fri-mon 8-21': fri-mon runs backwards; a range of days runs from mon towards "
                                     "sun (say fri-sun, mon)"),
    ("daily 8:30-21", "'daily 8:30-21': 8:30-21 is not in whole hours"),
    ("daily 8-25", "'daily 8-25': 25 is not an hour 0-24"),
    ("daily 22-2", "'daily 22-2': closes at 2, before it opens at 22 (hours past midnight cannot be kept"),
    ("daily 9-9", "'daily 9-9': opens and closes at 9 (a day without hours is 'closed')"),
    ("mon-sat 8-21 sun closed", "'8-21 sun closed' is not hours: OPEN-CLOSE in whole hours (8-21) or 'closed' (and "
                                "parts are separated by commas)"),
])
def test_a_mistake_names_the_part_and_what_is_wrong(spec, error):
    with pytest.raises(CentralConfigError) as caught:
        parse_spec(spec)
    assert error in str(caught.value)
