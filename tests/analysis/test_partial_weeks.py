"""A week the report's period cuts is partial: `report --from 2026-10-31` (a Saturday) made week
W44 read "from 2026-10-26" though it held only Saturday and Sunday, and W45's week-on-week change
was tested against that weekend. Now such a week says it is partial and which of its days are in
the period, has no change, and no week's change is tested against it; in the JSON, the CSV and
the HTML (the report's and the web app's site page, one template)."""

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
    csv_text = render_csv(report)
    assert "weekly,visit,,,2026-W44 partial 2026-10-31/2026-11-01,12," in csv_text
    assert "weekly,visit,,,2026-W45,42," in csv_text
    page = html.render(report, "en")
    assert '<th scope="row">2026-W44</th><td data-label="Days">2026-10-31–2026-11-01 <span class="small">partial week</span></td>' in page
    assert '<th scope="row">2026-W46</th><td data-label="Days">2026-11-09–2026-11-15</td>' in page
    assert "del av vecka" in html.render(report, "sv") and "del av uke" in html.render(report, "nb")
