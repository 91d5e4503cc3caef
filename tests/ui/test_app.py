"""The real kiosk app on Xvfb at every supported resolution: flows, rows, layout, screenshots.

One app process per resolution runs the scripted scenario (tests/ui/scenario.py), two at a
time; the tests below read its report and the SQLite database it wrote. Screenshots land in
tests/artifacts/screens/<res>/<lang>/<screen>.png (kept by CI, ignored by git).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "artifacts" / "screens"
RESOLUTIONS = ("800x480", "1024x600", "1280x720", "1280x800", "480x800")
SMILEY5_RESOLUTIONS = ("800x480", "480x800")     # the five-face kiosk, landscape and portrait
LANGS = ("sv", "nb", "en")
EVERY_LANGUAGE = ("question", "question_not_stored", "thanks", "followup", "comment_empty", "comment", "followup_with_comment",
                  "thanks_complaint", "question_nps", "thanks_nps", "question_pulse", "pin", "pin_locked",
                  "staff", "staff_visit", "staff_nps", "staff_pulse")


def _run(res: str, base: Path, display: str, variant: str = "smiley4", module: str = "tests.ui.scenario") -> dict:
    work = base / f"{res}-{variant}"
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DISPLAY=display, KIVY_HOME=str(work / "kivy-home"), KIVY_NO_ARGS="1",
               KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1", PYTHONPATH=str(ROOT))
    report = work / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", module, "--size", res, "--data", str(work / "data"),
         "--shots", str(SHOTS), "--report", str(report), "--variant", variant],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=150)
    out = {"returncode": proc.returncode, "stderr": proc.stderr[-4000:], "db": work / "data" / "kiosk.db"}
    out["report"] = json.loads(report.read_text()) if report.exists() else None
    return out


@pytest.fixture(scope="module")
def runs(xvfb_display, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("ui")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {res: pool.submit(_run, res, base, xvfb_display) for res in RESOLUTIONS}
        futures.update({f"{res}-smiley5": pool.submit(_run, res, base, xvfb_display, "smiley5")
                        for res in SMILEY5_RESOLUTIONS})
        return {key: f.result() for key, f in futures.items()}


@pytest.fixture(params=RESOLUTIONS)
def run(request, runs) -> dict:
    r = runs[request.param]
    assert r["report"] is not None, f"the app did not finish at {request.param}:\n{r['stderr']}"
    return r


def assert_clean_run(run: dict, min_checks: int) -> dict:
    """The app exited 0 with no error and every one of its (many) scenario checks passed."""
    rep = run["report"]
    assert rep["error"] is None, rep["error"]
    assert run["returncode"] == 0, run["stderr"]
    failed = [c for c in rep["checks"] if not c["ok"]]
    assert not failed, failed
    assert len(rep["checks"]) > min_checks
    return rep


def test_app_ran_the_whole_scenario(run):
    assert_clean_run(run, 100)


def test_no_clipped_text_or_overlapping_buttons(run):
    bad = [l for l in run["report"]["layout"] if l["problems"]]
    assert not bad, json.dumps(bad, indent=1, ensure_ascii=False)
    assert len(run["report"]["layout"]) == len(run["report"]["screens"])


def test_a_screenshot_of_every_screen_in_every_language(run):
    res = run["report"]["res"]
    expected = [SHOTS / res / lang / f"{name}.png" for lang in LANGS for name in EVERY_LANGUAGE]
    missing = [str(p) for p in expected if not p.exists() or p.stat().st_size < 2000]
    assert not missing
    for p in expected:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _rows(db: Path, sql: str, args=()) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_touch_answers_recorded_per_language(run):
    rows = _rows(run["db"], "SELECT language, question_id, value, filtered FROM response"
                            " WHERE source = 'touch' ORDER BY seq")
    for lang in LANGS:
        assert [(q, v) for l, q, v, _f in rows if l == lang and q == "visit"][:2] == [
            ("visit", 4), ("visit", 1)], rows
    assert [(l, v) for l, q, v, _f in rows if v == 2] == [("sv", 2)]
    assert all(f is None for *_x, f in rows), "scenario answers are spaced like real customers"
    assert ("recommend", 10) in [(q, v) for _l, q, v, _f in rows]
    assert ("recommend", 3) in [(q, v) for _l, q, v, _f in rows]
    pulse = _rows(run["db"], "SELECT value, audience FROM response WHERE question_id = 'pulse' AND source = 'touch'")
    assert pulse == [(3, "employee")]


def test_followups_keep_reasons_comment_and_timeouts(run):
    rows = _rows(run["db"], "SELECT r.language, r.value, f.reasons, f.comment FROM followup f"
                            " JOIN response r ON r.id = f.response_id WHERE r.source = 'touch'"
                            " ORDER BY f.seq")
    sent = [(l, json.loads(reasons), c) for l, v, reasons, c in rows if c]
    # A comment, then one tap on a reason sends both; a comment alone from the comment screen;
    # the follow-up left to time out keeps what was written.
    assert sent == [("sv", ["queue"], "kö 2"), ("sv", [], "ok"), ("nb", ["queue"], "kø 2"),
                    ("en", ["queue"], "ok 2"), ("sv", [], "x")]
    # Skipped ones leave no row.
    skipped = _rows(run["db"], "SELECT COUNT(*) FROM response r LEFT JOIN followup f ON f.response_id = r.id"
                               " WHERE r.source = 'touch' AND r.value = 2 AND f.id IS NULL")
    assert skipped == [(1,)]


def test_a_double_tap_on_a_face_chooses_no_reason(run):
    """The second tap of a double tap (150 and 180 ms after the face, on reason chips) is not a
    choice: the follow-up timed out with nothing chosen, so no follow-up row exists."""
    ids = run["report"]["double_taps"]
    assert len(ids) == 2                          # an unhappy face, then NPS 3
    values = _rows(run["db"], f"SELECT question_id, value FROM response WHERE id IN ({','.join('?' * len(ids))})"
                              " ORDER BY seq", ids)
    assert values == [("visit", 1), ("recommend", 3)]
    stored = _rows(run["db"], f"SELECT response_id, reasons FROM followup WHERE response_id IN"
                              f" ({','.join('?' * len(ids))})", ids)
    assert stored == []


def test_comments_are_kept_scrubbed(run):
    """The staff screen shows comments as stored: the phone number was scrubbed on the kiosk."""
    from tests.ui.scenario import PHONE_COMMENT
    (comment,) = _rows(run["db"], "SELECT comment FROM followup WHERE comment LIKE 'Ring mig%'")[0]
    assert "070" not in comment and comment != PHONE_COMMENT


def test_buttons_answer_through_the_same_path_and_the_gesture_does_not(run):
    rows = _rows(run["db"], "SELECT question_id, value, language FROM response WHERE source = 'button' ORDER BY seq")
    # Key 3 and key 1 pressed the mock pins; the two-outer-buttons hold recorded nothing;
    # key 4 during the (Swedish) staff view answered the pulse question, asked then, and during
    # the Norwegian one, after the pulse's hour, the customers' question.
    assert rows == [("visit", 3, "sv"), ("visit", 1, "sv"), ("pulse", 4, "sv"), ("visit", 4, "nb")]


def test_kiosk_run_demo_starts_the_app_and_stops_on_sigterm(xvfb_display, tmp_path):
    """`kiosk run --demo` through the CLI: READY=1 (sd_notify) after the first frame; SIGTERM
    closes it cleanly with exit status 0."""
    import signal
    import socket
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(30)
    env = dict(os.environ, DISPLAY=xvfb_display, KIVY_HOME=str(tmp_path / "kivy-home"),
               KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1", NOTIFY_SOCKET=sock_path,
               KUNDPULS_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
    env.pop("KUNDPULS_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--demo"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        msg = sock.recv(4096).decode()
        assert "READY=1" in msg
        assert (tmp_path / "data" / "kiosk.db").exists()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err[-2000:]
    finally:
        sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(params=SMILEY5_RESOLUTIONS)
def run5(request, runs) -> dict:
    r = runs[f"{request.param}-smiley5"]
    assert r["report"] is not None, f"the five-face app did not finish at {request.param}:\n{r['stderr']}"
    return r


def test_five_face_kiosk_runs_its_scenario_with_clean_layout_and_screenshots(run5):
    rep = assert_clean_run(run5, 15)
    bad = [l for l in rep["layout"] if l["problems"]]
    assert not bad, json.dumps(bad, indent=1, ensure_ascii=False)
    res = rep["res"]
    shots = [SHOTS / res / lang / "question5.png" for lang in LANGS]
    shots += [SHOTS / res / LANGS[0] / f"{name}.png" for name in ("thanks5", "staff5", "followup_two_reasons5")]
    assert all(p.exists() and p.stat().st_size > 2000 for p in shots), shots


def test_five_face_answers_by_touch_and_button(run5):
    rows = _rows(run5["db"], "SELECT question_id, value, source FROM response"
                             " WHERE source IN ('touch', 'button') ORDER BY seq")
    assert rows == [("visit5", 5, "touch"), ("visit5", 3, "touch"), ("visit5", 1, "touch"),
                    ("visit5", 5, "button")]
    followups = _rows(run5["db"], "SELECT r.value, f.reasons FROM followup f JOIN response r ON r.id = f.response_id"
                                  " WHERE r.source = 'touch'")
    assert followups == [(1, '["queue", "price"]')]                  # the question takes two
