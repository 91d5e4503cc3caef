"""A data directory this user may not enter or write (run as another user than the kiosk's):
every command says so, naming the directory, the user and how to run it as the kiosk's user;
doctor reports a permissions failure, never damage and never `kiosk repair`.

Run as user nobody (setpriv) from root, since root ignores file modes; skipped elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kiosk.store import LocalStore

ROOT = Path(__file__).parent.parent
NOBODY = 65534
COMMANDS = (["stats"], ["export"], ["refused", "list"], ["repair"], ["simulate", "--taps", "1"])


@pytest.fixture
def kiosk_dir():
    """A kiosk.toml and a data directory with a database in it, owned by root, in a directory
    user nobody can reach (pytest's tmp_path is not)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("running as another user needs root and setpriv")
    top = Path(tempfile.mkdtemp(prefix="kundpuls-access-"))
    try:
        top.chmod(0o755)
        data = top / "data"
        LocalStore(data / "kiosk.db", kiosk_id="k1").close()
        (top / "kiosk.toml").write_text(f'[kiosk]\nid = "k1"\nsite = "s1"\ndata_dir = "{data}"\n'
                                        '[broker]\nhost = "127.0.0.1"\nport = 1\ntls = false\n', encoding="utf-8")
        yield top
    finally:
        shutil.rmtree(top)


def as_nobody(top: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                           sys.executable, "-m", "kiosk", "--config", str(top / "kiosk.toml"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(top)})


@pytest.mark.parametrize("mode", [0o700, 0o555])
def test_a_data_dir_this_user_may_not_use_is_named_with_the_user(kiosk_dir, mode):
    """0700: nobody may not enter it (was a PermissionError traceback); 0555: nobody may not
    write it, which SQLite needs for its -wal and -shm files (was "attempt to write a readonly
    database", and doctor called the database unreadable and sent people to `kiosk repair`)."""
    data = kiosk_dir / "data"
    data.chmod(mode)
    for args in COMMANDS:
        r = as_nobody(kiosk_dir, *args)
        assert r.returncode == 1 and "Traceback" not in r.stderr, (args, r.stderr)
        assert r.stderr.startswith(f"kiosk: error: user nobody may not ") and str(data) in r.stderr, (args, r.stderr)
        assert "sudo -u kundpuls" in r.stderr and len(r.stderr.splitlines()) == 1, (args, r.stderr)
    r = as_nobody(kiosk_dir, "doctor", "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    database = checks["database"]
    assert database["status"] == "fail" and database["detail"].startswith("user nobody may not "), database
    assert "sudo -u kundpuls" in database["detail"] and "repair" not in r.stdout, r.stdout
    assert checks["data dir"]["status"] == "fail" and "is not writable by user nobody" in checks["data dir"]["detail"]


def test_a_data_dir_under_a_directory_this_user_may_not_enter(kiosk_dir):
    """data_dir below a directory nobody may not enter (so nobody cannot tell whether data_dir
    is there): simulate, sync and doctor gave a PermissionError traceback (Path.exists raises on
    EACCES); now each says which directory, like stats, and doctor reports a failed row."""
    locked = kiosk_dir / "locked"
    locked.mkdir(mode=0o700)
    data = locked / "sub"
    (kiosk_dir / "kiosk.toml").write_text(f'[kiosk]\nid = "k1"\nsite = "s1"\ndata_dir = "{data}"\n'
                                          '[broker]\nhost = "127.0.0.1"\nport = 1\ntls = false\n', encoding="utf-8")
    for args in (*COMMANDS, ["simulate", "--taps", "2", "--force"], ["sync", "--once"]):
        r = as_nobody(kiosk_dir, *args)
        assert r.returncode == 1 and "Traceback" not in r.stderr, (args, r.stderr)
        assert r.stderr == f"kiosk: error: user nobody may not enter {locked}: run it as the kiosk's user " \
                           "(sudo -u kundpuls /opt/kundpuls/venv/bin/kiosk …)\n", (args, r.stderr)
    assert not data.exists()
    r = as_nobody(kiosk_dir, "doctor", "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["data dir"]["status"] == "fail", checks
    assert checks["data dir"]["detail"].startswith(f"user nobody may not enter {locked}"), checks["data dir"]
    assert checks["database"]["status"] == "fail" and "repair" not in r.stdout, r.stdout
