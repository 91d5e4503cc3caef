"""An action is judged on the scale its question had on the action's day, not on the question's
current one (the statistician's defect 1): once `visit` got version 2 on nps11, every earlier
action read its windows on nps11, found no answers there and turned `too_little_data` with n = 0
before and after, while the report still showed the smiley4 series it was taken on. A series is
(question, scale) and never mixes scales; the after-window counts only the answers on the
action's scale, so a scale change inside it leaves the days that exist on that scale."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from server_sync.analysis import actions, chain_report
from server_sync.analysis.actions import kind_on
from server_sync.analysis.queries import ReportFilter
from server_sync.central.db import connect
from tests.analysis.seeding import add_question, add_site, answer, commit

ACTION = date(2026, 10, 1)
SITES = ("s1", "s2", "s3")
SMILEYS = (4, 3, 3, 2, 4, 1, 4, 3)
NPS = (9, 10, 7, 3, 8, 6, 10, 9)


def new_version(db, first_seen: date, scale: str = "nps11") -> None:
    """Version 2 of `visit` on `scale`, defined by the centre on `first_seen` (as the reviewer's
    repro inserts it)."""
    at = datetime.combine(first_seen, datetime.min.time()) + timedelta(hours=6)
    db.execute_sql("INSERT INTO question (id, version, scale, audience, text, first_seen, defined_at)"
                   " VALUES ('visit', 2, ?, 'customer', '{}', ?, ?)", (scale, at, at))


def store(tmp_path, switch: int | None) -> object:
    """Three sites answering `visit` every day from 70 days before ACTION to 40 after: on
    smiley4, from ACTION + `switch` days (None: never) on nps11; each site's days differ (sites
    alike every day leave a difference in differences without any spread to measure it by)."""
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    add_question(db)
    for s in SITES:
        add_site(db, s)
    rows = []
    for i in range(-70, 40):
        day = datetime.combine(ACTION + timedelta(days=i), datetime.min.time()) + timedelta(hours=10)
        nps = switch is not None and i >= switch
        for j, s in enumerate(SITES):            # the last answer one higher every other day, each site on its own
            values = (NPS if nps else SMILEYS)[:-1] + ((NPS if nps else SMILEYS)[-1] + (i + j) % 2,)
            rows += [answer(s, day + timedelta(minutes=k), v, scale="nps11" if nps else "smiley4")
                     for k, v in enumerate(values)]
    commit(db, rows)
    return db


@pytest.fixture
def renamed(tmp_path):
    """The reviewer's case: every answer on smiley4, then `visit` version 2 on nps11 defined
    after the actions' windows."""
    db = store(tmp_path, None)
    try:
        yield db
    finally:
        db.close()


def test_an_action_keeps_the_scale_it_was_taken_on(renamed):
    actions.add(renamed, "s1", "visit", ACTION.isoformat(), "Ny kassa")
    new_version(renamed, date(2026, 11, 23))
    (a,) = actions.evaluated(renamed, ("s1",), today=ACTION + timedelta(days=35))
    assert (a["scale"], a["series_id"], a["metric"]) == ("smiley4", "visit@smiley4", "happy_index")
    assert a["previous"]["n"] == a["current"]["n"] == 8 * 28
    assert a["verdict"] == "no_detectable_effect" and a["test"]["diff"] == pytest.approx(0)


def test_the_report_judges_it_on_the_series_it_shows(renamed):
    actions.add(renamed, "s1", "visit", ACTION.isoformat(), "Ny kassa")
    new_version(renamed, date(2026, 11, 23))
    now = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
    report = chain_report.build(renamed, ReportFilter(date_from="2026-10-01", date_to="2026-10-28"), now=now)
    assert "visit@smiley4" in {q["id"] for q in report["questions"]}
    (a,) = report["actions"]
    assert (a["series_id"], a["scale"], a["verdict"]) == ("visit@smiley4", "smiley4", "no_detectable_effect")
    from server_sync.report.html import render
    section = render(report, "en").split('<section id="actions">')[1].split("</section>")[0]
    assert "earlier scale: smiley4, a separate series" in section


def test_a_scale_change_inside_the_after_window_leaves_the_days_on_its_scale(tmp_path):
    db = store(tmp_path, 14)
    try:
        new_version(db, ACTION + timedelta(days=14))
        actions.add(db, "s1", "visit", ACTION.isoformat(), "Ny kassa")
        actions.add(db, "s2", "visit", (ACTION + timedelta(days=21)).isoformat(), "Ny skylt")
        before, after = actions.evaluated(db, today=ACTION + timedelta(days=60))
        # Judged on smiley4 over the 14 days of the after-window it was still asked on (at least
        # MIN_DAYS: a verdict); the nps11 days are not that series' days.
        assert (before["scale"], before["series_id"]) == ("smiley4", "visit@smiley4")
        assert before["previous"]["n"] == 8 * 28 and before["current"]["n"] == 8 * 14
        assert before["verdict"] == "no_detectable_effect"
        # ... and says so: 14 of the 28 days, the window ending the day before the new scale.
        assert (before["days_observed"], before["window_days"]) == (14, 28)
        assert before["scale_ended"] == (ACTION + timedelta(days=14)).isoformat()
        assert before["after"]["to"] == (ACTION + timedelta(days=13)).isoformat()
        # Taken on nps11: its baseline has no nps11 answers, and no smiley4 answer counts in it.
        assert (after["scale"], after["series_id"], after["metric"]) == ("nps11", "visit", "nps")
        assert after["previous"]["n"] == 0 and after["current"]["n"] == 8 * 19
        assert after["verdict"] == "too_little_data"
    finally:
        db.close()


def test_a_scale_change_the_register_learnt_late_ends_the_window_on_the_answers_day(tmp_path):
    """The new scale's answers came before the register held its version (a backlog on a USB
    stick, days of a kiosk offline): the series was read as going on until the centre got them,
    "28 of 28 days" over 14 days with answers on its scale (a review). It ends on the site's first
    answer on the other scale."""
    db = store(tmp_path, 14)
    try:
        new_version(db, ACTION + timedelta(days=30))               # registered 16 days after its answers began
        actions.add(db, "s1", "visit", ACTION.isoformat(), "Ny kassa")
        (a,) = actions.evaluated(db, today=ACTION + timedelta(days=60))
        assert (a["scale"], a["days_observed"], a["scale_ended"]) == ("smiley4", 14, (ACTION + timedelta(days=14)).isoformat())
        assert a["current"]["n"] == 8 * 14 and a["verdict"] == "no_detectable_effect"
    finally:
        db.close()


def test_an_action_on_a_day_the_site_already_answered_the_new_scale_is_judged_on_it(tmp_path):
    """The other side of a register that learnt the version late: the site answered nps11 from 5
    days before the action, the register held it 30 days after. The action was judged on smiley4,
    "28 of 28 days" with no answer on it after the action (a review); it is the site's nps11."""
    db = store(tmp_path, -5)
    try:
        new_version(db, ACTION + timedelta(days=30))
        actions.add(db, "s1", "visit", ACTION.isoformat(), "Ny kassa")
        (a,) = actions.evaluated(db, today=ACTION + timedelta(days=60))
        assert (a["scale"], a["series_id"], a["scale_ended"], a["days_observed"]) == ("nps11", "visit", None, 28)
        assert a["current"]["n"] == 8 * 28
    finally:
        db.close()


def test_a_kiosk_still_on_the_old_scale_after_the_cut_does_not_move_the_verdict(tmp_path):
    """One kiosk of the site switched on day 14, another still asked on smiley4 for two weeks: the
    window said "14 of 28 days" and gave its verdict on day 14, while its tallies and test read
    every smiley4 answer of the 28 days, so the verdict given moved as the other kiosk's answers
    came (a review). The after-window is its 14 days, for the label, the figures and the test."""
    db = store(tmp_path, 14)
    try:
        late = [answer("s1", datetime.combine(ACTION + timedelta(days=i), datetime.min.time()) + timedelta(hours=15),
                       1, kiosk="s1-k2") for i in range(14, 28)]
        commit(db, late)
        actions.add(db, "s1", "visit", ACTION.isoformat(), "Ny kassa")
        new_version(db, ACTION + timedelta(days=14))
        verdicts = []
        for today in (ACTION + timedelta(days=14), ACTION + timedelta(days=60)):
            (a,) = actions.evaluated(db, today=today)
            assert (a["days_observed"], a["scale_ended"]) == (14, (ACTION + timedelta(days=14)).isoformat())
            assert a["current"]["n"] == 8 * 14, today
            verdicts.append((a["verdict"], a["test"]))
        assert verdicts[0] == verdicts[1] and verdicts[0][0] == "no_detectable_effect"
    finally:
        db.close()


def test_a_window_a_scale_change_cuts_is_over_when_its_scale_is(tmp_path, capsys):
    """Pending while days on its scale are still to come; a verdict once the last one is over
    (no more answers will ever come on it), shown as "14 of 28 days" in the report, the web
    app's action page and `action list`."""
    db = store(tmp_path, 14)
    try:
        new_version(db, ACTION + timedelta(days=14))
        actions.add(db, "s1", "visit", ACTION.isoformat(), "Ny kassa")
        (early,) = actions.evaluated(db, today=ACTION + timedelta(days=10))
        assert (early["verdict"], early["days_observed"]) == ("pending", 10)
        (done,) = actions.evaluated(db, today=ACTION + timedelta(days=14))
        assert done["verdict"] == "no_detectable_effect" and done["days_observed"] == 14
        from server_sync.workflow.actions import is_complete
        assert is_complete(done, (ACTION + timedelta(days=14)).isoformat())
        assert not is_complete(done, (ACTION + timedelta(days=13)).isoformat())
        now = datetime.combine(ACTION + timedelta(days=20), datetime.min.time(), tzinfo=timezone.utc)
        report = chain_report.build(db, ReportFilter(date_from="2026-10-01", date_to="2026-10-20"), now=now)
        from server_sync.report.html import render
        for lang, words in (("en", "14 of 28 days: from 2026-10-15 the question is asked on another scale"),
                            ("sv", "14 av 28 dagar: från 2026-10-15 ställs frågan på en annan skala"),
                            ("nb", "14 av 28 dager: fra 2026-10-15 stilles spørsmålet på en annen skala")):
            section = render(report, lang).split('<section id="actions">')[1].split("</section>")[0]
            assert words in section, lang
        from server_sync.report.tabular import csv_rows
        assert any(r["metric"] == "scale_ended" and r["value"] == "2026-10-15" for r in csv_rows(report))
        from server_sync.web import render as web
        page = web.page("web/action.html", "sv", data={
            "suggestions": {"main_complaint": None, "suggestions": []}, "action": dict(
            done, site_name="Butik 1", owner=None, action_type=None, due_date=None, alert_id=None, verdict=None,
            complete=True, evaluation=done)})
        assert '<span id="scale-cut">14 av 28 dagar: från 2026-10-15 ställs frågan på en annan skala</span>' in page
        from server_sync.cli import main
        assert main(["--db", f"sqlite:///{tmp_path / 'central.db'}", "action", "list"]) == 0
        assert " no_detectable_effect 14/28 " in capsys.readouterr().out
    finally:
        db.close()


def test_the_version_in_force_is_the_centres_of_that_day():
    zone = ZoneInfo("Europe/Stockholm")
    v1 = {"version": 1, "scale": "smiley4", "audience": "customer", "first_seen": "2026-01-01 08:00:00",
          "defined": True}
    v2 = dict(v1, version=2, scale="nps11", first_seen="2026-11-22 23:30:00")      # 00:30 on the 23rd there
    stray = dict(v1, version=9, scale="smiley5", first_seen="2026-03-01 08:00:00", defined=False)
    assert kind_on([v1, v2, stray], date(2026, 11, 22), zone) == ("customer", "smiley4")
    assert kind_on([v1, v2, stray], date(2026, 11, 23), zone) == ("customer", "nps11")
    assert kind_on([v1, v2], date(2025, 6, 1), zone) == ("customer", "smiley4")    # older than every version
    assert kind_on([stray], date(2026, 4, 1), zone) == ("customer", "smiley5")     # only seen in answers
    assert kind_on([], date(2026, 4, 1), zone) is None


def test_action_list_names_the_series_and_judges_on_it(tmp_path, capsys):
    from server_sync.cli import main
    db = store(tmp_path, None)
    try:
        actions.add(db, "s1", "visit", ACTION.isoformat(), "Ny kassa")
        new_version(db, date(2026, 11, 23))
    finally:
        db.close()
    url = f"sqlite:///{tmp_path / 'central.db'}"
    assert main(["--db", url, "action", "list", "--json"]) == 0
    (a,) = json.loads(capsys.readouterr().out)
    assert (a["series_id"], a["scale"], a["previous"]["n"]) == ("visit@smiley4", "smiley4", 8 * 28)
    assert a["verdict"] != "too_little_data"
    assert main(["--db", url, "action", "list"]) == 0
    assert " visit@smiley4 " in capsys.readouterr().out


def test_a_version_only_defined_at_the_centre_ends_no_series(renamed):
    """`question define visit 2 --scale smiley5` by hand, with no kiosk asking it: every running
    action of `visit` was cut at the definition's day at every site (14 of 28 days, then closed for
    good by close-completed), and the day's new actions were judged on smiley5, which nobody
    answered (n 0). A version is in force at a site from the site's first answer on it."""
    actions.add(renamed, "s1", "visit", ACTION.isoformat(), "Ny kassa")
    actions.add(renamed, "s2", "visit", (ACTION + timedelta(days=14)).isoformat(), "Ny skylt")
    new_version(renamed, ACTION + timedelta(days=14), scale="smiley5")
    running, later = actions.evaluated(renamed, today=ACTION + timedelta(days=20))
    assert (running["scale"], running["scale_ended"], running["days_observed"]) == ("smiley4", None, 20)
    assert running["verdict"] == "pending"
    assert (later["scale"], later["scale_ended"]) == ("smiley4", None) and later["previous"]["n"] == 8 * 28
    done, _later = actions.evaluated(renamed, today=ACTION + timedelta(days=35))
    assert (done["days_observed"], done["verdict"]) == (28, "no_detectable_effect")


def test_a_site_that_began_on_the_new_version_is_judged_on_it_before_its_first_answer():
    """An action older than every answer of its site takes the scale the site's answers began on."""
    zone = ZoneInfo("Europe/Stockholm")
    v1 = {"version": 1, "scale": "smiley4", "audience": "customer", "first_seen": "2026-01-01 08:00:00",
          "defined": True}
    v2 = dict(v1, version=2, scale="nps11", first_seen="2026-06-01 08:00:00")
    began = {("customer", "nps11"): date(2026, 9, 1)}                 # a site opened on nps11
    assert kind_on([v1, v2], date(2026, 8, 20), zone, began) == ("customer", "nps11")
    assert kind_on([v1, v2], date(2026, 9, 20), zone, began) == ("customer", "nps11")
    assert kind_on([v1, v2], date(2026, 8, 20), zone, {}) == ("customer", "nps11")     # no answers: the register's


def test_a_version_defined_without_wording_keeps_the_questions_words(tmp_path, capsys):
    """`question define visit 2 …` stores no wording: the report's `questions[].text` became {} and
    the digest named the question by its id. The newest version with words names it."""
    from server_sync.analysis import queries
    from server_sync.cli import main
    db = store(tmp_path, None)
    try:
        assert main(["--db", f"sqlite:///{tmp_path / 'central.db'}", "question", "define", "visit", "2",
                     "--scale", "smiley4", "--audience", "customer"]) == 0
        named = queries.question(db, "visit")
        assert (named["version"], named["text"]) == (2, {"en": "How was it?"})
        assert queries.questions(db)["visit"]["text"] == {"en": "How was it?"}
    finally:
        db.close()

