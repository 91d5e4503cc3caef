"""`kiosk repair` refuses a database another program still has open (the kiosk app left running):
it would swap the database under the app, which goes on recording, and thanking for, taps in the
file renamed aside. With the services stopped it repairs as before, also a file too damaged for
SQLite to open. The other program is a real second process holding the kiosk's store open."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kiosk.capture import Recorder
from kiosk.cli import main
from kiosk.exc import StoreError
from kiosk.loading import load
from kiosk.repair import repair
from kiosk.sole_use import InUse, held_alone
from kiosk.store import LocalStore
from tests.test_sd_card import ID, kiosk_toml  # noqa: F401 (kiosk_toml: the same kiosk's config)

ROOT = Path(__file__).resolve().parent.parent

# The kiosk app, as far as the database goes: it opens the store, records a tap, then one more
# for each line it reads, printing each id once record() returned (the thank-you).
APP = r"""
import sys
from kiosk.capture import Recorder
from kiosk.loading import load
from kiosk.store import LocalStore
cfg = load(sys.argv[1], env={})
with LocalStore(cfg.db_path, kiosk_id=cfg.kiosk_id) as store:
    recorder = Recorder(cfg, store)
    print(recorder.record("visit", 1).id, flush=True)
    for line in sys.stdin:
        print(recorder.record("visit", 2).id, flush=True)
"""


def answers(path: Path) -> set[str]:
    with LocalStore(path, kiosk_id=ID) as store:
        return {r[0] for r in store.db.execute_sql("SELECT id FROM response")}


def test_repair_refuses_while_the_app_runs_and_no_thanked_tap_is_lost(kiosk_toml, capsys, monkeypatch):
    cfg = load(str(kiosk_toml), env={})
    app = subprocess.Popen([sys.executable, "-c", APP, str(kiosk_toml)], cwd=ROOT, text=True,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        thanked = [app.stdout.readline().strip()]
        assert thanked[0], app.stderr.read()
        monkeypatch.setattr("kiosk.repair.held_alone", lambda path, wait: held_alone(path, wait=0.2))
        rc = main(["--config", str(kiosk_toml), "repair", "--force"])
        err = capsys.readouterr().err
        assert rc == 1 and err.startswith("kiosk: error: ") and "is in use" in err, err
        assert "systemctl stop kundpuls-kiosk kundpuls-sync" in err and "Traceback" not in err
        assert sorted(p.name for p in cfg.db_path.parent.iterdir() if "damaged" in p.name or "repair" in p.name) == []
        for _ in range(3):                   # the app goes on; each of these is thanked for
            app.stdin.write("tap\n")
            app.stdin.flush()
            thanked.append(app.stdout.readline().strip())
    finally:
        app.stdin.close()
        assert app.wait(20) == 0, app.stderr.read()
        app.stdout.close()
        app.stderr.close()
    assert set(thanked) <= answers(cfg.db_path) and len(set(thanked)) == 4

    # Stopped, it repairs: every thanked tap is in the database that takes the old one's place.
    rc = main(["--config", str(kiosk_toml), "repair", "--force"])
    assert rc == 0, capsys.readouterr().err
    assert set(thanked) == answers(cfg.db_path)


def test_repair_refuses_a_store_open_in_this_process_too(kiosk_toml, clock):
    cfg = load(str(kiosk_toml), env={})
    with LocalStore(cfg.db_path, kiosk_id=ID) as store:
        first = Recorder(cfg, store, clock).record("visit", 1)
        with pytest.raises(InUse, match="kundpuls-kiosk kundpuls-sync"):
            repair(cfg.db_path, now=clock.now(), force=True, wait=0)
        later = Recorder(cfg, store, clock).record("visit", 3)
    assert answers(cfg.db_path) == {first.id, later.id}


def test_while_repair_holds_the_database_nothing_else_can_use_it(tmp_path):
    path = tmp_path / "kiosk.db"
    with LocalStore(path) as store:
        store.db.execute_sql("SELECT COUNT(*) FROM response")
    with held_alone(path, wait=0):
        con = sqlite3.connect(path, timeout=0)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                con.execute("SELECT COUNT(*) FROM response").fetchone()
        finally:
            con.close()
        # Nor can a second repair take it.
        with pytest.raises(InUse):
            with held_alone(path, wait=0):
                pass
    with LocalStore(path) as store:                    # let go: usable again
        assert store.db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0] == 0


def test_a_file_sqlite_cannot_open_is_repaired_when_nothing_uses_it(kiosk_toml, clock, capsys):
    cfg = load(str(kiosk_toml), env={})
    with LocalStore(cfg.db_path, kiosk_id=ID) as store:
        Recorder(cfg, store, clock).record("visit", 1)
    with open(cfg.db_path, "r+b") as f:                # the header gone: "file is not a database"
        f.write(b"\xff" * 100)
    result = repair(cfg.db_path, now=datetime.now(timezone.utc), wait=0)
    assert result.sequence_from == "time" and Path(result.damaged_kept_as[0]).exists()
    assert answers(cfg.db_path) == set()



def test_a_database_it_may_not_write_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "kiosk.db"
    LocalStore(path).close()

    def refused(*args, **kwargs):      # as for another user than the file's (the tests run as root)
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr("kiosk.sole_use.os.open", refused)
    with pytest.raises(StoreError, match="as the kiosk's user"):
        with held_alone(path, wait=0):
            pass
