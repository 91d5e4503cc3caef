"""Touches held while the kiosk moves on (tests/ui/touches.py, the real app on Xvfb, landscape
and portrait): each acts only on the screen, question and follow-up it began on, or not at all;
two faces touched at once count neither; Skip keeps a written comment, marked not sent."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.ui.test_app import SHOTS, _rows, _run, assert_clean_run

pytestmark = pytest.mark.ui

RESOLUTIONS = ("800x480", "480x800")


@pytest.fixture(scope="module")
def runs(xvfb_display, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("touches")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {res: pool.submit(_run, res, base, xvfb_display, module="tests.ui.touches")
                   for res in RESOLUTIONS}
        return {res: f.result() for res, f in futures.items()}


@pytest.fixture(params=RESOLUTIONS)
def run(request, runs) -> dict:
    r = runs[request.param]
    assert r["report"] is not None, f"the app did not finish at {request.param}:\n{r['stderr']}"
    return r


def test_every_check_of_the_held_touches_passed(run):
    rep = assert_clean_run(run, 23)
    bad = [entry for entry in rep["layout"] if entry["problems"]]
    assert not bad, bad
    for name in ("question_two_fingers", "question_held_over_switch"):
        shot = SHOTS / rep["res"] / "sv" / f"{name}.png"
        assert shot.exists() and shot.stat().st_size > 2000, shot


def test_each_record_is_what_was_touched_and_nothing_else(run):
    """A chip held over a button's answer chose nothing; two faces at once, nothing; a face held
    over a button's answer, nothing; a face held over the schedule's switch, the touched
    question's answer; held too long, nothing; Skip after a comment kept it, not sent."""
    rows = _rows(run["db"], "SELECT r.question_id, r.value, r.source, f.reasons, f.comment, f.unsent"
                            " FROM response r LEFT JOIN followup f ON f.response_id = r.id ORDER BY r.seq")
    assert rows == [
        ("visit", 1, "touch", None, None, None), ("visit", 2, "button", None, None, None),   # 1. the chip
        ("visit", 4, "touch", None, None, None),                                             # 2. after two faces
        ("visit", 1, "button", None, None, None),                                            # 3. face and button
        ("visit", 4, "touch", None, None, None),                                             # 4. over the switch
        ("visit", 1, "touch", "[]", "kallt", 1),                                             # 5. Skip
        ("visit", 1, "touch", None, None, None),                                             # 6. the push
    ]
