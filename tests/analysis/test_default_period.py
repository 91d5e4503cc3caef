"""The report's default period (issue 11 #6): the last 28 days with answers up to the centre's
today. An answer a kiosk's broken clock dated in 2099 neither moves the period nor counts in it;
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

from server_sync.analysis import chain_report
from tests.analysis.seeding import add_question, add_site, answer, commit

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def test_an_answer_from_the_future_does_not_move_the_default_period(central_db):
    db = central_db
    add_site(db, "s1")
    add_question(db)
    commit(db, [answer("s1", datetime(2026, 11, d, 10, m), 1 + m % 4) for d in range(16, 23) for m in range(5)]
           + [answer("s1", datetime(2099, 1, 1, 10, 0), 1)])
    report = chain_report.build(db, now=NOW)
    assert (report["period"]["from"], report["period"]["to"]) == ("2026-11-16", "2026-11-22")
    (visit,) = [s for s in report["summary"] if s["question_id"] == "visit"]
    assert visit["n"] == 35                              # the 2099 answer is not in it
    # Asked for explicitly, the dates are the analyst's: the future answer is there.
    later = chain_report.build(db, chain_report.ReportFilter(date_from="2098-12-05", date_to="2099-01-01"), now=NOW)
    assert [s["n"] for s in later["summary"] if s["question_id"] == "visit"] == [1]


def test_the_centres_today_is_the_latest_site_local_date(central_db):
    db = central_db
    add_site(db, "oslo")
    add_site(db, "auckland", tz="Pacific/Auckland")
    late = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)      # 09:00 on the 24th in Auckland
    assert chain_report.centre_today(db, late) == "2026-11-24"
