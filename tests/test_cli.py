"""Every kiosk command runs in-process through main([...]); user mistakes give `kiosk…: error:`
and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.cli import main

ROOT = Path(__file__).resolve().parent.parent
ERROR = re.compile(r"^kiosk( [a-z]+)*: error: ", re.M)


@pytest.fixture
def data(tmp_path) -> list[str]:
    return ["--data-dir", str(tmp_path / "data")]


def test_each_command_runs(data, tmp_path, capsys):
    assert main(["simulate", "--taps", "40", "--seed", "1", *data]) == 0
    assert main(["stats", *data]) == 0
    assert main(["stats", "--json", "--question", "visit", "--since", "2026-01-01", *data]) == 0
    assert main(["export", "--format", "csv", *data]) == 0
    assert main(["export", "--output", str(tmp_path / "e.jsonl"), *data]) == 0
    assert main(["doctor", *data]) in (0, 1)
    assert main(["config", "check", *data]) == 0
    assert main(["config", "keys", "--json"]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    assert "Answers by hour" in out.out
    assert len((tmp_path / "e.jsonl").read_text().splitlines()) == 42


@pytest.mark.parametrize("argv, fragment", [
    ([], "the following arguments are required: COMMAND"),
    (["fly"], "invalid choice: 'fly'"),
    (["stats", "--since", "last week"], "argument --since"),
    (["stats", "--since=-5d"], "argument --since: '-5d': must be a positive duration like 7d"),
    (["stats", "--since", "-5d"], "argument --since: '-5d': must be a positive duration like 7d"),
    (["export", "--since", "-5d"], "argument --since: '-5d': must be a positive duration like 7d"),
    (["simulate", "--taps", "1", "--over", "-1d"], "argument --over: '-1d': must be a positive duration like 7d"),
    (["stats", "--since", "--json"], "argument --since: expected one argument"),       # an option stays one
    (["export", "--since", "99999999d"], "argument --since: '99999999d': at most 3660 days"),
    (["stats", "--bogus"], "unrecognized arguments: --bogus"),
    (["export", "--format", "xml"], "argument --format: invalid choice"),
    (["simulate"], "the following arguments are required: --taps"),
    (["simulate", "--taps", "many"], "argument --taps"),
    (["simulate", "--taps", "1_000"], "argument --taps: '1_000' is not a whole number"),
    (["simulate", "--taps", "5", "--seed", "x"], "argument --seed: 'x' is not a whole number"),
    (["simulate", "--taps", "5", "--over", "forever"], "argument --over"),
    (["run", "--fast"], "unrecognized arguments: --fast"),
    (["sync", "--timeout", "5"], "kiosk sync: error: --timeout needs --once"),     # the daemon would ignore them
    (["sync", "--json"], "kiosk sync: error: --json needs --once"),
    (["config", "check", ""], "argument path: must not be empty"),       # an unset $CFG: it said ok
])
def test_bad_arguments(argv, fragment, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert ERROR.search(err) and fragment in err and "Traceback" not in err


@pytest.mark.parametrize("argv, code, fragment", [
    (["--config", "/nonexistent/kiosk.toml", "stats"], 2, "file not found"),
    (["--data-dir", "/proc/kundpuls-cannot-be-here", "simulate", "--taps", "1"], 1, "cannot create data directory"),
    (["simulate", "--taps", "3", "--question", "nope"], 2, "no question 'nope'"),
])
def test_user_mistakes_are_one_line_errors(argv, code, fragment, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KUNDPULS_DATA_DIR", str(tmp_path / "env-data"))
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("kiosk: error: ") and fragment in err and "Traceback" not in err


@pytest.mark.parametrize("how", ["environment", "relative"])
def test_a_data_dir_whose_name_is_not_utf8_is_refused_naming_where_it_came_from(how, tmp_path, capsys, monkeypatch):
    """A data directory named in bytes that are not UTF-8 ($KUNDPULS_DATA_DIR=$'x\\xff', or a
    relative data_dir of a config file in such a directory) gave a UnicodeEncodeError traceback,
    after simulate had made kiosk.db; now refused before anything is made, naming the variable
    or the config file."""
    odd = tmp_path / "x\udcff"                       # the byte 0xff, as os.fsdecode gives it
    monkeypatch.delenv("KUNDPULS_DATA_DIR", raising=False)
    said = ""                               # (--data-dir or --config so named: argparse refuses them)
    if how == "environment":
        monkeypatch.setenv("KUNDPULS_DATA_DIR", str(odd))
        said = f"$KUNDPULS_DATA_DIR {tmp_path}/x\\xff: "
    else:                                             # read beside its config file
        odd.mkdir()
        cfg = odd / "kiosk.toml"
        cfg.write_text('[kiosk]\nid = "k1"\nsite = "s1"\ndata_dir = "data"\n', encoding="utf-8")
        monkeypatch.setenv("KUNDPULS_CONFIG", str(cfg))
        said = f"data_dir {tmp_path}/x\\xff/data (of {tmp_path}/x\\xff/kiosk.toml): "
    for command in (["simulate", "--taps", "2", "--force"], ["stats"], ["config", "check"]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert err.startswith(f"kiosk: error: {said}") and "not UTF-8" in err, err
        assert len(err.splitlines()) == 1, err
    assert not any(p.name == "kiosk.db" for p in tmp_path.rglob("*"))


@pytest.mark.filterwarnings("ignore")
def test_run_without_gpio_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    import kiosk.config
    if kiosk.config.running_on_pi():
        pytest.skip("on a Pi the GPIO is real")
    from gpiozero import Device
    previous = Device.pin_factory
    Device.pin_factory = None
    try:
        assert main(["run", "--headless", "--data-dir", str(tmp_path)]) == 1
    finally:
        Device.pin_factory = previous
    err = capsys.readouterr().err
    assert err.startswith("kiosk: error: cannot open the GPIO buttons") and "--demo" in err


@pytest.mark.parametrize("command", [["stats"], ["export"], ["refused", "list"], ["refused", "retry"]])
def test_commands_that_only_read_refuse_a_missing_database(command, tmp_path, capsys):
    """A mistyped --data-dir is an error, not a new empty database reporting zero answers."""
    data = tmp_path / "typo" / "dd"
    assert main(["--data-dir", str(data), *command]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"kiosk: error: no kiosk database in {data} (check --data-dir or data_dir in the config)")
    assert not data.exists()


@pytest.mark.parametrize("wal", [False, True])
@pytest.mark.parametrize("command", [["stats"], ["export"], ["refused", "list"], ["simulate", "--taps", "1"],
                                     ["repair", "--force"]])
def test_another_programs_database_is_refused_and_left_as_it_is(command, wal, tmp_path, capsys):
    """The centre's store where the kiosk's database should be: named, never migrated (which would
    fail half way with 'table response already exists', or add our tables to it). In WAL mode, as
    the centre keeps it, the look left empty -wal and -shm files beside it."""
    import sqlite3
    from tests.test_doctor import central_store
    db = tmp_path / "kiosk.db"
    central_store(db)
    if wal:
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode = WAL")
        con.close()
    before = db.read_bytes()
    assert main(["--data-dir", str(tmp_path), *command]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"kiosk: error: {db} is not a kiosk database: it holds tables but ")
    assert "(dead_letter, response, schema_migration)" in err
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["kiosk.db"]


@pytest.mark.parametrize("damaged", [False, True])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_repair_refuses_another_programs_database_whole_or_damaged(damaged, force, tmp_path, capsys):
    """The centre's store in the kiosk's data directory crashed `repair --force` with a traceback,
    and a damaged one was "repaired": renamed aside and a kiosk's database put in its place."""
    import sqlite3
    from tests.test_doctor import central_store
    db = tmp_path / "kiosk.db"
    central_store(db)
    con = sqlite3.connect(db)
    con.execute("CREATE INDEX response_id ON response (id)")
    con.executemany("INSERT INTO response (id) VALUES (?)", [(i,) for i in range(1, 3000)])
    con.commit()
    con.close()
    if damaged:                                   # a page of the table's tree overwritten
        with db.open("r+b") as f:
            f.seek(3 * 4096)
            f.write(b"\xff" * 4096)
    before = db.read_bytes()
    assert main(["--data-dir", str(tmp_path), "repair", *force]) == 1
    assert capsys.readouterr().err == (f"kiosk: error: {db} is not a kiosk database: it holds tables but none of the "
                                       "kiosk's own ledgers (dead_letter, response, schema_migration). It was left "
                                       "as it is; point --data-dir or kiosk.data_dir at the kiosk's own data directory\n")
    assert db.read_bytes() == before and not list(tmp_path.glob("kiosk.db.damaged*"))


def test_repair_rebuilds_a_kiosks_database_whose_header_lost_its_version(tmp_path, capsys):
    """Judged by its tables, not its schema version: a kiosk's file at version 0 is still its own."""
    import sqlite3
    from kiosk.store import LocalStore
    db = tmp_path / "kiosk.db"
    LocalStore(db, kiosk_id="k1").close()              # a kiosk's database, made and let go
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 0")
    con.commit()
    con.close()
    assert main(["--data-dir", str(tmp_path), "repair", "--force"]) == 0, capsys.readouterr().err


def test_repair_reads_a_path_with_a_hash_in_it(tmp_path, capsys):
    """A '#' in the data directory cut the path short in healthy()'s URI: a damaged database read as
    "not damaged", and an empty file appeared in the current directory."""
    import sqlite3
    from kiosk.store import LocalStore
    data = tmp_path / "g#1"
    data.mkdir()
    LocalStore(data / "kiosk.db", kiosk_id="k1").close()
    assert main(["--data-dir", str(data), "repair"]) == 1
    assert "is not damaged (integrity_check ok)" in capsys.readouterr().err
    con = sqlite3.connect(data / "kiosk.db")
    con.execute("PRAGMA journal_mode = DELETE")
    size = con.execute("PRAGMA page_size").fetchone()[0] * con.execute("PRAGMA page_count").fetchone()[0]
    con.close()
    with (data / "kiosk.db").open("r+b") as f:       # the last page overwritten
        f.seek(size - 4096)
        f.write(b"\xff" * 4096)
    from kiosk.repair import healthy
    assert not healthy(data / "kiosk.db") and not (tmp_path / "g").exists()


@pytest.mark.parametrize("command", [["simulate", "--taps", "1"], ["stats"]])
@pytest.mark.parametrize("below", ["", "sub"])
def test_a_file_where_the_data_directory_should_be_is_named(command, below, tmp_path, capsys):
    (tmp_path / "t").write_text("")
    data = tmp_path / "t" / below
    assert main(["--data-dir", str(data), *command]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 't'} is a file, not a directory" in err and "File exists" not in err, err


@pytest.mark.parametrize("command", [["repair"], ["repair", "--force"], ["stats"], ["export"], ["doctor"],
                                     ["sync", "--once"], ["simulate", "--taps", "1"]])
@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_something_else_where_the_database_belongs_is_named(command, kind, tmp_path, capsys):
    """A directory or a FIFO named kiosk.db: repair printed a traceback for either, stats read the
    FIFO as an empty (lost) database and told the user to repair it, doctor called the directory a
    disk I/O error. Each command now names what stands there, and leaves it as it is."""
    import os
    data = tmp_path / "data"
    data.mkdir()
    made = {"directory": os.mkdir, "fifo": os.mkfifo}[kind]
    made(data / "kiosk.db")
    assert main(["--data-dir", str(data), *command]) == 1
    err = capsys.readouterr()
    said = {"directory": "a directory", "fifo": "a named pipe (FIFO)"}[kind]
    assert f"{data / 'kiosk.db'} is {said}, not a database file" in err.err + err.out, err
    assert "Traceback" not in err.err and "repair" not in err.err
    assert sorted(p.name for p in data.iterdir()) == ["kiosk.db"]


def test_doctor_on_a_file_given_as_the_data_directory_fails(tmp_path, capsys):
    """`kiosk doctor --data-dir FILE` said "no database yet; it is created when the kiosk first
    runs" and passed: none can be made there."""
    (tmp_path / "t").write_text("")
    assert main(["--data-dir", str(tmp_path / "t"), "doctor"]) == 1
    out = capsys.readouterr().out
    assert f"there can be no kiosk database in {tmp_path / 't'}: {tmp_path / 't'} is a file, not a directory" in out


def test_an_unknown_option_shows_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit):
        main(["pin", "hash", "--pin", "1234"])
    err = capsys.readouterr().err
    assert err.startswith("usage: kiosk pin hash ") and "kiosk pin hash: error: unrecognized arguments: --pin 1234" in err


def test_run_help_names_every_demo_key(capsys):
    """The keys README.md lists for the demo: 1-4, g (the staff gesture) and q."""
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "keys 1-4 press the buttons, g the staff gesture" in help_text and "q quits" in help_text


def test_python_dash_m_kiosk(tmp_path):
    from kiosk.store import LocalStore
    LocalStore(tmp_path / "kiosk.db").close()            # stats reads a database, never makes one
    r = subprocess.run([sys.executable, "-m", "kiosk", "stats", "--json", "--data-dir", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["periods"]["today"]["answers"] == 0


def test_a_database_held_by_another_program_is_a_clear_error(data, tmp_path, capsys, monkeypatch):
    """A sqlite3 shell or a backup holding the kiosk database past busy_timeout: the commands that
    write say so in a line and exit 1 (they printed peewee's traceback: a review)."""
    import sqlite3

    from kiosk import store
    assert main(["simulate", "--taps", "3", "--seed", "1", *data]) == 0
    monkeypatch.setitem(store.PRAGMAS, "busy_timeout", 200)          # the wait, not the real 5 s
    holder = sqlite3.connect(tmp_path / "data" / "kiosk.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for command in (["refused", "retry"], ["simulate", "--taps", "1"]):
            capsys.readouterr()
            assert main([*command, *data]) == 1, command
            err = capsys.readouterr().err
            assert ERROR.search(err) and "the kiosk database is held by another program for more than" in err \
                and "Traceback" not in err, (command, err)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_path_no_file_can_have_is_a_clear_error(tmp_path, capsys):
    """A part of a path longer than 255 bytes: os.stat raises ENAMETOOLONG instead of "not
    there", and `kiosk simulate`, `doctor` and `sync --once` printed the traceback (a review;
    the centre's commands: tests/central/test_cli.py)."""
    long_dir = str(tmp_path / ("d" * 300))
    said = "is 300 bytes; a file name has at most 255"
    assert main(["simulate", "--taps", "1", "--data-dir", long_dir]) == 1
    assert said in capsys.readouterr().err
    assert main(["doctor", "--data-dir", long_dir]) == 1
    assert said in capsys.readouterr().out
