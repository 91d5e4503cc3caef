"""kiosk doctor: each check finds what it should, and the command's exit code says so."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections import namedtuple
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kiosk import doctor
from kiosk.cli import main
from kiosk.config import parse_config
from kiosk.exc import ConfigError
from seeds.demo import demo_config_mapping

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
# A self-signed CA certificate (its key thrown away): what broker.ca_file names on a kiosk.
CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBjDCCATOgAwIBAgIUYgIsmzh+J9ovB1too+ACF+u18OEwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQS3VuZHB1bHMgdGVzdCBDQTAgFw0yNjEyMDMxNDU1MzlaGA8y
MTI2MTEwOTE0NTUzOVowGzEZMBcGA1UEAwwQS3VuZHB1bHMgdGVzdCBDQTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABP1F51kyVL72Y3O+z3HawC0eZcQEfUjM7itf
3IvmaSjc+wVUvsEcnm34SP69G8/pzS9Hz8bDMw4pbxUFOfQ82kCjUzBRMB0GA1Ud
DgQWBBTeml6vFZ8RMI6UvYk+lokkqpWXMjAfBgNVHSMEGDAWgBTeml6vFZ8RMI6U
vYk+lokkqpWXMjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIFfl
VFdjd9t6JKp+fuFmqNU9MwvD5MyhwgtcbDyN4SRhAiAhaa+RcUqtTSmfU3crmzg/
qkmx0sj2SSnh5z556lOY0Q==
-----END CERTIFICATE-----
"""


def config(tmp_path: Path, **broker):
    m = demo_config_mapping()
    m["broker"] = {"host": "broker.example", "port": 8883, "tls": True, **broker}
    return parse_config(m).with_data_dir(tmp_path / "data")


def secret(tmp_path: Path, mode: int) -> Path:
    p = tmp_path / "broker.pw"
    p.write_text("s3cret\n")
    os.chmod(p, mode)
    return p


def statuses(checks) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def run(cfg_or_error, **kw):
    def load():
        if isinstance(cfg_or_error, Exception):
            raise cfg_or_error
        return cfg_or_error
    kw.setdefault("env", {})
    kw.setdefault("on_pi", False)
    return doctor.run_checks(load, now=NOW, clock_synced=lambda: True, **kw)


def test_healthy_kiosk(tmp_path, recorder):
    ca = tmp_path / "ca.pem"
    ca.write_text(CA_PEM)
    cfg = config(tmp_path, ca_file=str(ca), password_file=str(secret(tmp_path, 0o600)))
    recorder.record("visit", 3)
    checks = run(cfg)
    assert statuses(checks) == {"config": "ok", "database": "ok", "schema": "ok", "outbox": "ok", "identity": "ok",
                                "gpio": "ok", "clock": "ok", "disk": "ok", "broker": "ok",
                                "broker password": "ok"}
    assert "1 records wait" in next(c.detail for c in checks if c.name == "outbox")


def test_world_readable_password_and_missing_ca_fail(tmp_path):
    cfg = config(tmp_path, ca_file=str(tmp_path / "nope.pem"), password_file=str(secret(tmp_path, 0o644)))
    s = statuses(run(cfg))
    assert s["broker"] == "fail" and s["broker password"] == "fail"
    cfg = config(tmp_path, password_file=str(tmp_path / "missing"))
    assert statuses(run(cfg))["broker password"] == "fail"


def test_a_password_file_that_is_not_utf8_fails_in_doctor_and_sync_says_which_key(tmp_path, capsys):
    """A password saved as UTF-16 (a Windows editor): doctor said "ok" while the sync agent
    stopped with a UnicodeDecodeError traceback."""
    from kiosk.broker_password import read_password
    pw = secret(tmp_path, 0o600)
    pw.write_bytes(b"\xff\xfes\x00e\x00c\x00r\x00e\x00t\x00")
    cfg = config(tmp_path, password_file=str(pw))
    check = next(c for c in run(cfg) if c.name == "broker password")
    assert check.status == "fail" and "is not UTF-8 text" in check.detail
    with pytest.raises(ConfigError, match=r"key 'broker.password_file': .* is not UTF-8 text"):
        read_password(cfg)


def test_a_password_file_with_a_byte_order_mark_is_read_without_it(tmp_path):
    """Saved as "UTF-8 with BOM" (Notepad's UTF-8): the mark became the password's first
    character and the broker refused the login with nothing to say why (a review)."""
    from kiosk.broker_password import read_password
    pw = secret(tmp_path, 0o600)
    pw.write_bytes("\ufeffsecret\r\n".encode("utf-8"))
    assert read_password(config(tmp_path, password_file=str(pw))) == "secret"


def test_a_password_file_that_is_a_directory_or_a_fifo_is_said_so(tmp_path):
    """A FIFO held `kiosk sync --once` and doctor for ever (sync deaf to SIGTERM); a directory
    read as "readable by every user (mode 755); chmod 600 it" (a review)."""
    from kiosk.broker_password import read_password
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    for path in (tmp_path / "dir", tmp_path / "fifo"):
        cfg = config(tmp_path, password_file=str(path))
        check = next(c for c in run(cfg) if c.name == "broker password")
        assert check.status == "fail" and check.detail.endswith(": not a regular file"), check.detail
        with pytest.raises(ConfigError, match="not a regular file"):
            read_password(cfg)


def test_a_ca_file_that_is_not_a_pem_certificate_fails_as_sync_would(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    broker = next(c for c in run(config(tmp_path, ca_file=str(ca))) if c.name == "broker")
    assert broker.status == "fail"
    assert broker.detail.startswith(f"key 'broker.ca_file': {ca} is not a PEM CA certificate")


def test_another_programs_database_fails_naming_it(tmp_path):
    """The centre's store (tables, no kiosk schema version) in the kiosk's data directory."""
    cfg = config(tmp_path)
    cfg.data_dir.mkdir(parents=True)
    central_store(cfg.db_path)
    checks = run(cfg)
    database = next(c for c in checks if c.name == "database")
    assert database.status == "fail"
    assert database.detail.startswith(f"{cfg.db_path} is not a kiosk database: it holds tables but no kiosk "
                                      "schema version (dead_letter, response, schema_migration)")
    assert "schema" not in statuses(checks)


def central_store(path: Path) -> None:
    con = sqlite3.connect(path)
    for table in ("schema_migration", "response", "dead_letter"):
        con.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    con.commit()
    con.close()


def test_no_tls_and_no_password_warn(tmp_path):
    cfg = config(tmp_path, tls=False)
    s = statuses(run(cfg))
    assert s["broker"] == "warn" and s["broker password"] == "warn" and s["database"] == "warn"


def test_corrupt_database_fails(tmp_path):
    cfg = config(tmp_path)
    cfg.data_dir.mkdir(parents=True)
    cfg.db_path.write_bytes(b"this is not a database" * 100)
    assert statuses(run(cfg))["database"] == "fail"


def test_newer_schema_fails(tmp_path, store, cfg):
    store.db.execute_sql("PRAGMA user_version = 99")
    assert statuses(run(cfg))["schema"] == "fail"


def test_config_error_is_reported_and_dependent_checks_skipped():
    checks = run(ConfigError("must be a number", key="filters.repeat_window_s", line=3, path="k.toml"))
    assert checks[0].status == "fail" and "k.toml:3, key 'filters.repeat_window_s'" in checks[0].detail
    assert "database" not in statuses(checks)


def test_gpio_and_clock_and_disk():
    assert doctor.check_gpio({"GPIOZERO_PIN_FACTORY": "mock"}, on_pi=True).status == "ok"

    def broken():
        raise OSError("no /dev/gpiochip0")
    assert doctor.check_gpio({}, on_pi=True, load_factory=broken).status == "fail"
    assert doctor.check_gpio({}, on_pi=True, load_factory=object).status == "ok"
    assert doctor.check_clock(False).status == "warn"
    Usage = namedtuple("Usage", "total used free")
    low = doctor.check_disk(Path("/tmp"), disk_usage=lambda p: Usage(1, 1, 50 * 1024 * 1024))
    assert [c.status for c in low] == ["warn"] and "50 MB" in low[0].detail
    # Bytes free, but no inode for a new file (SQLite's -shm, -wal): a full disk all the same.
    plenty = Usage(1, 1, 10 * 2 ** 30)
    none = doctor.check_disk(Path("/tmp"), disk_usage=lambda p: plenty, inodes=lambda p: 0)
    assert [c.status for c in none] == ["fail"] and "no free inodes" in none[0].detail, none
    few = doctor.check_disk(Path("/tmp"), disk_usage=lambda p: plenty, inodes=lambda p: 500)
    assert [c.status for c in few] == ["warn"] and "500 inodes" in few[0].detail, few
    many = doctor.check_disk(Path("/tmp"), disk_usage=lambda p: plenty, inodes=lambda p: 10 ** 6)
    assert [c.status for c in many] == ["ok"] and "1,000,000 inodes" in many[0].detail, many
    # A file system without an inode count (btrfs, vfat say 0 of 0) is not out of inodes.
    unlimited = doctor.check_disk(Path("/tmp"), disk_usage=lambda p: plenty, inodes=lambda p: None)
    assert [c.status for c in unlimited] == ["ok"] and "inodes" not in unlimited[0].detail, unlimited


def test_a_file_where_the_data_dir_should_be_is_said_so_not_called_locked(tmp_path, capsys):
    """`kiosk --data-dir afile/sub doctor` with afile a regular file: beside the right database row,
    doctor said "[FAIL] data dir user root may not enter afile: run it as the kiosk's user" (the
    test for entering a directory ran on the file). Now the data dir row says the file is in the
    way, for the data dir itself too, and nobody is told to change user."""
    afile = tmp_path / "afile"
    afile.write_text("")
    for data_dir in (afile / "sub", afile / "sub" / "deeper", afile):
        rc = main(["doctor", "--json", "--data-dir", str(data_dir)])
        checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
        assert rc == 1
        assert checks["data dir"] == {"name": "data dir", "status": "fail",
                                      "detail": f"{afile} is a file, not a directory (check --data-dir or "
                                                "data_dir in the config)"}, checks
        assert "may not enter" not in json.dumps(checks)


def test_doctor_command_exit_codes(tmp_path, capsys):
    d = tmp_path / "d"
    rc = main(["doctor", "--json", "--data-dir", str(d)])
    out = json.loads(capsys.readouterr().out)
    assert rc == (0 if out["ok"] else 1)
    assert {c["name"] for c in out["checks"]} >= {"config", "gpio", "clock", "disk", "broker"}
    bad = tmp_path / "bad.toml"
    bad.write_text('[broker]\nport = "x"\n')
    assert main(["--config", str(bad), "doctor"]) == 1
    text = capsys.readouterr().out
    assert "problem(s) to fix" in text and "key 'broker.port'" in text


def test_another_kiosks_database_is_named_in_plain_words(tmp_path, store, cfg):
    store.claim(cfg.kiosk_id)
    other = dataclasses.replace(cfg, kiosk_id="kiosk-0043")
    identity = next(c for c in run(other) if c.name == "identity")
    assert identity.status == "fail"
    assert identity.detail.startswith(f"the database belongs to kiosk {cfg.kiosk_id!r}, the config says 'kiosk-0043'")


def test_a_push_the_kiosk_leaves_out_is_named_with_why(tmp_path, capsys):
    """The centre's saved push is laid over the file, or doctor says why it is not (the same rule
    as the start paths and the sync agent: kiosk.pushed.saved_push_check)."""
    from kiosk.pushed import save_pushed
    from kiosk.store import LocalStore
    from kiosk.usable import APP, HEADLESS, record_kind
    from seeds.catalogue import QUESTIONS
    toml = tmp_path / "kiosk.toml"
    toml.write_text((Path(__file__).resolve().parent.parent / "firmware_config" / "kiosk.toml").read_text())
    data = tmp_path / "data"
    data.mkdir()
    args = ["--config", str(toml), "--data-dir", str(data), "doctor", "--json"]

    def pushed_check() -> dict | None:
        main(args)
        return next((c for c in json.loads(capsys.readouterr().out)["checks"] if c["name"] == "pushed config"), None)

    assert pushed_check() is None                               # nothing from the centre yet
    save_pushed(data, {"version": 7, "questions": [dict(QUESTIONS["recommend"])], "schedule": []})
    store = LocalStore(data / "kiosk.db", kiosk_id="demo-kiosk-1")
    record_kind(store, HEADLESS)                                # buttons only: an NPS question cannot be asked
    store.close()
    check = pushed_check()
    assert check["status"] == "warn" and check["detail"].startswith("version 7 from the centre is NOT used: ")
    assert "no question can be answered with 4 buttons" in check["detail"]
    store = LocalStore(data / "kiosk.db", kiosk_id="demo-kiosk-1")
    record_kind(store, APP)                                     # a touchscreen asks it
    store.close()
    check = pushed_check()
    assert check == {"name": "pushed config", "status": "ok",
                     "detail": f"version 7 from the centre, laid over {toml}"}


def test_on_a_pi_doctor_says_whether_the_code_is_compiled_for_the_services_optimize(tmp_path):
    """The kiosk app's service runs Python at -OO: without kiosk.precompile every start compiles
    everything again. Checked for real with py_compile's own files."""
    import py_compile
    src = tmp_path / "mod.py"
    src.write_text("X = 1\n")
    assert doctor.check_compiled(on_pi=False, sources=(src,)) is None
    missing = doctor.check_compiled(on_pi=True, sources=(src,))
    assert missing.status == "warn" and "kiosk.precompile" in missing.detail and str(src) in missing.detail
    py_compile.compile(str(src), optimize=1)                  # the wrong level does not count
    assert doctor.check_compiled(on_pi=True, sources=(src,)).status == "warn"
    py_compile.compile(str(src), optimize=2)
    assert doctor.check_compiled(on_pi=True, sources=(src,)).status == "ok"
    src.write_text("X = 22\n")                                # changed since: Python would not use it
    assert doctor.check_compiled(on_pi=True, sources=(src,)).status == "warn"
