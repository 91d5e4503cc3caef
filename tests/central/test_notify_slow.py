"""A slow receiver or mail server costs one delivery its deadline, never the worker: a webhook
receiver (or an SMTP server) that answers one byte at a time held `notify run` for ever (the
timeout bounded each read, not the exchange), every notice queued behind it waited, and SIGTERM
was seen only between rounds. Now each exchange has a total deadline, a timed-out one is a failed
try (retried with backoff), SIGTERM ends the worker mid-send, and the systemd watchdog is fed
after each finished exchange, from the worker's own thread only. Real local servers (threads)
that trickle their answers; on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from server_sync.analysis import alerts
from server_sync.cli import main
from server_sync.notify import queue, sender, smtp
from server_sync.notify.bodies import Notice
from tests.fixtures.slow import SlowServer, http_trickling_headers, smtp_trickling_after_data, smtp_trickling_greeting
from tests.fixtures.webhooks import Receiver

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
NOTICE = Notice("test", "Kundpuls test", "A test notice.")


@pytest.fixture
def servers():
    made: list = []

    def make(kind, *args, **kw):
        server = kind(*args, **kw)
        made.append(server)
        return server
    yield make
    for server in made:
        server.close()


def _url(server: SlowServer) -> str:
    return f"http://127.0.0.1:{server.port}/hook"


@pytest.fixture
def central_url(tmp_path):
    """The deadlines are the worker's and the sockets', not the engine's: on SQLite only (both
    engines' notify paths are tested in test_notify.py), for the suite's time."""
    return f"sqlite:///{tmp_path / 'central.db'}"


def test_a_trickling_receiver_fails_at_the_deadline_and_the_next_delivery_goes(central_db, servers):
    db = central_db
    slow, good = servers(SlowServer, http_trickling_headers), servers(Receiver)
    queue.add_endpoint(db, "a-slow", _url(slow), "json", NOW)
    queue.add_endpoint(db, "b-good", good.url, "json", NOW)
    with db.atomic():
        queue.enqueue_webhooks(db, NOTICE, NOW)
    start = time.monotonic()
    assert sender.deliver_webhooks(db, NOW, http_post=functools.partial(sender.post, timeout_s=1.0)) == 1
    assert time.monotonic() - start < 3                  # was 8 s: until the receiver hung up
    assert len(good.got) == 1
    state = {d["to"]: d for d in queue.deliveries(db)}
    assert state["b-good"]["state"] == "delivered"
    slow_one = state["a-slow"]
    assert slow_one["state"] == "waiting" and slow_one["attempts"] == 1
    assert slow_one["last_error"] == "TimeoutError: no complete answer within 1 s"
    # the backoff, from when the try ended (about 1 s into the round)
    retry_at = datetime.fromisoformat(slow_one["next_attempt_at"]).replace(tzinfo=timezone.utc)
    assert NOW + timedelta(seconds=61) <= retry_at < NOW + timedelta(seconds=63)
    # `alerts check --webhook` POSTs the same way
    start = time.monotonic()
    assert alerts.post_webhook(_url(slow), {"id": 1, "site_id": "s1"}, timeout_s=1.0) == \
        "error: no complete answer within 1 s"
    assert time.monotonic() - start < 3


def _worker(db_url: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "server_sync", "--db", db_url, "notify", "run", "--close-every", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_sigterm_stops_the_worker_in_the_middle_of_a_send(central_url, central_db, servers):
    """The worker only looked at its stop between rounds: kill -TERM (and systemd's stop) waited
    for a send that never ended."""
    db = central_db
    slow, good = servers(SlowServer, http_trickling_headers, for_s=20), servers(Receiver)
    queue.add_endpoint(db, "a-slow", _url(slow), "json", NOW)
    queue.add_endpoint(db, "b-good", good.url, "json", NOW)
    with db.atomic():
        queue.enqueue_webhooks(db, NOTICE, NOW)
    proc = _worker(central_url)
    try:
        end = time.monotonic() + 30
        while slow.connections == 0:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < end, "the worker never POSTed"
            time.sleep(0.05)
        time.sleep(0.5)                                   # in the middle of the slow answer
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(3) == 0                          # was: when the receiver gave up (20 s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    state = {d["to"]: d for d in queue.deliveries(db)}
    assert state["a-slow"]["attempts"] == 1 and state["a-slow"]["last_error"] == sender.STOPPED
    assert state["b-good"]["attempts"] == 0 and good.got == []     # waits for the next start


@pytest.fixture
def watchdog(monkeypatch, tmp_path):
    """The worker's NOTIFY_SOCKET with WatchdogSec=1 s (a ping goes every 0.25 s at most): the
    list of (when, message) heard on it."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.1)
    got: list[tuple[float, str]] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            try:
                got.append((time.monotonic(), sock.recv(4096).decode()))
            except socket.timeout:
                pass
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield got
    done.set()
    listener.join()
    sock.close()


def test_the_watchdog_is_fed_after_each_exchange_and_only_from_the_worker(central_url, central_db, servers,
                                                                          watchdog, monkeypatch, capsys):
    """Four receivers that each take the whole deadline (0.6 s): the round is 2.4 s, longer than
    the watchdog's 1 s, and the worker pings after each. While the worker's own thread is stuck
    (closing actions, 1.5 s here) nothing pings: no helper thread keeps a hung worker alive."""
    from server_sync.workflow import actions
    db = central_db
    slow = servers(SlowServer, http_trickling_headers)
    for i in range(4):
        queue.add_endpoint(db, f"slow{i}", _url(slow), "json", NOW)
    with db.atomic():
        queue.enqueue_webhooks(db, NOTICE, NOW)
    monkeypatch.setattr(sender, "HTTP_TIMEOUT_S", 0.6)
    stuck: list[float] = []

    def stuck_closing(db, now):
        stuck.append(time.monotonic())
        time.sleep(1.5)
        stuck.append(time.monotonic())
    monkeypatch.setattr(actions, "close_completed", stuck_closing)
    assert main(["--db", central_url, "notify", "run", "--once"]) == 0
    assert "delivered 0 webhook(s)" in capsys.readouterr().out
    time.sleep(0.3)                                       # the listener takes the last one
    pings = [t for t, m in watchdog if m == "WATCHDOG=1"]
    assert not [t for t in pings if stuck[0] < t < stuck[1]]
    assert len(pings) >= 4, watchdog
    assert {d["attempts"] for d in queue.deliveries(db)} == {1}


def test_each_exchange_fits_in_half_the_units_watchdog():
    """The worker pings after each exchange: the longest one must leave systemd's WatchdogSec
    room (pings are sent a quarter of it apart at the most)."""
    unit = (ROOT / "firmware_config" / "systemd" / "kundpuls-notify.service").read_text()
    (watchdog_s,) = re.findall(r"^WatchdogSec=(\d+)$", unit, re.M)
    assert max(sender.HTTP_TIMEOUT_S, sender.SMTP_TIMEOUT_S) <= int(watchdog_s) / 2


def _slow_mail_server(db, servers, converse) -> SlowServer:
    """A trickling SMTP server as the centre's, and two mails waiting for it."""
    server = servers(SlowServer, converse)
    smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
    with db.atomic():
        queue.enqueue_mail(db, "anna@example.se", "one", "t", "<p>t</p>", NOW)
        queue.enqueue_mail(db, "bo@example.se", "two", "t", "<p>t</p>", NOW)
    return server


def _mail_round(db, **kw) -> tuple[float, dict[str, dict]]:
    """deliver_mail (none goes): how long it took, and each mail's state."""
    start = time.monotonic()
    assert sender.deliver_mail(db, NOW, **kw) == 0
    return time.monotonic() - start, {d["to"]: d for d in queue.deliveries(db)}


def test_a_mail_server_that_trickles_costs_one_mail_its_deadline(central_db, servers, monkeypatch):
    _slow_mail_server(central_db, servers, smtp_trickling_after_data)
    monkeypatch.setattr(sender, "SMTP_TIMEOUT_S", 1.0)
    took, state = _mail_round(central_db)
    assert took < 4                                      # was 8 s: until the server hung up
    assert state["anna@example.se"]["last_error"] == "TimeoutError: no complete answer within 1 s"
    assert state["anna@example.se"]["attempts"] == 1
    assert state["bo@example.se"]["attempts"] == 0       # the connection is gone: the next round


def test_a_mail_server_that_never_greets_makes_every_mail_wait(central_db, servers, monkeypatch):
    server = _slow_mail_server(central_db, servers, smtp_trickling_greeting)
    monkeypatch.setattr(sender, "SMTP_TIMEOUT_S", 1.0)
    took, state = _mail_round(central_db)
    assert took < 4
    assert {d["last_error"] for d in state.values()} == {
        f"cannot reach 127.0.0.1:{server.port}: no complete answer within 1 s"}


def test_a_stop_ends_a_mail_in_the_middle(central_db, servers):
    _slow_mail_server(central_db, servers, smtp_trickling_after_data)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    took, state = _mail_round(central_db, stop=stop)
    assert took < 1.5
    assert state["anna@example.se"]["last_error"] == sender.STOPPED and state["bo@example.se"]["attempts"] == 0
