"""`actions.evaluated` on a real store: the keys it always returned are still there, the chain is
the control, an alert raised on the site before the action moves the baseline back to the alert's
local day, an unfinished after-window is pending, and no spread (4,4 against 3,3) is never
"worse, p = 0" (defect 3 on the action path)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from server_sync.analysis import actions, chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.central.db import connect
from tests.analysis.seeding import add_question, add_site, answer, commit

ACTION = date(2026, 10, 1)
OLD_KEYS = {"id", "site_id", "question_id", "date", "note", "created_at", "window_days", "previous", "current",
            "metric", "test", "csat_test", "verdict"}


@pytest.fixture
def db(tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        add_question(db)
        for s in ("s1", "s2", "s3"):
            add_site(db, s)
        rows = []
        for i in range(-70, 40):
            day = datetime.combine(ACTION + timedelta(days=i), datetime.min.time()) + timedelta(hours=10)
            for j, s in enumerate(("s1", "s2", "s3")):      # a last 4 every other day, each site on its own days
                last = 4 if (i + j) % 2 else 3
                rows += [answer(s, day + timedelta(minutes=k), v) for k, v in enumerate((4, 3, 3, 2, 4, 1, 4, last))]
        commit(db, rows)
        yield db
    finally:
        db.close()


def test_evaluated_keeps_its_keys_and_judges_against_the_chain(db):
    actions.add(db, "s1", "visit", ACTION.isoformat(), "Ny kassa")
    (a,) = actions.evaluated(db, ("s1",), today=ACTION + timedelta(days=35))
    assert OLD_KEYS <= set(a)
    assert a["method"] == "difference-in-differences" and a["control"]["previous"]["n"] == 2 * 8 * 28
    assert a["verdict"] == "no_detectable_effect" and a["test"]["diff"] == pytest.approx(0)
    assert a["baseline"] == {"from": "2026-08-27", "to": "2026-09-23"} and a["dip"] == {"start": None, "source": None}
    (p,) = actions.evaluated(db, ("s1",), today=ACTION + timedelta(days=5))
    assert (p["verdict"], p["days_observed"], p["test"]) == ("pending", 5, None)


def test_a_linked_alert_moves_the_baseline_before_it(db):
    raised = datetime(2026, 9, 10, 22, 30)             # 00:30 on the 11th in Stockholm
    db.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from, window_to,"
                   " n, negative, message) VALUES ('s1', 'visit', 'trend', ?, ?, ?, ?, 20, 12, 'dip')",
                   (raised, raised, raised, raised))
    actions.add(db, "s1", "visit", ACTION.isoformat(), "Ny kassa", now=datetime(2026, 10, 1, tzinfo=timezone.utc))
    (a,) = actions.evaluated(db, (), today=ACTION + timedelta(days=35))
    assert a["dip"] == {"start": "2026-09-11", "source": "alert"} and a["baseline"]["to"] == "2026-09-10"


def test_no_spread_on_the_action_path_is_never_worse_p_zero(tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'flat.db'}")
    try:
        add_question(db)
        add_site(db, "s1")
        before = datetime(2026, 9, 20, 10)
        after = datetime(2026, 10, 3, 10)
        commit(db, [answer("s1", before, 4), answer("s1", before + timedelta(minutes=5), 4),
                    answer("s1", after, 3), answer("s1", after + timedelta(minutes=5), 3)])
        actions.add(db, "s1", "visit", ACTION.isoformat(), "Ny kassa")
        (a,) = actions.evaluated(db, today=ACTION + timedelta(days=40))
        assert a["verdict"] == "too_little_data" and a["test"] is None
        assert a["previous"]["n"] == 2 and a["current"]["n"] == 2
    finally:
        db.close()


def test_an_action_logged_from_an_alert_takes_that_alerts_day(db):
    from server_sync.analysis import queries
    raised = datetime(2026, 8, 20, 9, 0)
    for day in (raised, datetime(2026, 9, 25, 9, 0)):
        db.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from,"
                       " window_to, n, negative, message) VALUES ('s1', 'visit', 'trend', ?, ?, ?, ?, 20, 12, 'dip')",
                       (day, day, day, day))
    first = db.execute_sql("SELECT MIN(id) FROM alert").fetchone()[0]
    act = {"id": 7, "site_id": "s1", "question_id": "visit", "date": ACTION.isoformat()}
    assert queries.action_alert_days(db, [act], 28) == {7: date(2026, 9, 25)}       # the nearest dip by time
    assert queries.action_alert_days(db, [dict(act, alert_id=first)], 28) == {7: date(2026, 8, 20)}   # its own
    # Through the store: an action row that names its alert (the workflow's `action add
    # --from-alert`, m0041) carries it into the analysis.
    actions.add(db, "s1", "visit", ACTION.isoformat(), "Ny kassa")
    db.execute_sql("UPDATE action SET alert_id = ? WHERE id = (SELECT MIN(id) FROM action)", (first,))
    (row,) = [r for r in queries.actions(db, queries.ReportFilter()) if r["alert_id"] is not None]
    assert row["alert_id"] == first


def test_a_verdict_waits_for_the_sites_own_last_day_and_the_controls(tmp_path):
    # 21:00 in New York on the after-window's 28th local day is 01:00 UTC the next day: by UTC's
    # date the window was over and the report gave a verdict on 27 of the 28 days (the reviewer's
    # action_timing.py). Stockholm is at 02:00 of the next day then: its own window is over, but
    # its control, the rest of the chain, has New York's 28th day still going on, whose answers
    # would move a verdict already given (a review): both wait until it is over.
    db = connect(f"sqlite:///{tmp_path / 'zones.db'}")
    try:
        add_question(db)
        zones = {"ny1": "America/New_York", "ny2": "America/New_York", "sto": "Europe/Stockholm"}
        for s, tz in zones.items():
            add_site(db, s, tz)
        rows = []
        for i in range(-70, 28):
            for s, tz in zones.items():
                noon = datetime.combine(ACTION + timedelta(days=i), datetime.min.time()).replace(
                    hour=12, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc).replace(tzinfo=None)
                rows += [answer(s, noon + timedelta(minutes=k), v) for k, v in enumerate((4, 3, 3, 2, 4, 1))]
        commit(db, rows)
        for s in ("ny1", "sto"):
            actions.add(db, s, "visit", ACTION.isoformat(), "Ny kassa", now=datetime(2026, 10, 1, tzinfo=timezone.utc))
        for hour, over in ((21, False), (25, True)):                     # 01:00 the next day in New York
            now = (datetime(2026, 10, 28, tzinfo=ZoneInfo("America/New_York")) + timedelta(hours=hour)).astimezone(
                timezone.utc)
            report = chain_report.build(db, ReportFilter(date_from="2026-10-01", date_to="2026-10-28"), now=now)
            assert_days(report["actions"], over)
            assert_days(actions.evaluated(db, now=now), over)       # `action list`, the web app
            from server_sync.workflow.actions import close_completed
            closed = {a["site_id"] for a in close_completed(db, now)}   # the workflow closes on the same day
            assert closed == ({"ny1", "sto"} if over else set()), (hour, closed)
    finally:
        db.close()


def assert_days(found: list[dict], over: bool) -> None:
    for a in found:
        assert (a["verdict"] != "pending", a["days_observed"]) == (over, 28 if over else 27), a["site_id"]
