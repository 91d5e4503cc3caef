"""The alert workflow and actions (issue 14): a dip raises an alert that is owned by the site's
store manager at once, with a due date and its notices queued (webhooks, a mail in the owner's
language); it is reassigned, commented, acknowledged and closed with an outcome, every step kept
with who and when; an action created from it closes with its verdict once its after-window is
complete; what worked at one site is suggested to another with the same main complaint. The
commands do all of it with JSON output and say `kiosk-central: error: …` for a mistake. On SQLite
and PostgreSQL."""

from __future__ import annotations

import html
import json
import random
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from server_sync.analysis import alerts as alert_store
from server_sync.analysis.stats import KEPT_DIGITS
from server_sync.central.db import connect
from server_sync.cli import main
from server_sync.exc import CentralConfigError, FieldError
from server_sync.notify import digest, queue
from server_sync.web.people import add_region, add_user, assign_region
from server_sync.workflow import actions, alerts
from server_sync.workflow.people import set_email
from tests.fixtures.cli import central, said_error
from tests.analysis.seeding import add_question, add_site, answer, commit

MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"


@pytest.fixture
def world(central_db, quick_password_hashes):
    return _populate(central_db)


def _populate(db):
    """Three sites (s1, s2 in region north), a question, people and an endpoint."""
    for s in ("s1", "s2", "s3"):
        add_site(db, s)
    add_question(db)
    add_region(db, "north", "Norr")
    assign_region(db, "north", ["s1", "s2"])
    add_user(db, "sara", "store-manager", sites=["s1"], language="sv", password=PASSWORD)
    add_user(db, "nils", "store-manager", sites=["s2"], language="nb", password=PASSWORD)
    add_user(db, "rolf", "regional-manager", regions=["north"], language="en", password=PASSWORD)
    add_user(db, "ana", "analyst", language="en", password=PASSWORD)
    for name in ("sara", "nils", "rolf"):
        set_email(db, name, f"{name}@example.se")
    queue.add_endpoint(db, "office", "http://127.0.0.1:9/hook", "slack", MONDAY_10)
    return db


def _dip(db, site: str = "s1", at: datetime = MONDAY_10) -> dict:
    """A dip alert raised at `at` through the store's raising path (what the dip rule calls when it
    fires: tests/analysis/test_alerts.py proves when it does); the workflow is what is tested here."""
    commit(db, [answer(site, at.replace(tzinfo=None), 1) for _ in range(4)])
    a = alert_store.raise_or_extend(db, {
        "site_id": site, "question_id": "visit", "kind": "realtime", "window_from": at - timedelta(hours=1),
        "window_to": at, "n": 24, "negative": 18, "value": 30.0, "baseline": 70.0, "p_value": 1e-6,
        "message": "'visit' Happy Index 30.0 over the day up to the alert, 40.0 points below the site's usual 70.0"},
        at, cooldown_min=0)
    assert a is not None
    return a


def test_a_raised_alert_is_owned_due_and_its_notices_queued(world):
    db = world
    a = alerts.require(db, _dip(db)["id"], MONDAY_10)
    assert a["owner"] == "sara" and a["state"] == "open" and a["due_date"] == "2026-11-26"
    assert [e["event"] for e in a["history"]] == ["raised", "assigned"]
    hooks = db.execute_sql("SELECT event, body FROM webhook_delivery").fetchall()
    assert len(hooks) == 1 and hooks[0][0] == "alert.raised" and "at S1" in json.loads(hooks[0][1])["text"]
    mails = db.execute_sql("SELECT to_addr, subject, text_body, html_body FROM mail_outbox").fetchall()
    assert len(mails) == 1 and mails[0][0] == "sara@example.se"
    assert mails[0][1].startswith("Kundpuls: larm") and "Ansvarig: sara" in mails[0][2] and "<table>" in mails[0][3]
    # The regional manager sees it (scope), the store manager of another site does not own it.
    assert alerts.list_alerts(db, sites=["s1", "s2"], now=MONDAY_10)[0]["id"] == a["id"]
    assert alerts.list_alerts(db, sites=["s2"], now=MONDAY_10) == []


def test_a_failing_workflow_never_loses_the_alert(world):
    # A real fault in the workflow's step: the notify queue's table is gone, so queuing the new
    # alert's notices fails in the database itself. The alert, stored by the real raising path in
    # the same transaction, must survive it.
    world.execute_sql("DROP TABLE webhook_delivery")
    a = _dip(world)
    assert alert_store.get(world, a["id"]) is not None
    assert world.execute_sql("SELECT COUNT(*) FROM alert_event").fetchone()[0] == 0     # rolled back alone


def test_assign_due_comment_ack_close_keep_history(world):
    db = world
    a = _dip(db)
    later = MONDAY_10 + timedelta(hours=1)
    alerts.assign(db, a["id"], "rolf", "sara", later)
    with pytest.raises(CentralConfigError, match="may not act on site s1"):
        alerts.assign(db, a["id"], "nils", "sara", later)         # another site's manager
    with pytest.raises(CentralConfigError, match="may not act"):
        alerts.assign(db, a["id"], "ana", "sara", later)          # analysts read
    mail = db.execute_sql("SELECT to_addr, subject FROM mail_outbox ORDER BY id DESC").fetchone()
    assert mail == ("rolf@example.se", f"Kundpuls: alert {a['id']} at S1 is now yours")
    # The team's channel sees the handover too (the refused reassignments above queued nothing).
    hooks = db.execute_sql("SELECT event, body FROM webhook_delivery ORDER BY id").fetchall()
    assert [h[0] for h in hooks] == ["alert.raised", "alert.assigned"]
    assert f"alert {a['id']} at S1 assigned to rolf by sara" in json.loads(hooks[1][1])["text"]
    # Given again to its owner: no news (it wrote a history row and told rolf "now yours" again).
    history = alerts.require(db, a["id"], later)["history"]
    assert alerts.assign(db, a["id"], "rolf", "sara", later)["history"] == history
    assert db.execute_sql("SELECT COUNT(*) FROM webhook_delivery").fetchone()[0] == 2
    alerts.set_due(db, a["id"], "2026-11-24", "rolf", later)
    with pytest.raises(CentralConfigError, match="not a date"):
        alerts.set_due(db, a["id"], "tomorrow", "rolf", later)
    alerts.comment(db, a["id"], "Two cashiers off sick", "rolf", later)
    with pytest.raises(CentralConfigError):
        alerts.comment(db, a["id"], "  ", "rolf", later)
    acked = alerts.acknowledge(db, a["id"], "rolf", later)
    assert acked["state"] == "acknowledged" and acked["acked_at"]
    # Acknowledged again (a double click, a second person): the history says once who saw it first.
    assert alerts.acknowledge(db, a["id"], "sara", later)["history"] == acked["history"]
    assert alerts.list_alerts(db, overdue=True, now=MONDAY_10 + timedelta(days=2))[0]["id"] == a["id"]
    with pytest.raises(CentralConfigError, match="--reason"):
        alerts.close(db, a["id"], "none", "rolf", later)
    with pytest.raises(CentralConfigError, match="needs the action"):
        alerts.close(db, a["id"], "action", "rolf", later)
    with pytest.raises(CentralConfigError, match="contradict: give one"):      # both given: not "needs"
        alerts.close(db, a["id"], "action", "rolf", later, action_id=1, new_action={"note": "x"})
    # A first day far before the alert (2016 typed for 2026) compared nothing and closed at once
    # with "no detectable effect": refused, the alert still open.
    with pytest.raises(FieldError, match="more than 28 days before the alert was raised") as said:
        alerts.close(db, a["id"], "action", "rolf", later, new_action={"note": "Extra cashier", "date": "2016-11-23"})
    assert (said.value.field, said.value.problem, said.value.values["first"]) == ("date", "before", "2026-10-26")
    assert alerts.require(db, a["id"], later)["state"] == "acknowledged"
    closed = alerts.close(db, a["id"], "action", "rolf", later,
                          new_action={"note": "Extra cashier at lunch", "action_type": "staffing"})
    assert closed["state"] == "closed" and closed["outcome"] == "action" and not closed["overdue"]
    act = actions.get(db, closed["action_id"], later, evaluate=False)
    assert act["alert_id"] == a["id"] and act["owner"] == "rolf" and act["action_type"] == "staffing"
    assert [(e["event"], e["user"]) for e in closed["history"]] == [
        ("raised", None), ("assigned", None), ("assigned", "sara"), ("due", "rolf"), ("comment", "rolf"),
        ("acknowledged", "rolf"), ("closed", "rolf")]
    assert [e["detail"] for e in closed["history"]][1:3] == ["sara", "rolf"]
    with pytest.raises(CentralConfigError, match="closed already"):
        alerts.acknowledge(db, a["id"], "rolf", later)


def test_an_action_logged_without_a_day_starts_on_the_stores_day_not_utcs(world, central_url, monkeypatch, capsys):
    """An action's first day is one of the store's days (its answers are counted in the site's
    zone). Closed with "action taken" at 00:30 in Stockholm (23:30 UTC the evening before), the new
    action started on UTC's date, the day before it was taken; in New York at 21:00 it was a day
    ahead. The clock is pinned: these hours are exactly when the default day was wrong."""
    db = world
    add_site(db, "ny", tz="America/New_York")
    after_midnight_in_stockholm = datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc)
    a = _dip(db)
    closed = alerts.close(db, a["id"], "action", "sara", after_midnight_in_stockholm,
                          new_action={"note": "Extra cashier at lunch"})
    assert actions.get(db, closed["action_id"], after_midnight_in_stockholm, evaluate=False)["date"] == "2026-11-24"
    # `action add` without --date: the same rule, by the site's zone.
    import server_sync.commands.action as action_command
    for site, at, day in (("s1", after_midnight_in_stockholm, "2026-11-24"),
                          ("ny", datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc), "2026-11-23")):
        monkeypatch.setattr(action_command, "_now", lambda at=at: at)
        capsys.readouterr()
        assert central("--db", central_url, "action", "add", "--site", site, "--question", "visit",
                       "--note", "Queue barrier", "--json") == 0
        assert json.loads(capsys.readouterr().out)["date"] == day, site


def test_due_dates_and_overdue_are_the_stores_days_not_utcs(world):
    """An alert raised at 00:30 in Stockholm (23:30 UTC) is due three of the store's days later,
    not three of UTC's; at that hour an alert due "yesterday" by the store's calendar is overdue
    in Stockholm and not yet in New York (18:30 there), and the overdue list says so. Actions
    likewise. The clock is pinned at the hour UTC's date was wrong."""
    db = world
    add_site(db, "ny", tz="America/New_York")
    late = datetime(2026, 12, 3, 23, 30, tzinfo=timezone.utc)            # 00:30 on the 4th in Stockholm
    a = alerts.require(db, _dip(db, "s1", late)["id"], late)
    assert a["due_date"] == "2026-12-07"                                # the 4th + 3
    b = alerts.require(db, _dip(db, "ny", late)["id"], late)
    assert b["due_date"] == "2026-12-06"                                # the 3rd + 3 in New York
    # The earliest due day is the day it was raised at its site: the 4th in Stockholm (it was the
    # 3rd by UTC, and a due day the store had never seen was taken), the 3rd in New York.
    with pytest.raises(FieldError, match=r"before the alert was raised \(2026-12-04\)"):
        alerts.set_due(db, a["id"], "2026-12-03", "rolf", late)
    alerts.set_due(db, b["id"], "2026-12-03", "rolf", late)
    p = db.param
    db.execute_sql(f"UPDATE alert SET due_date = {p} WHERE id = {p}", ("2026-12-03", a["id"]))   # as if set earlier
    assert alerts.require(db, a["id"], late)["overdue"] and not alerts.require(db, b["id"], late)["overdue"]
    assert [x["id"] for x in alerts.list_alerts(db, overdue=True, now=late)] == [a["id"]]
    assert {x["id"]: x["overdue"] for x in alerts.list_alerts(db, now=late)} == {a["id"]: True, b["id"]: False}
    for site, overdue in (("s1", True), ("ny", False)):
        act = actions.create(db, site, "visit", "2026-11-20", "Queue barrier", late - timedelta(days=3),
                             due_date="2026-12-03")
        assert actions.get(db, act["id"], late, evaluate=False)["overdue"] is overdue, site
    assert {x["site_id"] for x in actions.list_actions(db, overdue=True, now=late)} == {"s1"}


def test_duplicate_and_no_action_outcomes(world):
    db = world
    first = _dip(db)
    second = _dip(db, at=MONDAY_10 + timedelta(hours=3))
    other_site = _dip(db, "s2")
    with pytest.raises(CentralConfigError, match="no other alert"):
        alerts.close(db, second["id"], "duplicate", "sara", MONDAY_10, duplicate_of=other_site["id"])
    d = alerts.close(db, second["id"], "duplicate", "sara", MONDAY_10, duplicate_of=first["id"])
    assert d["duplicate_of"] == first["id"]
    n = alerts.close(db, first["id"], "none", "sara", MONDAY_10, reason="A school class came in at once")
    assert n["outcome"] == "none" and n["outcome_reason"].startswith("A school class")
    assert {a["id"] for a in alerts.list_alerts(db, state="closed")} == {first["id"], second["id"]}


def _days(db, site: str, first: date, days: int, negative_share: float, rng: random.Random,
          reason: str | None = None, per_day: int = 12) -> None:
    rows, reasons = [], {}
    for d in range(days):
        day = first + timedelta(days=d)
        for i in range(per_day):
            neg = rng.random() < negative_share
            r = answer(site, datetime(day.year, day.month, day.day, 10 + i % 8, i), rng.choice((1, 2)) if neg
                       else rng.choice((3, 4)))
            rows.append(r)
            if neg and reason:
                reasons[r["id"]] = [reason]
    commit(db, rows, reasons)


def test_actions_close_with_their_verdict_and_what_worked_is_suggested(world):
    db = world
    rng = random.Random(7)
    day = date(2026, 9, 1)
    # s1 fought its queues and got better; s2 tried the same and got worse; s3 has the same
    # main complaint (queues) and tried nothing yet.
    for site, before, after in (("s1", 0.6, 0.1), ("s2", 0.2, 0.7), ("s3", 0.5, 0.5)):
        _days(db, site, day - timedelta(days=28), 28, before, rng, "queue")
        _days(db, site, day, 28, after, rng, "queue")
    a1 = actions.create(db, "s1", "visit", day.isoformat(), "Second checkout at lunch", MONDAY_10,
                        action_type="queue", due_date="2026-09-05")
    a2 = actions.create(db, "s2", "visit", day.isoformat(), "Self-checkout moved", MONDAY_10, action_type="layout")
    assert a1["owner"] == "sara" and a2["owner"] == "nils"
    during = datetime(2026, 9, 20, 12, tzinfo=timezone.utc)
    assert actions.close_completed(db, during) == []                    # after-window not complete
    assert actions.get(db, a1["id"], during)["complete"] is False
    assert [a["id"] for a in actions.list_actions(db, overdue=True, now=during)] == [a1["id"]]
    done = datetime(2026, 9, 29, 12, tzinfo=timezone.utc)
    closed = {a["id"]: a for a in actions.close_completed(db, done)}
    assert closed[a1["id"]]["verdict"] == "effect_shown" and closed[a2["id"]]["verdict"] == "worse"
    assert closed[a1["id"]]["verdict_detail"]["diff"] > 10
    assert actions.close_completed(db, done) == []                      # once
    notices = db.execute_sql("SELECT event FROM webhook_delivery WHERE event = 'action.closed'").fetchall()
    mails = db.execute_sql("SELECT to_addr, subject FROM mail_outbox ORDER BY id").fetchall()
    assert len(notices) == 2 and ("nils@example.se", f"Kundpuls: tiltak {a2['id']} i S2: dårligere") in mails
    # The question by its words, as an alert's mail names it (it was "Spørsmål: visit"; a review).
    body = db.execute_sql("SELECT text_body FROM mail_outbox WHERE to_addr = 'nils@example.se' ORDER BY id DESC"
                          ).fetchone()[0]
    assert "How was it?" in body and ": visit\n" not in body
    s3 = actions.suggestions(db, "s3", done)
    assert s3["main_complaint"] == "queue"
    assert [(s["type"], s["sites"]) for s in s3["suggestions"]] == [("queue", ["s1"])]
    assert s3["suggestions"][0]["mean_effect"] > 10
    # The effect as stored, kept to KEPT_DIGITS (rounded to one decimal it was rounded twice).
    assert s3["suggestions"][0]["effects"] == [round(closed[a1["id"]]["verdict_detail"]["diff"], KEPT_DIGITS)]
    hidden = actions.suggestions(db, "s3", done, visible={"s3"})["suggestions"][0]
    assert hidden["sites"] == [] and hidden["other_sites"] == 1        # counted, not named
    assert actions.suggestions(db, "s1", done)["suggestions"] == []    # s1 tried it itself


def test_an_action_another_run_closed_meanwhile_sends_no_second_notice(world):
    """The digest, the worker's hourly round and `action close-completed` may close completed
    actions at the same time: both read it open and evaluated, and the run whose update finds the
    action closed already queues no notice (a review: two processes each sent "action closed" by
    mail and webhook)."""
    from server_sync.analysis import actions as action_store
    db = world
    rng = random.Random(7)
    day = date(2026, 9, 1)
    _days(db, "s1", day - timedelta(days=28), 28, 0.6, rng, "queue")
    _days(db, "s1", day, 28, 0.1, rng, "queue")
    a = actions.create(db, "s1", "visit", day.isoformat(), "Second checkout at lunch", MONDAY_10)
    done = datetime(2026, 9, 29, 12, tzinfo=timezone.utc)
    [ev] = action_store.evaluated(db, ("s1",), today=date(2026, 9, 29))
    seen_by_both = actions.get(db, a["id"], done)                  # each run read it open
    assert actions.close_one(db, seen_by_both, ev, done)["verdict"] == "effect_shown"
    assert actions.close_one(db, seen_by_both, ev, done) is None
    assert db.execute_sql("SELECT COUNT(*) FROM webhook_delivery WHERE event = 'action.closed'").fetchone()[0] == 1
    assert db.execute_sql("SELECT COUNT(*) FROM mail_outbox").fetchone()[0] == 1


def test_the_commands_with_json_and_errors(world, central_url, capsys):
    db = world
    a = _dip(db)
    run = lambda *args: central("--db", central_url, *args)      # noqa: E731
    assert run("alerts", "list", "--state", "open", "--site", "s1", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [x["id"] for x in listed] == [a["id"]] and listed[0]["owner"] == "sara"
    assert run("alerts", "assign", str(a["id"]), "rolf", "--by", "rolf", "--json") == 0
    assert json.loads(capsys.readouterr().out)["owner"] == "rolf"
    assert run("alerts", "comment", str(a["id"]), "Looking at the rota") == 0
    assert run("alerts", "ack", str(a["id"])) == 0
    assert run("alerts", "due", str(a["id"]), "2026-12-01") == 0
    capsys.readouterr()
    assert run("alerts", "close", str(a["id"]), "--outcome", "action", "--note", "Rota changed", "--type",
               "staffing", "--json") == 0
    closed = json.loads(capsys.readouterr().out)
    assert closed["state"] == "closed" and closed["action_id"]
    assert run("alerts", "show", str(a["id"]), "--json") == 0
    hist = json.loads(capsys.readouterr().out)["history"]
    assert [e["event"] for e in hist][-4:] == ["comment", "acknowledged", "due", "closed"]
    assert hist[2]["user"] == "rolf" and hist[3]["user"].startswith("cli")
    # In words, every time is on the site's clock and says its zone (UTC read as the store's
    # clock, hours off in Kolkata), as the web app and the mails give it.
    assert run("alerts", "show", str(a["id"])) == 0
    said = capsys.readouterr().out
    # The CLI's steps ran at the real now: their times read CET or CEST (only CET failed the test
    # from March to October: a review).
    zone = ZoneInfo("Europe/Stockholm")
    stamps = [datetime.fromisoformat(e["at"]).replace(tzinfo=timezone.utc).astimezone(zone)
              .strftime("%Y-%m-%d %H:%M %Z") for e in hist]
    assert " 2026-11-23 10:00 CET " in said and all(f" {s} " in said for s in stamps)
    assert said.count(" CET ") + said.count(" CEST ") == 1 + len(hist)
    db.execute_sql(f"UPDATE site SET timezone = {db.param} WHERE id = 's1'", ("Asia/Kolkata",))
    assert run("alerts", "show", str(a["id"])) == 0
    said = capsys.readouterr().out
    assert " 2026-11-23 14:30 IST " in said and said.count(" IST ") == 1 + len(hist) and " UTC " not in said
    assert run("alerts", "list", "--site", "s1") == 0
    assert capsys.readouterr().out.startswith(f"{a['id']:>5} {'2026-11-23 14:30 IST':<22} s1 ")   # columns line up
    assert run("action", "list", "--site", "s1", "--json") == 0
    [act] = json.loads(capsys.readouterr().out)
    assert act["alert_id"] == a["id"] and act["action_type"] == "staffing" and "previous" in act
    b = _dip(db, at=MONDAY_10 + timedelta(hours=2))
    assert run("action", "add", "--from-alert", str(b["id"]), "--note", "Music lower", "--owner", "sara",
               "--type", "other", "--json") == 0
    added = json.loads(capsys.readouterr().out)
    assert added["site_id"] == "s1" and added["alert_id"] == b["id"] and added["owner"] == "sara"
    assert run("action", "show", str(added["id"]), "--json") == 0
    assert "evaluation" in json.loads(capsys.readouterr().out)
    assert run("action", "close-completed", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []
    for args, message in (
            (("alerts", "close", str(b["id"]), "--outcome", "none"), "--reason must not be empty"),
            (("alerts", "close", "9999", "--outcome", "none", "--reason", "x"), "no alert with id 9999"),
            (("alerts", "assign", str(b["id"]), "nobody"), "no user 'nobody'"),
            (("alerts", "due", str(b["id"]), "soon"), "is not a date"),
            (("action", "add", "--note", "x"), "name the --site and --question"),
            (("action", "add", "--site", "s1", "--question", "visit", "--note", "x", "--type", "magic"),
             "--type must be one of"),
            (("action", "show", "9999"), "no action with id 9999"),
            # Accepted before and stored: a made-up actor in the history, a due date before the
            # alert, a closed alert reassigned, options the command ignored.
            (("alerts", "ack", str(b["id"]), "--by", "nobody"), "no user 'nobody'"),
            # As in the web app: an analyst reads only, another store's manager may not act here.
            (("alerts", "ack", str(b["id"]), "--by", "ana"), "--by: ana may not act on site s1"),
            (("alerts", "comment", str(b["id"]), "x", "--by", "nils"), "--by: nils may not act on site s1"),
            (("alerts", "due", str(b["id"]), "2020-01-01"), "due date 2020-01-01 is before the alert was raised (2026-11-23)"),
            (("alerts", "assign", str(a["id"]), "sara"), f"alert {a['id']} is closed already"),
            (("alerts", "due", str(a["id"]), "2026-12-24"), f"alert {a['id']} is closed already"),
            (("alerts", "list", "--state", "closed", "--open"), "--open and --state closed contradict each other"),
            (("alerts", "close", str(b["id"]), "--outcome", "none", "--reason", "x", "--note", "y"),
             "--note does not go with --outcome none"),
            (("alerts", "close", str(b["id"]), "--outcome", "action", "--duplicate-of", str(a["id"])),
             "--duplicate-of does not go with --outcome action"),
            (("alerts", "check", "--no-publish", "--webhook", "notaurl"), "--webhook must be an http(s) address"),
            (("action", "add", "--site", "s1", "--question", "visit", "--note", "x", "--date", "2026-11-20", "--due",
              "2026-11-01"), "--due 2026-11-01 is before the action's first day 2026-11-20"),
            (("action", "add", "--site", "s1", "--question", "visit", "--note", "x", "--date", "2099-12-31"),
             "--date 2099-12-31 is more than 366 days ahead")):
        assert run(*args) != 0, args
        err = capsys.readouterr().err
        assert said_error(err, message), err


def test_the_weekly_digest_per_person_scope_and_language_through_real_smtp(world, central_url, capsys):
    from server_sync.notify import sender, smtp
    from tests.fixtures.mail import LocalSmtp
    db = world
    rng = random.Random(11)
    now = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)                 # a Monday morning
    for site, share, reason in (("s1", 0.5, "queue"), ("s2", 0.2, "staff"), ("s3", 0.3, "clean")):
        _days(db, site, date(2026, 11, 9), 14, share, rng, reason)
    a1 = _dip(db, "s1", now - timedelta(days=5))
    alerts.set_due(db, a1["id"], "2026-11-20", "sara", now)                 # overdue
    _dip(db, "s3", now - timedelta(days=2))
    act = actions.create(db, "s2", "visit", "2026-10-10", "Fresh bread at seven", now - timedelta(days=50))
    _days(db, "s2", date(2026, 9, 12), 28, 0.6, rng, "staff")
    _days(db, "s2", date(2026, 10, 10), 28, 0.1, rng, "staff")
    assert main(["--db", central_url, "digest", "send", "--dry-run", "--json"]) == 0
    dry = {d["user"]: d for d in json.loads(capsys.readouterr().out)}
    assert set(dry) == {"sara", "nils", "rolf"}                              # the analyst has no address
    assert db.execute_sql("SELECT COUNT(*) FROM digest_sent").fetchone()[0] == 0
    assert not [r for r in db.execute_sql("SELECT subject FROM mail_outbox") if "-W" in r[0]]     # nothing queued

    with LocalSmtp() as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
        assert len(digest.send(db, now)) == 3
        assert digest.send(db, now) == []                                   # the timer fired twice: once
        sender.deliver_mail(db, now)
    mails = {m["To"]: m for m in server.messages if "W47" in m["Subject"]}
    assert set(mails) == {"sara@example.se", "nils@example.se", "rolf@example.se"}
    parts = {to: (m.get_body(("plain",)).get_content(), m.get_body(("html",)).get_content()) for to, m in mails.items()}
    sara_text, sara_html = parts["sara@example.se"]
    assert mails["sara@example.se"]["Subject"].startswith("Kundpuls veckobrev")
    assert "Vanligaste klagomålen" in sara_text and "Försenade larm" in sara_text and f"#{a1['id']} S1" in sara_text
    assert "S2" not in sara_text and "S3" not in sara_text and "S3" not in sara_html
    assert "<h2" in sara_html and "Nöjdindex" in sara_html and "Nöjdindex" in sara_text
    rolf_text, rolf_html = parts["rolf@example.se"]
    assert "Top complaints" in rolf_text and "Actions completed" in rolf_text
    # A question by its wording in the reader's language (this one has only English), not its id.
    assert "\n- How was it?: Happy Index " in rolf_text and ">How was it?</th>" in rolf_html
    # The change with what its test says (not a bare "-24.6" on a handful of answers).
    [score] = [line for line in rolf_text.splitlines() if line.startswith("- How was it?: ")]
    assert re.search(r", change [^ ]+ \((better|worse|no significant change|too little data)\)$", score), score
    assert "- visit:" not in rolf_text and ">visit</th>" not in rolf_html
    assert f"#{act['id']} S2: Fresh bread at seven – effect shown" in rolf_text and "effect shown" in rolf_html
    assert "S3" not in rolf_text                                             # north only
    nils_text, _ = parts["nils@example.se"]
    assert "Kundpuls ukebrev" in mails["nils@example.se"]["Subject"] and "effekt påvist" in nils_text
    assert "S1" not in nils_text


def test_a_long_list_in_the_digest_shows_twenty_and_counts_the_rest(world):
    """A chain-wide reader with 25 open alerts: a mail listing them all is read by nobody (the
    lists stopped at 500 without saying so: a review); 20, and the rest counted."""
    from server_sync.web.people import user_by_name
    db = world
    for i in range(25):
        add_site(db, f"x{i:02d}")
        _dip(db, f"x{i:02d}", MONDAY_10)
    d = digest.compose(db, user_by_name(db, "ana"), "ana@example.se", MONDAY_10 + timedelta(hours=2))
    assert d.text.count("\n- #") == 20 and "\n- … and 5 more: the web app lists them all\n" in d.text
    assert d.html.count("<li>#") == 20 and "… and 5 more: the web app lists them all" in d.html


FACTS = {"v": 1, "rule": "dip", "question": "visit", "metric": "happy_index", "days": 1, "questions": 1,
         "value": 30.0, "baseline": 70.0, "drop": 40.0, "n": 24, "p_value": 1e-6,
         "complaint": {"reason": "queue", "count": 9, "mentions": 11, "usual_share": 0.25}}


def test_mails_and_the_digest_say_the_alert_in_the_readers_language(world, central_url, capsys):
    """The owner's mail and the weekly digest's open alerts are in the reader's language, made from
    the alert's stored facts; the webhook keeps the English message; an alert raised before the
    facts were kept shows its stored message. Their figures are written as the reader's language
    writes them (a decimal comma in Swedish); the webhook's stay English."""
    db = world
    # Wednesday midday of the digest's own week (the last ISO week complete at the sites): "a day
    # ago" was tomorrow in Stockholm from 23:00 UTC, and the last week complete by UTC's date was
    # the week before the digest's from Sunday 23:00 UTC to midnight; both weeks had no scores.
    _, monday, _ = digest.week_of(db, ["s1", "s2", "s3"], datetime.now(timezone.utc))
    at = datetime.combine(date.fromisoformat(monday) + timedelta(days=2), time(12), timezone.utc)
    commit(db, [answer("s1", at.replace(tzinfo=None), 1) for _ in range(4)])
    a = alert_store.raise_or_extend(db, {
        "site_id": "s1", "question_id": "visit", "kind": "realtime", "window_from": at - timedelta(hours=1),
        "window_to": at, "n": 24, "negative": 18, "value": 30.0, "baseline": 70.0, "p_value": 1e-6,
        "message": "'visit' Happy Index 30.0 over the day up to the alert, 40.0 points below the site's usual 70.0",
        "detail": FACTS}, at, cooldown_min=0)
    old = _dip(db, "s2", at)                                              # nils (nb); no facts
    swedish = "Nöjdindex 30,0 under dagen fram till larmet, 40,0 poäng under butikens vanliga 70,0"
    complaint = "”Kö och väntetid” angavs i 9 av 11 skäl vid uppföljning (vanligen 25\u00a0%)"  # a no-break space before "%" (figures.percent)
    text_body, html_body = db.execute_sql("SELECT text_body, html_body FROM mail_outbox WHERE to_addr ="
                                          " 'sara@example.se'").fetchone()
    assert swedish in text_body and complaint in text_body and "below the site" not in text_body
    assert "Typ: nedgång" in text_body and "realtime" not in text_body           # the kind in words
    assert "Nöjdindex 30,0 under dagen fram till larmet" in html_body and "below the site" not in html_body
    hook = json.loads(db.execute_sql("SELECT body FROM webhook_delivery ORDER BY id").fetchone()[0])
    assert "40.0 points below the site's usual 70.0" in json.dumps(hook)                # channels: English
    assert old["message"] in db.execute_sql("SELECT text_body FROM mail_outbox WHERE to_addr ="
                                            " 'nils@example.se'").fetchone()[0]
    capsys.readouterr()
    assert main(["--db", central_url, "digest", "send", "--dry-run", "--json"]) == 0
    dry = {d["user"]: d for d in json.loads(capsys.readouterr().out)}
    sara = dry["sara"]["text"]
    # Open, or overdue by now (its due date is its site's days after it was raised): listed once,
    # with when it was raised on the site's clock and zone, in the reader's language.
    alerts_part = sara[sara.index("Öppna larm"):sara.index("Försenade åtgärder")]
    raised = at.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%d %H:%M %Z")
    assert alerts_part.count(f"#{a['id']} S1 {raised}: ") == 1
    assert swedish in alerts_part and complaint in alerts_part
    assert "below the site" not in sara and swedish in html.unescape(dry["sara"]["html"])
    assert old["message"] in dry["nils"]["text"] and "poeng under" not in dry["nils"]["text"]
    rolf = dry["rolf"]["text"]                                              # en
    assert "Happy Index 30.0 over the day up to the alert, 40.0 points below the site's usual 70.0" in rolf
    # The week's scores: "- visit: Nöjdindex 76,5 (70,1–82,3) n=120, förändring +1,2" (sv), points in English.
    score = r"^- .+?: .* (-?\d+[.,]\d) \((-?\d+[.,]\d) ?– ?(-?\d+[.,]\d)\) n=\d+"
    for text, mark in ((sara, ","), (rolf, ".")):
        lines = re.findall(score, text, re.M)
        assert lines and all(mark in f for line in lines for f in line), (mark, text)


def test_the_notify_worker_closes_completed_actions_and_user_email(world, central_url, capsys):
    db = world
    rng = random.Random(3)
    start = datetime.now(timezone.utc).date() - timedelta(days=40)
    _days(db, "s1", start - timedelta(days=28), 28, 0.6, rng, "queue")
    _days(db, "s1", start, 28, 0.1, rng, "queue")
    act = actions.create(db, "s1", "visit", start.isoformat(), "Queue lane", MONDAY_10, action_type="queue")
    assert main(["--db", central_url, "notify", "run", "--once"]) == 0          # nobody listens: fine
    assert actions.get(db, act["id"], evaluate=False)["verdict"] == "effect_shown"
    assert main(["--db", central_url, "user", "email", "ana", "ana@example.se"]) == 0
    assert db.execute_sql("SELECT email FROM web_user WHERE name = 'ana'").fetchone()[0] == "ana@example.se"
    assert main(["--db", central_url, "user", "email", "ana", "--clear"]) == 0
    assert db.execute_sql("SELECT email FROM web_user WHERE name = 'ana'").fetchone()[0] is None
    capsys.readouterr()
    for args, message in ((("user", "email", "ana", "not-an-address"), "not an e-mail address"),
                          (("user", "email", "ana"), "give the ADDRESS")):
        assert main(["--db", central_url, *args]) != 0
        assert message in capsys.readouterr().err


def test_an_owner_address_that_is_no_address_stops_only_that_mail(world, caplog):
    # An address stored before addresses were checked (set_email refuses it today): the alert is
    # owned, its webhook queued, and every other owner's action still closes with its mail.
    db = world
    db.execute_sql(f"UPDATE web_user SET email = {db.param} WHERE name = 'sara'", ("sara at example.se",))
    rng = random.Random(3)
    day = date(2026, 9, 1)
    for site in ("s1", "s2"):
        _days(db, site, day - timedelta(days=28), 56, 0.4, rng, "queue")
    a1 = actions.create(db, "s1", "visit", day.isoformat(), "Second checkout", MONDAY_10)
    a2 = actions.create(db, "s2", "visit", day.isoformat(), "New signs", MONDAY_10)
    with caplog.at_level("WARNING"):
        a = alerts.require(db, _dip(db)["id"], MONDAY_10)
        closed = {c["id"] for c in actions.close_completed(db, datetime(2026, 9, 29, 12, tzinfo=timezone.utc))}
    assert a["owner"] == "sara" and closed == {a1["id"], a2["id"]}
    events = [r[0] for r in db.execute_sql("SELECT event FROM webhook_delivery ORDER BY id")]
    assert events == ["alert.raised", "action.closed", "action.closed"]
    assert [r[0] for r in db.execute_sql("SELECT to_addr FROM mail_outbox")] == ["nils@example.se"]
    assert "no mail to sara" in caplog.text


def test_closing_an_ownerless_alert_with_a_new_action_says_to_assign_it(world, central_url, capsys):
    """s3 has no store manager: its alert has no owner, and the new action's owner fell back to
    the default --by, cli:<login>, which is nobody ('no user cli:root' said nothing useful)."""
    a = _dip(world, "s3")
    assert alerts.get(world, a["id"], MONDAY_10)["owner"] is None
    run = lambda *args: central("--db", central_url, "alerts", "close", str(a["id"]), "--outcome", "action",  # noqa: E731
                                "--note", "Rota changed", *args)
    assert run() == 2
    assert said_error(capsys.readouterr().err, f"alert {a['id']} has no owner to see the new action through: "
                                               f"assign it first (kiosk-central alerts assign {a['id']} USER)")
    add_user(world, "ada", "admin", language="en", password=PASSWORD)
    assert run("--owner", "ada", "--json") == 0
    closed = json.loads(capsys.readouterr().out)
    assert actions.get(world, closed["action_id"], MONDAY_10)["owner"] == "ada"


def test_an_action_day_is_checked_where_it_is_stored_not_only_on_the_command_line(world):
    """The web app's form and the library take the same rule as the command line: year 1 made
    every later list of actions overflow `date`; 20261201 was stored as typed. (One store for
    every case: nothing is stored by any.)"""
    for field in ("date", "due"):
        for bad in ("0001-01-01", "9999-12-31", "20261201", "2026-W01-1"):
            kwargs = {"due_date": bad} if field == "due" else {}
            with pytest.raises(CentralConfigError, match="is not a date|is outside 2000-01-01"):
                actions.create(world, "s1", "visit", bad if field == "date" else "2026-11-25", "x", MONDAY_10,
                               **kwargs)
            assert actions.list_actions(world, now=MONDAY_10) == [], (field, bad)


def test_an_empty_listing_says_so(world, central_url, capsys):
    run = lambda *args: central("--db", central_url, *args)      # noqa: E731
    for argv, said in ((("alerts", "list"), "no alerts raised yet"),
                       (("alerts", "list", "--open", "--site", "s2"), "no alerts matching these filters"),
                       (("action", "list"), "no actions logged yet (kiosk-central action add, or close an alert "
                                            "with --outcome action)"),
                       (("action", "list", "--site", "s1"), "no actions matching these filters")):
        assert run(*argv) == 0
        assert capsys.readouterr().out == said + "\n"
        assert run(*argv, "--json") == 0 and json.loads(capsys.readouterr().out) == []


def test_a_comment_that_holds_terminal_escapes_is_shown_escaped(world, central_url, capsys):
    """Comments are typed by people (the web app too): one holding an escape sequence was printed
    raw by `alerts show` and acted on the terminal (a title, a cleared screen). The command line
    refuses such a comment now (commands._argtypes.free_text); one stored before, or by another
    way in, is shown escaped."""
    a = _dip(world)
    hostile = "\x1b]0;pwned\x07\x1b[2J\x1b[31mRED"
    assert central("--db", central_url, "alerts", "comment", str(a["id"]), hostile, "--by", "sara") == 2
    assert said_error(capsys.readouterr().err, "argument TEXT: contains a control or formatting character (U+001B)")
    alerts.comment(world, a["id"], hostile, "sara", MONDAY_10)
    assert central("--db", central_url, "alerts", "show", str(a["id"])) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b]0;pwned\\x07" in out


def _comments(db, alert_id: int) -> list[tuple[str, str, str]]:
    """The alert's history rows that hold a text someone wrote: event, who, the text."""
    return [(e["event"], e["user"], e["detail"]) for e in alerts.require(db, alert_id)["history"]
            if e["event"] in ("comment", "acknowledged")]


def test_the_same_comment_sent_again_is_kept_once_and_the_command_says_so(world, central_url, capsys):
    """`alerts comment 1 "X" --by sara` twice within RESENT_WITHIN said "comment added to alert 1"
    both times, where the second was not kept: now it says so (exit 0). Another person's same
    words, or the same person's other words, are comments of their own."""
    a = _dip(world)
    run = lambda *argv: central("--db", central_url, "alerts", "comment", str(a["id"]), *argv)     # noqa: E731
    assert run("Called the store", "--by", "sara") == 0
    assert capsys.readouterr().out == f"comment added to alert {a['id']}\n"
    assert run("Called the store", "--by", "sara") == 0
    assert capsys.readouterr().out == (f"the same comment by sara was kept on alert {a['id']} less than a minute "
                                       "ago: not added again\n")
    assert run("Called the store", "--by", "rolf") == 0
    assert capsys.readouterr().out == f"comment added to alert {a['id']}\n"
    alerts.comment(world, a["id"], "Two off sick", "sara", datetime.now(timezone.utc) - timedelta(minutes=3, seconds=5))
    assert run("Two off sick", "--by", "sara") == 0
    assert capsys.readouterr().out == f"the same comment by sara was kept on alert {a['id']} 3 min ago: not added again\n"
    assert _comments(world, a["id"]) == [("comment", "sara", "Called the store"), ("comment", "rolf", "Called the store"),
                                         ("comment", "sara", "Two off sick")]
    # What the function says: the alert, and when the same comment was kept (None: stored now).
    kept, at = alerts.comment(world, a["id"], "Checked the rota", "sara", MONDAY_10)
    assert at is None and kept["history"][-1]["detail"] == "Checked the rota"
    assert alerts.comment(world, a["id"], "Checked the rota", "sara", MONDAY_10 + timedelta(minutes=2))[1] == MONDAY_10


def test_an_acknowledgement_with_a_comment_sent_twice_keeps_the_comment_once(world, central_url):
    """A double click on acknowledge with a comment kept its text twice, ('acknowledged', 'Looking
    into it') and ('comment', 'Looking into it'): the second found the alert acknowledged and went
    on as a comment, which looked for a comment before it only; sent at once, the second wrote its
    comment unchecked. The acknowledgement's text is that comment now."""
    a = _dip(world)
    for seconds in (0, 1):
        alerts.acknowledge(world, a["id"], "sara", MONDAY_10 + timedelta(seconds=seconds), "Looking into it")
    assert _comments(world, a["id"]) == [("acknowledged", "sara", "Looking into it")]
    assert alerts.comment(world, a["id"], "Looking into it", "sara", MONDAY_10 + timedelta(seconds=2))[1] == MONDAY_10
    alerts.acknowledge(world, a["id"], "rolf", MONDAY_10 + timedelta(seconds=3), "Looking into it")    # another's
    assert _comments(world, a["id"])[1:] == [("comment", "rolf", "Looking into it")]

    b = _dip(world, "s2")
    _at_once(central_url, lambda own: alerts.acknowledge(own, b["id"], "nils", MONDAY_10, "Ser på det"))
    assert _comments(world, b["id"]) == [("acknowledged", "nils", "Ser på det")]


def test_an_actions_note_from_the_web_is_shown_escaped(world, central_url, capsys):
    """The web form takes what a textarea may hold, and a note pasted there may hold a bidi
    override (it reorders what a terminal shows) or an escape sequence stored by another way in:
    `action show` and `action list` printed it raw; now escaped, as `alerts show` does."""
    hostile = "kassa \u202eflyttad\u202c \x1b[2J klar"
    a = actions.create(world, "s1", "visit", "2026-11-20", hostile, MONDAY_10, owner="sara")
    for argv in (("action", "show", str(a["id"])), ("action", "list", "--site", "s1")):
        assert central("--db", central_url, *argv) == 0
        out = capsys.readouterr().out
        assert "\u202e" not in out and "\x1b" not in out and "kassa \\u202eflyttad" in out, out


def test_the_digest_names_a_readers_stores_in_her_alphabet(world):
    """A store manager of Örebro, Åre and Älmhult (site ids in another order) reads them in the
    Swedish order in her digest's first line; Python's order put Älmhult before Åre."""
    from server_sync.notify import digest
    from server_sync.web.people import user_by_name
    db = world
    for site_id, name in (("a1", "Örebro"), ("b2", "Åre"), ("c3", "Älmhult")):
        add_site(db, site_id)
        db.execute_sql(f"UPDATE site SET name = {db.param} WHERE id = {db.param}", (name, site_id))
        _dip(db, site_id, MONDAY_10)
    add_user(db, "maja", "store-manager", sites=["a1", "b2", "c3"], language="sv", password=PASSWORD)
    d = digest.compose(db, user_by_name(db, "maja"), "maja@example.se", MONDAY_10 + timedelta(hours=2))
    assert "Åre, Älmhult, Örebro" in d.text, d.text[:300]


def test_an_action_logged_on_the_web_at_a_site_without_a_store_manager_is_the_loggers(world):
    """A regional manager logging an action from a site page at a store without a store manager
    left it with no owner; it is hers. Where the store has one, it is the store manager's."""
    add_user(world, "ada", "admin", language="en", password=PASSWORD)
    assert actions.create(world, "s3", "visit", "2026-11-20", "New rota", MONDAY_10, by="ada")["owner"] == "ada"
    assert actions.create(world, "s1", "visit", "2026-11-20", "New rota", MONDAY_10, by="rolf")["owner"] == "sara"
    assert actions.create(world, "s3", "visit", "2026-11-20", "Signs", MONDAY_10)["owner"] is None   # the CLI: no one


def test_two_closes_or_assigns_sent_at_once_take_effect_once(world, central_url):
    """Two submits of one form at once both read the alert open (a double click): each close logged
    an action and a history row, each assign a row and a mail (a review). Here two real requests
    on connections of their own both read it while another transaction holds the alert table,
    then write one after the other: the second finds the first's write in its own transaction."""
    db = world
    a = _dip(db)
    mails = lambda: db.execute_sql("SELECT COUNT(*) FROM mail_outbox WHERE to_addr = 'rolf@example.se'").fetchone()[0]  # noqa: E731
    _at_once(central_url, lambda own: alerts.assign(own, a["id"], "rolf", "sara", MONDAY_10))
    assert mails() == 1
    results = _at_once(central_url, lambda own: alerts.close(own, a["id"], "action", "rolf", MONDAY_10,
                                                         new_action={"note": "Extra kassa"}))
    assert sum(isinstance(r, FieldError) and "is closed already" in str(r) for r in results) == 1, results
    history = [e["event"] for e in alerts.require(db, a["id"], MONDAY_10)["history"]]
    assert history.count("assigned") == 2 and history.count("closed") == 1          # sara at raise, rolf once
    assert db.execute_sql("SELECT COUNT(*) FROM action").fetchone()[0] == 1


def _at_once(central_url: str, step) -> list[object]:
    """`step` twice at once (a double click), each on a connection of its own, while another
    transaction holds the alert table against writes (SQLite: its one write lock): both read the
    alert, then write one after the other once it lets go. What each returned, or its FieldError."""
    import threading
    import time as clock
    from server_sync.central.dialect import SQLITE, dialect_of
    holder = connect(central_url)
    if dialect_of(holder) is SQLITE:
        holder.execute_sql("BEGIN IMMEDIATE")
    else:
        holder.execute_sql("BEGIN")
        holder.execute_sql("LOCK TABLE alert IN EXCLUSIVE MODE")      # reads go on, writes wait
    results: list[object] = []

    def send() -> None:
        own = connect(central_url)
        try:
            results.append(step(own))
        except FieldError as e:
            results.append(e)
        finally:
            own.close()
    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    clock.sleep(1.0)                  # both have read the alert and wait to write
    holder.execute_sql("COMMIT")
    holder.close()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.postgres
def test_two_actions_logged_at_once_at_one_site_each_get_their_own_row(pg_url, quick_password_hashes):
    """The new action's id was read back as the site's highest (SELECT MAX(id)): on PostgreSQL
    (READ COMMITTED) another action of the site committed in between was the highest, so one
    create set its owner, type and due date on the other's row, left its own half-empty and sent
    its person to someone else's action (a review: concurrent "new action" forms). Here the other
    create runs, on a connection of its own, between this one's INSERT and its commit."""
    from server_sync.central.db import connect
    db, other = connect(pg_url), connect(pg_url)
    try:
        _populate(db)
        plain, theirs = db.execute_sql, []

        def other_in_between(sql, *args, **kwargs):
            cursor = plain(sql, *args, **kwargs)
            if sql.startswith("INSERT INTO action") and not theirs:
                theirs.append(actions.create(other, "s1", "visit", "2026-11-20", "Queue signs", MONDAY_10,
                                             action_type="queue", due_date="2026-12-01"))
            return cursor
        db.execute_sql = other_in_between
        mine = actions.create(db, "s1", "visit", "2026-11-20", "New rota", MONDAY_10, owner="rolf",
                              action_type="staffing", due_date="2026-12-10")
        db.execute_sql = plain
        assert theirs and mine["id"] != theirs[0]["id"]
        rows = {r[0]: r[1:] for r in db.execute_sql("SELECT note, owner, action_type, due_date FROM action")}
        assert rows == {"New rota": ("rolf", "staffing", "2026-12-10"), "Queue signs": ("sara", "queue", "2026-12-01")}
        assert (mine["note"], mine["action_type"]) == ("New rota", "staffing")
        assert (theirs[0]["note"], theirs[0]["action_type"]) == ("Queue signs", "queue")
    finally:
        other.close()
        db.close()


def test_two_alerts_cannot_be_each_others_duplicates(world):
    """Both closed as the other's duplicate: the dip closed with no outcome anywhere (a review)."""
    db = world
    first, second, third = (_dip(db, at=MONDAY_10 + timedelta(hours=h)) for h in (0, 3, 6))
    alerts.close(db, second["id"], "duplicate", "sara", MONDAY_10, duplicate_of=first["id"])
    alerts.close(db, third["id"], "duplicate", "sara", MONDAY_10, duplicate_of=second["id"])
    with pytest.raises(FieldError, match="is closed as a duplicate of this one"):
        alerts.close(db, first["id"], "duplicate", "sara", MONDAY_10, duplicate_of=third["id"])
    assert alerts.require(db, first["id"], MONDAY_10)["state"] == "open"


def test_an_action_from_an_alert_is_checked_against_it_on_every_path(world, central_url, capsys):
    """`action add --from-alert` skipped what closing with an action checks: a first day years
    before the alert (then closed at once, "no detectable effect"), an alert closed as needing no
    action; and the alert's history said nothing of it (a review)."""
    db = world
    a, closed = _dip(db), _dip(db, "s2")
    alerts.close(db, closed["id"], "none", "nils", MONDAY_10, reason="A one-off")
    base = ["--db", central_url, "action", "add", "--note", "Extra kassa"]
    assert main([*base, "--from-alert", str(a["id"]), "--date", "2024-01-01"]) == 2
    assert "more than 28 days before the alert was raised" in capsys.readouterr().err
    assert main([*base, "--from-alert", str(closed["id"])]) == 2
    assert "is closed (none): an action from it would contradict that" in capsys.readouterr().err
    assert main([*base, "--from-alert", str(a["id"]), "--date", "2026-11-20"]) == 0
    history = alerts.require(db, a["id"], MONDAY_10)["history"]
    assert history[-1]["event"] == "action_logged" and history[-1]["detail"] == str(actions.list_actions(db)[0]["id"])


def test_closing_with_a_new_action_when_the_owner_may_no_longer_act(world):
    """The alert's owner since disabled: closing it with a new action said "'Assign to' is not one
    of the choices offered" on a form with no owner field (a review). The action falls back to the
    site's store manager, or whoever closes it."""
    from server_sync.web.people import set_disabled
    db = world
    a = _dip(db)
    alerts.assign(db, a["id"], "rolf", "sara", MONDAY_10)
    set_disabled(db, "rolf", True)
    closed = alerts.close(db, a["id"], "action", "sara", MONDAY_10, new_action={"note": "Extra kassa"})
    assert actions.get(db, closed["action_id"], MONDAY_10, evaluate=False)["owner"] == "sara"


def test_the_cli_close_with_a_new_action_falls_back_from_an_owner_who_may_no_longer_act(world, central_url, capsys):
    """`alerts close --outcome action --note …` named the alert's disabled owner as the action's
    and refused, naming them, with no word of --owner (a review)."""
    from server_sync.web.people import set_disabled
    db = world
    a = _dip(db)
    alerts.assign(db, a["id"], "rolf", "sara", MONDAY_10)
    set_disabled(db, "rolf", True)
    assert main(["--db", central_url, "alerts", "close", str(a["id"]), "--outcome", "action", "--note", "Extra kassa",
                 "--by", "sara"]) == 0, capsys.readouterr().err
    closed = alerts.require(db, a["id"], MONDAY_10)
    assert actions.get(db, closed["action_id"], MONDAY_10, evaluate=False)["owner"] == "sara"


def test_an_action_closed_is_mailed_only_to_someone_who_may_still_see_its_site(world):
    """The action's owner moved out of its site's scope before it closed (s2 put in another
    region): the "action closed" mail, with the site's note, verdict and effect, went to them
    anyway (a review). It goes to the site's store manager instead, as an alert's owner who may no
    longer act falls back; the owner still in scope gets it; a disabled owner's goes to the store
    manager too."""
    from server_sync.web.people import set_disabled
    db = world
    rng = random.Random(3)
    day = date(2026, 9, 1)
    for site in ("s1", "s2"):
        _days(db, site, day - timedelta(days=28), 56, 0.4, rng, "queue")
    moved = actions.create(db, "s2", "visit", day.isoformat(), "Self-checkout moved", MONDAY_10, owner="rolf")
    kept = actions.create(db, "s1", "visit", day.isoformat(), "Second checkout", MONDAY_10, owner="rolf")
    add_user(db, "ulla", "regional-manager", regions=["north"], language="en", password=PASSWORD)
    set_email(db, "ulla", "ulla@example.se")
    gone = actions.create(db, "s1", "visit", day.isoformat(), "New signs", MONDAY_10, owner="ulla")
    add_region(db, "west", "Väst")
    assign_region(db, "west", ["s2"])                     # rolf now sees s1 only
    set_disabled(db, "ulla", True)
    closed = {c["id"] for c in actions.close_completed(db, datetime(2026, 9, 29, 12, tzinfo=timezone.utc))}
    assert closed == {moved["id"], kept["id"], gone["id"]}
    mails = {(to, subject.split(":")[1].strip()) for to, subject in
             db.execute_sql("SELECT to_addr, subject FROM mail_outbox")}
    assert mails == {("nils@example.se", f"tiltak {moved['id']} i S2"), ("rolf@example.se", f"action {kept['id']} at S1"),
                     ("sara@example.se", f"åtgärd {gone['id']} i S1")}


def test_mail_for_a_user_who_is_then_disabled_is_deleted(world):
    """An alert at s1 queued sara's mail while the SMTP server was down; she was disabled before
    it came back, and the mail, with her former site's alert, still went to her (a review). Then
    it was given up but kept for good, her address and its text with it (a privacy review). Her
    mail, waiting or not, is deleted when she is disabled (or her address cleared); mail to an
    address another active user has too still goes, and everyone else's is untouched."""
    from server_sync.web.people import set_disabled
    db = world
    _dip(db)                                              # sara's mail waits
    _dip(db, "s2")                                        # nils' mail waits
    add_user(db, "stina", "store-manager", sites=["s1"], language="sv", password=PASSWORD)
    set_email(db, "stina", "shop-s1@example.se")          # a shop's shared mailbox
    add_user(db, "sam", "store-manager", sites=["s1"], language="sv", password=PASSWORD)
    set_email(db, "sam", "Shop-S1@example.se")
    queue.enqueue_mail(db, "shop-s1@example.se", "Kundpuls", "text", "<p>html</p>", MONDAY_10)
    later = MONDAY_10 + timedelta(hours=2)
    set_disabled(db, "sara", True)
    set_disabled(db, "stina", True)                       # sam reads the shared mailbox still
    assert sorted(m.to_addr for m in queue.due_mail(db, later)) == ["nils@example.se", "shop-s1@example.se"]
    assert [d for d in queue.deliveries(db) if d["to"] == "sara@example.se"] == []
    set_disabled(db, "sam", True)                         # nobody active reads it now
    assert [m.to_addr for m in queue.due_mail(db, later)] == ["nils@example.se"]
    set_email(db, "nils", None)                           # leaving, as docs/privacy.md says
    assert queue.due_mail(db, later) == [] and [d for d in queue.deliveries(db) if d["channel"] == "mail"] == []


def test_a_person_leaving_takes_their_mail_past_and_waiting_with_them(world, central_url, capsys):
    """`user email NAME --clear` said "no more mail" while the outbox kept the mail given up and
    every one sent, each with the address and the text of the alerts and actions it told of (a
    privacy review). Their mail goes, sent, given up or waiting, and so does a mail to the address
    queued for no person (a test mail); another person's mail is untouched, and a mail a worker
    is sending at that moment is its own to finish (its record then finds no row)."""
    from server_sync.notify import sender, smtp
    from tests.fixtures.mail import LocalSmtp
    db = world
    _dip(db)                                              # sara's mail
    queue.enqueue_mail(db, "Sara@example.se", "Kundpuls test", "text", "<p>html</p>", MONDAY_10)
    with LocalSmtp() as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
        assert sender.deliver_mail(db, MONDAY_10) == 2    # both sent, and kept as sent
    _dip(db, "s1", MONDAY_10 + timedelta(days=2))         # one more, waiting
    _dip(db, "s2")                                        # nils'
    to_sara = lambda: db.execute_sql(f"SELECT COUNT(*) FROM mail_outbox WHERE LOWER(to_addr) = {db.param}",  # noqa: E731
                                     ("sara@example.se",)).fetchone()[0]
    assert to_sara() == 3
    assert main(["--db", central_url, "user", "email", "sara", "--clear"]) == 0
    assert capsys.readouterr().out == "sara: no e-mail address; no more mail (3 mails to it deleted)\n"
    assert to_sara() == 0 and [m.to_addr for m in queue.due_mail(db, MONDAY_10 + timedelta(days=3))] == [
        "nils@example.se"]
    # Being sent as the person leaves: the worker holds it, and records it on no row.
    [mail] = queue.due_mail(db, MONDAY_10 + timedelta(days=3))
    assert queue.claim(db, "mail_outbox", mail.id, MONDAY_10 + timedelta(days=3))
    assert main(["--db", central_url, "user", "disable", "nils"]) == 0
    assert "mail to them deleted" in capsys.readouterr().out
    queue.record_mail(db, mail, MONDAY_10 + timedelta(days=3), True, None)
    assert db.execute_sql("SELECT COUNT(*) FROM mail_outbox").fetchone()[0] == 0


def test_mail_waiting_goes_only_where_its_person_may_still_read_it(world):
    """Mails queued while the SMTP server was down are asked again when it is back: rolf's mail
    about s2's alert, after s2 moved to another region, is given up (the outbox kept only an
    address and a text, so it went: a review); sara's, after she changed her address, goes to
    her new one; nils', still in scope, goes as queued; a mail to an address alone (a test
    mail) goes as before."""
    from server_sync.notify import sender, smtp
    from tests.fixtures.mail import LocalSmtp
    db = world
    a = _dip(db, "s2")                                    # nils' mail waits
    alerts.assign(db, a["id"], "rolf", "nils", MONDAY_10)  # rolf's too
    _dip(db)                                              # sara's
    queue.enqueue_mail(db, "ops@example.se", "Kundpuls test", "text", "<p>html</p>", MONDAY_10)
    add_region(db, "west", "Väst")
    assign_region(db, "west", ["s2"])                     # rolf now sees s1 only
    set_email(db, "sara", "sara.new@example.se")
    later = MONDAY_10 + timedelta(hours=2)
    with LocalSmtp() as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
        assert sender.deliver_mail(db, later) == 3
    assert sorted(m["To"] for m in server.messages) == ["nils@example.se", "ops@example.se", "sara.new@example.se"]
    states = {d["to"]: (d["state"], d["last_error"]) for d in queue.deliveries(db) if d["channel"] == "mail"}
    assert states["rolf@example.se"] == ("failed", "not sent: its recipient rolf may no longer see site s2")
    assert states["sara.new@example.se"][0] == "delivered" and "sara@example.se" not in states


def test_mail_waiting_for_a_person_is_given_up_when_they_cannot_read_it(world):
    """Asked at sending time: a person disabled (`kiosk-central user disable` gives up their
    waiting mail at once; here the flag is set behind its back, as a second centre's command
    might race it) or whose address was cleared gets none; the reason is kept."""
    from server_sync.notify import sender, smtp
    from tests.fixtures.mail import LocalSmtp
    db = world
    _dip(db)                                              # sara's mail waits
    _dip(db, "s2")                                        # nils'
    db.execute_sql("UPDATE web_user SET disabled_at = CURRENT_TIMESTAMP WHERE name = 'sara'")
    db.execute_sql("UPDATE web_user SET email = NULL WHERE name = 'nils'")
    with LocalSmtp() as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
        assert sender.deliver_mail(db, MONDAY_10 + timedelta(hours=1)) == 0
    assert server.messages == []
    errors = sorted(d["last_error"] for d in queue.deliveries(db) if d["channel"] == "mail")
    assert errors == ["not sent: its recipient nils has no e-mail address now",
                      "not sent: its recipient sara was disabled"]


def test_an_alerts_mail_says_when_it_was_raised_on_its_sites_clock(world):
    """A mail held through an SMTP outage arrives hours later, and its text says "the day up to the
    alert" with nothing saying which day (a review): the mail and the webhook say when the alert was
    raised, on the site's clock with its zone, as the digest does, in the reader's language."""
    db = world
    db.execute_sql(f"UPDATE site SET timezone = {db.param} WHERE id = 's2'", ("America/New_York",))
    a = _dip(db)                                                           # 09:00 UTC
    _dip(db, "s2")
    alerts.assign(db, a["id"], "rolf", "sara", MONDAY_10)
    bodies = {to: (text, html_body) for to, text, html_body in
              db.execute_sql("SELECT to_addr, text_body, html_body FROM mail_outbox")}
    assert "Larmat: 2026-11-23 10:00 CET" in bodies["sara@example.se"][0]
    assert "Varslet: 2026-11-23 04:00 EST" in bodies["nils@example.se"][0]
    assert "Raised: 2026-11-23 10:00 CET" in bodies["rolf@example.se"][0]
    assert "2026-11-23 10:00 CET" in bodies["sara@example.se"][1]
    facts = json.loads(db.execute_sql("SELECT body FROM webhook_delivery ORDER BY id").fetchone()[0])
    assert "2026-11-23 10:00 CET" in json.dumps(facts)


def test_a_due_date_set_twice_is_kept_once_in_the_history(world, central_url):
    """Setting the same due date again (a double click, or posts sent at once) wrote the same
    "due" row each time: the UPDATE was unconditional. Only a change is kept, as assign keeps it."""
    a = _dip(world)
    dues = lambda alert_id: [(e["user"], e["detail"]) for e in alerts.require(world, alert_id, MONDAY_10)["history"]  # noqa: E731
                             if e["event"] == "due"]
    for by in ("sara", "sara", "rolf"):
        assert alerts.set_due(world, a["id"], "2026-11-27", by, MONDAY_10)["due_date"] == "2026-11-27"
    alerts.set_due(world, a["id"], "2026-11-28", "rolf", MONDAY_10)
    assert dues(a["id"]) == [("sara", "2026-11-27"), ("rolf", "2026-11-28")]
    b = _dip(world, "s2")
    results = _at_once(central_url, lambda own: alerts.set_due(own, b["id"], "2026-11-30", "nils", MONDAY_10))
    assert [r["due_date"] for r in results] == ["2026-11-30", "2026-11-30"], results
    assert dues(b["id"]) == [("nils", "2026-11-30")]


def test_an_acknowledgement_that_loses_a_race_with_a_close_says_it_is_closed(world, monkeypatch):
    """An acknowledgement that read the alert open while a close was committed before its own
    write kept its text as a comment and returned as if it had worked; the form said nothing. It
    is refused as one sent after the close is ("closed already"), and keeps nothing."""
    a = _dip(world)
    checked = alerts._still_open

    def closed_meanwhile(alert):
        checked(alert)
        monkeypatch.setattr(alerts, "_still_open", checked)     # the close's own check is the real one
        alerts.close(world, alert["id"], "none", "rolf", MONDAY_10, reason="weather")
    monkeypatch.setattr(alerts, "_still_open", closed_meanwhile)
    with pytest.raises(FieldError, match="closed already") as said:
        alerts.acknowledge(world, a["id"], "sara", MONDAY_10, "Looking into it")
    assert said.value.problem == "closed"
    history = alerts.require(world, a["id"], MONDAY_10)["history"]
    assert [e["event"] for e in history] == ["raised", "assigned", "closed"]


def test_who_logged_an_action_is_kept_and_shown(world, central_url, capsys, monkeypatch):
    """A regional manager logging an action at a store from its site page made it the store
    manager's, and her name was kept nowhere (no column, no history row for an action without an
    alert, no audit line): it read as the store manager's own. Who logged it is `created_by`, from
    the web form, a close with a new action and `action add` (--by, else cli:<login>, as the
    alerts commands name their actor), shown on the action page, in `action list --json` and the
    API's actions; an action from before (NULL) reads "unknown"."""
    from server_sync.web import guard
    from server_sync.web.pages import lists, workflow
    from tests.web import in_process
    db = world
    made = actions.create_once(db, "s1", "visit", "2026-11-20", "Rolf's idea", MONDAY_10, by="rolf")   # the form
    assert (actions.get(db, made, MONDAY_10, evaluate=False)["owner"],
            actions.get(db, made, MONDAY_10, evaluate=False)["created_by"]) == ("sara", "rolf")
    closed = alerts.close(db, _dip(db)["id"], "action", "rolf", MONDAY_10, new_action={"note": "Extra kassa"})
    assert actions.get(db, closed["action_id"], MONDAY_10, evaluate=False)["created_by"] == "rolf"

    monkeypatch.setenv("LOGNAME", "ops")
    add = lambda site, *argv: central("--db", central_url, "action", "add", "--site", site, "--question", "visit",  # noqa: E731
                                      "--date", "2026-11-20", "--note", "Signs", "--json", *argv)
    assert add("s3") == 0
    by_cli = json.loads(capsys.readouterr().out)
    assert (by_cli["created_by"], by_cli["owner"]) == ("cli:ops", None)     # cli:ops is nobody to own it
    assert add("s1", "--by", "rolf") == 0
    assert json.loads(capsys.readouterr().out)["created_by"] == "rolf"
    assert add("s1", "--by", "nils") == 2                                   # nils may not act at s1
    assert said_error(capsys.readouterr().err, "--by: nils may not act on site s1")
    assert central("--db", central_url, "action", "list", "--json") == 0
    assert {a["id"]: a["created_by"] for a in json.loads(capsys.readouterr().out)} == {
        made: "rolf", closed["action_id"]: "rolf", by_cli["id"]: "cli:ops", by_cli["id"] + 1: "rolf"}

    db.execute_sql(f"UPDATE action SET created_by = NULL WHERE id = {db.param}", (by_cli["id"],))   # from before
    for action_id, said in ((made, "rolf"), (by_cli["id"], "unknown")):
        v = in_process.visit(db, MONDAY_10, f"/actions/{action_id}", action_id=str(action_id))
        page = guard._respond(v, workflow.action_page.page(v)).body.decode()
        assert f"<dt>Logged by</dt><dd>{said}</dd>" in page, page
    listed = lists.actions(in_process.visit(db, MONDAY_10, "/actions")).data["actions"]     # the API's JSON
    assert {a["id"]: a["created_by"] for a in listed} == {made: "rolf", closed["action_id"]: "rolf",
                                                          by_cli["id"]: None, by_cli["id"] + 1: "rolf"}
    # A directory login longer than the column (64) was a DataError traceback on PostgreSQL.
    monkeypatch.setenv("LOGNAME", "firstname.lastname.with.a.long.directory.name" + "@corp.example.com" * 2)
    assert add("s3") == 0
    long_login = json.loads(capsys.readouterr().out)["created_by"]
    assert len(long_login) == 64 and long_login.startswith("cli:firstname.lastname.with.a.long.directory.name@")
