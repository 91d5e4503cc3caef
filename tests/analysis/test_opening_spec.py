"""Opening hours as a store manager types and reads them (`--hours SPEC`, analysis.opening): what
format_hours says, parse_spec reads back to the same hours and the column keeps as before (whole
hours as numbers; minutes and nights past midnight added); a mistake names the part and what is
wrong with it; a store open past midnight is open then, and silent time is counted in instants
across a change of daylight-saving time; dates kept apart (holidays closed or short) count as
their own hours, not their weekday's."""

import json
import random
import re
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from server_sync.analysis.opening import (Span, chain_hours, format_hours, format_holidays, is_open,
                                          open_seconds_between, parse_holidays, parse_hours, parse_spec,
                                          read_holidays, stored_holidays, stored_hours, with_holidays)
from server_sync.exc import CentralConfigError, StoredSettingError


def h(opens: float, closes: float) -> Span:
    """A Span from hours (9.5 = 9:30)."""
    return Span(round(opens * 60), round(closes * 60))


@pytest.mark.parametrize("spec, hours, said, column", [
    ("mon-fri 8-21, sat 10-18, sun closed", {**{d: h(8, 21) for d in range(5)}, 5: h(10, 18)}, None,
     {**{str(d): [8, 21] for d in range(5)}, "5": [10, 18]}),
    ("daily 0-24", {d: h(0, 24) for d in range(7)}, None, {str(d): [0, 24] for d in range(7)}),
    ("daily closed", {}, None, {}),
    # Full names, any case, 08:00, spaces around '-': said back short.
    ("Monday-Friday 08:00-21:00 , SAT 9 - 18,sunday 10-17", chain_hours(), "mon-fri 8-21, sat 9-18, sun 10-17",
     {**{str(d): [8, 21] for d in range(5)}, "5": [9, 18], "6": [10, 17]}),
    ("sun 10-17, tue-sat 9-18, mon closed", {**{d: h(9, 18) for d in range(1, 6)}, 6: h(10, 17)},
     "mon closed, tue-sat 9-18, sun 10-17", {**{str(d): [9, 18] for d in range(1, 6)}, "6": [10, 17]}),
    # Minutes, and a night past midnight: kept on the day it began, its close after 24 in the column.
    ("mon-thu 9:30-20:45, fri-sat 10-2, sun closed",
     {**{d: h(9.5, 20.75) for d in range(4)}, 4: h(10, 26), 5: h(10, 26)}, None, {**{str(d): ["9:30", "20:45"] for d in range(4)}, "4": [10, 26], "5": [10, 26]}),
    ("daily 22-0:30", {d: h(22, 24.5) for d in range(7)}, None, {str(d): [22, "24:30"] for d in range(7)}),
    ("daily 22-0", {d: h(22, 24) for d in range(7)}, "daily 22-24", {str(d): [22, 24] for d in range(7)}),
    ("mon-sat 8-23, sun 18-8", {**{d: h(8, 23) for d in range(6)}, 6: h(18, 32)}, None,
     {**{str(d): [8, 23] for d in range(6)}, "6": [18, 32]}),
])
def test_a_spec_is_read_said_back_and_stored_as_the_column_was(spec, hours, said, column):
    assert parse_spec(spec) == hours
    assert format_hours(hours) == (said or spec)
    stored = stored_hours(parse_spec(spec))
    assert parse_hours(stored) == hours and json.loads(stored) == column


def test_default_is_the_chains_and_every_stored_week_reads_back():
    assert parse_spec(" Default ") is None and stored_hours(None) is None
    rng = random.Random(7)
    for _ in range(300):
        week = {}                       # a day left out of the column is closed, and so is one like [9, 9]
        for day in rng.sample(range(7), rng.randint(0, 7)):
            opens = rng.randint(0, 23 * 60 + 59)
            week[day] = rng.choice([Span(opens, opens), Span(opens, rng.randint(opens + 1, 24 * 60)), h(8, 21)])
        open_days = {d: s for d, s in sorted(week.items()) if s[1] > s[0]}
        assert parse_spec(format_hours(week)) == open_days, format_hours(week)
        assert parse_hours(stored_hours(open_days)) == open_days
    # Nights past midnight, up to the next day's opening.
    for _ in range(300):
        opens = [rng.randint(0, 12 * 60) for _ in range(7)]
        week = {d: Span(18 * 60 + rng.randint(0, 300), 24 * 60 + opens[(d + 1) % 7]) for d in range(7)}
        assert parse_spec(format_hours(week)) == week, format_hours(week)
        assert parse_hours(stored_hours(week)) == week


@pytest.mark.parametrize("spec, error", [
    ("", "no hours: give them like 'mon-fri 8-21, sat 10-18, sun closed', or 'default'"),
    ("mon-fri 8-21, sat 10-18", "no hours for sun: give every day its hours or 'closed'"),
    ("daily 8-21, sat 10-18", "sat is given twice: in 'daily 8-21' and in 'sat 10-18'"),
    ("mon-sat 8-21, sun", "'sun' is not DAYS HOURS"),
    ("mo-fr 8-21, sat-sun closed", "'mo-fr 8-21': 'mo' is not a day (mon, tue, wed, thu, fri, sat, sun, or daily)"),
    ("fri-mon 8-21, tue-thu closed", "'fri-mon 8-21': fri-mon runs backwards; a range of days runs from mon towards "
                                     "sun (say fri-sun, mon)"),
    ("daily 8:60-21", "'daily 8:60-21': 8:60 is not a time of day 0-24 (H or H:MM)"),
    ("daily 8-25", "'daily 8-25': 25 is not a time of day 0-24"),
    ("daily 8-24:30", "'daily 8-24:30': 24:30 is not a time of day 0-24"),
    ("daily 24-2", "'daily 24-2': a day's hours cannot open at 24 (say the next day's from 0)"),
    ("daily 9-9", "'daily 9-9': opens and closes at 9 (a day without hours is 'closed', one open round the clock "
                  "0-24)"),
    ("mon-fri 8-21, sat 20-3, sun 2-17", "'sat 20-3': sat 20-3 runs past midnight into sun's opening at 2"),
    ("sun 22-9, mon-sat 8-21", "'sun 22-9': sun 22-9 runs past midnight into mon's opening at 8"),
    ("mon-sat 8-21 sun closed", "'8-21 sun closed' is not hours: OPEN-CLOSE, each H or H:MM (8-21, 9:30-18) or "
                                "'closed' (and parts are separated by commas)"),
])
def test_a_mistake_names_the_part_and_what_is_wrong(spec, error):
    with pytest.raises(CentralConfigError) as caught:
        parse_spec(spec)
    assert error in str(caught.value)


STHLM = ZoneInfo("Europe/Stockholm")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=STHLM)


def test_a_night_past_midnight_is_open_and_counted_on_the_day_it_began():
    """Friday 18-2 (the column's [18, 26]): open at 01:30 on Saturday; a kiosk silent from Friday
    17:00 to Saturday 12:00 has been silent for Friday's 8 open hours, Saturday's 10-12 besides."""
    hours = parse_spec("mon-thu 9:30-18, fri 18-2, sat 10-16, sun closed")
    assert is_open(at(2026, 11, 28, 1, 30), STHLM, hours)                 # Saturday 01:30
    assert not is_open(at(2026, 11, 28, 2, 0), STHLM, hours)
    assert not is_open(at(2026, 11, 23, 9, 29), STHLM, hours) and is_open(at(2026, 11, 23, 9, 30), STHLM, hours)
    assert open_seconds_between(at(2026, 11, 27, 17), at(2026, 11, 28, 12), STHLM, hours) == (8 + 2) * 3600
    # Monday's 9:30 after Sunday closed: 30 minutes of it by 10:00.
    assert open_seconds_between(at(2026, 11, 29, 12), at(2026, 11, 30, 10), STHLM, hours) == 1800


def test_open_time_is_counted_in_instants_on_daylight_saving_days():
    """A store open round the clock is open 23 hours on the night the clocks go forward and 25 on
    the night they go back (Python subtracts two times of one zone by their wall clocks)."""
    hours = parse_spec("daily 0-24")
    assert open_seconds_between(at(2026, 3, 29, 0), at(2026, 3, 30, 0), STHLM, hours) == 23 * 3600
    assert open_seconds_between(at(2026, 10, 25, 0), at(2026, 10, 26, 0), STHLM, hours) == 25 * 3600
    night = parse_spec("daily 20-4")                                      # 20:00 to 04:00 across the change
    assert open_seconds_between(at(2026, 10, 24, 20), at(2026, 10, 25, 4), STHLM, night) == 9 * 3600
    utc = datetime(2026, 3, 29, 12, tzinfo=timezone.utc)
    assert open_seconds_between(utc.replace(hour=0), utc, STHLM, parse_spec("daily 8-21")) == (14 - 8) * 3600


@pytest.mark.parametrize("column, problem", [
    ('{"4": [18, 26], "5": [1, 9]}', "fri 18-2 runs past midnight into sat's opening at 1"),
    ('{"0": [8, 21], "2026-12-24": [20, 26]}', "2026-12-24 is 20-26 [(]a date's hours end by 24[)]"),
    ('{"0": [8, 21], "2026-13-01": [0, 0]}', "not hours by weekday"),
    ('{"0": [8, 33]}', "weekday 0 is 8-33"),                          # more than a day after it opens
    ('{"0": ["8:75", 21]}', "not hours by weekday"),
    ('{"0": [true, 21]}', "not hours by weekday"),
])
def test_hours_edited_by_hand_into_what_no_spec_gives_are_the_stores_fault(column, problem):
    with pytest.raises(StoredSettingError, match=f"opening_hours of site s1 is .*: {problem}"):
        parse_hours(column, "s1")


def test_holidays_kept_apart_count_their_own_hours_not_their_weekdays():
    """Christmas Eve short (8-13), Christmas Day closed: a kiosk switched off at 13:05 on the 24th
    has been silent for no opening time by noon on the 25th (with the weekdays' hours alone:
    eleven hours, and the whole fleet flagged on every holiday: a review)."""
    spec = "mon-fri 8-21, sat 10-18, sun closed, 2026-12-24 8-13, 2026-12-25 closed"
    hours = parse_spec(spec)
    assert hours[date(2026, 12, 24)] == h(8, 13) and hours[date(2026, 12, 25)] == Span(0, 0)
    assert format_hours(hours) == spec and parse_hours(stored_hours(hours)) == hours
    assert json.loads(stored_hours(hours))["2026-12-25"] == [0, 0]
    assert open_seconds_between(at(2026, 12, 24, 13, 5), at(2026, 12, 25, 12), STHLM, hours) == 0
    assert not is_open(at(2026, 12, 25, 10), STHLM, hours) and is_open(at(2026, 12, 24, 12, 59), STHLM, hours)
    assert open_seconds_between(at(2026, 12, 24, 7), at(2026, 12, 24, 23), STHLM, hours) == 5 * 3600
    assert open_seconds_between(at(2026, 12, 28, 7), at(2026, 12, 28, 23), STHLM, hours) == 13 * 3600  # a Monday
    for bad, error in (("daily 8-21, 2026-02-30 closed", "'2026-02-30 closed': '2026-02-30' is not a date (YYYY-MM-DD)"),
                       ("daily 8-21, 1999-12-24 closed", "'1999-12-24 closed': 1999-12-24 is outside 2000-01-01 … 2099-12-31"),
                       ("daily 8-21, 2026-12-24 20-2", "'2026-12-24 20-2': a date's hours end by 24"),
                       ("daily 8-21, 2026-12-25 closed, 2026-12-25 10-14", "2026-12-25 is given twice")):
        with pytest.raises(CentralConfigError, match=re.escape(error)):
            parse_spec(bad)


def test_the_chains_holidays_count_at_every_site_that_does_not_give_the_date_its_own_hours():
    """One list for the chain ('site holidays'), not the same dates typed into every site's week:
    a site's own hours for a date come first."""
    holidays = parse_holidays("2026-12-25 closed, 2026-12-24 8-13")
    assert format_holidays(holidays) == "2026-12-24 8-13, 2026-12-25 closed"
    assert read_holidays(stored_holidays(holidays)) == holidays and read_holidays(None) == {} == parse_holidays("none")
    plain = with_holidays(chain_hours(), holidays)
    assert not is_open(at(2026, 12, 25, 10), STHLM, plain) and not is_open(at(2026, 12, 24, 13, 30), STHLM, plain)
    # A holiday only shortens a store's day: one closed on Sundays stays closed on a Sunday
    # holiday, and one opening at 10 opens at 10 on a holiday 8-13.
    sunday = with_holidays(parse_spec("mon-sat 10-21, sun closed"), parse_holidays("2026-12-27 10-16, 2026-12-24 8-13"))
    assert sunday[date(2026, 12, 27)] == Span(0, 0) and sunday[date(2026, 12, 24)] == h(10, 13)
    own = with_holidays(parse_spec("daily 8-21, 2026-12-25 10-16"), holidays)
    assert is_open(at(2026, 12, 25, 10), STHLM, own)                # the site opens on Christmas Day
    assert not is_open(at(2026, 12, 24, 13, 30), STHLM, own)        # and keeps the chain's short Eve
    for bad, error in (("mon closed", "'mon closed' is not DATE HOURS"),
                       ("2026-12-24 20-2", "'2026-12-24 20-2': a date's hours end by 24"),
                       ("2026-12-25 closed, 2026-12-25 10-14", "2026-12-25 is given twice"),
                       (" ", "no holidays"), ("2026-12-25 closed,", "has an empty part: a comma too many?")):
        with pytest.raises(CentralConfigError, match=re.escape(error)):
            parse_holidays(bad)
    for stored, problem in (('{"2026-12-25": [0]}', "not hours by date"), ('{"xmas": [0, 0]}', "not hours by date"),
                            ('{"2026-12-24": [20, 26]}', "2026-12-24 is 20-26")):
        with pytest.raises(StoredSettingError, match="chain_holidays") as e:
            read_holidays(stored)
        assert problem in str(e.value) and "kiosk-central site holidays SPEC" in str(e.value)


def test_a_night_past_midnight_and_the_next_dates_own_hours_are_counted_once():
    """'daily 18-2' and a date open from 0: 00:00-02:00 was counted twice (a review), so a kiosk was
    flagged silent after one hour instead of two."""
    hours = parse_spec("daily 18-2, 2026-12-24 0-13")
    assert open_seconds_between(at(2026, 12, 23, 23), at(2026, 12, 24, 3), STHLM, hours) == 4 * 3600
