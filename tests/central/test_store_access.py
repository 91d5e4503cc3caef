"""A central SQLite store this user may not use (run as another user than the centre's): the
error names the user and the directory and says SQLite writes beside the file even to read it,
instead of "unable to open database file" or "attempt to write a readonly database" (which blamed
the file for its directory).

Run as user nobody (setpriv) from root, since root ignores file modes; skipped elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from server_sync.central.db import connect

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


@pytest.fixture
def store_dir():
    """A migrated central store owned by root, in a directory user nobody can reach."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("running as another user needs root and setpriv")
    top = Path(tempfile.mkdtemp(prefix="kundpuls-central-access-"))
    try:
        top.chmod(0o755)
        (top / "data").mkdir()
        # The ingestors' slots, shared by every user as the temporary directory is: root's slot 1
        # is there (opening it as another user was a PermissionError traceback).
        (top / "slots").mkdir()
        (top / "slots").chmod(0o1777)
        (top / "slots" / "kundpuls-ingest-1.lock").touch(mode=0o644)
        connect(f"sqlite:///{top / 'data' / 'central.db'}").close()
        yield top
    finally:
        shutil.rmtree(top)


def as_nobody(top: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                           sys.executable, "-m", "server_sync", "--db", f"sqlite:///{top / 'data' / 'central.db'}",
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(top), "STATE_DIRECTORY": str(top / "slots")})


@pytest.mark.parametrize("mode, doing", [(0o555, "write to"), (0o700, "enter")])
def test_a_store_this_user_may_not_use_names_the_user_and_the_directory(store_dir, mode, doing):
    data = store_dir / "data"
    (data / "central.db").chmod(0o666)              # the file itself may be written: the directory not
    data.chmod(mode)
    for args in (["site", "list"], ["site", "add", "s1", "--name", "S"], ["ingest", "--no-tls"]):
        r = as_nobody(store_dir, *args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
        assert r.stderr.startswith(f"kiosk-central: error: user nobody may not {doing} {data}"), (args, r.stderr)
        # (a store it may not look for is not said to be missing: it may not enter the directory)
        assert "readonly" not in r.stderr and "no central database" not in r.stderr, r.stderr
        assert "-wal and -shm" in r.stderr or args == ["site", "list"] and mode == 0o700, r.stderr
