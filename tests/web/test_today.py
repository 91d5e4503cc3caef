"""The overview's "today" (answers so far on each site's today) keeps to the minimum employee
group, as the report beside it does: an employee question's count is shown only when it holds at
least the minimum and the page's report shows that day of the question, and the total counts
only what is shown. In process (no server), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from server_sync.web import guard
from server_sync.web.cache import FiguresCache
from server_sync.web.pages import overview
from tests.analysis.seeding import add_question, add_site, answer, commit

NOW = datetime(2026, 3, 10, 18, 0, tzinfo=timezone.utc)       # a Tuesday evening


def overview_page(db, now: datetime = NOW, **params: str) -> guard.PageResult:
    """The overview page for a person who sees the whole chain, at `now`, with these filters."""
    live = SimpleNamespace(version_of=lambda sites, marks=None: 0, fleet_version_of=lambda sites, marks=None: 0)
    v = guard.Visit(request=SimpleNamespace(query_params=params, headers={}),
                    state=SimpleNamespace(db=db, cache=FiguresCache(seconds=300), live=live),
                    user=SimpleNamespace(language="en"), scope=SimpleNamespace(everything=True, sites=frozenset()),
                    session=None, now=now)
    return overview.build(v)


def overview_of(db, now: datetime = NOW, **params: str) -> dict:
    """The overview page's figures (overview_page)."""
    return overview_page(db, now, **params).data


def shown(result: guard.PageResult) -> str:
    """The overview as its page shows it, in English."""
    from server_sync.web import render
    return render.page(result.template, "en", report=result.data["report"], data=result.data, **result.context)


def pulse(day: int, hour: int, values: list[int]) -> list[dict]:
    return [answer("s1", datetime(2026, 3, day, hour, i), v, question="pulse", audience="employee")
            for i, v in enumerate(values)]


def chain(db, rows: list[dict]) -> None:
    add_site(db, "s1", "UTC")
    add_question(db)
    add_question(db, "pulse", audience="employee")
    commit(db, [answer("s1", datetime(2026, 3, 10, 9, i), 4) for i in range(20)] + rows)


def test_an_employee_count_under_the_minimum_is_not_shown_nor_in_the_total(central_db):
    """The review's case: two colleagues' answers today were shown ("pulse: 2") while the same
    page's report left them out."""
    chain(central_db, pulse(10, 17, [1, 1]))
    data = overview_of(central_db)
    assert data["today"] == {"total": 20, "by_question": {"visit": 20}}
    assert next(s for s in data["summary"] if s["question_id"] == "pulse")["n"] is None


def test_an_employee_count_the_report_leaves_out_to_cover_a_smaller_day_is_not_shown(central_db):
    """Monday's three are left out of the report's days and today's ten with them (the week's
    13 is shown): today's count of ten would give Monday's three away."""
    chain(central_db, pulse(9, 17, [1, 1, 1]) + pulse(10, 17, [3] * 10))
    data = overview_of(central_db)
    (trend,) = [t for t in data["trends"] if t["question_id"] == "pulse"]
    assert trend["daily"] == []
    assert data["today"] == {"total": 20, "by_question": {"visit": 20}}


def test_an_employee_count_the_report_shows_is_shown(central_db):
    chain(central_db, pulse(9, 17, [2] * 6) + pulse(10, 17, [3] * 6))
    data = overview_of(central_db)
    (trend,) = [t for t in data["trends"] if t["question_id"] == "pulse"]
    assert [(d["date"], d["n"]) for d in trend["daily"]] == [("2026-03-09", 6), ("2026-03-10", 6)]
    assert data["today"] == {"total": 26, "by_question": {"pulse": 6, "visit": 20}}


def test_an_employee_count_over_two_dates_is_not_shown(central_db):
    """At 23:00 UTC a store in Helsinki is on Wednesday while one in UTC is still on Tuesday:
    today's count (6 + 6) less the report's Wednesday (Helsinki's 6) is the UTC store's Tuesday,
    and the report's Tuesday (12) less that is Helsinki's Tuesday, groups the report never shows."""
    db = central_db
    add_site(db, "s2", "Europe/Helsinki")
    chain(db, pulse(10, 17, [3] * 6) + [dict(r, site_id="s2", kiosk_id="s2-k1") for r in
                                         pulse(10, 12, [2] * 6) + pulse(10, 22, [4] * 6)])
    late = datetime(2026, 3, 10, 23, 0, tzinfo=timezone.utc)
    data = overview_of(db, late)
    (trend,) = [t for t in data["trends"] if t["question_id"] == "pulse"]
    assert [(d["date"], d["n"]) for d in trend["daily"]] == [("2026-03-10", 12), ("2026-03-11", 6)]
    assert data["today"] == {"total": 20, "by_question": {"visit": 20}}


@pytest.mark.parametrize(("lang", "said"), [("sv", "Visar 5 av 31."), ("nb", "Viser 5 av 31."), ("en", "Showing 5 of 31.")])
def test_the_overview_says_when_it_shows_only_the_newest_open_alerts(lang, said):
    """"Open alerts (31)" over five alerts read as if the five were all; the report says so of
    every list it cuts, and so does the overview now (not when it shows them all)."""
    from server_sync.web import render
    alert = {"id": 7, "site_id": "s001", "raised_at": "2026-11-20 16:00:00", "timezone": "Europe/Stockholm",
             "message": "dip", "overdue": False}
    data = {"period": None, "today": {"total": 0, "by_question": {}}, "report": None, "trends": [],
            "overdue": {"alerts": [], "alert_count": 0, "actions": [], "action_count": 0},
            "fleet": {"online": 1, "kiosks": 1, "flagged": 0, "awaited": 0}}
    for count, shown in ((31, 5), (5, 5)):
        page = render.page("web/overview.html", lang, data=dict(data, open_alerts={
            "count": count, "newest": [dict(alert, id=i) for i in range(shown)]}), site_names={})
        assert (said in page) is (count == 31), (count, shown)


def test_today_follows_the_question_filter(central_db):
    """The review's case: with question=recommend the overview still said "visit: 2" today."""
    chain(central_db, [])
    add_question(central_db, "recommend", scale="nps11")
    commit(central_db, [answer("s1", datetime(2026, 3, 10, 10, i), 9, question="recommend", scale="nps11")
                        for i in range(3)])
    assert overview_of(central_db)["today"] == {"total": 23, "by_question": {"recommend": 3, "visit": 20}}
    assert overview_of(central_db, question="recommend")["today"] == {"total": 3, "by_question": {"recommend": 3}}
    assert overview_of(central_db, question="visit")["today"] == {"total": 20, "by_question": {"visit": 20}}


def test_today_keeps_a_questions_scales_apart(central_db):
    """Two smiley4 answers were counted as `visit`, whose current scale is smiley5: as in the
    report beside it, its answers on the earlier scale are a series of their own."""
    from server_sync.central import questions
    add_site(central_db, "s1", "UTC")
    add_question(central_db)                                        # visit 1: smiley4
    with central_db.atomic():
        questions.define(central_db, "visit", 2, "smiley5", "customer", {"en": "How was it?"}, datetime(2026, 3, 1))
    commit(central_db, [answer("s1", datetime(2026, 3, 10, 9, i), 5, scale="smiley5") for i in range(20)]
           + [answer("s1", datetime(2026, 3, 10, 11, i), 4) for i in range(2)])
    result = overview_page(central_db)
    assert result.data["today"] == {"total": 22, "by_question": {"visit": 20, "visit@smiley4": 2}}
    assert "How was it?: 20 · How was it? (earlier scale: smiley4, a separate series): 2" in shown(result)


def test_today_is_shown_only_when_the_period_holds_it(central_db):
    """A period that ends before today (or starts after it) is another time: its overview does
    not count today's answers beside it."""
    chain(central_db, [])
    for params in ({"to": "2026-03-09"}, {"from": "2026-03-01", "to": "2026-03-09"}):
        result = overview_page(central_db, **params)
        assert result.data["today"] is None and 'id="today"' not in shown(result), params
    for params in ({}, {"to": "2026-03-10"}, {"from": "2026-03-10"}, {"from": "2026-03-01", "to": "2026-03-31"}):
        result = overview_page(central_db, **params)
        assert result.data["today"] == {"total": 20, "by_question": {"visit": 20}}, params
        assert 'id="today"' in shown(result), params
