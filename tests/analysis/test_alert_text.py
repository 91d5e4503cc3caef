"""An alert reads in the reader's language: the rule stores its facts (`alert.detail`) beside the
English `message`, and every reader's text is made from them with the report's catalogue (the
question's wording and the complaint's label in that language). The English text says what the
stored message says; an alert raised before the facts were kept shows its message."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from server_sync.analysis import alerts
from server_sync.analysis.stats import KEPT_DIGITS
from server_sync.central.db import connect
from server_sync.cli import main
from server_sync.report.alert_text import alert_text
from tests.analysis.seeding import add_question, add_site, answer, commit, ordinary_weeks

MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)          # 10:00 in Stockholm
WORDING = {"sv": "Hur var ditt besök?", "en": "How was your visit?"}   # no Norwegian wording


@pytest.fixture
def db(tmp_path):
    d = connect(f"sqlite:///{tmp_path / 'central.db'}")
    add_site(d, "s1")
    add_question(d)
    d.execute_sql(f"UPDATE question SET text = {d.param} WHERE id = 'visit'", (json.dumps(WORDING),))
    try:
        yield d
    finally:
        d.close()


def _without_wording(alert: dict) -> dict:
    return dict(alert, detail=dict(alert["detail"], question_text={}))


def complaint_dip(db) -> dict:
    """A morning 20 points down where most unhappy customers name one usually rare complaint
    (the dip rule's complaint path: tests/analysis/test_alerts.py)."""
    rng = random.Random(12)
    usual = ("queue", "queue", "queue", "staff", "staff", "availability", "price", "cleanliness")
    rows = [answer("s1", (MONDAY_10 - timedelta(days=d)).replace(tzinfo=None, hour=8 + k % 10, minute=k),
                   rng.choice((1, 2)) if rng.random() < 0.12 else rng.choice((3, 3, 4, 4, 4)))
            for d in range(1, 29) for k in range(40)]
    commit(db, rows, {r["id"]: [rng.choice(usual)] for r in rows if r["value"] <= 2})
    today = [1] * 4 + [2] * 5 + [3] * 8 + [4] * 7
    rows = [answer("s1", (MONDAY_10 + timedelta(minutes=5 * k)).replace(tzinfo=None), v) for k, v in enumerate(today)]
    negative = [r["id"] for r in rows if r["value"] <= 2]
    commit(db, rows, {rid: [reason] for rid, reason in zip(negative, ["cleanliness"] * 7 + ["queue"] * 2)})
    raised = alerts.check_dip(db, ["s1"], MONDAY_10 + timedelta(hours=2))
    assert len(raised) == 1
    return raised[0]


def test_a_dip_alert_keeps_its_facts_and_reads_in_each_language(db):
    a = complaint_dip(db)
    d = a["detail"]
    assert d["rule"] == "dip" and d["question"] == "visit" and d["metric"] == "happy_index" and d["days"] == 1
    assert d["question_text"] == WORDING and d["complaint"]["reason"] == "cleanliness"
    # The stored columns to `KEPT_DIGITS` (they kept two: 82.3529 as 82.35), the detail's figures
    # unrounded (rounded once for a reader).
    assert d["n"] == a["n"]
    assert (round(d["value"], KEPT_DIGITS), round(d["baseline"], KEPT_DIGITS)) == (a["value"], a["baseline"])
    # The stored message is the English catalogue's text of the facts (the question by its id, the
    # wording being each reader's; the complaint by its label): webhooks and kiosks show it.
    assert alert_text(_without_wording(a), "en") == a["message"]
    assert a["message"].startswith("“visit” Happy Index ") and "; “Cleanliness” cited in " in a["message"]
    assert alert_text(a, "en").startswith("“How was your visit?” Happy Index")
    sv = alert_text(a, "sv")
    assert sv.startswith("”Hur var ditt besök?”: Nöjdindex ") and " under dagen fram till larmet, " in sv
    assert "poäng under butikens vanliga" in sv and "”Renlighet” angavs i 7 av 9 skäl vid uppföljning" in sv
    nb = alert_text(a, "nb")
    assert nb.startswith("«Hur var ditt besök?»: Fornøydindeks ") and " i løpet av dagen fram til varselet, " in nb   # no Norwegian wording: the Swedish (vocabulary.in_nearest)
    assert "poeng under butikkens vanlige" in nb and "«Renhold» oppgitt i 7 av 9 årsaker" in nb
    for text in (sv, nb):
        assert "below" not in text and "up to the alert" not in text and "cleanliness" not in text
    # Every reader of the store sees the same facts.
    assert alerts.get(db, a["id"])["detail"] == d


def test_a_trend_alert_reads_in_each_language(db):
    rng = random.Random(9)
    today = datetime(2026, 11, 23)
    for d in range(29):
        happy = 0.35 if d == 0 else 0.85
        commit(db, [answer("s1", (today - timedelta(days=d)).replace(hour=h, minute=rng.randrange(60)),
                           rng.choice((3, 4)) if rng.random() < happy else rng.choice((1, 2)))
                    for h in range(8, 12) for _ in range(6)])
    raised = alerts.check_trend(db, datetime(2026, 11, 23, 11, 59, tzinfo=timezone.utc))
    assert len(raised) == 1
    a = raised[0]
    assert a["detail"]["rule"] == "trend" and a["detail"]["baseline_days"] == 28
    assert alert_text(_without_wording(a), "en") == a["message"]
    assert a["message"].startswith("“visit” Happy Index down ") and " against the 28 days before" in a["message"]
    assert "poäng lägre under dagen fram till larmet än de 28 dagarna före, under samma timmar" in alert_text(a, "sv")
    assert "poeng lavere i løpet av dagen fram til varselet enn de 28 dagene før, i de samme timene" in alert_text(a, "nb")


def test_an_alert_without_readable_facts_shows_its_stored_message():
    old = {"message": "6 of 8 negative at s1", "detail": None}
    for lang in ("sv", "nb", "en"):
        assert alert_text(old, lang) == "6 of 8 negative at s1"
        assert alert_text(dict(old, detail={"v": 99, "rule": "dip"}), lang) == old["message"]     # a newer shape
        assert alert_text(dict(old, detail={"v": 1, "rule": "dip", "question": "visit"}), lang) == old["message"]
        assert alert_text(dict(old, detail="{not json"), lang) == old["message"]


def test_the_swedish_html_report_says_alerts_in_swedish_and_old_ones_as_stored(db, tmp_path):
    a = complaint_dip(db)
    p = db.param
    db.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from, window_to,"
                   f" n, negative, message) VALUES ('s1', 'visit', 'realtime', {p}, {p}, {p}, {p}, 8, 6,"
                   " 'OLD-ALERT-MESSAGE')", [(MONDAY_10 + timedelta(hours=3)).replace(tzinfo=None)] * 4)
    url = f"sqlite:///{tmp_path / 'central.db'}"
    pages = {}
    for lang in ("sv", "en"):
        out = tmp_path / f"report-{lang}.html"
        assert main(["--db", url, "report", "--format", "html", "--lang", lang, "--from", "2026-10-26",
                     "--to", "2026-11-23", "--output", str(out)]) == 0
        pages[lang] = out.read_text()
    assert "”Hur var ditt besök?”: Nöjdindex" in pages["sv"] and "angavs i 7 av 9 skäl" in pages["sv"]
    assert "below the site&#39;s usual" not in pages["sv"] and "OLD-ALERT-MESSAGE" in pages["sv"]
    assert "“How was your visit?” Happy Index" in pages["en"] and a["message"] not in pages["sv"]
    # The JSON report carries the facts.
    assert main(["--db", url, "report", "--format", "json", "--from", "2026-10-26", "--to", "2026-11-23",
                 "--output", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert [al["detail"] and al["detail"]["rule"] for al in report["alerts"]] == ["dip", None]
