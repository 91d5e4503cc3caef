"""The notify worker and a central store that fails under it, on SQLite and PostgreSQL, with a real
SMTP server and webhook receiver: what went while the store could not record it goes once, and a
store down for longer than the first retry, or a full disk, is one line in the log and a wait,
never a crash."""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from server_sync.central.db import SQLITE_PRAGMAS, connect
from server_sync.cli import main
from server_sync.notify import queue, sender, smtp
from tests.fixtures.mail import LocalSmtp
from tests.fixtures.postgres import admin_execute
from tests.fixtures.webhooks import Receiver


class StoreCut:
    """The store fails under the worker while a receiver takes what it sent, for real: SQLite held
    by another process (BEGIN IMMEDIATE) past the worker's busy timeout until `restore`;
    PostgreSQL's connections to the database ended by the server (pg_terminate_backend: the next
    statement fails, a new connection works). `at_the_first`: a receiver's hook that cuts it
    while the first mail or delivery is being taken."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.holder: sqlite3.Connection | None = None
        self.taken = 0

    def at_the_first(self, *_) -> None:
        self.taken += 1
        if self.taken == 1:
            self.cut()

    def cut(self) -> None:
        if self.url.startswith("sqlite:///"):
            self.holder = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None,
                                          check_same_thread=False)
            self.holder.execute("BEGIN IMMEDIATE")
        else:
            admin_execute(self.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                    " WHERE datname = current_database() AND pid <> pg_backend_pid()")

    def restore(self) -> None:
        if self.holder is not None:
            self.holder.execute("COMMIT")
            self.holder.close()
            self.holder = None


def _outbox(url: str, table: str) -> list[tuple]:
    db = connect(url)
    try:
        done = "sent_at" if table == "mail_outbox" else "delivered_at"
        return db.execute_sql(f"SELECT id, attempts, {done} IS NOT NULL FROM {table}").fetchall()
    finally:
        db.close()


def _wait(until, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while not until():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("channel", ["mail", "webhook"])
def test_what_went_while_the_store_could_not_record_it_goes_once(central_url, monkeypatch, caplog, channel):
    """The SMTP server took the mail (a receiver answered 2xx) and the store failed before the
    worker recorded it: the fact that it went was lost with the exception, its claim ran out
    (5 minutes) and the person got it again, with another Message-ID (a review, PostgreSQL
    stopped for 5 s). The worker keeps what went and writes it first when the store is back,
    before anything else goes: here with a claim of half a second, so a worker that forgot would
    send it again at once."""
    connect(central_url).close()                                       # the store, migrated
    monkeypatch.setattr(queue, "CLAIM_S", 0.5)
    monkeypatch.setitem(SQLITE_PRAGMAS, "busy_timeout", 100)           # the wait, not the real 10 s
    handlers: dict = {}
    monkeypatch.setattr(signal, "signal", lambda sig, handler: handlers.setdefault(sig, handler))
    store = StoreCut(central_url)
    table = "mail_outbox" if channel == "mail" else "webhook_delivery"
    with LocalSmtp(on_data=store.at_the_first) as server:
        receiver = Receiver(on_post=store.at_the_first)
        try:
            if channel == "mail":
                assert main(["--db", central_url, "notify", "smtp", "set", "--host", "127.0.0.1", "--port",
                             str(server.port), "--from", "kundpuls@example.se", "--security", "none"]) == 0
                assert main(["--db", central_url, "notify", "test", "--mail", "anna@example.se"]) == 0
            else:
                assert main(["--db", central_url, "notify", "webhook", "add", "office", "--url", receiver.url]) == 0
                assert main(["--db", central_url, "notify", "test"]) == 0
            got = (lambda: len(server.raw)) if channel == "mail" else (lambda: len(receiver.got))

            def restore_then_stop():
                failed = lambda: [m for m in caplog.messages if "trying again" in m]      # noqa: E731
                _wait(failed)
                store.restore()
                _wait(lambda: _outbox(central_url, table) and _outbox(central_url, table)[0][2], 15)
                time.sleep(1.0)             # rounds enough for a claim of 0.5 s to run out
                handlers[signal.SIGTERM](signal.SIGTERM, None)
            caplog.set_level(logging.INFO, logger="kundpuls.notify")
            helper = threading.Thread(target=restore_then_stop, daemon=True)
            helper.start()
            assert main(["--db", central_url, "notify", "run", "--interval", "0.1", "--close-every", "0",
                         "--watch-every", "0"]) == 0
            helper.join(30)
        finally:
            store.restore()
            receiver.close()
    assert store.taken and any("trying again" in m for m in caplog.messages), caplog.text
    assert got() == 1, caplog.text                                      # once, not again when the claim ran out
    assert _outbox(central_url, table) == [(1, 1, True)]                 # recorded as gone, one try


def test_a_sent_outcome_not_recorded_holds_up_every_send_until_it_is(tmp_path, monkeypatch):
    """While the store cannot take what went, nothing else goes: the round fails at once, before
    any claim or send, and the mail whose outcome waits is never offered to the server again."""
    from peewee import DatabaseError

    from server_sync.notify.unrecorded import Unrecorded
    monkeypatch.setitem(SQLITE_PRAGMAS, "busy_timeout", 100)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    store = StoreCut(url)
    unrecorded = Unrecorded()
    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    try:
        with LocalSmtp(on_data=store.at_the_first) as server:
            smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
            with db.atomic():
                for i in range(2):
                    queue.enqueue_mail(db, "anna@example.se", f"m{i}", "t", "<p>t</p>", now)
            with pytest.raises(DatabaseError):
                sender.deliver_mail(db, now, unrecorded=unrecorded)
            assert len(server.raw) == 1 and unrecorded.described() == ["mail_outbox 1"]
            later = now + timedelta(minutes=10)                 # both due again, the claim run out
            with pytest.raises(DatabaseError):
                sender.deliver_mail(db, later, unrecorded=unrecorded)
            with pytest.raises(DatabaseError):
                sender.deliver_webhooks(db, later, unrecorded=unrecorded)
            assert len(server.raw) == 1
            store.restore()
            assert sender.deliver_mail(db, later, unrecorded=unrecorded) == 1       # m1 only
            assert not unrecorded
        assert sorted(m["Subject"] for m in server.messages) == ["m0", "m1"]
        assert {(d["what"], d["state"], d["attempts"]) for d in queue.deliveries(db)} == \
            {("m0", "delivered", 1), ("m1", "delivered", 1)}
    finally:
        store.restore()
        db.close()


def test_a_mail_sent_again_after_a_lost_record_has_the_same_message_id(central_url, monkeypatch):
    """A worker stopped while the store was down forgets what went, and the mail goes again once
    its claim runs out: each try had a random Message-ID, so the person's mail program showed both.
    Now the Message-ID is the outbox row's (its id and when it was queued, at the sender's domain):
    the copy carries the same one, which mail programs and archives take for the same mail; another
    mail has its own."""
    from peewee import DatabaseError

    from server_sync.central.db import reconnect
    from server_sync.notify.unrecorded import Unrecorded
    monkeypatch.setitem(SQLITE_PRAGMAS, "busy_timeout", 100)
    db = connect(central_url)
    store = StoreCut(central_url)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    try:
        with LocalSmtp(on_data=store.at_the_first) as server:
            smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
            with db.atomic():
                queue.enqueue_mail(db, "anna@example.se", "m0", "t", "<p>t</p>", now)
            with pytest.raises(DatabaseError):
                sender.deliver_mail(db, now, unrecorded=Unrecorded())
            store.restore()
            assert reconnect(db) is None
            with db.atomic():
                queue.enqueue_mail(db, "anna@example.se", "m1", "t", "<p>t</p>", now)
            # A new worker: what the stopped one kept is gone; the claim has run out.
            assert sender.deliver_mail(db, now + timedelta(minutes=6), unrecorded=Unrecorded()) == 2
        first, again, other = sorted(server.messages, key=lambda m: m["Subject"])
        assert (first["Subject"], again["Subject"], other["Subject"]) == ("m0", "m0", "m1")
        assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
        assert first["Message-ID"].endswith("@example.se>") and other["Message-ID"].endswith("@example.se>")
    finally:
        store.restore()
        db.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_postgresql_down_longer_than_the_first_retry_is_a_line_a_try_then_delivery(tmp_path, monkeypatch, caplog):
    """PostgreSQL stopped under a running worker and back a few seconds later: the worker said
    the first failure in one line, tried to reconnect, then ran a round on the closed connection,
    whose reconnection's error peewee wraps once more, and exited with a 90-line traceback (a
    review). Now it reconnects before any round, one line a try, the wait doubling, and delivers
    what was queued meanwhile once the server is back."""
    from server_sync.notify.bodies import Notice
    from tests.fixtures.postgres import LocalPostgres, PostgresMissing, with_database
    server = LocalPostgres()
    try:
        server.start()
    except PostgresMissing as e:
        server.stop()
        pytest.skip(str(e))
    handlers: dict = {}
    monkeypatch.setattr(signal, "signal", lambda sig, handler: handlers.setdefault(sig, handler))
    receiver = Receiver()
    try:
        admin_execute(server.url, "CREATE DATABASE notify TEMPLATE template0")
        url = with_database(server.url, "notify")
        assert main(["--db", url, "notify", "webhook", "add", "office", "--url", receiver.url]) == 0
        down = lambda: [m for m in caplog.messages if "cannot be reached yet" in m]     # noqa: E731

        def outage_then_stop():
            time.sleep(0.5)                                     # rounds on a store that works
            server.halt()
            _wait(lambda: len(down()) >= 2)                     # past the first retry, still there
            server.start()
            db = connect(url)
            try:
                with db.atomic():
                    queue.enqueue_webhooks(db, Notice("test", "back", "the store is back"), datetime.now(timezone.utc))
            finally:
                db.close()
            _wait(lambda: receiver.got)
            handlers[signal.SIGTERM](signal.SIGTERM, None)
        caplog.set_level(logging.INFO, logger="kundpuls.notify")
        helper = threading.Thread(target=outage_then_stop, daemon=True)
        helper.start()
        try:
            code = main(["--db", url, "notify", "run", "--interval", "0.1", "--close-every", "0", "--watch-every", "0"])
        finally:
            helper.join(60)
    finally:
        receiver.close()
        server.stop()
    assert code == 0 and len(receiver.got) == 1, caplog.text
    assert all(rec.exc_info is None for rec in caplog.records), caplog.text
    assert "trying again in 1 s" in caplog.text and len(down()) >= 2, caplog.text
    assert "trying again in 2 s" in down()[0] and "trying again in 4 s" in down()[1], caplog.text


# A SQLite store whose disk fills under a running worker: COMMIT fails with SQLITE_FULL, peewee
# then rolls back a transaction SQLite has already ended, and that error ("cannot rollback - no
# transaction is active") is the one raised, the full disk only in its context.
FULL_DISK_SCRIPT = r'''
import json, os, signal, sqlite3, subprocess, sys, time
from pathlib import Path
disk, log_path = Path(sys.argv[1]), Path(sys.argv[2])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "notifydisk", str(disk)], check=True)
from server_sync.central.db import connect
from tests.fixtures.webhooks import Receiver
receiver = Receiver()
url = f"sqlite:///{disk / 'c.db'}"
connect(url).close()
cli = [sys.executable, "-m", "server_sync", "--db", url]
subprocess.run([*cli, "notify", "webhook", "add", "office", "--url", receiver.url], check=True, capture_output=True)
subprocess.run([*cli, "notify", "test"], check=True, capture_output=True)
# Due in 3 s: the worker is running (its connection open, the -wal and -shm files kept) when the
# disk fills, and its claim is the first write after that.
from datetime import datetime, timedelta, timezone
due = (datetime.now(timezone.utc) + timedelta(seconds=3)).replace(tzinfo=None).isoformat(" ")
con = sqlite3.connect(disk / "c.db", isolation_level=None)
con.execute("UPDATE webhook_delivery SET next_attempt_at = ?", (due,))
with open(log_path, "wb") as log:
    worker = subprocess.Popen([*cli, "notify", "run", "--interval", "0.2", "--close-every", "0", "--watch-every", "0"],
                              stdout=log, stderr=subprocess.STDOUT)
time.sleep(1.0)
while con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:    # every write from now on needs new space
    time.sleep(0.05)
con.close()
fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
try:
    while True:
        os.write(fd, b"\0" * 4096)
except OSError:
    pass
os.close(fd)
def wait(until, seconds=30):
    deadline = time.monotonic() + seconds
    while not until() and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.1)
wait(lambda: "trying again in 2 s" in log_path.read_text())      # two rounds failed on the disk
got_while_full = len(receiver.got)
once = subprocess.run([*cli, "notify", "run", "--once", "--close-every", "0", "--watch-every", "0"],
                      capture_output=True, text=True)
(disk / "filler").unlink()
wait(lambda: receiver.got)
time.sleep(0.5)
if worker.poll() is None:
    worker.send_signal(signal.SIGTERM)
code = worker.wait(30)
con = sqlite3.connect(disk / "c.db")
state = con.execute("SELECT attempts, delivered_at IS NOT NULL FROM webhook_delivery").fetchall()
con.close()
receiver.close()
subprocess.run(["umount", str(disk)])
print(json.dumps({"code": code, "got_while_full": got_while_full, "got": len(receiver.got), "state": state,
                  "log": log_path.read_text(), "once": [once.returncode, once.stdout, once.stderr]}))
'''


def test_a_full_disk_under_the_worker_is_a_line_a_try_not_a_crash(tmp_path):
    """SQLite on a real full disk (an 8 MB tmpfs in a private mount namespace): the worker exited 1
    with a traceback ending "cannot rollback - no transaction is active", peewee's rollback after
    the COMMIT that failed with SQLITE_FULL hiding the real error (a review). Now that is the store
    failing ("free space on its disk"): one line a try, the wait doubling, and what waits is
    delivered once space is freed. `notify run --once` on the full disk says it in one line, exit 1."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("a small tmpfs needs root and unshare")
    disk = tmp_path / "disk"
    disk.mkdir()
    r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", FULL_DISK_SCRIPT,
                        str(disk), str(tmp_path / "worker.log")], capture_output=True, text=True, timeout=180,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    log = out["log"]
    assert out["code"] == 0 and "Traceback" not in log, log
    full = [line for line in log.splitlines() if "database or disk is full: free space on its disk" in line]
    assert len(full) >= 2 and "trying again in 1 s" in full[0] and "trying again in 2 s" in full[1], log
    assert out["got_while_full"] == 0 and out["got"] == 1 and out["state"] == [[1, 1]], out
    code, said, err = out["once"]
    assert code == 1 and said == "" and err.splitlines() == [
        "kiosk-central: error: the central store failed: database or disk is full: free space on its disk"], err
