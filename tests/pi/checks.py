"""The checks `make pi-check` runs inside the emulated arm64 userland (tests/pi/inside.sh).

Each check runs the installed `kiosk` command the way a person or systemd would and says what
it saw; the first failure stops the run with a non-zero exit. Standard library only: this file
is copied into the arm64 root and runs under its Python.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIOSK = "/opt/kundpuls/venv/bin/kiosk"
PYTHON = "/opt/kundpuls/venv/bin/python"
# The kiosk's own unit tests: capture, config, store, CLI, panel, headless, stats, the screen
# flow and shapes (no broker, no PostgreSQL, no display needed).
UNIT_TESTS = ("tests/test_capture.py", "tests/test_cli.py", "tests/test_config.py", "tests/test_crash.py",
              "tests/test_doctor.py", "tests/test_export.py", "tests/test_filters.py",
              "tests/test_headless.py", "tests/test_panel.py", "tests/test_scrub.py",
              "tests/test_simulate.py", "tests/test_stats.py", "tests/ui/test_flow.py",
              "tests/ui/test_locale.py", "tests/ui/test_shapes.py", "tests/ui/test_faces.py")


class CheckFailed(Exception):
    pass


def step(text: str) -> None:
    print(f"pi-check: [{time.strftime('%H:%M:%S')}] {text}", flush=True)


def run(argv: list[str], env: dict[str, str], timeout: float, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, **kw)
    if proc.returncode != 0:
        raise CheckFailed(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


def check_commands(env: dict[str, str], data: Path) -> None:
    step("kiosk doctor")
    out = run([KIOSK, "doctor", "--json", "--data-dir", str(data)], env, 300).stdout
    checks = {c["name"]: c["status"] for c in json.loads(out)["checks"]}
    print(f"  {checks}")
    step("kiosk simulate --taps 300 --over 7d --followups")
    out = run([KIOSK, "simulate", "--taps", "300", "--over", "7d", "--followups", "--seed", "3",
               "--json", "--data-dir", str(data)], env, 600).stdout
    print(f"  {out.strip()[:300]}")
    step("kiosk stats")
    stats = json.loads(run([KIOSK, "stats", "--json", "--data-dir", str(data)], env, 300).stdout)
    answers = stats["periods"]["last_7_days"]["answers"]
    if answers <= 0:
        raise CheckFailed(f"kiosk stats counts no answers after simulate: {stats['periods']['last_7_days']}")
    print(f"  last 7 days: {answers} answers")


def check_headless_demo(env: dict[str, str], data: Path) -> None:
    step("kiosk run --headless --demo (key 4 answers, q quits)")
    env = dict(env, KUNDPULS_DATA_DIR=str(data))
    proc = subprocess.Popen([KIOSK, "run", "--headless", "--demo"], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        proc.stdin.write("4")
        proc.stdin.flush()
        deadline = time.monotonic() + 180
        while not any(line.startswith("answer") for line in lines):
            line = proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise CheckFailed("the headless demo recorded no answer:\n" + "".join(lines))
            lines.append(line)
        proc.stdin.write("q")
        proc.stdin.flush()
        lines += proc.stdout.readlines()
        if proc.wait(120) != 0:
            raise CheckFailed(f"the headless demo exited {proc.returncode}:\n" + "".join(lines))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print("  " + "  ".join(l for l in lines if l.startswith("answer")).strip())


def unit_python_settings(src: Path) -> dict[str, str]:
    """The PYTHON* Environment= settings of the kiosk app's shipped systemd unit."""
    unit = src / "firmware_config" / "systemd" / "kundpuls-kiosk.service"
    return dict(re.findall(r"^Environment=(PYTHON\w*)=(.*)$", unit.read_text(), re.MULTILINE))


def check_window(env: dict[str, str], ini: Path, work: Path) -> str:
    """`kiosk run --demo` with one shipped Kivy ini installed as $KIVY_HOME/config.ini and the
    shipped unit's Python settings (PYTHONOPTIMIZE): READY (sd_notify) once the question screen
    is drawn, then a clean stop on SIGTERM."""
    home = work / "kivy"
    home.mkdir(parents=True)
    (home / "config.ini").write_bytes(ini.read_bytes())
    sock_path = str(work / "notify.sock")
    env = dict(env, KIVY_HOME=str(home), KIVY_NO_ARGS="1", NOTIFY_SOCKET=sock_path,
               KUNDPULS_DATA_DIR=str(work / "data"), **unit_python_settings(ini.parents[2]))
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(sock_path)
        sock.settimeout(1.0)
        proc = subprocess.Popen([KIOSK, "run", "--demo"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            ready = None
            deadline = time.monotonic() + 300         # emulated: Mesa's shader compiler is slow
            while ready is None and proc.poll() is None and time.monotonic() < deadline:
                try:
                    msg = sock.recv(4096).decode()
                except TimeoutError:
                    continue
                if "READY=1" in msg:
                    ready = msg
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if ready is None:
        raise CheckFailed(f"the window demo with {ini.name} never said READY:\n{err[-3000:]}")
    if proc.returncode != 0:
        raise CheckFailed(f"the window demo with {ini.name} exited {proc.returncode}:\n{err[-3000:]}")
    return ready.split("STATUS=", 1)[-1].strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--display", required=True)
    ap.add_argument("--src", required=True)
    a = ap.parse_args(argv)
    src = Path(a.src)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIVY_", "KUNDPULS_"))}
    env.update(DISPLAY=a.display, GPIOZERO_PIN_FACTORY="mock", PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory(prefix="pi-check-") as tmp:
        work = Path(tmp)
        try:
            check_commands(env, work / "cmd")
            check_headless_demo(env, work / "headless")
            for ini in sorted((src / "firmware_config" / "kivy").glob("*.ini")):
                step(f"kiosk run --demo on Xvfb with {ini.name}")
                print(f"  {check_window(env, ini, work / ini.stem)}")
            step("the kiosk's unit tests")
            proc = subprocess.run([PYTHON, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                                   "-m", "not slow", *UNIT_TESTS], cwd=src, env=env, timeout=1800,
                                  text=True, capture_output=True)
            print(proc.stdout[-1500:])
            if proc.returncode != 0:
                raise CheckFailed(f"unit tests failed on arm64:\n{proc.stderr[-2000:]}")
        except (CheckFailed, subprocess.TimeoutExpired) as e:
            print(f"pi-check: error: {e}", file=sys.stderr, flush=True)
            return 1
    step("all checks passed on arm64")
    return 0


if __name__ == "__main__":
    sys.exit(main())
