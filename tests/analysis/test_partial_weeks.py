"""A week the report's period cuts is partial: `report --from 2026-10-31` (a Saturday) made week
W44 read "from 2026-10-26" though it held only Saturday and Sunday, and W45's week-on-week change
was tested against that weekend. Now such a week says it is partial and which of its days are in
the period, has no change, and no week's change is tested against it; in the JSON, the CSV and
the HTML (the report's and the web app's site page, one template). So is a week the series itself
begins or ends in (a scale changed on a Saturday: the new scale's first week is that weekend)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from server_sync.analysis import chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.analysis.trends import weekly_series
from server_sync.protocol.tally import Tally
from server_sync.report import html
from server_sync.report.tabular import render_csv
from tests.analysis.seeding import add_question, add_site, answer, commit

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
PERIOD = ("2026-10-31", "2026-11-20")            # Saturday of W44 to Friday of W47


def day_rows(first: date, last: date) -> list[tuple[str, Tally]]:
    """Every day from `first` to `last`: a good day on odd dates, a poor one on even."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [(d.isoformat(), Tally.from_counts("smiley4", {4: 20, 1: 2} if d.day % 2 else {3: 10, 1: 10})) for d in days]


def assert_partial_week_shown(report: dict, question: str, week: str, first: str, last: str, n: int) -> None:
    """The CSV's weekly row and the HTML's weekly table say `week` of `question` is partial, with
    its days."""
    assert f"weekly,{question},,,{week} partial {first}/{last},{n}," in render_csv(report)
    assert (f'<th scope="row">{week}</th><td data-label="Days">{days(first, last)} <span class="small">partial week'
            '</span></td>') in html.render(report, "en")


def days(first: str, last: str) -> str:
    """A week's days as its table cell holds them: each date kept whole on a narrow screen."""
    return f'<span class="nowrap">{first}</span>–<span class="nowrap">{last}</span>'


def test_a_week_the_period_cuts_is_partial_and_never_compared():
    weeks = weekly_series(day_rows(date(2026, 10, 31), date(2026, 11, 20)), "smiley4", PERIOD)
    shown = [(w["week"], w["from"], w["first_day"], w["last_day"], w["partial"], w["change"] is not None)
             for w in weeks]
    assert shown == [("2026-W44", "2026-10-26", "2026-10-31", "2026-11-01", True, False),
                     ("2026-W45", "2026-11-02", "2026-11-02", "2026-11-08", False, False),   # the week before is partial
                     ("2026-W46", "2026-11-09", "2026-11-09", "2026-11-15", False, True),
                     ("2026-W47", "2026-11-16", "2026-11-16", "2026-11-20", True, False)]
    assert weeks[2]["change"]["test"] == "days t"                # seven days a side: days are the units


def test_a_week_not_over_yet_is_partial_and_never_compared():
    """The week holding today (its Sunday not over yet) was a whole week with a change test on
    today's answers so far, beside the daily row that said the day is not final."""
    rows = day_rows(date(2026, 11, 2), date(2026, 11, 22))
    period = ("2026-11-02", "2026-11-22")
    whole = weekly_series(rows, "smiley4", period, last_whole_day="2026-11-22")
    today = weekly_series(rows, "smiley4", period, last_whole_day="2026-11-21")
    assert [(w["week"], w["partial"], w["change"] is not None) for w in whole] == \
        [("2026-W45", False, False), ("2026-W46", False, True), ("2026-W47", False, True)]
    assert [(w["week"], w["last_day"], w["partial"], w["change"] is not None) for w in today] == \
        [("2026-W45", "2026-11-08", False, False), ("2026-W46", "2026-11-15", False, True),
         ("2026-W47", "2026-11-22", True, False)]


def test_the_report_shows_partial_weeks_in_json_csv_and_html(tmp_path):
    from server_sync.central.db import connect
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        add_site(db, "s1")
        add_question(db)
        first = date(2026, 10, 20)
        commit(db, [answer("s1", datetime(d.year, d.month, d.day, 10, m), 1 + (m + d.day) % 4)
                    for d in (first + timedelta(days=i) for i in range(32)) for m in range(6)])
        report = chain_report.build(db, ReportFilter(date_from=PERIOD[0], date_to=PERIOD[1]), now=NOW)
    finally:
        db.close()
    (trend,) = report["trends"]
    w44 = trend["weekly"][0]
    assert (w44["week"], w44["partial"], w44["first_day"], w44["last_day"], w44["n"]) == \
        ("2026-W44", True, "2026-10-31", "2026-11-01", 12)
    assert trend["weekly"][1]["change"] is None and trend["weekly"][2]["change"] is not None
    assert_partial_week_shown(report, "visit", "2026-W44", "2026-10-31", "2026-11-01", 12)
    assert "weekly,visit,,,2026-W45,42," in render_csv(report)
    page = html.render(report, "en")
    assert f'<th scope="row">2026-W46</th><td data-label="Days">{days("2026-11-09", "2026-11-15")}</td>' in page
    assert "del av vecka" in html.render(report, "sv") and "del av uke" in html.render(report, "nb")


def test_a_week_the_series_begins_or_ends_in_is_partial_and_never_compared():
    """A series that begins mid-week (a scale change on Saturday 2026-10-10) had week W41 "from
    2026-10-05 to 10-11", whole, of its weekend's answers, and W42's change tested against that
    weekend; the series it replaced had its Monday-to-Friday week as whole. The series' own days
    bound its weeks as the period's do."""
    period = ("2026-10-01", "2026-10-31")
    new = weekly_series(day_rows(date(2026, 10, 10), date(2026, 10, 31)), "smiley4", period,
                        asked=("2026-10-10", None))
    assert [(w["week"], w["first_day"], w["last_day"], w["partial"], w["change"] is not None) for w in new] == \
        [("2026-W41", "2026-10-10", "2026-10-11", True, False),
         ("2026-W42", "2026-10-12", "2026-10-18", False, False),       # the week before is partial
         ("2026-W43", "2026-10-19", "2026-10-25", False, True),
         ("2026-W44", "2026-10-26", "2026-10-31", True, False)]
    old = weekly_series(day_rows(date(2026, 10, 1), date(2026, 10, 9)), "smiley4", period,
                        asked=("2026-08-25", "2026-10-09"))
    assert [(w["week"], w["first_day"], w["last_day"], w["partial"]) for w in old] == \
        [("2026-W40", "2026-10-01", "2026-10-04", True), ("2026-W41", "2026-10-05", "2026-10-09", True)]
    # Asked from a Monday, or from before the period and on after it: as the period alone says.
    rows = day_rows(date(2026, 10, 12), date(2026, 10, 25))
    assert weekly_series(rows, "smiley4", ("2026-10-12", "2026-10-25"), asked=("2026-10-12", None)) == \
        weekly_series(rows, "smiley4", ("2026-10-12", "2026-10-25")) == \
        weekly_series(rows, "smiley4", ("2026-10-12", "2026-10-25"), asked=("2026-01-01", "2026-12-31"))


def _scale_changed_on_a_saturday(db) -> None:
    """s1 asked `visit` on smiley4 from Monday 2026-08-31 to Friday 2026-10-09, on nps11 (version
    2) from Saturday 2026-10-10: 6 answers a day."""
    add_site(db, "s1")
    add_question(db)
    p = db.param
    db.execute_sql(f"INSERT INTO question (id, version, scale, audience, text, first_seen, defined_at) VALUES"
                   f" ('visit', 2, 'nps11', 'customer', '{{\"en\": \"Recommend?\"}}', {p}, {p})",
                   (datetime(2025, 1, 1), datetime(2025, 1, 1)))
    days = [date(2026, 8, 31) + timedelta(days=i) for i in range(62)]
    commit(db, [answer("s1", datetime(d.year, d.month, d.day, 10, m), 1 + (m + d.day) % 4) if d < date(2026, 10, 10)
                else answer("s1", datetime(d.year, d.month, d.day, 10, m), (m * 3 + d.day) % 11, scale="nps11")
                for d in days for m in range(6)])


def test_the_report_bounds_a_series_weeks_by_the_days_it_was_asked_in_json_csv_and_html(tmp_path):
    from server_sync.central.db import connect
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        _scale_changed_on_a_saturday(db)
        report = chain_report.build(db, ReportFilter(date_from="2026-10-01", date_to="2026-10-31"), now=NOW)
    finally:
        db.close()
    weeks = {t["question_id"]: [(w["week"], w["first_day"], w["last_day"], w["partial"], w["n"],
                                 w["change"] is not None) for w in t["weekly"]] for t in report["trends"]}
    assert weeks["visit"] == [("2026-W41", "2026-10-10", "2026-10-11", True, 12, False),
                              ("2026-W42", "2026-10-12", "2026-10-18", False, 42, False),
                              ("2026-W43", "2026-10-19", "2026-10-25", False, 42, True),
                              ("2026-W44", "2026-10-26", "2026-10-31", True, 36, False)]
    assert weeks["visit@smiley4"] == [("2026-W40", "2026-10-01", "2026-10-04", True, 24, False),
                                      ("2026-W41", "2026-10-05", "2026-10-09", True, 30, False)]
    assert_partial_week_shown(report, "visit", "2026-W41", "2026-10-10", "2026-10-11", 12)
    assert_partial_week_shown(report, "visit@smiley4", "2026-W41", "2026-10-05", "2026-10-09", 30)


def test_a_series_asked_from_a_monday_or_before_the_period_is_bounded_by_the_period_alone(tmp_path):
    """Where a series begins is its first answer, the day the report's default period begins at
    for a new store: a new store's first week is partial unless it began on a Monday, whichever
    period is asked for."""
    from server_sync.central.db import connect
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        add_site(db, "s1")
        add_site(db, "s2")
        add_question(db)
        commit(db, [answer(s, datetime(d.year, d.month, d.day, 10, m), 1 + (m + d.day) % 4)
                    for s, first in (("s1", date(2026, 11, 2)), ("s2", date(2026, 11, 4)))
                    for d in (first + timedelta(days=i) for i in range(21 - (first.day - 2))) for m in range(6)])
        weeks = {}
        for site in ("s1", "s2"):
            for f in (ReportFilter(sites=(site,), date_from="2026-10-26", date_to="2026-11-22"),
                      ReportFilter(sites=(site,))):
                (trend,) = chain_report.build(db, f, now=NOW)["trends"]
                weeks[site, f.date_from] = [(w["week"], w["first_day"], w["partial"], w["change"] is not None)
                                            for w in trend["weekly"]]
    finally:
        db.close()
    assert weeks["s1", None] == weeks["s1", "2026-10-26"] == \
        [("2026-W45", "2026-11-02", False, False), ("2026-W46", "2026-11-09", False, True),
         ("2026-W47", "2026-11-16", False, True)]
    assert weeks["s2", None] == weeks["s2", "2026-10-26"] == \
        [("2026-W45", "2026-11-04", True, False), ("2026-W46", "2026-11-09", False, False),
         ("2026-W47", "2026-11-16", False, True)]
