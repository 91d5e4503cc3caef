"""The kiosk app with each shipped Kivy display settings file, installed the way the kiosk is.

provision.sh copies `firmware_config/kivy/<display>-rot<deg>.ini` to `/var/lib/kundpuls/kivy/
config.ini` and the systemd unit runs `kiosk run` with `KIVY_HOME=/var/lib/kundpuls/kivy`. Here
the same command runs as a process under Xvfb with a temporary KIVY_HOME holding the shipped
file as `config.ini`, and must say READY (sd_notify, as systemd waits for it) once the
question screen has been drawn, in the orientation the file asks for. The settings Kivy ends up
with must be the device file's, with nothing the app added over them; only a laptop (no device
file) gets the app's own window settings.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]
INIS = sorted((ROOT / "firmware_config" / "kivy").glob("*.ini"))
UNIT = ROOT / "firmware_config" / "systemd" / "kundpuls-kiosk.service"
SETTLE_S = 7.0          # nobody touches it: asleep (SLEEP_AFTER_S), the start-up heap trim (5 s) done


def unit_environment() -> dict[str, str]:
    """The Environment= lines of the kiosk's systemd unit."""
    env = {}
    for line in UNIT.read_text().splitlines():
        if line.startswith("Environment="):
            key, value = line.removeprefix("Environment=").split("=", 1)
            env[key] = value
    return env


def install_like_provision(ini: Path, data: Path) -> Path:
    """What provision.sh does with the display file: KIVY_HOME/config.ini, byte for byte."""
    home = data / "kivy"
    home.mkdir(parents=True)
    (home / "config.ini").write_bytes(ini.read_bytes())
    return home


def kiosk_toml(path: Path, extra: str = "") -> Path:
    """A kiosk config for the run: the built-in question, no broker, no PIN (nothing secret)."""
    path.write_text('config_version = 1\n[kiosk]\nid = "device-test-1"\nsite = "demo-site-1"\n'
                    '[broker]\ntls = false\n' + extra)
    return path


def start_kiosk(ini: Path, work: Path, display: str, toml: str = "",
                python_args: list[str] | None = None) -> tuple[subprocess.Popen, socket.socket, Path]:
    """`kiosk run` (or `python_args` instead of `-m kiosk run`) as the unit starts it."""
    work.mkdir(parents=True)
    data = work / "data"
    home = install_like_provision(ini, data)
    sock_path = str(work / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(0.5)
    unit = unit_environment()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIVY_", "KCFG_", "KUNDPULS_"))}
    # The unit's Python settings too: the app must start at PYTHONOPTIMIZE=2 (-OO).
    env.update({k: v for k, v in unit.items() if k in ("KIVY_NO_ARGS", "LANG") or k.startswith("PYTHON")})
    assert unit["KIVY_HOME"] == "/var/lib/kundpuls/kivy" and unit["KUNDPULS_DATA_DIR"] == "/var/lib/kundpuls"
    env.update({
        "KIVY_HOME": str(home), "KUNDPULS_DATA_DIR": str(data),
        "KUNDPULS_CONFIG": str(kiosk_toml(work / "kiosk.toml", toml)),
        # The Pi's own: KMS and lgpio. Here: Xvfb and gpiozero's mock pins.
        "DISPLAY": display, "GPIOZERO_PIN_FACTORY": "mock",
        "NOTIFY_SOCKET": sock_path, "PYTHONPATH": str(ROOT),
    })
    proc = subprocess.Popen([sys.executable, *(python_args or ["-m", "kiosk", "run"])], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, sock, home


# `kiosk run` as the unit runs it, with a look at Kivy's clock from inside once nobody has
# touched it for SETTLE_S: a thread schedules the look on Kivy's own loop (Kivy's clock takes
# schedules from any thread), which writes what is scheduled to a file.
LOOK_INSIDE = r"""
import json, runpy, sys, threading, time
out, settle = sys.argv[1], float(sys.argv[2])

def look(_dt):
    from kivy.app import App
    from kivy.clock import Clock
    app = App.get_running_app()
    events = [e for e in Clock.get_events() if e.get_callback() is not look]
    with open(out, "w") as f:
        json.dump({"asleep": app.asleep, "max_fps": Clock._max_fps,
                   "repeating_every_s": sorted(e.timeout for e in events if e.loop)}, f)

def later():
    time.sleep(settle)
    from kivy.clock import Clock
    Clock.schedule_once(look, 0)

threading.Thread(target=later, daemon=True).start()
sys.argv = ["kiosk", "run"]
runpy.run_module("kiosk", run_name="__main__", alter_sys=True)
"""


def run_with(ini: Path, work: Path, display: str, look_inside: bool = False, toml: str = "") -> dict:
    """Start `kiosk run` with one shipped ini, wait for READY, stop it with SIGTERM; with
    `look_inside`, first wait for what Kivy's clock holds once nobody has touched it for a while
    (SETTLE_S): `out["inside"]`."""
    look = work / "inside.json"
    proc, sock, home = start_kiosk(ini, work, display, toml,
                                   ["-c", LOOK_INSIDE, str(look), str(SETTLE_S)] if look_inside else None)
    out: dict = {"ini": ini.name, "ready": None}
    try:
        deadline = time.monotonic() + 60
        while out["ready"] is None and proc.poll() is None and time.monotonic() < deadline:
            try:
                msg = sock.recv(4096).decode()
            except (socket.timeout, TimeoutError):
                continue
            if "READY=1" in msg:
                out["ready"] = msg
        if look_inside and out["ready"] is not None:
            deadline = time.monotonic() + SETTLE_S + 60    # a bound on waiting, not a measurement
            while not look.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.1)                                # the file is written in one go
            out["inside"] = json.loads(look.read_text()) if look.exists() else None
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        out.update(returncode=proc.returncode, stderr=err[-3000:],
                   config_after=(home / "config.ini").read_bytes() == ini.read_bytes())
        return out
    finally:
        sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def device_runs(xvfb_display, tmp_path_factory) -> dict[str, dict]:
    base = tmp_path_factory.mktemp("device")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {ini.name: pool.submit(run_with, ini, base / ini.stem, xvfb_display) for ini in INIS}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("ini", [p.name for p in INIS])
def test_kiosk_run_reaches_the_question_screen_with_the_shipped_ini(ini, device_runs):
    run = device_runs[ini]
    assert run["ready"] is not None, f"no READY from `kiosk run` with {ini}:\n{run['stderr']}"
    # READY comes once the question screen has been drawn; its status names the window it got.
    m = re.search(r"STATUS=showing the question \((\d+)x(\d+)\)", run["ready"])
    assert m, run["ready"]
    w, h = int(m.group(1)), int(m.group(2))
    rotation = int(re.search(r"rot(\d+)", ini).group(1))
    assert (w < h) == (rotation in (90, 270)), (ini, w, h)
    assert run["returncode"] == 0, run["stderr"]
    assert "Traceback" not in run["stderr"], run["stderr"]
    assert run["config_after"], "Kivy rewrote the installed config.ini"
    # ... and it ran as the unit runs it: Python at -OO (docs/ui.md, "Memory").
    assert unit_environment()["PYTHONOPTIMIZE"] == "2"


KIVY_SETTINGS = """
import json, sys
from kiosk.config import parse_config
from kiosk.ui.app import configure_kivy
from kivy.config import Config
configure_kivy(parse_config({}), demo=%(demo)s, size=None)
print(json.dumps({s: dict(Config.items(s)) for s in Config.sections()}))
"""


def kivy_settings_seen_by_the_app(home: Path, demo: bool) -> dict[str, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIVY_", "KCFG_"))}
    env.update(KIVY_HOME=str(home), KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", KIVY_SETTINGS % {"demo": demo}], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("ini", [p.name for p in INIS])
def test_the_app_leaves_the_device_settings_as_the_device_file_says(ini, tmp_path):
    path = ROOT / "firmware_config" / "kivy" / ini
    home = install_like_provision(path, tmp_path / "data")
    seen = kivy_settings_seen_by_the_app(home, demo=False)
    shipped = configparser.RawConfigParser()
    shipped.read(path)
    for section in shipped.sections():
        assert seen[section] == dict(shipped.items(section)), section
    # No touch arrives twice: the device file's one touch provider, no mouse provider.
    assert "mouse" not in seen["input"] and len(seen["input"]) == 1
    assert seen["graphics"]["maxfps"] == "30"


def test_a_laptop_without_a_device_file_gets_the_app_window_settings(tmp_path):
    seen = kivy_settings_seen_by_the_app(tmp_path / "kivy-home", demo=True)
    g = seen["graphics"]
    assert (g["fullscreen"], g["width"], g["height"], g["multisamples"]) == ("0", "800", "480", "0")
    # The laptop's mouse is its pointer; right-clicks must not leave multitouch dots.
    assert seen["input"]["mouse"] == "mouse,disable_multitouch"
    assert seen["kivy"]["exit_on_escape"] == "1"


def test_the_kiosk_sleeps_when_nobody_is_there(xvfb_display, tmp_path):
    """`kiosk run` on the device settings, nobody touching it: the question screen does not
    keep the process awake. Kivy's loop at 30 fps, a 10 Hz timeout check and gpiozero's
    hold-timer threads used to wake it about 100 times a second; asleep, Kivy's loop turns
    SLEEP_FPS times a second and nothing on its clock repeats more often than the timeout check
    (SLEEP_TICK_S). Seen from inside, not timed: what that costs in wake-ups and CPU is the
    `ui_frames` benchmark's (this test asserted < 5 wake-ups/s and < 1 % of a core, and failed
    once at 0.307 % with another test worker on the same two cores). The LEDs' idle breath is
    off here: it is an animation of its own, on the panel's thread (docs/ui.md)."""
    from kiosk.ui.sleep import SLEEP_FPS, SLEEP_TICK_S
    ini = ROOT / "firmware_config" / "kivy" / "dsi7-rot0.ini"
    run = run_with(ini, tmp_path / "idle", xvfb_display, look_inside=True, toml="[gpio]\nidle_pattern = false\n")
    assert run["ready"] is not None, run["stderr"]
    inside = run["inside"]
    assert inside is not None, run["stderr"]
    assert inside["asleep"] and inside["max_fps"] == SLEEP_FPS, inside
    assert all(every >= SLEEP_TICK_S for every in inside["repeating_every_s"]), inside
    assert run["returncode"] == 0, run["stderr"]


def test_no_display_is_an_error_that_says_what_to_check(tmp_path):
    """`kiosk run` as the unit starts it (SDL on KMS), with the shipped config, where no display
    can be opened (no DRM device here): `kiosk: error: no display: …` and a non-zero exit. It
    ended in a traceback (build: 'NoneType' object has no attribute 'size')."""
    unit = unit_environment()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIVY_", "KCFG_", "KUNDPULS_", "SDL_"))}
    env.pop("DISPLAY", None)
    env.update({k: v for k, v in unit.items() if k in ("KIVY_NO_ARGS", "LANG", "KIVY_WINDOW", "SDL_VIDEODRIVER")})
    assert env["SDL_VIDEODRIVER"] == "kmsdrm"
    home = install_like_provision(INIS[0], tmp_path / "data")
    env.update({"KIVY_HOME": str(home), "KUNDPULS_DATA_DIR": str(tmp_path / "data"),
                "KUNDPULS_CONFIG": str(ROOT / "firmware_config" / "kiosk.toml"),
                "GPIOZERO_PIN_FACTORY": "mock", "PYTHONPATH": str(ROOT)})
    r = subprocess.run([sys.executable, "-m", "kiosk", "run"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "Traceback (most recent call last)" not in r.stderr, r.stderr[-2000:]
    # Kivy has its own writer on stderr by then, which may put a space before a line.
    errors = [line.strip() for line in r.stderr.splitlines() if line.strip().startswith("kiosk: error: ")]
    assert len(errors) == 1 and errors[0].startswith("kiosk: error: no display: ") and "SDL_VIDEODRIVER=kmsdrm" in errors[0]
    assert "--headless" in errors[0] and "/dev/dri" in errors[0]
