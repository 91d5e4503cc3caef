"""`kiosk-central` argument mistakes end in `kiosk-central: error: …` and exit 2, never a traceback."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from peewee import DatabaseError, OperationalError

from server_sync.central.db import SQLITE_PRAGMAS, connect
from server_sync.central.dialect import store_failure
from server_sync.cli import main
from tests.analysis.seeding import add_question, add_site
from tests.fixtures.cli import broker_files, central, fresh_parser, said_error
from tests.fixtures.cli import central as central_cli
from tests.fixtures.postgres import copy_sqlite, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_ingest_argument_mistakes_are_clear_errors(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    empty = tmp_path / "empty.pass"
    empty.write_text("\n")
    (tmp_path / "empty.pem").write_text("")
    for argv, msg in [(["--password-file", str(tmp_path / "nope")], "cannot read --password-file"),
                      (["--ca-file", str(tmp_path / "nope.pem")], "--ca-file: CA certificate file not found"),
                      (["--ca-file", str(tmp_path)], "is not a PEM CA certificate (IsADirectoryError"),
                      (["--ca-file", str(tmp_path / "empty.pem")], "is not a PEM CA certificate (SSLError"),
                      (["--password-file", str(empty)], "is empty"),
                      (["--no-tls", "--ca-file", "ca.crt"], "contradict"),
                      (["--broker-port", "70000"], "--broker-port must be 1-65535"),
                      (["--max-bytes", "65536"], "--max-bytes must be at least 1048576 (the largest batch a kiosk"),
                      (["--client-id", "bad id!"], "--client-id must be"),
                      (["--kiosk-day-bytes", "1000"],
                       "--kiosk-day-bytes must be 0 or at least --kiosk-burst-bytes (2.09715e+07), got 1000")]:
        assert main(["ingest", *argv, *db]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("kiosk-central: error: ") and msg in err and "Traceback" not in err, err
    with pytest.raises(SystemExit) as exit_:          # an argparse type: before anything is read
        main(["ingest", "--prefix", "acme", *db])
    assert exit_.value.code == 2 and said_error(capsys.readouterr().err, "argument --prefix: topic prefix must be")
    assert main(["ingest", "--db", "mysql://x/y"]) == 2
    assert "scheme must be sqlite or postgresql" in capsys.readouterr().err


def test_a_burst_above_the_default_day_starts_the_ingest(tmp_path, capsys):
    """A deployment with --kiosk-burst-bytes above 256 MiB (allowed up to 1e12) did not start after
    the day's bucket came in: its default, 256 MiB, was smaller than the burst, and the ingest
    refused it, restarted by systemd for ever. The day given by nobody now follows the burst; one
    given smaller is still refused, and with no rate at all (0) the day is never asked about."""
    from server_sync.cli import COMMAND_LINE
    from server_sync.commands.ingest import kiosk_rates
    from server_sync.exc import CentralConfigError
    from server_sync.ingest_inbox import KIOSK_BURST_BYTES, KIOSK_DAY_BYTES

    def rates(*argv: str):
        return kiosk_rates(COMMAND_LINE.parser.parse_args(["ingest", *argv]))

    shipped = rates()
    assert (shipped.burst_bytes, shipped.day_bytes) == (KIOSK_BURST_BYTES, KIOSK_DAY_BYTES)
    big = rates("--kiosk-burst-bytes", "3e8")
    assert (big.burst_bytes, big.day_bytes) == (3e8, 3e8)
    assert rates("--kiosk-burst-bytes", "1e8").day_bytes == KIOSK_DAY_BYTES
    assert rates("--kiosk-burst-bytes", "3e8", "--kiosk-day-bytes", "0").day_bytes == 0
    assert rates("--kiosk-burst-bytes", "3e8", "--kiosk-day-bytes", "4e8").day_bytes == 4e8
    unlimited = rates("--kiosk-bytes-per-s", "0", "--kiosk-burst-bytes", "3e8", "--kiosk-day-bytes", "1000")
    assert unlimited.allow("k1", 10**9)
    with pytest.raises(CentralConfigError, match=r"--kiosk-day-bytes must be 0 or at least --kiosk-burst-bytes "
                                                 r"\(3e\+08\), got 2\.68435e\+08"):
        rates("--kiosk-burst-bytes", "3e8", "--kiosk-day-bytes", str(KIOSK_DAY_BYTES))
    # Through the command, as a unit runs it: past the rates to the store, which stops it for a
    # reason of its own (a truncated central.db, refused as it really is).
    password = tmp_path / "pass"
    password.write_text("secret\n")
    (tmp_path / "c.db").write_bytes(b"")
    for argv in (["--kiosk-burst-bytes", "3e8"], ["--kiosk-bytes-per-s", "0", "--kiosk-day-bytes", "1000"]):
        assert main(["ingest", *argv, "--no-tls", "--password-file", str(password),
                     "--db", f"sqlite:///{tmp_path / 'c.db'}"]) == 2
        assert said_error(capsys.readouterr().err, "is empty (0 bytes), not a central store"), argv


def test_a_bad_url_in_the_environment_names_the_variable(monkeypatch, capsys):
    """`KUNDPULS_CENTRAL_DB=foo kiosk-central site list` said "bad database URL 'foo'", which no
    one had typed on that command line; the password of one never shows."""
    for url, said in (("foo", "scheme must be sqlite or postgresql"), ("sqlite://rel/c.db", "use sqlite:///"),
                      ("mysql://u:secret@h/c", "scheme must be")):
        monkeypatch.setenv("KUNDPULS_CENTRAL_DB", url)
        assert main(["site", "list"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("kiosk-central: error: $KUNDPULS_CENTRAL_DB: bad database URL") and said in err, err
        assert "secret" not in err


@pytest.mark.parametrize("url", ["sqlite:central.db", "sqlite:/abs/central.db", "SQLITE:c.db"])
def test_a_sqlite_url_without_its_slashes_is_refused(url, tmp_path, monkeypatch, capsys):
    """`sqlite:central.db` made a store at 'entral.db' (the path's first character was taken for
    the slash of sqlite:///), `sqlite:/abs.db` one at abs.db under the current directory; both were
    silent. Now refused, naming the two forms, before anything is made."""
    monkeypatch.chdir(tmp_path)
    for argv in (["site", "add", "s1", "--name", "S", "--timezone", "Europe/Stockholm"], ["site", "list"]):
        assert main([*argv, "--db", url]) == 2
        assert capsys.readouterr().err == (f"kiosk-central: error: bad database URL {url!r}: "
                                           "use sqlite:///relative.db or sqlite:////abs/path.db\n")
    assert list(tmp_path.iterdir()) == []


def test_serve_refuses_a_bad_certificate_or_address_before_starting_workers(tmp_path, capsys, monkeypatch):
    """uvicorn restarted a worker that could not load the pair for ever; a bad --host or a port
    in use was uvicorn's own log line and exit 3."""
    import socket

    import uvicorn
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    garbage = tmp_path / "bad.pem"
    garbage.write_text("garbage\n")
    fifo = tmp_path / "cert.pem"
    os.mkfifo(fifo)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for argv, msg in [(["--certfile", str(garbage), "--keyfile", str(garbage)],
                           "--certfile/--keyfile: not a PEM certificate and matching key ([SSL] PEM lib"),
                          (["--certfile", str(tmp_path), "--keyfile", str(tmp_path)],
                           f"--certfile {tmp_path} is a directory, not a file"),
                          # ssl's open of a FIFO waited for a writer for ever
                          (["--certfile", str(fifo), "--keyfile", str(fifo)],
                           f"--certfile {fifo} is a named pipe (FIFO), not a file"),
                          (["--host", "999.1.1.1"], "cannot listen on 999.1.1.1:"),
                          (["--port", port], f"cannot listen on 127.0.0.1:{port}: Address already in use")]:
            assert main(["serve", *argv, *db]) == 2, argv
            err = capsys.readouterr().err
            assert err.startswith("kiosk-central: error: ") and msg in err and "Traceback" not in err, err
    assert started == []


def test_a_store_locked_past_the_wait_is_a_clear_error(tmp_path, capsys, monkeypatch):
    """Another process holds the SQLite store's write lock past busy_timeout (a long purge, a
    backup): the command says so in one line and exits 1; it printed peewee's traceback."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    connect(url).close()
    monkeypatch.setitem(SQLITE_PRAGMAS, "busy_timeout", 200)          # the wait, not the real 10 s
    holder = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert main(["--db", url, "site", "add", "s1", "--name", "S1", "--timezone", "UTC"]) == 1
    finally:
        holder.rollback()
        holder.close()
    assert said_error(capsys.readouterr().err, "the central store failed: database is locked: another "
                                               "process has held it locked for more than 0 s")
    assert main(["--db", url, "site", "add", "s1", "--name", "S1", "--timezone", "UTC"]) == 0   # free again


def test_a_damaged_store_is_a_clear_error(tmp_path, capsys):
    """A SQLite file whose site table's root page was overwritten (a failing card): SQLite says
    it is malformed once a command reads it, as a DatabaseError, not an OperationalError; one
    line, exit 1 (it was a traceback)."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    with db.atomic():
        for i in range(300):
            add_site(db, f"s{i:03d}")
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    root = db.execute_sql("SELECT rootpage FROM sqlite_master WHERE name = 'site'").fetchone()[0]
    size = db.execute_sql("PRAGMA page_size").fetchone()[0]
    db.close()
    with open(tmp_path / "c.db", "r+b") as f:
        f.seek((root - 1) * size + 8)
        f.write(random.Random(7).randbytes(size - 8))
    assert main(["--db", url, "site", "list"]) == 1
    assert said_error(capsys.readouterr().err, "the central store failed: database disk image is malformed:"
                                               " the file is damaged: restore it from a backup")


@pytest.mark.postgres
def test_a_postgresql_url_takes_libpqs_parameters_in_its_query(pg_url, capsys):
    """libpq's own URL form: the host, port and database name as query parameters (the form of a
    Unix socket, `?host=/var/run/postgresql`) reach the same database as the URL's parts."""
    from urllib.parse import urlparse
    u = urlparse(pg_url)
    query_form = f"postgresql://{u.username}@/?host={u.hostname}&port={u.port}&dbname={u.path.strip('/')}" \
                 f"&application_name=kundpuls-test&options=-c%20statement_timeout%3D60000"
    assert main(["--db", pg_url, "site", "add", "s1", "--name", "S1", "--timezone", "UTC"]) == 0
    capsys.readouterr()
    assert main(["--db", query_form, "site", "list", "--json"]) == 0
    assert [s["id"] for s in json.loads(capsys.readouterr().out)] == ["s1"]
    db = connect(query_form)
    try:       # both the person's options and the centre's own
        assert db.execute_sql("SHOW statement_timeout").fetchone()[0] == "1min"
        assert db.execute_sql("SHOW plan_cache_mode").fetchone()[0] == "force_custom_plan"
    finally:
        db.close()


def test_a_database_that_cannot_be_reached_is_said_in_one_line(capsys):
    """psycopg's hint comes on a tab-indented line of its own: the error was two lines."""
    from tests.fixtures.broker import free_tcp_port
    assert main(["--db", f"postgresql://nobody@127.0.0.1:{free_tcp_port()}/x", "site", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\t" not in err and "Connection refused; Is the server running" in err, err


@pytest.mark.postgres
def test_a_database_gone_while_a_command_runs_is_said_and_a_bug_is_not_hidden(pg_url, tmp_path):
    """PostgreSQL ending the command's session (a restart, an admin) is said in a line; a
    statement that is wrong (no such table: a bug) is not dressed up as the store's failure."""
    db = connect(pg_url)
    with pytest.raises(OperationalError) as gone:
        db.execute_sql("SELECT pg_terminate_backend(pg_backend_pid())")
    said = str(store_failure(gone.value))
    assert said.startswith("the central database failed while the command ran: terminating connection"), said
    db = connect(pg_url)
    with db.atomic():
        with pytest.raises(DatabaseError) as bug:      # an operational class, but a misuse: a bug
            db.execute_sql("RELEASE SAVEPOINT no_such_savepoint")
    assert store_failure(bug.value) is None
    db.close()
    lite = connect(f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(OperationalError) as bug:
        lite.execute_sql("SELECT * FROM no_such_table")
    assert store_failure(bug.value) is None
    lite.close()


def test_a_malformed_database_url_is_a_clear_error(tmp_path, capsys):
    """urllib's ValueErrors (port, IPv6), a directory that cannot be made and options SQLite
    would silently drop; the password never shows."""
    (tmp_path / "file").write_text("")
    for url, msg in [("postgresql://nobody@127.0.0.1:notaport/x", "port must be 1-65535"),
                     ("postgresql://u:secret@127.0.0.1:99999/x", "port must be 1-65535"),
                     ("postgresql://u:secret@[::1/x", "unbalanced [ ] around an IPv6 address"),
                     (f"sqlite:///{tmp_path}/file/x.db", f"cannot create directory {tmp_path}/file for the database"),
                     (f"sqlite:///{tmp_path}/x.db?mode=ro", "a sqlite URL takes no options (?mode=ro)"),
                     # peewee's keywords were taken as the query's (a traceback): libpq's only.
                     ("postgresql://u@127.0.0.1/x?field_types=1", "field_types is not a connection parameter"),
                     ("postgresql://u@127.0.0.1/x?prefer_psycopg3=0", "prefer_psycopg3 is not a connection"),
                     ("postgresql://u@127.0.0.1/?sslmode=disable", "no database name"),
                     # The Unix-socket form (a traceback: host given twice); no server there.
                     (f"postgresql://u@/x?host={tmp_path}&sslpassword=secret", f'"{tmp_path}/.s.PGSQL.5432"')]:
        # A command that creates the store, and one that reads what exists (for a SQLite file
        # that is not there that one says so: tests of existing_database_url).
        for command in (["site", "add", "s1", "--name", "S"], ["kiosk", "list"])[:1 if url.startswith("sqlite") else 2]:
            assert main(["--db", url, *command]) == 2, (url, command)
            err = capsys.readouterr().err
            assert err.startswith("kiosk-central: error: ") and msg in err and "Traceback" not in err, err
            assert "secret" not in err


@pytest.mark.parametrize("password", ["Ab3/xYz+Q9", "123/xYzQ9", "xQ@yQ/zQ#wQ", "abQ?cQz", "1?cQz", "aQz#bQz"])
def test_a_password_a_url_cannot_hold_as_it_is_is_never_shown_and_said_how_to_write(password, monkeypatch, capsys):
    """A password with '/' (two in five of `openssl rand -base64 24`'s) was refused as "port must
    be 1-65535" with the password printed in the URL (on the command line and, from
    $KUNDPULS_CENTRAL_DB, in the journal); one with '#' reached the server with its host read
    from inside the password ("failed to resolve host 'y'"). Neither said what was wrong.
    Now the URL is shown up to its last '@' redacted, and the error says how to write it."""
    from tests.fixtures.broker import free_tcp_port
    url = f"postgresql://kp2:{password}@127.0.0.1:{free_tcp_port()}/kundpuls"
    for how in ("--db", "env"):
        argv = ["--db", url] if how == "--db" else []
        if how == "env":
            monkeypatch.setenv("KUNDPULS_CENTRAL_DB", url)
        assert main([*argv, "kiosk", "list"]) == 2, (password, how)
        err = capsys.readouterr().err
        assert f"'postgresql://kp2:***@127.0.0.1:" in err, err
        assert "must be percent-encoded" in err and "%2F" in err and "port must" not in err, err
        # No part of the password: its pieces between the characters a URL gives a meaning to.
        for piece in re.split(r"[/#?@]", password):
            assert len(piece) < 2 or piece not in err, (piece, err)


def test_redact_hides_everything_up_to_the_last_at_sign():
    from server_sync.central.db import redact
    assert redact("postgresql://u:Ab3/x@y#z?w@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("postgresql://u:p@h/db?password=s&sslmode=require") == "postgresql://u:***@h/db?password=***&sslmode=require"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_a_store_in_memory_is_refused_and_a_new_store_says_where_it_is(tmp_path, capsys, monkeypatch):
    """`--db sqlite:///:memory:` printed a new user's one-time password and lost the user at exit;
    `sqlite:///tmp/c.db` (a slip for sqlite:////tmp/c.db) made tmp/c.db under the current
    directory without a word."""
    for command in (["user", "add", "admin1", "--role", "admin"], ["site", "add", "s1", "--name", "S"]):
        assert main(["--db", "sqlite:///:memory:", *command]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("kiosk-central: error: a store in memory (sqlite:///:memory:) is lost")
    monkeypatch.chdir(tmp_path)
    slip = ["--db", "sqlite:///srv/kundpuls/c.db"]
    assert main([*slip, "site", "add", "s1", "--name", "S"]) == 0
    made = tmp_path / "srv" / "kundpuls" / "c.db"
    assert capsys.readouterr().err == f"kiosk-central: no central database was at {made}: made a new one\n"
    assert main([*slip, "site", "add", "s2", "--name", "S2"]) == 0
    assert capsys.readouterr().err == ""                          # there now: nothing to say
    assert main(["--db", "sqlite:///elsewhere.db", "site", "list"]) == 2
    assert f"no central database at {tmp_path / 'elsewhere.db'} " in capsys.readouterr().err


def test_a_file_argument_that_is_not_a_regular_file_is_refused_not_read(tmp_path, capsys):
    """/dev/zero never ends: each of these read it until memory ran out."""
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    files = broker_files(tmp_path)
    pw, acl = files[:2], files[2:]
    assert main(["site", "add", "s1", "--name", "S", *db]) == 0
    assert main(["site", "add", "s2", "--name", "S2", *db]) == 0
    assert main(["kiosk", "add", "k1", "--site", "s1", *pw, *acl, *db]) == 0
    zero_pw, zero_acl = ("--password-file", "/dev/zero"), ("--acl-file", "/dev/zero")
    for argv in (["kiosk", "add", "k2", "--site", "s1", *zero_pw, *acl], ["kiosk", "add", "k2", "--site", "s1", *pw, *zero_acl],
                 ["kiosk", "deactivate", "k1", *zero_pw, *acl], ["kiosk", "deactivate", "k1", *pw, *zero_acl],
                 ["kiosk", "move", "k1", "--site", "s2", *zero_acl], ["config", "push", "--kiosk", "k1", "/dev/zero", "--dry-run"],
                 ["ingest", *zero_pw], ["notify", "smtp", "set", "--host", "h", "--from", "a@b.se", *zero_pw]):
        capsys.readouterr()
        assert main([*argv, *db]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("kiosk-central: error: ") and "/dev/zero" in err and "not a regular file" in err, err


def test_config_push_refuses_a_bad_ca_file_before_publishing(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    files = broker_files(tmp_path)
    assert main(["site", "add", "s1", "--name", "S", *db]) == 0
    assert main(["kiosk", "add", "k1", "--site", "s1", *files, *db]) == 0
    fragment = tmp_path / "frag.toml"
    fragment.write_text("[ui]\nthank_you_s = 5\n")
    capsys.readouterr()
    assert main(["config", "push", "--kiosk", "k1", str(fragment), "--ca-file", str(tmp_path / "nope.pem"), *db]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kiosk-central: error: --ca-file: CA certificate file not found"), err


@pytest.mark.parametrize("name, text", [("f.toml", '[ui]\nthanks_s = 5\n'), ("f.json", '{"ui": {"thanks_s": 5}}')])
def test_config_push_reads_a_file_that_starts_with_a_byte_order_mark(name, text, tmp_path):
    """Windows' editors write one: a TOML file was "syntax error: Invalid statement (at line 1,
    column 1)", a JSON file Python's advice to "decode using utf-8-sig"."""
    from server_sync.config_push import load_push_file
    plain, marked = tmp_path / name, tmp_path / f"marked-{name}"
    plain.write_text(text, encoding="utf-8")
    marked.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_push_file(marked).body == load_push_file(plain).body == {"ui": {"thanks_s": 5}}


def test_config_push_names_a_file_nested_too_deeply(tmp_path, capsys):
    """tomllib recurses once per nested array: 5,000 deep was a RecursionError traceback."""
    fragment = tmp_path / "deep.toml"
    fragment.write_text("[ui]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    assert main(["config", "push", "--kiosk", "k1", str(fragment), "--dry-run", "--db", f"sqlite:///{tmp_path / 'c.db'}"]) == 2
    assert capsys.readouterr().err == (f"kiosk-central: error: {fragment}: syntax error: nested too deeply "
                                       "(arrays or tables within each other) to be read\n")


def test_config_push_names_a_file_whose_config_no_kiosk_takes_for_its_size(tmp_path, capsys):
    """A kiosk takes a pushed config of at most 1 MiB (protocol.decode_config; the broker's
    max_packet_size is above it, so the broker never refuses one): a larger push ended in
    "error: oversize payload: 1260041 bytes > limit 1048576", exit 1 (a failure, not the
    operator's file), naming neither the file nor what to do."""
    fragment = tmp_path / "roster.toml"
    fragment.write_text("[privacy]\nstaff_names = [" + ",".join(f'"Name {i:07d}"' for i in range(76_000)) + "]\n")
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    assert main(["site", "add", "s1", "--name", "S1", *db]) == 0
    capsys.readouterr()
    store = connect(db[1])
    store.execute_sql("INSERT INTO kiosk (id, site_id, registered_at) VALUES ('k1', 's1', '2026-01-01')")
    store.close()
    for dry_run in (["--dry-run"], []):
        assert main(["config", "push", "--site", "s1", str(fragment), *dry_run, "--no-tls", *db]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"kiosk-central: error: {fragment}: the config it makes is ") and "1 MiB" in err, err


def test_config_push_names_a_number_that_is_not_finite(tmp_path, capsys):
    """JSON cannot carry inf or nan; the hint about times and dates as strings was wrong for them."""
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    fragment = tmp_path / "frag.toml"
    for toml, got in [("[ui]\nthank_you_s = 1e400\n", "ui.thank_you_s': must be a finite number, got inf"),
                      ("[ui]\nthank_you_s = nan\n", "ui.thank_you_s': must be a finite number, got nan"),
                      ("[[questions]]\nid = 'x'\nw = [1.0, -inf]\n", "questions[0].w[1]': must be a finite number, got -inf")]:
        fragment.write_text(toml)
        assert main(["config", "push", "--kiosk", "k1", str(fragment), "--dry-run", *db]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"kiosk-central: error: {fragment}, key '") and got in err and "20:30" not in err, err


# --- every date, id, count and site argument (a mistake there was stored, or crashed later) ---

H = "99999999999999999999999"           # overflows SQLite's and PostgreSQL's integers


@pytest.fixture
def shop(tmp_path, migrated_sqlite) -> str:
    """A store with site s1 and its question: a copy of the session's migrated store (a new one
    migrated per test was 0.18 s, 118 times)."""
    copy_sqlite(migrated_sqlite, tmp_path / "c.db")
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    add_site(db, "s1")
    add_question(db)
    db.close()
    return url


@pytest.mark.parametrize("argv", [
    ("action", "add", "--site", "s1", "--question", "visit", "--note", "x", "--date", "D"),
    ("action", "add", "--site", "s1", "--question", "visit", "--note", "x", "--due", "D"),
    ("alerts", "due", "1", "D"),
    ("alerts", "close", "1", "--outcome", "action", "--note", "x", "--date", "D"),
    ("report", "--from", "D"), ("report", "--to", "D"),
    ("erase", "--contains", "abc", "--from", "D"), ("erase", "--contains", "abc", "--to", "D")])
@pytest.mark.parametrize("bad, message", [
    ("0001-01-01", "0001-01-01 is outside 2000-01-01 … 2099-12-31"), ("9999-12-31", "9999-12-31 is outside"),
    ("20261201", "'20261201' is not a date (YYYY-MM-DD)"), ("2026-W01-1", "'2026-W01-1' is not a date"),
    ("2026-02-30", "'2026-02-30' is not a date"), ("٢٠٢٦-١٢-٠١", "'٢٠٢٦-١٢-٠١' is not a date")])
def test_a_date_is_yyyy_mm_dd_within_the_century(shop, capsys, argv, bad, message):
    """Year 1 or 9999 crashed every later `action list|show` (the effect windows overflow `date`);
    20261201 was read by date.fromisoformat but stored and compared as typed."""
    assert central("--db", shop, *[bad if a == "D" else a for a in argv]) == 2
    before = argv[argv.index("D") - 1]
    option = before if before.startswith("--") else "YYYY-MM-DD"
    assert said_error(capsys.readouterr().err, f"argument {option}: {message}")


def test_a_good_date_is_stored_as_given(shop, capsys):
    assert central("--db", shop, "action", "add", "--site", "s1", "--question", "visit", "--note", "x",
                   "--date", "2026-11-25", "--due", "2099-12-31", "--json") == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored["date"] == "2026-11-25" and stored["due_date"] == "2099-12-31"


@pytest.mark.parametrize("argv, message", [
    # An unset shell variable: "cannot read .: not a regular file" named the current directory.
    (("import", ""), "argument FILE: must not be empty"),
    (("config", "push", "--site", "s1", "--dry-run", ""), "argument FILE: must not be empty"),
    (("alerts", "show", H), f"argument ID: {H} is not between 1 and {2 ** 63 - 1}"),
    (("alerts", "show", "0"), "argument ID: 0 is not between"),
    (("alerts", "ack", "x1"), "argument ID: 'x1' is not a whole number"),
    # int() takes these; no help text promises them.
    (("alerts", "show", "1_000"), "argument ID: '1_000' is not a whole number"),
    (("alerts", "show", " 5"), "argument ID: ' 5' is not a whole number"),
    (("alerts", "show", "+5"), "argument ID: '+5' is not a whole number"),
    (("report", "--min-ranked-n", "٣٠"), "argument --min-ranked-n: '٣٠' is not a whole number"),
    (("alerts", "show", "9" * 5000), "is not a whole number"),
    (("action", "show", H), "argument ID"),
    (("alerts", "assign", H, "sara"), "argument ID"),
    (("alerts", "close", "1", "--outcome", "duplicate", "--duplicate-of", H), "argument --duplicate-of"),
    (("alerts", "close", "1", "--outcome", "action", "--action", H), "argument --action"),
    # Both: said before the owner of a new action is looked for ("has no owner" came first).
    (("alerts", "close", "1", "--outcome", "action", "--action", "2", "--note", "x"), "contradict: give one"),
    (("action", "add", "--from-alert", H, "--note", "x"), "argument --from-alert"),
    (("question", "define", "visit", H, "--scale", "smiley4", "--audience", "customer"),
     f"argument VERSION: {H} is not between 1 and {2 ** 31 - 1}"),
    (("question", "define", "visit", "0", "--scale", "smiley4", "--audience", "customer"), "argument VERSION"),
    (("user", "audit", "--limit", H), "argument --limit"),
    (("report", "--min-ranked-n", H), "argument --min-ranked-n"),
    (("privacy", "set", "--comments-months", "100000"), "argument --comments-months: 100000 is not between 1 and 1200"),
    (("privacy", "set", "--audit-months", H), "argument --audit-months"),
    (("privacy", "set", "--dead-letters-days", H), "argument --dead-letters-days: "),
    (("privacy", "set", "--min-employee-group", H), "argument --min-employee-group"),
])
def test_ids_counts_and_periods_are_bounded(shop, capsys, argv, message):
    """A huge id overflowed SQLite (OverflowError, peewee.IntegrityError); a retention period of
    100000 months crashed `retention run` (a year before 1)."""
    assert central("--db", shop, *argv) == 2
    assert said_error(capsys.readouterr().err, message)


def test_the_largest_retention_period_still_runs(shop, capsys):
    assert central("--db", shop, "privacy", "set", "--comments-months", "1200", "--audit-months", "1200",
                   "--dead-letters-days", "36500") == 0
    assert central("--db", shop, "retention", "run", "--dry-run") == 0
    assert "retention would remove" in capsys.readouterr().out


@pytest.mark.parametrize("name, option", [("comments_keep_months", "--comments-months"),
                                          ("dead_letters_keep_days", "--dead-letters-days"),
                                          ("audit_keep_months", "--audit-months")])
def test_privacy_set_takes_the_bounds_retention_applies(shop, capsys, monkeypatch, name, option):
    """The bounds are said once, with the store's periods: changed there, the command line follows
    (its argument types had their own 1200 and 36500)."""
    from server_sync.central import retention
    default, minimum, _maximum = retention.PERIODS[name]
    monkeypatch.setitem(retention.PERIODS, name, (default, minimum, 50))
    fresh_parser(monkeypatch)
    assert central("--db", shop, "privacy", "set", option, "51") == 2
    assert said_error(capsys.readouterr().err, f"argument {option}: 51 is not between {minimum} and 50")
    assert central("--db", shop, "privacy", "set", option, "50") == 0
    assert central("--db", shop, "retention", "run", "--dry-run") == 0


def test_building_the_parser_imports_no_database_web_or_numeric_library():
    """Every command's parser is built at each start (`--help`, a mistyped argument), so a command
    imports the database layer, the web app and numpy in the function that runs it; the parser's
    choices and bounds come from modules that import nothing (central.retention_periods,
    web.vocabulary)."""
    for cli in ("server_sync.cli", "kiosk.cli"):        # kiosk-central's and the kiosk's own
        code = (f"import sys; from {cli} import COMMAND_LINE; COMMAND_LINE.build_parser(); "
                "print(sorted({m.split('.')[0] for m in sys.modules}"
                " & {'peewee', 'playhouse', 'psycopg', 'psycopg2', 'numpy', 'starlette'}))")
        r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "[]", cli


@pytest.mark.parametrize("argv", [("alerts", "check", "--no-publish"), ("alerts", "list"), ("action", "list"),
                                  ("erase", "--contains", "abc", "--dry-run")])
def test_an_unknown_site_is_an_error_as_in_report(shop, capsys, argv):
    """A typo read as 'nothing there': `0 new alert(s)`, an empty list, 'would remove 0 comments'."""
    assert central("--db", shop, *argv, "--site", "nosuch") == 2
    assert said_error(capsys.readouterr().err, "unknown site 'nosuch'")
    assert central("--db", shop, *argv, "--site", "s1") == 0


def test_erase_refuses_from_after_to(shop, capsys):
    assert central("--db", shop, "erase", "--contains", "abc", "--from", "2026-11-10", "--to", "2026-11-01") == 2
    assert said_error(capsys.readouterr().err, "--from 2026-11-10 is after --to 2026-11-01")
    # Longer than any comment: SQLite refused the pattern past 50,000 bytes (a traceback).
    assert central("--db", shop, "erase", "--contains", "ö" * 30_000, "--dry-run") == 2
    assert said_error(capsys.readouterr().err, "--contains is 30000 characters; a comment holds at most 2000")


@pytest.mark.parametrize("argv, message", [
    (("alerts", "ack", "1", "--by", " "), "argument --by: must not be empty"),
    (("alerts", "assign", "1", ""), "argument USER: must not be empty"),
    (("action", "add", "--site", "s1", "--question", "visit", "--note", "x", "--owner", ""), "argument --owner"),
    (("site", "add", "s2", "--name", "x" * 100_000), "argument --name: is 100000 characters; at most 200"),
    (("region", "add", "r1", "--name", "  "), "argument --name: must not be empty"),
    # An escape sequence in a name reached every terminal that printed it; a direction override
    # turned the rest of a page around (a review).
    (("site", "add", "s2", "--name", "a\x1b[2Jb"), "argument --name: contains a control or formatting character (U+001B)"),
    (("site", "update", "s1", "--name", "Lager\u202eN"), "argument --name: contains a control or formatting character (U+202E)"),
    (("region", "add", "r1", "--name", "a\u2028b"), "argument --name: contains a control or formatting character (U+2028)"),
    (("digest", "send", "--dry-run", "--user", ""), "argument --user: must not be empty"),     # was: everybody's
    (("user", "audit", "--user", ""), "argument --user: must not be empty"),                  # was: all entries
    # Each was taken as not given: a site in no region, a user without an address, no webhook, the
    # default client id (a review).
    (("site", "add", "s2", "--name", "S2", "--region", ""), "argument --region: must not be empty"),
    (("user", "add", "u2", "--role", "regional-manager", "--region", ""), "argument --region: must not be empty"),
    (("user", "add", "u2", "--role", "analyst", "--email", ""), "argument --email: must not be empty"),
    (("alerts", "check", "--no-publish", "--webhook", ""), "argument --webhook: must not be empty"),
    (("ingest", "--client-id", ""), "argument --client-id: must not be empty"),
    # It listed nothing, silently: no closed action is overdue.
    (("action", "list", "--overdue", "--state", "closed"), "--overdue lists open actions past their due date"),
    (("alerts", "list", "--owner", "nobody"), "no user 'nobody'"),
    (("alerts", "check", "--no-publish", "--webhook-timeout", "nan"), "argument --webhook-timeout: nan must be more than 0 and at most 600 seconds"),
    (("alerts", "check", "--no-publish", "--webhook-timeout", "-5"), "argument --webhook-timeout")])
def test_names_are_not_blank_nor_a_book(shop, capsys, argv, message):
    assert central("--db", shop, *argv) == 2
    assert said_error(capsys.readouterr().err, message)


FREE_TEXT = [("action", "add", "--site", "s1", "--question", "visit", "--note", "{}"),
             ("alerts", "comment", "1", "{}"), ("alerts", "ack", "1", "--comment", "{}"),
             ("alerts", "close", "1", "--outcome", "none", "--reason", "{}"),
             ("alerts", "close", "1", "--outcome", "action", "--note", "{}")]


@pytest.mark.parametrize("argv", FREE_TEXT)
@pytest.mark.parametrize("text, code", [("x\x1b[2J", "U+001B"), ("a\x07b", "U+0007"), ("a\x9bb", "U+009B"),
                                        ("Lager\u202eN", "U+202E"), ("a\u2028b", "U+2028")])
def test_free_text_refuses_what_acts_on_a_terminal(shop, capsys, argv, text, code):
    """A note, comment or reason was stored and echoed as typed: an escape sequence in it acted on
    the terminal of whoever printed it (`action add` echoed it at once). Refused as names are
    (nonblank_name), before the store is opened; argparse names the argument."""
    argv = tuple(a.format(text) for a in argv)
    option = next((a for a in argv if a.startswith("--") and a != "--outcome" and argv[argv.index(a) + 1] == text),
                  "TEXT")
    assert central("--db", shop, *argv) == 2
    assert said_error(capsys.readouterr().err,
                      f"argument {option}: contains a control or formatting character ({code})")


def test_free_text_keeps_line_breaks_and_tabs_as_the_web_form_does(shop, capsys):
    """The web app's comment box is a textarea: its line breaks (CRLF, read as LF) and tabs are
    text (guard.FORM_WHITESPACE); so they are on the command line."""
    assert central("--db", shop, "action", "add", "--site", "s1", "--question", "visit",
                   "--note", "moved the kiosk\r\nnearer\tthe door\rat last", "--json") == 0
    assert json.loads(capsys.readouterr().out)["note"] == "moved the kiosk\nnearer\tthe door\nat last"
    from server_sync.commands._argtypes import free_text
    from server_sync.web.guard import FORM_WHITESPACE
    assert free_text("a" + FORM_WHITESPACE + "b") == "a" + FORM_WHITESPACE + "b"


L = "x" * 10_000                        # an id pasted with a whole file after it
CUT = repr(L)[:77] + "..."              # protocol.codec.short: what an error echoes of it


@pytest.mark.parametrize("argv, message", [
    (("kiosk", "deactivate", L), f"kiosk id must be 1-64 letters a-z or A-Z, digits, '-' or '_', got {CUT}"),
    (("kiosk", "add", "k1", "--site", L), f"site id must be 1-64 letters a-z or A-Z, digits, '-' or '_', got {CUT}"),
    (("kiosk", "move", L, "--site", "s1"), f"kiosk id must be 1-64 letters a-z or A-Z, digits, '-' or '_', got {CUT}"),
    (("site", "add", L, "--name", "N"), f"site id must be 1-64 letters a-z or A-Z, digits, '-' or '_', got {CUT}"),
    (("site", "add", "s2", "--name", "N", "--region", L), f"region id must be 1-64 letters a-z or A-Z, digits, '-' or '_', got {CUT}"),
    (("site", "add", "s2", "--name", "N", "--region", "r9"), "unknown region 'r9'; add it first: kiosk-central region add r9"),
    (("region", "add", L, "--name", "N"), f"region id must be 1-64 letters a-z or A-Z, digits, '-' or '_', got {CUT}"),
    (("region", "assign", L, "s1"), f"region id must be 1-64 letters a-z or A-Z, digits, '-' or '_', got {CUT}"),
    (("region", "assign", "-", L), f"unknown site {CUT}"),
    (("user", "add", L, "--role", "analyst"), f"user name must be 1-64 letters a-z or A-Z, digits, '-' or '_', got {CUT}"),
    (("user", "add", "kim", "--role", "store-manager", "--site", L), f"unknown site {CUT}"),
    (("user", "add", "kim", "--role", "regional-manager", "--region", L), f"unknown region {CUT}"),
    (("user", "disable", L), f"no user {CUT} (kiosk-central user list shows them)"),
    (("user", "password", L), f"no user {CUT}"), (("user", "token", L), f"no user {CUT}"),
    (("user", "email", L, "a@b.c"), f"no user {CUT}"),
    (("alerts", "list", "--site", L), f"unknown site {CUT}"),
    (("report", "--site", L), f"unknown site {CUT}"), (("report", "--question", L), f"unknown question {CUT}")])
def test_an_id_too_long_is_echoed_cut(shop, tmp_path, capsys, argv, message):
    """The registry's and the people commands' errors echoed a 10,000-character id in full (twice
    in 'add it first: …'); an id no site or region can have gets that said, not the hint."""
    add = broker_files(tmp_path)                                # the kiosk commands' broker files
    files = {"add": add, "move": add[2:]}
    files["deactivate"] = files["add"]
    assert central("--db", shop, *argv, *(files.get(argv[1], ()) if argv[0] == "kiosk" else ())) == 2
    err = capsys.readouterr().err
    assert said_error(err, message) and len(err) < 300, err[:500]


def test_region_assign_counts_a_site_named_twice_once(shop, capsys):
    assert central("--db", shop, "region", "add", "r1", "--name", "North") == 0
    assert central("--db", shop, "region", "assign", "r1", "s1", "s1") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 site(s) now in region r1"
    # "-" is no region to `assign`: a region of that id could be made, and no site put in it.
    assert central("--db", shop, "region", "add", "-", "--name", "Dash") == 2
    assert said_error(capsys.readouterr().err, "region id '-' means no region")


def test_report_help_says_95_percent(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "95% confidence" in out and "%%" not in out


def test_a_kiosks_database_given_to_db_is_refused_and_left_as_it_was(tmp_path, capsys):
    import sqlite3

    from kiosk.store import LocalStore
    path = tmp_path / "kiosk.db"
    LocalStore(path, "k1").close()
    before = sqlite3.connect(path).execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()
    (tmp_path / "notes.db").write_bytes(b"")
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.commit()
    for file, whose in (("kiosk.db", "a kiosk's database"), ("other.db", "another program's database")):
        assert main(["--db", f"sqlite:///{tmp_path / file}", "site", "list"]) == 2
        assert said_error(capsys.readouterr().err, f"{tmp_path / file} is {whose}, not a central store (check --db)")
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master ORDER BY name").fetchall() == before
    assert main(["--db", f"sqlite:///{tmp_path / 'notes.db'}", "site", "list"]) == 2    # empty: a lost store
    assert said_error(capsys.readouterr().err, "notes.db is empty (0 bytes), not a central store")


def test_a_postgresql_user_without_rights_is_told_so(pg_url, capsys):
    """A role that may connect but not create tables (a new store) or read them (an existing
    one): the database's refusal, not peewee's ProgrammingError."""
    from tests.fixtures.postgres import admin_execute
    admin_execute(pg_url, "CREATE ROLE kp_reader LOGIN")
    try:
        admin_execute(pg_url, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        reader = pg_url.replace("postgres@", "kp_reader@", 1)
        assert main(["--db", reader, "site", "list"]) == 2
        assert said_error(capsys.readouterr().err, "the database refuses this user (permission denied for schema public")
        connect(pg_url).close()                                   # the owner makes the store
        assert main(["--db", reader, "site", "list"]) == 2
        assert said_error(capsys.readouterr().err, "permission denied for table schema_migration")
    finally:
        admin_execute(pg_url, "DROP OWNED BY kp_reader")
        admin_execute(pg_url, "DROP ROLE kp_reader")


def test_an_empty_db_option_is_a_slip_not_the_default_store(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)                  # where the default sqlite:///central.db would go
    assert main(["--db", "", "site", "list"]) == 2
    assert said_error(capsys.readouterr().err, "--db is empty")
    assert not (tmp_path / "central.db").exists()


@pytest.mark.parametrize("host, message", [("", "is empty"), ("a b", "'a b' is not a host name or IP address"),
                                           ("10.0.0.300", "'10.0.0.300' is not a host name or IP address"),
                                           ("-x.example", "'-x.example' is not a host name")])
@pytest.mark.parametrize("command", [["ingest"], ["alerts", "check"], ["config", "push", "--kiosk", "k1", "f.toml"],
                                     ["kiosk", "add", "k9", "--site", "s1"]])
def test_a_broker_host_that_cannot_be_one_is_refused_where_typed(tmp_path, capsys, command, host, message):
    """paho said `ValueError: Invalid host.` as a traceback, or `kiosk add` wrote it into the
    kiosk's config; `-x.example` reads as the option's value, not as an option."""
    assert central("--db", f"sqlite:///{tmp_path / 'c.db'}", *command, "--broker-host", host) == 2
    assert said_error(capsys.readouterr().err, f"argument --broker-host: {message}")
    assert not (tmp_path / "c.db").exists()


@pytest.mark.parametrize("host", ["mqtt.example.com", "broker", "10.0.0.7", "::1", "fe80::1%eth0", "mqtt-1.int_net.", "xn--rksmrgs-5wao1o.se"])
def test_a_broker_host_that_can_be_one_is_taken(host):
    from server_sync.program.hosts import host_problem
    assert host_problem(host) is None


@pytest.mark.parametrize("name, addresses, loopback", [
    ("localhost", [], True), ("LOCALHOST.", ["127.0.0.1"], True), ("vm.localdomain", ["10.0.0.5"], True),
    ("localhost.localdomain", [], True), ("pi.localhost", [], True), ("127.0.1.1", [], True), ("::1", [], True),
    ("vm", ["127.0.1.1"], True), ("vm", ["::1", "127.0.0.1"], True), ("vm", ["::ffff:127.0.0.1"], True),
    ("vm", ["127.0.1.1", "10.0.0.5"], False), ("central.example.com", ["192.0.2.10"], False),
    ("central", [], False), ("10.0.0.7", [], False), ("localhost-2.example", ["192.0.2.1"], False)])
def test_a_host_name_only_this_host_reaches_is_told_apart(name, addresses, loopback):
    """`kiosk add`'s default broker host: a name (or every address it has here) that is loopback
    names the kiosk itself, not the centre; a name unresolved here is not judged (the kiosks' DNS may know it)."""
    from server_sync.program.hosts import loopback_problem
    problem = loopback_problem(name, addresses)
    assert (problem is not None) == loopback
    assert problem is None or (repr(name) in problem and "a kiosk cannot reach it" in problem)


def test_a_first_definition_that_stored_answers_contradict_needs_force(tmp_path, capsys):
    """One typo in --scale held every kiosk's answers to the question from then on, with a
    note; now it is refused, naming what the stored answers are, unless --force. "Most"
    counts kiosks (two of them here): one kiosk alone cannot block a definition
    (tests/central/test_question_register.py). A question of the chain's own: a
    catalogue version keeps the catalogue's meaning whatever was answered."""
    from datetime import datetime

    from tests.analysis.seeding import answer, commit
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    try:
        add_site(db, "s1", kiosks=2)
        add_question(db, "entrance", defined=False)        # seen in answers, not defined by the centre
        commit(db, [answer("s1", datetime(2026, 11, 2, 10, i), 4, question="entrance", kiosk=f"s1-k{i % 2 + 1}")
                    for i in range(12)])
    finally:
        db.close()
    define = ["--db", url, "question", "define", "entrance", "1", "--audience", "customer"]
    assert main([*define, "--scale", "nps11"]) == 2
    assert said_error(capsys.readouterr().err, "question entrance v1: most kiosks that answered it (2 of 2) ask it "
                                               "otherwise than nps11/customer (12 smiley4/customer); so defined, "
                                               "the kiosks' answers to it would be held")
    assert main([*define, "--scale", "nps11", "--force"]) == 0
    assert "note: 12 answer(s) stored before say otherwise" in capsys.readouterr().out
    assert main([*define, "--scale", "smiley4"]) == 2                     # defined now: --replace's rule
    assert "keeps its meaning" in capsys.readouterr().err
    assert main([*define, "--scale", "smiley4", "--replace"]) == 0 and "say otherwise" not in capsys.readouterr().out


@pytest.mark.parametrize("argv, said", [
    (["site", "list"], "no sites yet: kiosk-central site add ID --name NAME"),
    (["user", "list"], "no users yet: kiosk-central user add NAME --role ROLE"),
    (["region", "list"], "no regions yet: kiosk-central region add ID --name NAME"),
    (["retention", "log"], "no retention runs or erasures yet"),
    (["notify", "webhook", "list"], "no webhook endpoints yet: kiosk-central notify webhook add NAME --url URL"),
    (["notify", "deliveries"], "no deliveries yet"),
    (["notify", "deliveries", "--failed"], "no failed deliveries"),
])
def test_an_empty_list_says_so_in_text_and_is_an_empty_list_in_json(central_url, capsys, argv, said):
    """Empty lists printed nothing at all, where `fleet` and `kiosk list` say what is there."""
    connect(central_url).close()
    assert central("--db", central_url, *argv) == 0
    assert capsys.readouterr().out.strip().startswith(said)
    assert central("--db", central_url, *argv, "--json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_an_empty_question_list_says_so_and_its_json_is_an_object(central_url, capsys):
    """It printed only its header."""
    connect(central_url).close()
    assert central("--db", central_url, "question", "list") == 0
    assert capsys.readouterr().out == ("no questions yet: kiosk-central config push defines them, kiosks' answers "
                                       "register theirs\n")
    assert central("--db", central_url, "question", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"questions": []}


def test_an_empty_kiosk_list_says_so_and_how_to_add_the_first(central_url, capsys):
    """It printed only its header and "0 kiosks, 0 deactivated"; its JSON is an object."""
    connect(central_url).close()
    assert central("--db", central_url, "kiosk", "list") == 0
    assert capsys.readouterr().out == "no kiosks yet: kiosk-central kiosk add ID --site SITE\n"
    assert central("--db", central_url, "kiosk", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"kiosks": []}


def test_site_list_shows_the_region_and_region_list_the_sites(central, capsys):
    url, _db = central
    assert central_cli("--db", url, "region", "add", "north", "--name", "North") == 0
    assert central_cli("--db", url, "region", "add", "south", "--name", "South") == 0
    assert central_cli("--db", url, "region", "assign", "north", "s1") == 0
    capsys.readouterr()
    assert central_cli("--db", url, "site", "list", "--json") == 0
    assert {s["id"]: s["region"] for s in json.loads(capsys.readouterr().out)} == {"s1": "north", "s2": None}
    assert central_cli("--db", url, "site", "list") == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "region north" in lines["s1"] and "no region" in lines["s2"]
    assert central_cli("--db", url, "region", "list", "--json") == 0
    assert {r["id"]: (r["sites"], r["site_ids"]) for r in json.loads(capsys.readouterr().out)} == \
        {"north": (1, ["s1"]), "south": (0, [])}
    assert central_cli("--db", url, "region", "list") == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["north"].endswith("North  (s1)") and lines["south"].endswith("South")


def test_retention_log_says_each_run_without_doubled_words(central, capsys):
    url, _db = central
    assert central_cli("--db", url, "retention", "run") == 0
    capsys.readouterr()
    assert central_cli("--db", url, "retention", "log") == 0
    out = capsys.readouterr().out
    assert "retention retention" not in out and "retention: removed 0 audit entries" in out, out
    assert out.split("  ")[0].endswith(" UTC"), out              # its time says its zone


def test_serve_checks_forwarded_allow_ips(tmp_path, capsys, monkeypatch):
    """uvicorn keeps anything that is not an address or network as a literal no TCP peer matches:
    a typo silently distrusted the proxy. Refused with a clear error, before anything starts."""
    import uvicorn
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    for bad in ("not an ip", "10.0.0.1,", "10.0.0.0/33", "127.0.0.1,*", ""):
        # The real command: a value that got through would start a server (and time out here).
        r = subprocess.run([sys.executable, "-m", "server_sync", "serve", "--forwarded-allow-ips", bad, *db],
                           cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (bad, r.stderr)
        assert said_error(r.stderr, "argument --forwarded-allow-ips: ") and "CIDR network" in r.stderr, r.stderr
    # What a good value becomes is what uvicorn is handed: observed at that boundary (uvicorn's
    # own handling of it is not this project's to test).
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    for good, passed in (("*", "*"), ("10.0.0.1, 10.0.0.0/8", "10.0.0.1,10.0.0.0/8"), ("::1,fd00::/8", "::1,fd00::/8")):
        assert central("serve", "--forwarded-allow-ips", good, "--port", port, *db) == 0, capsys.readouterr().err
        assert started.pop()["forwarded_allow_ips"] == passed


# --- which commands may make the central store ---------------------------------------------------

# The services (their units run as the service user, who must own a SQLite store they make) and
# the first registrations of a chain. Every other command works on what these stored: where --db
# names a SQLite file that is not there, it is a mistyped path, and an empty store made there
# would take the settings, people or pushes meant for the real one.
MAY_CREATE_THE_STORE = {"ingest", "serve", "notify run", "site add", "region add"}


def needs_a_store(tmp_path: Path) -> dict[str, list[str]]:
    """For every other subcommand, a command line that would work on a store with its things."""
    for name in ("pw", "export.jsonl"):
        (tmp_path / name).write_text("")
    broker_files(tmp_path)                             # the shipped ACL, as `acl`
    (tmp_path / "push.toml").write_text("[ui]\nthank_you_s = 5\n")
    files = broker_files(tmp_path)
    return {
        "action add": ["--site", "s1", "--note", "moved the kiosk"], "action list": [], "action show": ["1"],
        "action close-completed": [],
        "alerts list": [], "alerts show": ["1"], "alerts assign": ["1", "bob"], "alerts due": ["1", "2026-12-01"],
        "alerts comment": ["1", "on it"], "alerts ack": ["1"], "alerts close": ["1", "--outcome", "none", "--reason", "x"],
        "alerts check": ["--no-publish"],
        "config push": ["--kiosk", "k1", str(tmp_path / "push.toml"), "--no-tls", "--broker-host", "127.0.0.1",
                        "--broker-port", "1"],
        "digest send": [], "erase": ["--contains", "x"], "fleet": [], "import": [str(tmp_path / "export.jsonl")],
        "kiosk add": ["k1", "--site", "s1", *files], "kiosk deactivate": ["k1", *files],
        "kiosk move": ["k1", "--site", "s2", "--acl-file", str(tmp_path / "acl")], "kiosk list": [],
        "kiosk installs-on": ["k1", "2027-01-11"],
        "notify webhook add": ["ops", "--url", "https://example.com/hook"], "notify webhook list": [],
        "notify webhook remove": ["ops"], "notify webhook update": ["ops", "--url", "https://example.com/hook2"], "notify smtp set": ["--host", "mail.example.com", "--from", "a@example.com"],
        "notify smtp show": [], "notify test": [], "notify web-url": ["https://kundpuls.example.com"],
        "notify deliveries": [],
        "privacy show": [], "privacy set": ["--comments-months", "6"],
        "question list": [], "question define": ["visit", "2", "--scale", "smiley4", "--audience", "customer"],
        "region list": [], "region assign": ["north", "s1"],
        "report": [], "retention run": [], "retention log": [],
        "site update": ["s1", "--name", "x"], "site list": [], "site holidays": ["2026-12-25 closed"],
        "user add": ["bob", "--role", "analyst"], "user email": ["bob", "bob@example.com"], "user list": [],
        "user disable": ["bob"], "user enable": ["bob"], "user password": ["bob"], "user token": ["bob"],
        "user audit": [],
    }


def subcommands() -> set[str]:
    """Every subcommand of kiosk-central, as typed ('notify webhook add')."""
    import argparse

    from server_sync.cli import COMMAND_LINE

    def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...]):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield " ".join(path)
        for name, child in (subs[0].choices.items() if subs else ()):
            yield from leaves(child, (*path, name))
    return set(leaves(COMMAND_LINE.build_parser(), ()))


def test_every_subcommand_either_may_create_the_store_or_needs_one(tmp_path):
    """A new command is put on one side or the other here (and tested below), not left to the
    default of connect(), which makes any SQLite file it is given."""
    assert subcommands() == MAY_CREATE_THE_STORE | set(needs_a_store(tmp_path))


def test_a_command_that_needs_a_store_refuses_a_missing_sqlite_path_and_makes_nothing(tmp_path, capsys):
    """`privacy set`, `user add`, `notify webhook add|smtp set|test|web-url`, `question define`,
    `kiosk add|deactivate|move`, `import` and `config push` made an empty store at a mistyped
    path (and some then said it had worked)."""
    missing = tmp_path / "typo" / "centarl.db"
    for command, argv in needs_a_store(tmp_path).items():
        before = sorted(tmp_path.rglob("*"))
        rc = central("--db", f"sqlite:///{missing}", *command.split(), *argv)
        err = capsys.readouterr().err
        assert rc == 2 and said_error(err, f"no central database at {missing}"), (command, err)
        assert sorted(tmp_path.rglob("*")) == before, command


def test_an_empty_sqlite_file_is_refused_by_every_command_and_left_as_it_is(tmp_path, capsys):
    """A central.db of 0 bytes (truncated: a full disk, a bad copy) was taken for a store not
    made yet: `site list` and `report` migrated it into an empty store and said "no sites yet",
    and the services would have started a new chain in it. Every command now refuses it, the
    services and first registrations too, and leaves it as it is (a kiosk's empty database is
    refused the same way)."""
    empty = tmp_path / "central.db"
    empty.write_bytes(b"")
    commands = {**needs_a_store(tmp_path), **{c: [] for c in MAY_CREATE_THE_STORE},
                "site add": ["s1", "--name", "S"], "region add": ["north", "--name", "N"],
                "serve": ["--port", str(free_port())]}     # not 8080, which anything may hold
    for command, argv in commands.items():
        rc = central("--db", f"sqlite:///{empty}", *command.split(), *argv)
        err = capsys.readouterr().err
        assert rc == 2 and said_error(err, f"the central database {empty} is empty (0 bytes), not a central "
                                           "store: check --db or $KUNDPULS_CENTRAL_DB, or restore it from its "
                                           "backup"), (command, err)
        assert empty.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir() if "central" in p.name) \
            == ["central.db"], command


def _start_on_new_stores(paths: list[str], barrier, queue) -> None:
    """One of the processes of the test below: at each barrier, the services' start on a store
    not made yet, all at the same moment; what each said."""
    import argparse
    from server_sync.cli import connect_new_store
    from server_sync.exc import CentralConfigError
    for path in paths:
        barrier.wait(timeout=60)
        try:
            connect_new_store(argparse.Namespace(db=f"sqlite:///{path}")).close()
            queue.put("ok")
        except CentralConfigError as e:
            queue.put(str(e))


def test_processes_starting_together_on_a_new_store_wait_for_its_maker(tmp_path):
    """ingest, serve and notify run started together on a store not made yet (or `site add` while
    the ingest starts): SQLite's file is 0 bytes from its open until WAL mode is set, and a second
    process that looked then was refused as a store that lost everything ("is empty (0 bytes) …
    restore it from its backup"), 8 trials of 20 in a review. The maker now puts the file in place
    whole, so the others wait for its migration as before."""
    ctx = multiprocessing.get_context("spawn")
    paths = [str(tmp_path / f"c{trial}.db") for trial in range(12)]
    barrier, queue = ctx.Barrier(6), ctx.Queue()
    procs = [ctx.Process(target=_start_on_new_stores, args=(paths, barrier, queue)) for _ in range(6)]
    for p in procs:
        p.start()
    said = [queue.get(timeout=120) for _ in range(len(paths) * len(procs))]
    for p in procs:
        p.join(timeout=30)
    assert [s for s in said if s != "ok"] == []
    for path in paths:
        db = connect(f"sqlite:///{path}", migrate_schema=False)
        assert db.execute_sql("SELECT COUNT(*) FROM schema_migration").fetchone()[0] > 0
        db.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in paths)   # no file left


@pytest.mark.parametrize("command", [["site", "add", "s1", "--name", "S"], ["region", "add", "north", "--name", "N"]])
def test_a_first_registration_makes_the_store(tmp_path, capsys, command):
    made = tmp_path / "new" / "central.db"
    assert central("--db", f"sqlite:///{made}", *command) == 0, capsys.readouterr().err
    assert made.is_file()


def store_with_kiosks(tmp_path: Path) -> list[str]:
    """--db of a store with site s1 and its kiosks k1 and k2."""
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    files = broker_files(tmp_path)
    assert main(["site", "add", "s1", "--name", "S", *db]) == 0
    for kiosk in ("k1", "k2"):
        assert main(["kiosk", "add", kiosk, "--site", "s1", *files, *db]) == 0
    return db


def test_config_push_refuses_a_question_version_the_protocol_does_not_carry(tmp_path, capsys):
    """An answer's question_version is at most 2^31-1 (the centre's INTEGER column); a push passed
    2^31 (every answer to it would be refused) and 2^63 ended in an OverflowError traceback."""
    db = store_with_kiosks(tmp_path)
    fragment = tmp_path / "q.toml"
    for version in (2 ** 31, 2 ** 63, 10 ** 23):
        fragment.write_text(f'[[questions]]\nid = "visit"\nversion = {version}\nscale = "smiley4"\n'
                            'text = {sv = "a", nb = "b", en = "c"}\n')
        capsys.readouterr()
        assert main(["config", "push", "--kiosk", "k1", str(fragment), "--dry-run", *db]) == 2, version
        assert said_error(capsys.readouterr().err, f"key 'questions[0].version': must be at most 2147483647, got {version}")
    fragment.write_text(fragment.read_text().replace(str(10 ** 23), str(2 ** 31 - 1)))
    assert main(["config", "push", "--kiosk", "k1", str(fragment), "--dry-run", *db]) == 0
    assert "to be defined by the centre: visit v2147483647" in capsys.readouterr().out


def test_config_push_names_a_json_file_nested_too_deeply(tmp_path, capsys):
    """json reads twice as deep as tomllib: 500 arrays deep was a RecursionError traceback (from
    copying the file), 1,000 one from json itself. Refused as the TOML file is, 64 deep at most."""
    db = store_with_kiosks(tmp_path)
    fragment = tmp_path / "deep.json"
    for depth in (62, 500, 1000, 100_000):        # the file and [ui] are two levels: 64 in all
        fragment.write_text('{"ui": {"x": ' + "[" * depth + "]" * depth + "}}")
        capsys.readouterr()
        assert main(["config", "push", "--kiosk", "k1", str(fragment), "--dry-run", *db]) == 2, depth
        err = capsys.readouterr().err
        if depth == 62:                            # read: then the kiosk's rules speak
            assert said_error(err, "key 'ui.x': unknown key"), err
        else:
            assert err == (f"kiosk-central: error: {fragment}: syntax error: nested too deeply "
                           "(arrays or tables within each other) to be read\n"), err


def test_config_push_to_one_kiosk_refuses_a_deactivated_kiosk_and_an_empty_id(tmp_path, capsys):
    """`--site` leaves a deactivated kiosk out; `--kiosk` published to it (a retained config for a
    broker user that is gone) and recorded version 1. `--kiosk ""` said `unknown site None`."""
    db = store_with_kiosks(tmp_path)
    files = broker_files(tmp_path)
    assert main(["kiosk", "deactivate", "k1", *files, *db]) == 0
    fragment = tmp_path / "frag.toml"
    fragment.write_text("[ui]\nthank_you_s = 5\n")
    capsys.readouterr()
    for dry_run in (["--dry-run"], ["--no-tls", "--broker-host", "127.0.0.1", "--broker-port", "1"]):
        assert main(["config", "push", "--kiosk", "k1", str(fragment), *dry_run, *db]) == 2
        assert said_error(capsys.readouterr().err, "kiosk 'k1' is deactivated (kiosk-central kiosk add k1 "
                                                    "--site s1 --rotate-password brings it back)")
    assert main(["config", "push", "--site", "s1", str(fragment), "--dry-run", *db]) == 0
    assert capsys.readouterr().out.startswith("would push config version 2 to kiosk k2 ")
    assert central("config", "push", "--kiosk", "", str(fragment), "--dry-run", *db) == 2
    assert said_error(capsys.readouterr().err, "argument --kiosk: must not be empty")
    store = connect(db[1])
    try:
        assert store.execute_sql("SELECT COUNT(*) FROM config_push").fetchone()[0] == 0
    finally:
        store.close()


def test_a_publish_the_broker_does_not_confirm_may_have_reached_it(tmp_path):
    """A broker that takes the connection and then never answers: the message may be retained
    (its PUBACK may be what was lost), which a push must not forget (the next push to that kiosk
    would reuse the version, and the kiosk refuses a version it has)."""
    import socket
    import threading

    from server_sync.config_push import Publication, publish_each_retained, publish_retained
    from server_sync.exc import CentralConfigError
    from server_sync.ingest import BrokerSettings

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def silent_broker() -> None:
            for _ in range(2):
                conn, _ = server.accept()
                with conn:
                    conn.recv(65536)                          # CONNECT
                    conn.sendall(b"\x20\x03\x00\x00\x00")     # CONNACK, MQTT 5: accepted, no properties
                    while conn.recv(65536):                   # PUBLISH, never acknowledged
                        pass

        threading.Thread(target=silent_broker, daemon=True).start()
        settings = BrokerSettings(host="127.0.0.1", port=server.getsockname()[1], tls=False, client_id="t")
        assert publish_each_retained(settings, [("a/config", b"{}")], timeout_s=0.5) == [
            Publication("a/config", "not confirmed in time", taken=True)]
        with pytest.raises(CentralConfigError, match="^the status publish on a/config was not confirmed in time$"):
            publish_retained(settings, [("a/config", b"")], timeout_s=0.5, what="status")


def test_a_push_records_each_kiosk_the_broker_may_hold_it_for(central, tmp_path, capsys, monkeypatch):
    """Confirmed, unconfirmed and refused in one push: the first two are recorded (with the
    questions), the refused one is not, and the command says so and fails."""
    from datetime import datetime

    from server_sync import config_push
    from server_sync.central import registry
    from server_sync.config_push import Publication
    url, db = central
    with db.atomic():
        registry.add_kiosk(db, "k5", "s1", datetime(2026, 11, 1))
    said = {"kundpuls/v1/kiosk/k1/config": Publication("kundpuls/v1/kiosk/k1/config"),
            "kundpuls/v1/kiosk/k2/config": Publication("kundpuls/v1/kiosk/k2/config", "not confirmed in time"),
            "kundpuls/v1/kiosk/k5/config": Publication("kundpuls/v1/kiosk/k5/config", "refused: Not authorized",
                                                       taken=False)}
    monkeypatch.setattr(config_push, "publish_each_retained", lambda settings, messages: [said[t] for t, _ in messages])
    fragment = tmp_path / "q.toml"
    fragment.write_text('[[questions]]\nid = "visit"\nversion = 3\nscale = "smiley4"\ntext = {sv = "a", nb = "b", en = "c"}\n')
    assert main(["config", "push", "--site", "s1", str(fragment), "--no-tls", "--broker-host", "127.0.0.1", "--db", url]) == 2
    out, err = capsys.readouterr()
    assert "pushed config version 2 to kiosk k1" in out and "pushed config version 2 to kiosk k2" in out
    assert "kiosk k5" not in out
    assert said_error(err, "config version 2 to kiosk k2 was not confirmed in time; config version 2 to kiosk k5 "
                           "was refused: Not authorized (does the broker's ACL let user 'central' write "
                           "kundpuls/v1/kiosk/k5/config?). Kiosk k1 got it: recorded. "
                           "Kiosk k2 may have it: recorded, so the next push goes above that version. Once that is "
                           "fixed, push again to kiosk k5 (config push --kiosk ID FILE)."), err
    assert db.execute_sql("SELECT kiosk_id, version FROM config_push ORDER BY kiosk_id").fetchall() == [
        ("k1", 2), ("k2", 2)]
    assert main(["question", "list", "--json", "--db", url]) == 0
    assert {(q["id"], q["version"]) for q in json.loads(capsys.readouterr().out)["questions"] if q["defined"]} == {
        ("visit", 3)}


def test_pushes_recorded_before_keep_no_roster_after_the_upgrade(central):
    """Records of pushes made before the rule kept every name: m0057 rewrites them as a push is
    now recorded (config_push.kept_payload), and leaves those without a roster as they are."""
    from datetime import datetime

    from server_sync.central.dialect import dialect_of
    from server_sync.central.migrations import m0057_push_roster_names as m0057
    from server_sync.config_push import kept_payload
    _url, db = central
    before = {1: '{"version":1,"privacy":{"staff_names":["Anna Lindqvist","Per Holm"]}}',
              2: '{"version":2,"questions":[]}', 3: "not json"}
    p = db.param
    for version, payload in before.items():
        db.execute_sql(f"INSERT INTO config_push (kiosk_id, version, payload, pushed_at) VALUES ('k1', {p}, {p}, {p})",
                       (version, payload, datetime(2026, 11, 1)))
    m0057.up(db, dialect_of(db))
    after = dict(db.execute_sql("SELECT version, payload FROM config_push WHERE kiosk_id = 'k1'").fetchall())
    assert after == {1: kept_payload(before[1].encode()), 2: before[2], 3: before[3]}
    assert json.loads(after[1])["privacy"]["staff_names"] == ["[name]", "[name]"]


def test_a_password_on_standard_input_is_read_without_a_byte_order_mark(tmp_path):
    """`user add --password-stdin < file` with a file saved as "UTF-8 with BOM": the mark was
    stored as the password's first character, and the person could never sign in (a review).
    A process of its own, its standard input the file's bytes."""
    from server_sync.web.people import verify_password
    from tests.web.world import kiosk_central_process
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["--db", url, "site", "add", "s1", "--name", "S1"]) == 0
    done = kiosk_central_process(url, "user", "add", "eva", "--role", "analyst", "--password-stdin",
                                 stdin="\ufeffa long password\n")
    assert done.returncode == 0, done.stderr
    db = connect(url)
    try:
        assert verify_password(db, "eva", "a long password") is not None
    finally:
        db.close()


def test_a_store_path_no_file_can_have_is_a_clear_error(tmp_path, capsys):
    """A part of the store's path longer than 255 bytes: `site add` and `site list` printed the
    ENAMETOOLONG traceback (a review; the kiosk's commands: tests/test_cli.py)."""
    long_dir = str(tmp_path / ("d" * 300))
    for command in (["site", "add", "s1", "--name", "S"], ["site", "list"]):
        assert main(["--db", f"sqlite:///{long_dir}", *command]) == 2
        assert said_error(capsys.readouterr().err, "is 300 bytes; a file name has at most 255")


def test_site_list_counts_the_active_kiosks_as_the_fleet_does(central_url, capsys):
    """A deactivated kiosk was still counted: "s005 2 kiosks" where the fleet has one (a review)."""
    from tests.central.wire import register_fleet
    db = connect(central_url)
    try:
        register_fleet(db)                                  # k1, k2 at s1; k3, k4 at s2
        db.execute_sql(f"UPDATE kiosk SET active = {db.param} WHERE id = 'k2'", (False,))
    finally:
        db.close()
    assert main(["--db", central_url, "site", "list", "--json"]) == 0
    assert {s["id"]: s["kiosks"] for s in json.loads(capsys.readouterr().out)} == {"s1": 1, "s2": 2}
