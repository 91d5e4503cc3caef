"""Alerts: the dip rule through ingest's hook raises one alert for a bad day against the site's
own four weeks, none for an ordinary day, one per dip whichever question shows it and however
long it lasts; the trend rule against the 4-week baseline; stored, published payloads that the
kiosk side decodes, webhook, acknowledgement."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from server_sync.analysis import alerts
from server_sync.analysis.alert_rules import DipRule
from server_sync.cli import main
from server_sync.central.db import connect
from server_sync.central.intake import Intake
from server_sync.protocol import Alert, decode_alert, decode_status, encode_status, parse_site_topic
from server_sync.report.alert_text import alert_text
from tests.analysis.seeding import add_question, add_site, answer, commit, ordinary_weeks
from tests.analysis.webhook import WebhookReceiver

MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)          # 10:00 in Stockholm


@pytest.fixture
def db(tmp_path):
    d = connect(f"sqlite:///{tmp_path / 'central.db'}")
    add_site(d, "s1")
    add_site(d, "s2")
    add_question(d)
    try:
        yield d
    finally:
        d.close()


def stream(db, site: str, start: datetime, minutes: int, negative_share, rng: random.Random,
           per_min: float = 0.5) -> list[list[tuple[str, bytes]]]:
    """Answers arriving minute by minute, each minute one ingest commit followed by the hook."""
    published = []
    for m in range(minutes):
        now = start + timedelta(minutes=m)
        batch = [answer(site, (now - timedelta(seconds=rng.randrange(50))).replace(tzinfo=None),
                        rng.choice((1, 2)) if rng.random() < negative_share(m) else rng.choice((3, 4)))
                 for _ in range(1 if rng.random() < per_min else 0)]
        if batch:
            commit(db, batch)
            published.append(alerts.realtime_hook(db, {site}, now))
    return published


def bad_hours(db, start: datetime) -> list[dict]:
    """Thirty answers at s1 in the 2.5 hours up to `start`, all negative; then the dip rule's check."""
    commit(db, [answer("s1", (start - timedelta(minutes=5 * i)).replace(tzinfo=None), 1 + i % 2)
                for i in range(30)])
    return alerts.check_dip(db, ["s1"], start)


def test_a_bad_day_raises_exactly_one_alert_and_an_ordinary_one_none(db):
    rng = random.Random(5)
    for site in ("s1", "s2"):
        ordinary_weeks(db, site, MONDAY_10, rng)
    # s2: an ordinary day, answer after answer through the hook: never an alert.
    noise = stream(db, "s2", MONDAY_10, 240, lambda m: 0.12, rng, per_min=0.4)
    assert sum(len(p) for p in noise) == 0
    # s1: a good first hour, then half the answers negative for the rest of the day.
    out = stream(db, "s1", MONDAY_10, 240, lambda m: 0.1 if m < 60 else 0.55, rng, per_min=0.4)
    messages = [msg for p in out for msg in p]
    assert len(messages) == 1
    topic, payload = messages[0]
    assert parse_site_topic(topic) == "s1"
    alert = decode_alert(payload, "s1")
    assert alert.kind == "realtime" and "below the site's usual" in alert.message
    stored = alerts.list_alerts(db)
    assert len(stored) == 1 and stored[0]["id"] == int(alert.id.split("-")[1])
    assert stored[0]["n"] >= DipRule().min_answers and stored[0]["value"] < stored[0]["baseline"] - 10
    assert stored[0]["published_at"] is not None and stored[0]["last_seen_at"] > stored[0]["raised_at"]
    # The next morning is as bad: the same dip, the same alert (24 quiet hours make a new one).
    stream(db, "s1", MONDAY_10 + timedelta(days=1), 120, lambda m: 0.55, rng, per_min=0.4)
    assert len(alerts.list_alerts(db)) == 1


def test_a_dip_going_on_past_its_closed_alert_is_a_new_alert(db):
    """Closed as a one-off ("none"), the dip went on for days: each check moved the closed
    alert's last_seen_at on, and nothing was raised nor told (no owner, no mail, no webhook; not
    on the active list nor in the digest), as long as the rule kept firing (a review). Within
    the cooldown after the closing it is still the closed alert (its window holds the days it was
    closed for); past it, a new alert."""
    from server_sync.workflow import alerts as workflow
    rng = random.Random(6)
    ordinary_weeks(db, "s1", MONDAY_10, rng)

    (first,) = bad_hours(db, MONDAY_10)
    workflow.close(db, first["id"], "none", None, MONDAY_10 + timedelta(hours=1), reason="a wedding party")
    assert bad_hours(db, MONDAY_10 + timedelta(hours=6)) == []                 # within the cooldown: the same
    later = [bad_hours(db, MONDAY_10 + timedelta(days=d, hours=3)) for d in (1, 2, 3)]
    raised = [a for found in later for a in found]
    assert len(raised) == 1, later
    assert raised[0]["id"] != first["id"]
    assert alerts.get(db, first["id"])["last_seen_at"] < alerts.get(db, raised[0]["id"])["raised_at"]
    states = dict(db.execute_sql("SELECT id, state FROM alert").fetchall())
    assert states == {first["id"]: "closed", raised[0]["id"]: "open"}


def test_one_alert_per_dip_whichever_question_shows_it(db):
    rng = random.Random(8)
    add_question(db, "recommend", "nps11")
    ordinary_weeks(db, "s1", MONDAY_10, rng)
    rows = [answer("s1", (MONDAY_10 - timedelta(days=d)).replace(tzinfo=None, hour=9 + d % 8), rng.choice((9, 10)),
                   question="recommend", scale="nps11") for d in range(1, 29) for _ in range(6)]
    commit(db, rows)
    bad = [answer("s1", (MONDAY_10 - timedelta(minutes=m)).replace(tzinfo=None), 1) for m in range(40)]
    bad += [answer("s1", (MONDAY_10 - timedelta(minutes=m)).replace(tzinfo=None), 2, question="recommend",
                   scale="nps11") for m in range(40)]
    commit(db, bad)
    raised = alerts.check_dip(db, ["s1"], MONDAY_10)
    assert len(raised) == 1 and raised[0]["kind"] == "realtime"
    assert alerts.check_dip(db, ["s1"], MONDAY_10 + timedelta(hours=2)) == []
    assert len(alerts.list_alerts(db)) == 1


def test_a_second_dip_after_quiet_days_is_a_new_alert(db):
    rng = random.Random(6)
    ordinary_weeks(db, "s1", MONDAY_10, rng)

    assert len(bad_hours(db, MONDAY_10)) == 1
    assert bad_hours(db, MONDAY_10 + timedelta(hours=3)) == []                   # the same dip: extended
    for d in range(1, 6):                                                # ordinary days
        commit(db, [answer("s1", (MONDAY_10 + timedelta(days=d, minutes=5 * i)).replace(tzinfo=None), 4)
                    for i in range(40)])
        alerts.check_dip(db, ["s1"], MONDAY_10 + timedelta(days=d, hours=4))
    assert len(bad_hours(db, MONDAY_10 + timedelta(days=6, hours=3))) == 1
    assert [a["kind"] for a in alerts.list_alerts(db)] == ["realtime", "realtime"]


def test_a_morning_short_of_the_threshold_alerts_when_one_complaint_dominates(db):
    """The same 24 answers at two sites with the same four weeks: 20 points down, not yet enough
    for the mood alone; where the unhappy customers' reasons are the site's usual mix, nothing;
    where most of them name one complaint that is usually rare, the alert says so."""
    rng = random.Random(12)
    usual = ("queue", "queue", "queue", "staff", "staff", "availability", "price", "cleanliness")
    for site in ("s1", "s2"):
        rows = [answer(site, (MONDAY_10 - timedelta(days=d)).replace(tzinfo=None, hour=8 + k % 10, minute=k),
                       rng.choice((1, 2)) if rng.random() < 0.12 else rng.choice((3, 3, 4, 4, 4)))
                for d in range(1, 29) for k in range(40)]
        commit(db, rows, {r["id"]: [rng.choice(usual)] for r in rows if r["value"] <= 2})
    today = [1] * 4 + [2] * 5 + [3] * 8 + [4] * 7                      # Happy Index 58 (usually 78)
    for site, complaints in (("s1", ["cleanliness"] * 7 + ["queue"] * 2), ("s2", list(usual[:9]))):
        rows = [answer(site, (MONDAY_10 + timedelta(minutes=5 * k)).replace(tzinfo=None), v)
                for k, v in enumerate(today)]
        negative = [r["id"] for r in rows if r["value"] <= 2]
        commit(db, rows, {rid: [reason] for rid, reason in zip(negative, complaints)})
    now = MONDAY_10 + timedelta(hours=2)
    # The mood alone does not fire yet (z between -3.5 and -2.5) …
    assert alerts.check_dip(db, {"s1", "s2"}, now, DipRule(complaint_z=DipRule().z)) == []
    # … with the complaint it does.
    raised = alerts.check_dip(db, {"s1", "s2"}, now)
    assert [a["site_id"] for a in raised] == ["s1"], raised
    assert "“Cleanliness” cited in 7 of 9 follow-up reasons" in raised[0]["message"]


def test_praise_is_no_complaint_to_the_dip_rule(db):
    """Where happy customers are asked why too ("what went well?"), a morning with fewer of them
    has less praise: counted among the mentions, the usual complaint's share of them rose (12 %
    of the mentions on ordinary days, 38 % this morning) and the dip rule read the site's usual
    complaint as one that dominates (a review's case). Its share of the complaints is as ever:
    the morning, short of the threshold on the mood, raises nothing."""
    rng = random.Random(12)
    rows = [answer("s1", (MONDAY_10 - timedelta(days=d)).replace(tzinfo=None, hour=8 + k % 10, minute=k),
                   rng.choice((1, 2)) if rng.random() < 0.12 else rng.choice((3, 3, 4, 4, 4)))
            for d in range(1, 29) for k in range(40)]
    rows += [answer("s1", (MONDAY_10 + timedelta(minutes=5 * k)).replace(tzinfo=None), v)
             for k, v in enumerate([1] * 4 + [2] * 5 + [3] * 8 + [4] * 7)]     # Happy Index 58 (usually 78)
    commit(db, rows, {r["id"]: ["queue" if r["value"] <= 2 else "staff"] for r in rows})
    now = MONDAY_10 + timedelta(hours=2)
    assert alerts.check_dip(db, {"s1"}, now, DipRule(complaint_z=DipRule().z)) == []   # the mood alone: no
    assert alerts.check_dip(db, {"s1"}, now) == []


def test_filtered_presses_a_handful_of_answers_and_a_site_without_history_do_not_alert(db):
    rng = random.Random(7)
    ordinary_weeks(db, "s1", MONDAY_10, rng)
    rows = [answer("s1", MONDAY_10.replace(tzinfo=None) - timedelta(minutes=i), 1) for i in range(8)]
    rows += [answer("s1", MONDAY_10.replace(tzinfo=None), 1, filtered="repeat") for _ in range(40)]
    rows += [answer("s2", MONDAY_10.replace(tzinfo=None) - timedelta(minutes=i), 1) for i in range(40)]
    commit(db, rows)
    assert alerts.check_dip(db, ["s1", "s2"], MONDAY_10) == []


def bad_morning(db, site: str, now: datetime, rng: random.Random) -> None:
    """Four weeks of ordinary days, then 30 answers this morning, most of them negative."""
    ordinary_weeks(db, site, now, rng)
    commit(db, [answer(site, now.replace(tzinfo=None) - timedelta(minutes=3 * i), 1 if i % 3 else 3)
                for i in range(30)])


def _day(db, site, day: datetime, happy: float, rng, n_per_hour=6):
    rows = []
    for hour in range(8, 12):                          # UTC 08-11 = 09-12 in Stockholm
        for _ in range(n_per_hour):
            good = rng.random() < happy
            rows.append(answer(site, day.replace(hour=hour, minute=rng.randrange(60)), rng.choice((3, 4)) if good
                               else rng.choice((1, 2))))
    commit(db, rows)


def test_trend_rule_fires_once_for_a_bad_morning_against_the_baseline(db):
    rng = random.Random(9)
    today = datetime(2026, 11, 23)
    for d in range(1, 29):
        _day(db, "s1", today - timedelta(days=d), 0.85, rng)
        _day(db, "s2", today - timedelta(days=d), 0.85, rng)
    _day(db, "s1", today, 0.35, rng)                   # s1: a bad morning
    _day(db, "s2", today, 0.83, rng)                   # s2: an ordinary one
    now = datetime(2026, 11, 23, 11, 59, tzinfo=timezone.utc)
    raised = alerts.check_trend(db, now)
    assert [(a["site_id"], a["kind"]) for a in raised] == [("s1", "trend")]
    assert raised[0]["value"] < -5 and raised[0]["p_value"] < 0.01
    assert alerts.check_trend(db, now + timedelta(minutes=30)) == []          # the same dip: no second alert
    assert len(alerts.list_alerts(db)) == 1
    # A check that comes late (another worker, a re-run over the morning) is the same alert and
    # never moves its span back: before, last_seen_at went to 11:29, before raised_at.
    assert alerts.check_trend(db, now - timedelta(minutes=30)) == []
    [alert] = alerts.list_alerts(db)
    assert alert["raised_at"] == "2026-11-23 11:59:00" and alert["last_seen_at"] == "2026-11-23 12:29:00"


def test_webhook_post_and_a_dead_webhook_is_not_fatal(db):
    with WebhookReceiver(status=204) as hook:
        bad_morning(db, "s1", MONDAY_10, random.Random(3))
        raised = alerts.check_dip(db, ["s1"], MONDAY_10)
        out = alerts.deliver(db, raised, MONDAY_10, webhook_url=hook.url)
        assert len(out) == 1 and hook.bodies[-1]["type"] == "kundpuls.alert"
        assert hook.bodies[-1]["site_id"] == "s1"
        assert alerts.get(db, raised[0]["id"])["webhook_status"] == "204"
    status = alerts.post_webhook(hook.url, raised[0], timeout_s=1.0)       # nobody listens any more
    assert status.startswith("error:")


def _says(db, kiosk_id: str, version: str) -> None:
    """The kiosk's status as ingest records it: online, running software `version`."""
    Intake(db, clock=lambda: MONDAY_10).record_status(kiosk_id, decode_status(encode_status(
        version=version, outbox_depth=0, oldest_unacked_s=None, clock_synced=True, disk_free_mb=None,
        config_version=1, ts="2026-11-23T08:59:00.000Z")))


def test_an_alert_is_worded_in_every_language_only_for_a_site_whose_kiosks_all_read_it(db):
    """The staff screen shows the alert in the kiosk's language from its `text`; a kiosk before
    ALERT_TEXT_SINCE refuses that field, so one such kiosk (or one not heard from) keeps its
    site's alerts as they were, and still gets every alert."""
    add_site(db, "s3", kiosks=2)
    bad_morning(db, "s1", MONDAY_10, random.Random(3))
    bad_morning(db, "s3", MONDAY_10, random.Random(4))
    raised = alerts.check_dip(db, ["s1", "s3"], MONDAY_10)
    assert sorted(a["site_id"] for a in raised) == ["s1", "s3"]

    def delivered() -> dict[str, Alert]:
        got = [decode_alert(body) for _topic, body in alerts.deliver(db, raised, MONDAY_10)]
        return {a.site_id: a for a in got}

    # Nobody heard from yet: no wording (a kiosk not heard from counts as older).
    assert {s: a.text for s, a in delivered().items()} == {"s1": None, "s3": None}
    _says(db, "s1-k1", "0.2.0")
    _says(db, "s3-k1", "0.2.0")
    _says(db, "s3-k2", "0.1.0")                  # one kiosk at s3 not upgraded yet
    out = delivered()
    assert out["s3"].text is None and out["s3"].message                    # s3 still gets its alert
    stored = alerts.get(db, raised[0]["id"])
    assert out["s1"].text == {lang: alert_text(stored, lang) for lang in ("sv", "nb", "en")}
    assert out["s1"].text["sv"] != out["s1"].text["en"] != out["s1"].message
    assert "poäng under" in out["s1"].text["sv"] and "poeng under" in out["s1"].text["nb"]
    # Its p-value as the report says it, in the message too (it read "p=0").
    assert out["s1"].message.endswith("(n=30, p <\u00a00.001)") and out["s1"].text["sv"].endswith("(n=30, p <\u00a00,001)")
    # The old kiosk upgraded, the other deactivated: both sites worded.
    _says(db, "s3-k2", "0.10.1")
    assert all(a.text is not None for a in delivered().values())
    db.execute_sql("UPDATE kiosk_status SET version = 'dev' WHERE kiosk_id = 's3-k1'")
    assert delivered()["s3"].text is None                 # not a release number: counts as older
    db.execute_sql("UPDATE kiosk SET active = ? WHERE id = 's3-k1'", (False,))
    assert delivered()["s3"].text is not None


def test_ack_with_a_comment_through_the_cli(db, tmp_path, capsys):
    bad_morning(db, "s1", MONDAY_10, random.Random(4))
    [a] = alerts.check_dip(db, ["s1"], MONDAY_10)
    url = f"sqlite:///{tmp_path / 'central.db'}"
    assert main(["--db", url, "alerts", "list", "--open", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == a["id"]
    assert main(["--db", url, "alerts", "ack", str(a["id"]), "--comment", "Extra cashier opened"]) == 0
    assert alerts.get(db, a["id"])["ack_comment"] == "Extra cashier opened"
    assert main(["--db", url, "alerts", "ack", "999", "--comment", "x"]) == 2
    assert "kiosk-central: error: no alert with id 999" in capsys.readouterr().err
    assert main(["--db", url, "alerts", "ack", str(a["id"]), "--comment", " "]) == 2
    assert main(["--db", url, "alerts", "list", "--open", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_alerts_check_with_the_trend_rule_keeps_one_alert_per_dip(db):
    bad_morning(db, "s1", MONDAY_10, random.Random(12))
    raised = alerts.check(db, MONDAY_10, trend=True)
    assert [(a["site_id"], a["kind"]) for a in raised] == [("s1", "realtime")]
    assert alerts.check(db, MONDAY_10 + timedelta(minutes=15), trend=True) == []


def test_the_hook_checks_a_busy_site_once_a_minute():
    checked: dict = {}
    assert alerts.due_sites(checked, {"s1", "s2"}, MONDAY_10) == ["s1", "s2"]
    assert alerts.due_sites(checked, {"s1"}, MONDAY_10 + timedelta(seconds=20)) == []
    assert alerts.due_sites(checked, {"s1", "s3"}, MONDAY_10 + timedelta(seconds=61)) == ["s1", "s3"]
    assert alerts.due_sites(checked, {"s1"}, MONDAY_10) == ["s1"]                  # a clock set back
