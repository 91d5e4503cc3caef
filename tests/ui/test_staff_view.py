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
    cells = staff_table(stats, "visit", nps=False)
    # Today on smiley5 (3 happy answers); last week's answer was on smiley4: no score to compare.
    assert cells["today.n"] == "3*" and cells["today.score"] == "100"
    assert cells["before.n"] == "0" and cells["change.score"] == "–"
    assert staff_notes(stats, summary, "en") == [
        "Answers on an earlier scale in the last 7 days, counted separately (not in the figures above): 10"]
    assert staff_notes(stats, summary, "sv")[0].endswith(": 10")
