"""The buttons-only kiosk: presses through SmileyPanel into the Recorder, the staff gesture,
the systemd notifications, the demo keys, and a clean stop on SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kiosk.config import parse_config
from kiosk.exc import ConfigError
from kiosk.headless import HeadlessKiosk, button_question
from server_sync.program.systemd import SystemdNotifier
from seeds.catalogue import QUESTIONS
from seeds.demo import demo_config_mapping

ROOT = Path(__file__).resolve().parent.parent


def press(factory, mono, pin, hold=0.2):
    factory.pin(pin).drive_low()
    mono.advance(hold)
    factory.pin(pin).drive_high()


@pytest.fixture
def kiosk(cfg, store, recorder, panel, clock):
    return HeadlessKiosk(cfg, store, recorder, panel, clock)


def rows(store):
    return store.db.execute_sql("SELECT question_id, value, source, filtered FROM response ORDER BY seq").fetchall()


def test_press_records_the_active_question_through_the_recorder(kiosk, store, mock_factory, mono, clock, panel):
    press(mock_factory, mono, 19)                # the happiest button
    clock.advance(1)
    mono.advance(1)
    press(mock_factory, mono, 5)                 # a repeat press: recorded, flagged...
    assert rows(store) == [("visit", 4, "button", None), ("visit", 1, "button", "repeat")]
    assert panel.led_values() == [1.0, 0.0, 0.0, 0.0]    # ...with the same LED feedback


def test_scheduled_employee_pulse_is_answered_at_closing(kiosk, store, mock_factory, mono, clock):
    clock.set(datetime(2026, 11, 23, 19, 45, tzinfo=timezone.utc))    # 20:45 Stockholm, Monday
    press(mock_factory, mono, 13)
    assert rows(store) == [("pulse", 3, "button", None)]


def test_the_journal_gets_no_answers_value(kiosk, store, mock_factory, mono, clock, caplog):
    """The service logs at INFO into the journal, which no retention reaches: an employee pulse
    answer with its value at a known minute is one colleague's (docs/privacy.md: shown only for
    groups of five). The log says an answer to which question was stored, never its value."""
    caplog.set_level(logging.INFO, logger="kiosk.headless")
    clock.set(datetime(2026, 11, 23, 19, 45, tzinfo=timezone.utc))    # 20:45 Stockholm: the pulse
    press(mock_factory, mono, 13)
    assert rows(store) == [("pulse", 3, "button", None)]
    lines = [r.getMessage() for r in caplog.records if r.name == "kiosk.headless"]
    assert lines == ["answer to pulse stored, seq 1"], lines


def test_an_unsynced_clock_is_never_asked_the_scheduled_pulse(kiosk, store, mock_factory, mono, clock):
    """The same rule as the screen's (kiosk.config.asked_question): fake-hwclock's Monday 20:45 is
    no closing time; the buttons answer the default customer question until the clock syncs."""
    clock.synced = False
    clock.set(datetime(2026, 11, 23, 19, 45, tzinfo=timezone.utc))    # "20:45 Stockholm, Monday"
    press(mock_factory, mono, 13)
    clock.synced = True
    clock.advance(10)
    mono.advance(10)
    press(mock_factory, mono, 13)
    assert rows(store) == [("visit", 3, "button", None), ("pulse", 3, "button", None)]


def test_unsynced_the_buttons_fall_back_to_a_customer_question_only():
    m = demo_config_mapping()
    m["questions"] = [dict(QUESTIONS["recommend"]), dict(QUESTIONS["pulse"]), dict(QUESTIONS["checkout"])]
    m["schedule"] = []
    cfg = parse_config(m)
    at = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
    assert button_question(cfg, 4, at).id == "pulse"                  # synced: the first that fits
    assert button_question(cfg, 4, at, synced=False).id == "checkout"


def test_nps_question_falls_back_to_a_smiley_question():
    m = demo_config_mapping()
    m["questions"] = [dict(QUESTIONS["recommend"]), dict(QUESTIONS["checkout"])]
    m["schedule"] = []
    cfg = parse_config(m)
    assert button_question(cfg, 4, datetime(2026, 11, 23, 12, tzinfo=timezone.utc)).id == "checkout"
    m["questions"] = [dict(QUESTIONS["recommend"])]
    with pytest.raises(ConfigError, match="no question can be answered with 4 buttons"):
        button_question(parse_config(m), 4, datetime(2026, 11, 23, 12, tzinfo=timezone.utc))


def test_staff_gesture_logs_stats_and_blinks_the_outbox(kiosk, store, recorder, mock_factory, mono, panel, caplog):
    recorder.record("visit", 2)
    caplog.set_level(logging.INFO, logger="kiosk.headless")
    mock_factory.pin(5).drive_low()
    mock_factory.pin(19).drive_low()
    mono.advance(3.1)
    mock_factory.pin(5).drive_high()
    mock_factory.pin(19).drive_high()
    assert "outbox 1 unacked" in caplog.text and "visit: n=1" in caplog.text
    assert panel.led_values() == [1.0] * 4                  # first blink of "1 waiting"
    assert len(rows(store)) == 1                             # the gesture recorded nothing


def test_run_loop_notifies_systemd_and_stops(kiosk, tmp_path):
    addr = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(addr)
    sock.settimeout(5)
    kiosk.notifier = SystemdNotifier(env={"NOTIFY_SOCKET": addr, "WATCHDOG_USEC": "200000"})
    t = threading.Thread(target=kiosk.run)
    t.start()
    try:
        assert sock.recv(256).startswith(b"READY=1")
        assert sock.recv(256) == b"WATCHDOG=1"
    finally:
        kiosk.stop()
        t.join(5)
        sock.close()
    assert not t.is_alive()


def start_demo(data: Path, stderr: int) -> subprocess.Popen:
    """`kiosk run --headless --demo` with the demo config, keys on a pipe."""
    # The customers' question at every hour (the demo's staff pulse hour would take the keys).
    env = dict(os.environ, KUNDPULS_DATA_DIR=str(data), PYTHONPATH=f"{ROOT / 'tests' / 'no_pulse_hour'}:{ROOT}")
    env.pop("KUNDPULS_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--headless", "--demo"], cwd=ROOT,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                            text=True)


@contextmanager
def stopped_by_sigterm(child: subprocess.Popen):
    """The block talks to `child`; then SIGTERM must stop it cleanly (exit 0). Killed if the
    block failed."""
    try:
        yield child
        child.send_signal(signal.SIGTERM)
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.slow
def test_demo_process_keys_and_sigterm(tmp_path):
    with stopped_by_sigterm(start_demo(tmp_path, stderr=subprocess.PIPE)) as child:
        banner = child.stdout.readline()
        assert "demo-kiosk-1" in banner
        child.stdin.write("23")                 # two keys typed at once: played one after the other
        child.stdin.flush()
        answers = []
        while len(answers) < 2:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            if line.startswith("answer"):
                answers.append(line.split()[1])
    # The keys pressed, in order (the question: the customers', start_demo leaves out the pulse hour).
    assert [a.split("=")[1] for a in answers] == ["2", "3"]
    con = sqlite3.connect(tmp_path / "kiosk.db")
    assert con.execute("SELECT COUNT(*), MIN(source) FROM response").fetchone() == (2, "button")
    con.close()


def test_demo_in_process_with_a_pipe_for_keys(tmp_path):
    import io
    from kiosk.loading import load
    from kiosk.headless import run_headless
    cfg = load(None, str(tmp_path), env={}, demo=True)
    r, w = os.pipe()
    os.write(w, b"x94")         # x and 9 are not keys here
    out = io.StringIO()
    done = threading.Event()
    result = []

    def main():
        result.append(run_headless(cfg, demo=True, out=out, stdin_fd=r))
        done.set()
    t = threading.Thread(target=main)
    t.start()
    ev = threading.Event()
    deadline = 100
    while "answer" not in out.getvalue() and deadline:
        ev.wait(0.1)
        deadline -= 1
    os.write(w, b"q")
    assert done.wait(10)
    os.close(w)
    os.close(r)
    text = out.getvalue()
    assert "keys      1-4" in text and "PIN 1234 (the demo config's)" in text
    answers = [line for line in text.splitlines() if line.startswith("answer")]
    assert len(answers) == 1 and answers[0].endswith("=4 seq 1")
    assert result == [0]


def test_a_newer_pushed_config_is_picked_up_while_running(cfg, store, recorder, panel, clock, mock_factory,
                                                          mono, config_mapping):
    """The sync agent saves a push; the running kiosk switches within a check interval."""
    from kiosk.pushed import PushedConfigWatch
    from kiosk.pushed import save_pushed
    watch = PushedConfigWatch(cfg, base=config_mapping)
    kiosk = HeadlessKiosk(cfg, store, recorder, panel, clock, config_watch=watch)
    assert kiosk.check_config() is False               # nothing pushed yet
    save_pushed(cfg.data_dir, {"version": 7, "questions": [dict(QUESTIONS["checkout"])], "schedule": []})
    assert kiosk.check_config() is False               # not due yet: one stat every few seconds
    clock.advance(5)
    assert kiosk.check_config() is True
    assert kiosk.cfg.config_version == 7 and kiosk.cfg.kiosk_id == cfg.kiosk_id
    press(mock_factory, mono, 19)
    assert rows(store) == [("checkout", 4, "button", None)]
    # A push the buttons cannot answer (NPS only) is refused; the kiosk keeps asking "checkout".
    save_pushed(cfg.data_dir, {"version": 8, "questions": [dict(QUESTIONS["recommend"])], "schedule": []})
    clock.advance(5)
    assert kiosk.check_config() is False
    clock.advance(7)
    mono.advance(7)
    press(mock_factory, mono, 5)
    assert rows(store)[-1] == ("checkout", 1, "button", None)


@pytest.mark.slow
def test_demo_prints_each_event_once_on_the_terminal(tmp_path):
    """stdout and stderr share the terminal: an answer or the staff gesture is said once."""
    child = start_demo(tmp_path, stderr=subprocess.STDOUT)   # one terminal for both
    lines = []
    try:
        child.stdin.write("4g")
        child.stdin.flush()
        while not any("staff:" in line for line in lines):
            line = child.stdout.readline()
            assert line, lines
            lines.append(line)
        child.send_signal(signal.SIGTERM)
        lines += child.stdout.readlines()
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert len([line for line in lines if "answer visit=4 seq 1" in line]) == 1, lines
    assert len([line for line in lines if "staff: kiosk demo-kiosk-1" in line]) == 1, lines


def _banner(cfg, tmp_path) -> str:
    import io
    from kiosk.headless import run_headless
    r, w = os.pipe()
    os.write(w, b"q")
    out = io.StringIO()
    try:
        assert run_headless(cfg, demo=True, out=out, stdin_fd=r) == 0
    finally:
        os.close(w)
        os.close(r)
    return out.getvalue()


def test_demo_announces_the_demo_pin_only_with_the_demo_config(tmp_path):
    """`--demo` with a real config (--config / KUNDPULS_CONFIG): that config's PIN applies and is
    never printed; the demo PIN is named only when the demo config is in use."""
    from kiosk.loading import load
    from kiosk.pin import hash_pin
    from seeds.demo import DEMO_PIN
    demo = _banner(load(None, str(tmp_path / "demo"), env={}, demo=True), tmp_path)
    assert f"PIN {DEMO_PIN} (the demo config's)" in demo
    real = tmp_path / "kiosk.toml"
    real.write_text(f'[kiosk]\nid = "k2"\n\n[staff]\npin_hash = "{hash_pin("9876")}"\n')
    text = _banner(load(str(real), str(tmp_path / "real"), env={}, demo=True), tmp_path)
    assert DEMO_PIN not in text and "9876" not in text
    assert "the staff PIN of the config in use (staff.pin_hash)" in text
    real.write_text("[kiosk]\nid = \"k2\"\n")
    text = _banner(load(str(real), str(tmp_path / "none"), env={}, demo=True), tmp_path)
    assert DEMO_PIN not in text and "staff screen is locked" in text


def test_the_headless_kiosk_tells_the_sync_agent_its_kind(cfg, store, recorder, panel, clock):
    """The agent (its own process) refuses pushes these buttons could not ask: it reads this."""
    from kiosk.usable import HEADLESS, KIND_META, recorded_kind
    assert recorded_kind(store) is None
    HeadlessKiosk(cfg, store, recorder, panel, clock)
    assert store.get_meta(KIND_META) == HEADLESS and recorded_kind(store) == HEADLESS


@pytest.mark.slow
def test_a_saved_push_the_buttons_cannot_ask_does_not_stop_the_start(tmp_path):
    """`kiosk run --headless` (what systemd starts) with a saved NPS-only push: it starts with
    its file's questions and says why the push is left out, instead of exiting (a restart loop)."""
    from kiosk.pushed import save_pushed
    config = tmp_path / "kiosk.toml"
    config.write_text('config_version = 1\n[kiosk]\nid = "k1"\nsite = "s1"\n')
    data = tmp_path / "data"
    data.mkdir()
    save_pushed(data, {"version": 7, "questions": [dict(QUESTIONS["recommend"])], "schedule": []})
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock", PYTHONPATH=str(ROOT))
    env.pop("KUNDPULS_CONFIG", None)
    child = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config),
                              "--data-dir", str(data)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    with stopped_by_sigterm(child):
        while not any("headless kiosk k1 running" in line for line in lines):
            line = child.stderr.readline()
            assert line, "".join(lines)            # it exited instead of running
            lines.append(line)
    left_out = [line for line in lines if "saved push version 7 not used" in line]
    assert len(left_out) == 1 and "no question can be answered with 4 buttons" in left_out[0]


def test_the_window_demo_says_what_the_headless_one_does(tmp_path, monkeypatch, capsys):
    """`kiosk run --demo` (the window) printed nothing of its keys, PIN or data: the headless
    demo's banner only (a review). Both now print kiosk.demo_banner's, the window's with its corner
    and the PIN pad's keyboard; the kiosk's database is named."""
    import kiosk.ui.app
    from kiosk.cli import main
    monkeypatch.setenv("DISPLAY", ":0")                 # no window is opened: run_app is replaced
    monkeypatch.delenv("KUNDPULS_CONFIG", raising=False)
    monkeypatch.setattr(kiosk.ui.app, "run_app", lambda cfg, demo: 0)
    assert main(["run", "--demo", "--data-dir", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Kundpuls window demo: kiosk demo-kiosk-1")
    assert f"data dir  {tmp_path / 'demo'}\n  database  {tmp_path / 'demo' / 'kiosk.db'}\n" in out
    assert "keys      1-4" in out and "g = staff gesture" in out and "PIN 1234 (the demo config's)" in out
    assert "top-left corner 3 s" in out and "Enter checks it, Escape closes the pad" in out
