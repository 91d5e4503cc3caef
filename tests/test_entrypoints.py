"""The installed console scripts start from anywhere, and a corrupt database is a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.cli import main as kiosk_main

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("script", ["kiosk", "kiosk-central"])
def test_installed_console_script_runs_outside_the_checkout(script, tmp_path):
    exe = BIN / script
    assert exe.exists(), f"{exe} is not installed: pip install -e '.[kiosk,central,test]'"
    out = subprocess.run([str(exe), "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(script)
    helped = subprocess.run([str(exe), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "usage:" in helped.stdout


@pytest.mark.parametrize("module", ["kiosk", "server_sync"])
def test_python_dash_m_works(module, tmp_path):
    out = subprocess.run([sys.executable, "-m", module, "--version"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("command", [["stats"], ["export"], ["simulate", "--taps", "2"],
                                     ["stats", "--json"]])
def test_a_corrupt_database_is_an_error_not_a_traceback(command, tmp_path, capsys):
    (tmp_path / "kiosk.db").write_bytes(b"this is not a database" * 100)
    rc = kiosk_main(["--data-dir", str(tmp_path), *command])
    err = capsys.readouterr().err
    assert rc != 0
    assert err.startswith("kiosk: error: the kiosk database") and "is damaged" in err and "kiosk repair" in err
    assert "Traceback" not in err


def test_pin_hash_reads_stdin_and_explains_mistakes():
    """`kiosk pin hash --stdin` as a person pipes a PIN to it: a real process, its real stdin."""
    from kiosk.pin import verify_pin

    def hashed(typed: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kiosk", "pin", "hash", "--stdin"], input=typed + "\n",
                              capture_output=True, text=True, encoding="utf-8", timeout=60,
                              cwd=Path(__file__).resolve().parent.parent)

    done = hashed("4817")
    assert done.returncode == 0 and verify_pin("4817", done.stdout.strip())
    # Too short; and digits of another script, whose hash the keypad's 0-9 could never match.
    for typed in ("12", "\uff15\uff18\uff12\uff19", "\u0665\u0668\u0662\u0669"):
        done = hashed(typed)
        assert done.returncode == 2 and done.stderr == "kiosk: error: a PIN is 4 to 12 digits 0-9\n", done.stderr


@pytest.mark.parametrize("pin, why", [("0000", "one digit repeated"), ("1234", "straight run"), ("4321", "straight run"),
                                      ("123456", "straight run"), ("1987", "year"), ("1212", "most common"),
                                      ("2580", "most common"), ("147147", "most common")])
def test_pin_hash_refuses_a_pin_a_customer_would_guess(monkeypatch, capsys, pin, why):
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO(pin + "\n"))
    assert kiosk_main(["pin", "hash", "--stdin"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kiosk: error: that PIN is too easy to guess") and why in err


def test_config_check_refuses_a_weak_pin_hash(tmp_path, capsys):
    from kiosk.pin import hash_pin
    weak = hash_pin("4817", iterations=1)
    conf = tmp_path / "kiosk.toml"
    conf.write_text(f'[staff]\npin_hash = "{weak}"\n')
    assert kiosk_main(["config", "check", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "staff.pin_hash" in err and "weak hash (1 iterations, at least 100000)" in err
