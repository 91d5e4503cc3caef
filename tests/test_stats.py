"""Local stats: periods in store-local days, flagged presses left out and counted, metrics, SQL only."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from kiosk.cli import main
from kiosk.commands.stats import hour_bars, render_text
from kiosk.stats import local_stats, parse_since, resolve_since
from kiosk.store import LocalStore


def tap(recorder, clock, when: datetime, value: int, qid: str = "visit"):
    clock.set(when)
    return recorder.record(qid, value)


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


@pytest.fixture
def filled(recorder, clock):
    # "Now" is Monday 2026-11-23 12:00 Stockholm (11:00 UTC).
    start = utc(2026, 11, 16, 9, 0)                 # a week ago, 10:00 local
    tap(recorder, clock, start, 4)
    tap(recorder, clock, utc(2026, 11, 22, 22, 59), 1)   # Sunday 23:59 local: yesterday
    tap(recorder, clock, utc(2026, 11, 22, 23, 1), 4)    # Monday 00:01 local: today
    tap(recorder, clock, utc(2026, 11, 23, 8, 0), 3)     # 09:00 local
    tap(recorder, clock, utc(2026, 11, 23, 8, 0, 2), 3)  # repeat press: flagged
    tap(recorder, clock, utc(2026, 11, 23, 10, 0), 2)    # 11:00 local
    tap(recorder, clock, utc(2026, 11, 23, 10, 30), 9, "recommend")
    tap(recorder, clock, utc(2026, 11, 23, 10, 40), 3, "recommend")
    clock.set(utc(2026, 11, 23, 11, 0))
    return clock.now()


def test_periods_metrics_and_flagged(cfg, store, filled):
    s = local_stats(cfg, store, filled)
    today = s["periods"]["today"]
    assert today["from"] == "2026-11-23"
    assert today["answers"] == 5 and today["flagged"] == 1
    visit = today["questions"]["visit"]
    assert visit["counts"] == {"1": 0, "2": 1, "3": 1, "4": 1}
    assert visit["happy_index"] == pytest.approx(66.7, abs=0.05)     # (33.3 + 66.7 + 100) / 3
    assert visit["csat"] == pytest.approx(66.7, abs=0.05)
    rec = today["questions"]["recommend"]
    assert rec["n"] == 2 and rec["nps"] == 0.0 and "happy_index" not in rec
    assert today["by_hour"][0] == 1 and today["by_hour"][9] == 1 and today["by_hour"][11] == 3
    assert s["periods"]["yesterday"]["answers"] == 1
    assert s["periods"]["yesterday"]["questions"]["visit"]["happy_index"] == 0.0
    assert s["periods"]["same_weekday_last_week"]["answers"] == 1
    assert s["periods"]["last_7_days"]["answers"] == 6            # not the one a week ago
    assert s["outbox"]["depth"] == 8 and s["outbox"]["broker_connected"] is False


def test_question_filter_and_since(cfg, store, filled):
    s = local_stats(cfg, store, filled, question="recommend", since=date(2026, 11, 1))
    assert set(s["periods"]["today"]["questions"]) == {"recommend"}
    assert s["periods"]["since"]["answers"] == 2
    s = local_stats(cfg, store, filled, since=date(2026, 11, 16))
    assert s["periods"]["since"]["answers"] == 7 and s["periods"]["since"]["flagged"] == 1


def test_stats_use_the_covering_index(store):
    plan = " ".join(r[-1] for r in store.db.execute_sql(
        "EXPLAIN QUERY PLAN SELECT local_date, question_id, scale, value, local_hour, filtered"
        " FROM response WHERE local_date BETWEEN '2026-11-01' AND '2026-11-23'").fetchall())
    assert "COVERING INDEX response_stats" in plan


def test_parse_since():
    assert parse_since("2026-11-01") == date(2026, 11, 1)
    assert parse_since("7d") == 7
    assert resolve_since(7, date(2026, 11, 23)) == date(2026, 11, 17)
    for bad in ("7x", "d", "0d", "2026-13-01", "yesterday"):
        with pytest.raises(ValueError):
            parse_since(bad)
    for no_day in ("2026-02-30", "2026-13-01"):           # the shape of a date: said so, not "neither"
        with pytest.raises(ValueError, match=f"'{no_day}' is not a date: no such date in the calendar"):
            parse_since(no_day)
    with pytest.raises(ValueError, match="'-5d': must be a positive duration like 7d"):
        parse_since("-5d")
    with pytest.raises(ValueError, match="at most 3660 days"):
        parse_since("3661d")


def test_text_rendering(cfg, store, filled):
    import io
    out = io.StringIO()
    render_text(local_stats(cfg, store, filled), out)
    text = out.getvalue()
    assert "today" in text and "visit" in text and "recommend" in text
    assert "Answers by hour" in text and "█" in text



def test_the_heading_says_when_in_the_stores_time_and_zone(tmp_path, capsys, monkeypatch):
    """The heading showed the UTC time cut to minutes, no zone ('2026-12-07T16:32' at 17:32 in
    Stockholm) above periods and hours in the store's time; now the store's wall clock and its
    zone's abbreviation. --json keeps generated_at as it was."""
    from kiosk.clock import SystemClock
    monkeypatch.setattr(SystemClock, "now", lambda self: utc(2026, 12, 7, 16, 32, 5))
    LocalStore(tmp_path / "kiosk.db").close()
    assert main(["--data-dir", str(tmp_path), "stats"]) == 0
    heading = capsys.readouterr().out.splitlines()[0]
    assert heading.endswith(", 2026-12-07 17:32 CET"), heading
    monkeypatch.setattr(SystemClock, "now", lambda self: utc(2026, 7, 7, 16, 32, 5))
    assert main(["--data-dir", str(tmp_path), "stats", "--question", "visit"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(", 2026-07-07 18:32 CEST, question visit")
    assert main(["--data-dir", str(tmp_path), "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["generated_at"] == "2026-07-07T16:32:05+00:00"

def test_hour_bars():
    by_hour = [0] * 24
    by_hour[8], by_hour[10] = 4, 8
    lines = hour_bars(by_hour, width=8).splitlines()
    assert [line.split()[0] for line in lines] == ["08", "09", "10"]
    assert lines[2].count("█") == 8 and lines[0].count("█") == 4
    assert hour_bars([0] * 24) == "  (no answers)"


def test_stats_command_json(cfg, tmp_path, capsys):
    LocalStore(tmp_path / "d" / "kiosk.db").close()
    assert main(["stats", "--json", "--data-dir", str(tmp_path / "d"), "--since", "30d"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["periods"]) == {"today", "yesterday", "same_weekday_last_week", "last_7_days", "since"}


def test_stats_command_refuses_an_unknown_question_and_a_future_since(tmp_path, capsys):
    from kiosk.cli import main

    LocalStore(tmp_path / "kiosk.db").close()
    assert main(["--data-dir", str(tmp_path), "stats", "--question", "nope"]) == 1
    assert "no question 'nope' (known: visit)" in capsys.readouterr().err
    assert main(["--data-dir", str(tmp_path), "stats", "--since", "2999-01-01"]) == 1
    assert "is in the future" in capsys.readouterr().err


def test_staff_summary_trend_top_reasons_and_latest_comments(cfg, store, recorder, clock):
    """The staff screen's week for one question: each day's score, the three most chosen
    reasons, the latest comments (scrubbed when recorded); flagged presses left out."""
    from kiosk.stats import staff_summary
    day = utc(2026, 11, 17, 9, 0)                       # Tuesday 10:00 local, 6 days ago
    r = tap(recorder, clock, day, 4)
    for i, (why, comment) in enumerate([("queue", None), ("queue", "Lång kö"), ("price", None),
                                        ("staff", "ring 070-123 45 67"), ("queue", None), ("checkout", None)]):
        r = tap(recorder, clock, utc(2026, 11, 23, 8, 0) + timedelta(minutes=10 * i), 1)
        recorder.record_followup(r.id, [why], comment)
    flagged = tap(recorder, clock, utc(2026, 11, 23, 9, 0, 1), 1)      # a repeat press
    flagged2 = tap(recorder, clock, utc(2026, 11, 23, 9, 0, 2), 1)
    assert flagged2.filtered
    recorder.record_followup(flagged2.id, ["price"], "not counted")
    tap(recorder, clock, utc(2026, 11, 10, 9, 0), 1)     # two weeks ago: outside the week
    clock.set(utc(2026, 11, 23, 11, 0))
    s = staff_summary(cfg, store, clock.now(), "visit")
    assert [d["date"] for d in s["days"]][0] == "2026-11-17" and s["days"][-1]["date"] == "2026-11-23"
    assert s["days"][0] == {"date": "2026-11-17", "n": 1, "score": 100.0}
    assert s["days"][1]["n"] == 0 and s["days"][1]["score"] is None
    assert s["days"][-1]["n"] == 7                    # six follow-ups' answers and the first repeat
    assert s["top_complaints"] == [{"code": "queue", "n": 3}, {"code": "checkout", "n": 1}, {"code": "price", "n": 1}]
    assert s["top_praise"] == []
    texts = [c["text"] for c in s["comments"]]
    assert len(texts) == 2 and texts[1] == "Lång kö" and "070" not in texts[0]
    assert s["followups"] == 6


def test_a_comment_the_card_damaged_is_shown_on_the_staff_screen_not_a_crash(cfg, store, recorder, clock):
    """A byte of a comment damaged on the card (not UTF-8) among the week's latest: reading it
    raised "Could not decode to UTF-8 column 'comment' with text '…'" out of the staff view, which
    closed the kiosk app (systemd started it again) at every visit of the staff screen, with the
    comment in the journal's traceback. The comment is shown with U+FFFD in place of the damaged
    characters; the store reads text strictly again after."""
    from kiosk.stats import staff_summary
    for i, comment in enumerate(("Lång kö", "kö", "Bra")):
        r = tap(recorder, clock, utc(2026, 11, 23, 8, 0) + timedelta(minutes=10 * i), 1)
        recorder.record_followup(r.id, ["queue"], comment)
    store.db.execute_sql("UPDATE followup SET comment = CAST(X'4BC3' AS TEXT) WHERE comment = 'kö'")
    clock.set(utc(2026, 11, 23, 11, 0))
    s = staff_summary(cfg, store, clock.now(), "visit")
    assert [c["text"] for c in s["comments"]] == ["Bra", "K\ufffd", "Lång kö"]
    assert s["followups"] == 3 and s["top_complaints"] == [{"code": "queue", "n": 3}]
    with pytest.raises(Exception, match="Could not decode"):
        store.db.execute_sql("SELECT comment FROM followup").fetchall()


# 'queue' with its 'e' damaged: a byte that is not UTF-8 inside a reason code; and the JSON's
# closing quote of a reason damaged: the cell is not JSON any more.
_QU_E_UE = "CAST(X'5B227175FF657565225D' AS TEXT)"          # ["qu\xffeue"]
_NOT_JSON = "CAST(X'5B227175657565FF5D' AS TEXT)"           # ["queue\xff]


@pytest.mark.parametrize("damage", [_QU_E_UE, _NOT_JSON], ids=["a reason code", "the JSON"])
def test_reasons_the_card_damaged_are_left_out_of_the_staff_screen_not_a_crash(cfg, store, recorder, clock, damage):
    """One byte of a follow-up's reasons damaged on the card: the staff screen's reasons query
    raised "Could not decode to UTF-8 column 'value'" (or SQLite's "malformed JSON") out of the
    staff view, which closed the kiosk app at every visit. That follow-up's reasons are left out
    of the top lists (no catalogue code has a U+FFFD), the others counted as before."""
    from kiosk.stats import staff_summary
    for i in range(3):
        r = tap(recorder, clock, utc(2026, 11, 23, 8, 0) + timedelta(minutes=10 * i), 1)
        recorder.record_followup(r.id, ["queue"], None)
    store.db.execute_sql(f"UPDATE followup SET reasons = {damage} WHERE seq = (SELECT MIN(seq) FROM followup)")
    clock.set(utc(2026, 11, 23, 11, 0))
    s = staff_summary(cfg, store, clock.now(), "visit")
    assert s["followups"] == 3 and s["top_complaints"] == [{"code": "queue", "n": 2}]
    with pytest.raises(Exception, match="Could not decode|malformed JSON"):       # strict again after
        store.db.execute_sql("SELECT j.value FROM followup, json_each(followup.reasons) j").fetchall()


def test_a_question_id_the_card_damaged_is_no_crash_of_the_staff_screen(tmp_path, clock):
    """One byte of an employee answer's question id damaged on the card (`pulse` stored as
    `pu\xffse`), and of a customer answer's (`visit`): listing the questions withheld from every
    local figure raised "Could not decode to UTF-8 column 'question_id'" out of the staff view,
    which closed the kiosk app at every visit. The screen's figures are read tolerantly
    (`staff_screen`): each question's without the damaged answer, the pulse's still withheld.
    `kiosk stats` still says the card is damaged and how to mend it (tests/test_sd_card.py)."""
    from kiosk.stats import staff_screen
    cfg, store = _pulse_kiosk(tmp_path, clock)
    with store:
        store.db.execute_sql("UPDATE response SET question_id = CAST(X'7075FF7365' AS TEXT)"
                             " WHERE seq = (SELECT MIN(seq) FROM response WHERE question_id = 'pulse')")
        store.db.execute_sql("UPDATE response SET question_id = CAST(X'7669FF6974' AS TEXT)"
                             " WHERE seq = (SELECT MIN(seq) FROM response WHERE question_id = 'visit')")
        visit = staff_screen(cfg, store, clock.now(), "visit")
        pulse = staff_screen(cfg, store, clock.now(), "pulse")
        with pytest.raises(Exception, match="Could not decode"):     # `kiosk stats` reads strictly
            local_stats(cfg, store, clock.now())
    today = visit["stats"]["periods"]["today"]
    assert today["answers"] == 2 and set(today["questions"]) == {"visit"} and today["by_hour"][20] == 0
    assert visit["summary"]["days"][-1]["n"] == 2 and visit["summary"]["withheld"] is False
    assert pulse["stats"]["withheld"] == ["pulse"] and pulse["summary"]["withheld"] is True
    assert pulse["stats"]["periods"]["today"]["answers"] == 0


def test_staff_summary_keeps_praise_apart_from_the_complaints(cfg, store, recorder, clock):
    """Asked why after every answer, a happy customer says what went well: the staff praised
    four times and blamed once are not the top complaint; each list ranks its own mentions."""
    from kiosk.stats import staff_summary
    for i, (value, why) in enumerate([(4, ["staff"]), (4, ["staff", "queue"]), (3, ["staff"]), (4, ["staff"]),
                                      (1, ["queue"]), (2, ["queue", "staff"]), (1, ["price"])]):
        r = tap(recorder, clock, utc(2026, 11, 23, 8, 0) + timedelta(minutes=10 * i), value)
        recorder.record_followup(r.id, why, None)
    clock.set(utc(2026, 11, 23, 11, 0))
    s = staff_summary(cfg, store, clock.now(), "visit")
    assert s["top_complaints"] == [{"code": "queue", "n": 2}, {"code": "price", "n": 1}, {"code": "staff", "n": 1}]
    assert s["top_praise"] == [{"code": "staff", "n": 4}, {"code": "queue", "n": 1}]


def test_a_half_is_rounded_away_from_zero_as_the_centre_rounds_it(cfg, store, recorder, clock):
    """9 happy answers of 16: CSAT 56.25 %, shown 56.3 as the centre's pages and a spreadsheet show
    it (Python's round gave 56.2, the even neighbour of the binary value)."""
    for i, value in enumerate([4] * 9 + [1] * 7):
        tap(recorder, clock, utc(2026, 11, 23, 7, 0) + timedelta(minutes=5 * i), value)
    clock.set(utc(2026, 11, 23, 11, 0))
    visit = local_stats(cfg, store, clock.now())["periods"]["today"]["questions"]["visit"]
    assert visit["n"] == 16 and visit["csat"] == 56.3


@pytest.fixture
def two_scales(cfg, store, clock, config_mapping):
    """`visit` on smiley4 (v1) until a 5-button panel goes in at noon (v2, smiley5): ten unhappy
    answers this morning, three happy ones after; the same weekday last week on smiley4."""
    from kiosk.capture import Recorder
    from kiosk.config import parse_config
    mapping = json.loads(json.dumps(config_mapping))
    visit = next(q for q in mapping["questions"] if q["id"] == "visit")
    visit.update(version=2, scale="smiley5")
    mapping["gpio"] = {"buttons": [5, 6, 13, 19, 26], "leds": []}
    mapping["questions"] = [q for q in mapping["questions"] if q["id"] != "pulse"]      # a 4-point question
    mapping["schedule"] = [s for s in mapping["schedule"] if s["question"] != "pulse"]
    cfg5 = parse_config(mapping).with_data_dir(cfg.data_dir)
    before = Recorder(cfg, store, clock)
    tap(before, clock, utc(2026, 11, 16, 9, 0), 4)                   # a week ago, smiley4
    for i in range(10):
        tap(before, clock, utc(2026, 11, 23, 7, 0) + timedelta(minutes=10 * i), 1)
    after = Recorder(cfg5, store, clock)
    for i in range(3):
        tap(after, clock, utc(2026, 11, 23, 11, 0) + timedelta(minutes=10 * i), 5)
    clock.set(utc(2026, 11, 23, 12, 0))
    return cfg5, clock.now()


def test_the_staff_reasons_are_of_the_current_scale_only(store, recorder, two_scales):
    """The reasons are figures like the trend's: the morning's smiley4 answers and their
    follow-ups are counted apart (in `earlier_scale`), not among the smiley5 complaints."""
    from kiosk.stats import staff_summary
    cfg5, now = two_scales
    for rid, scale in store.db.execute_sql("SELECT id, scale FROM response WHERE local_date = '2026-11-23'"):
        recorder.record_followup(rid, ["queue" if scale == "smiley4" else "staff"])
    s = staff_summary(cfg5, store, now, "visit")
    assert s["top_complaints"] == [] and s["top_praise"] == [{"code": "staff", "n": 3}]
    assert s["followups"] == 3 and s["earlier_scale"] == {"smiley4": 10}


def test_a_question_on_two_scales_is_two_series_and_no_answer_is_lost(store, two_scales):
    """A series is (question, scale), as at the centre: the current scale keeps the question's
    id, the earlier one is `visit@smiley4`, counted apart; nothing is overwritten."""
    cfg5, now = two_scales
    s = local_stats(cfg5, store, now)
    today = s["periods"]["today"]
    assert today["answers"] == 13
    visit, earlier = today["questions"]["visit"], today["questions"]["visit@smiley4"]
    assert visit["scale"] == "smiley5" and visit["n"] == 3 and visit["happy_index"] == 100.0
    assert visit["other_series"] == ["visit@smiley4"]
    assert earlier == {"scale": "smiley4", "n": 10, "counts": {"1": 10, "2": 0, "3": 0, "4": 0}, "csat": 0.0,
                       "happy_index": 0.0, "series_of": "visit", "earlier_scale": True}
    # Last week was on smiley4 only: an earlier series there too, never compared with smiley5.
    last_week = s["periods"]["same_weekday_last_week"]["questions"]
    assert set(last_week) == {"visit@smiley4"} and last_week["visit@smiley4"]["n"] == 1
    assert s["periods"]["last_7_days"]["answers"] == 13
    from kiosk.stats import staff_summary
    summary = staff_summary(cfg5, store, now, "visit")
    assert summary["days"][-1] == {"date": "2026-11-23", "n": 3, "score": 100.0}
    assert summary["earlier_scale"] == {"smiley4": 10}


def test_stats_text_shows_the_earlier_scale_apart(store, two_scales):
    import io
    cfg5, now = two_scales
    out = io.StringIO()
    render_text(local_stats(cfg5, store, now), out)
    text = out.getvalue()
    assert "visit@smiley4" in text and "1:10 2:0 3:0 4:0" in text
    assert "visit@smiley4: answers on an earlier scale (smiley4) of question visit, a separate series" in text


def test_the_staff_screen_lists_no_employee_questions_comments(tmp_path, clock):
    """A colleague's comment on the employee question, with its score, day and hour, is one
    person's answer: the staff screen lists customers' comments only (as the web app)."""
    from kiosk.capture import Recorder
    from kiosk.config import parse_config
    from kiosk.demo import demo_config_mapping
    from kiosk.stats import staff_summary
    from kiosk.store import LocalStore
    mapping = demo_config_mapping()
    for q in mapping["questions"]:
        if q["id"] == "pulse":
            q["comment"] = True
    cfg = parse_config(mapping).with_data_dir(tmp_path / "data")
    with LocalStore(cfg.db_path) as store:
        recorder = Recorder(cfg, store, clock)
        r = tap(recorder, clock, utc(2026, 11, 23, 19, 40), 1, qid="pulse")
        recorder.record_followup(r.id, ["workload"], "för mycket att göra i kväll")
        clock.set(utc(2026, 11, 23, 21, 0))
        s = staff_summary(cfg, store, clock.now(), "pulse")
    assert s["withheld"] is True
    assert s["followups"] == 0 and s["top_complaints"] == s["top_praise"] == [] and s["comments"] == []
    assert [d["n"] for d in s["days"]] == [0] * 7 and all(d["score"] is None for d in s["days"])


def _pulse_kiosk(tmp_path, clock, *, keep_pulse: bool = True):
    """The demo config (its closing-time question `pulse` asked of employees) and a store with
    three customer answers and two colleagues' pulse answers today; without `keep_pulse` the
    config read afterwards has the pulse taken out."""
    from kiosk.capture import Recorder
    from kiosk.config import parse_config
    from kiosk.demo import demo_config_mapping
    mapping = demo_config_mapping()
    cfg = parse_config(mapping).with_data_dir(tmp_path / "data")
    store = LocalStore(cfg.db_path)
    recorder = Recorder(cfg, store, clock)
    for minute, value in ((0, 4), (10, 3), (20, 1)):
        tap(recorder, clock, utc(2026, 11, 23, 12, minute), value)
    for minute, value in ((40, 1), (50, 2)):
        r = tap(recorder, clock, utc(2026, 11, 23, 19, minute), value, qid="pulse")
        recorder.record_followup(r.id, ["workload"], None)
    clock.set(utc(2026, 11, 23, 21, 0))
    if not keep_pulse:
        mapping["questions"] = [q for q in mapping["questions"] if q["id"] != "pulse"]
        mapping["schedule"] = [e for e in mapping["schedule"] if e.get("question") != "pulse"]
        cfg = parse_config(mapping).with_data_dir(tmp_path / "data")
    return cfg, store


@pytest.mark.parametrize("keep_pulse", [True, False], ids=["in the config", "taken out of the config"])
def test_no_local_figure_holds_an_employee_answer(tmp_path, clock, keep_pulse):
    """Two colleagues answered the pulse today: the staff screen and `kiosk stats` (opened by
    those colleagues) show neither their count, their score, their hour nor their presses in any
    period or total, and say which question is left out. A question since taken out of the
    config is known by its stored answers' audience."""
    from kiosk.stats import staff_summary
    cfg, store = _pulse_kiosk(tmp_path, clock, keep_pulse=keep_pulse)
    with store:
        s = local_stats(cfg, store, clock.now())
        one = local_stats(cfg, store, clock.now(), question="pulse", since=date(2026, 11, 1))
        summary = staff_summary(cfg, store, clock.now(), "pulse")
    assert s["withheld"] == ["pulse"] and one["withheld"] == ["pulse"]
    for result in (s, one):
        for period in result["periods"].values():
            assert "pulse" not in period["questions"]
    today = s["periods"]["today"]
    assert today["answers"] == 3 and today["questions"]["visit"]["n"] == 3
    assert today["by_hour"][20] == 0 and sum(today["by_hour"]) == 3
    assert all(p["answers"] == 0 for p in one["periods"].values())
    assert summary["withheld"] is True and summary["top_complaints"] == summary["top_praise"] == []
    out = __import__("io").StringIO()
    render_text(s, out)
    assert "Not shown here: pulse, asked of employees" in out.getvalue()
