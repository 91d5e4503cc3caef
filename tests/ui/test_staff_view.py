"""The staff view's figures for a question answered on two scales: today is compared with the
same weekday last week within the current scale only, and a line says that answers on an
earlier scale exist (counted apart, in none of the figures shown)."""

from __future__ import annotations

import os

os.environ.setdefault("KIVY_NO_ARGS", "1")          # Kivy must not read pytest's arguments

from kiosk.stats import local_stats, staff_summary  # noqa: E402
from kiosk.ui.screens import staff_notes, staff_table  # noqa: E402
from tests.test_stats import two_scales  # noqa: E402,F401  (the fixture)


def test_the_staff_view_compares_within_one_scale_and_names_the_earlier_one(store, two_scales):  # noqa: F811
    cfg5, now = two_scales
    stats = local_stats(cfg5, store, now, question="visit")
    summary = staff_summary(cfg5, store, now, "visit")
    cells = staff_table(stats, summary, "visit", nps=False)
    # Today on smiley5 (3 happy answers); last week's answer was on smiley4: no score to compare.
    assert cells["today.n"] == "3*" and cells["today.score"] == "100"
    assert cells["before.n"] == "0" and cells["change.score"] == "–"
    assert staff_notes(stats, summary, "en") == [
        "Answers on an earlier scale in the last 7 days, counted separately (not in the figures above): 10"]
    assert staff_notes(stats, summary, "sv")[0].endswith(": 10")


def test_an_nps_bar_grows_from_zero_up_or_down_and_a_score_from_the_bottom():
    """Drawn from -100, an NPS of -88 was a short bar and -23 a taller one: read as the better
    day and the worse. From a zero line, the worse day's bar goes further down."""
    from kiosk.ui.charts import LEAST, bar_span
    worse, better, good = bar_span(-88, nps=True), bar_span(-23, nps=True), bar_span(40, nps=True)
    assert worse[1] == better[1] == good[0] == 0.5                  # all on the zero line
    assert worse[0] < better[0] < 0.5 < good[1]
    assert 0.5 - worse[0] > 0.5 - better[0]                         # -88 the longer bar
    assert bar_span(0, nps=True) == (0.5, 0.5 + LEAST)              # a zero day still shows
    assert bar_span(100, nps=True) == (0.5, 1.0) and bar_span(-100, nps=True) == (0.0, 0.5)
    assert bar_span(75, nps=False) == (0.0, 0.75) and bar_span(None, nps=True) is None


def test_staff_figures_have_a_true_minus_and_comments_say_what_was_removed():
    from kiosk.ui.charts import bar_span
    from kiosk.ui.texts import comment_text, whole
    assert whole(-50) == "\u221250" and whole(-7, signed=True) == "\u22127" and whole(3, signed=True) == "+3"
    assert whole(-0.3) == "0" and whole(None) == "–" and whole(74.4, " %") == "74 %"
    assert whole(0, signed=True) == whole(-0.4, signed=True) == "0"          # no change, no sign
    assert bar_span(-0.4, nps=True) == bar_span(0, nps=True)                   # drawn as its label says
    stored = "Ring mig på [phone], fråga efter [name]"
    assert comment_text(stored, "sv") == "Ring mig på [telefonnummer borttaget], fråga efter [namn borttaget]"
    assert comment_text(stored, "en") == "Ring mig på [phone number removed], fråga efter [name removed]"
    assert comment_text("[phone]", "nb") == "[telefonnummer fjernet]"


def test_the_change_is_the_difference_of_the_figures_shown():
    """Each figure is shown whole; the change was the whole of the unrounded difference, so the
    row read 29, 76 and −46 (the review's example; and 40 %, 47 %, −6)."""
    def period(n, score, csat):
        return {"questions": {"visit": {"n": n, "counts": {}, "happy_index": score, "csat": csat}}}
    stats = {"periods": {"today": period(17, 29.4, 40.4)}}
    cells = staff_table(stats, {"same_time_last_week": period(40, 75.6, 46.5)}, "visit", nps=False)
    assert (cells["today.score"], cells["before.score"], cells["change.score"]) == ("29", "76", "\u221247")
    assert (cells["today.csat"], cells["before.csat"], cells["change.csat"]) == ("40\u00a0%", "47\u00a0%", "\u22127\u00a0pp")
    from kiosk.ui.texts import whole
    assert whole(28.5) == "29" and whole(-2.5) == "\u22123"      # a half away from zero, as everywhere


def test_today_so_far_is_compared_with_last_week_up_to_the_same_time(cfg, store, recorder, clock):
    """At noon, 17 answers today against last week's 40 of the whole day read "−23": every
    morning a collapse. Last week's same weekday is counted up to the same local time (to the
    millisecond: an answer at 12:00:00.000 last week is after noon), its figures too."""
    from datetime import datetime, timedelta, timezone
    noon = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)         # Monday 12:00 in Stockholm
    week_ago = noon - timedelta(days=7)
    for i in range(40):                                 # last Monday: 08:00 to 19:42, one per 18 min
        clock.set(week_ago - timedelta(hours=4) + timedelta(minutes=18 * i))
        recorder.record("visit", 4 if i < 20 else 1)
        if i == 13:                                     # 11:54, and one at 12:00:00.000 sharp
            clock.set(week_ago)
            recorder.record("visit", 1)
    for i in range(17):                                 # this morning
        clock.set(noon - timedelta(hours=4) + timedelta(minutes=12 * i))
        recorder.record("visit", 4)
    clock.set(noon)
    stats = local_stats(cfg, store, noon, question="visit")
    summary = staff_summary(cfg, store, noon, "visit")
    cells = staff_table(stats, summary, "visit", nps=False)
    # Last Monday 08:00, 08:18 ... 11:54: 14 answers before noon, all happy; 12:00:00.000 is not before it.
    assert (cells["today.n"], cells["before.n"], cells["change.n"]) == ("17*", "14*", "+3")
    assert (cells["today.score"], cells["before.score"], cells["change.score"]) == ("100", "100", "0")
    assert stats["periods"]["same_weekday_last_week"]["questions"]["visit"]["n"] == 41   # `kiosk stats`: the whole day
