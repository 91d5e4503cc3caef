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
    assert err.startswith("kiosk: error: cannot open database")
    assert "Traceback" not in err


def test_pin_hash_reads_stdin_and_explains_mistakes(monkeypatch, capsys):
    import io

    from kiosk.pin import verify_pin

    monkeypatch.setattr("sys.stdin", io.StringIO("4321\n"))
    assert kiosk_main(["pin", "hash", "--stdin"]) == 0
    assert verify_pin("4321", capsys.readouterr().out.strip())
    monkeypatch.setattr("sys.stdin", io.StringIO("12\n"))
    assert kiosk_main(["pin", "hash", "--stdin"]) == 1
    assert capsys.readouterr().err == "kiosk: error: a PIN is 4 to 12 digits\n"
