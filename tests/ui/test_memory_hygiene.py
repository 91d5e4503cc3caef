"""The seldom screens (comment keyboard, PIN pad, staff view) leave nothing behind once the
question screen is back: no screen, no garbage waiting for a later collection, no dead
observers in Kivy's pixel-scale list. Left for later, the app's next allocations land beside
them and that memory is never handed back whole (docs/ui.md, "Memory";
benchmarks/ui_frames.py measures the day)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report(xvfb_display, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("seldom")
    env = dict(os.environ, DISPLAY=xvfb_display, KIVY_HOME=str(work / "kivy-home"), KIVY_NO_ARGS="1",
               KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1", PYTHONPATH=str(ROOT))
    out = work / "report.json"
    proc = subprocess.run([sys.executable, "-m", "tests.ui.seldom_screens", "--data", str(work / "data"),
                           "--report", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert out.exists(), proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert "error" not in data, (data, proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return data


@pytest.mark.parametrize("after", ["after_comment", "after_staff_visit"])
def test_a_seldom_screen_leaves_nothing_behind(report, after):
    left = report[after]
    assert left["current"] == "question"
    assert left["screens"] == ["followup", "question", "thanks"]
    assert left["seldom_screen_objects"] == 0
    assert left["dead_observers"] == 0
