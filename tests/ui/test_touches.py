"""Touches held while the kiosk moves on (tests/ui/touches.py, the real app on Xvfb, landscape
and portrait): each acts only on the screen, question and follow-up it began on, or not at all;
two faces touched at once count neither; Skip keeps a written comment, marked not sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.ui.test_app import _rows, assert_clean_run

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "artifacts" / "screens"
RESOLUTIONS = ("800x480", "480x800")


def _run(res: str, base: Path, display: str) -> dict:
    work = base / res
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DISPLAY=display, KIVY_HOME=str(work / "kivy-home"), KIVY_NO_ARGS="1",
               KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1", PYTHONPATH=str(ROOT))
    report = work / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ui.touches", "--size", res, "--data", str(work / "data"),
         "--shots", str(SHOTS), "--report", str(report)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=150)
    return {"returncode": proc.returncode, "stderr": proc.stderr[-4000:], "db": work / "data" / "kiosk.db",
            "report": json.loads(report.read_text()) if report.exists() else None}


@pytest.fixture(scope="module")
def runs(xvfb_display, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("touches")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {res: pool.submit(_run, res, base, xvfb_display) for res in RESOLUTIONS}
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
