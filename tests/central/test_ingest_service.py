"""The ingest process as a service: it tells systemd READY, pings the watchdog and says STOPPING
on SIGTERM; and when the database goes away it keeps the message unacknowledged, retries, and
commits it once the database is back (nothing dead-lettered, nothing lost)."""

from __future__ import annotations

import socket
import time

import pytest

from server_sync.central.db import connect
from tests.central.fleet import AgentThread, IngestProcess, make_kiosk, wait_until
from tests.central.wire import count, register_fleet
from tests.fixtures.postgres import LocalPostgres, admin_execute, with_database

pytestmark = pytest.mark.broker


def test_ingest_speaks_sd_notify(broker, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    register_fleet(db)
    db.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(10)
    ing = IngestProcess(url, broker, tmp_path / "ing.log", "ingest-n",
                        env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"})
    try:
        ing.start()
        got: list[str] = []
        end = time.monotonic() + 10
        while time.monotonic() < end and not (any(m.startswith("READY=1") for m in got)
                                               and got.count("WATCHDOG=1") >= 3):
            got.append(sock.recv(4096).decode())
        assert any(m.startswith("READY=1") for m in got) and got.count("WATCHDOG=1") >= 3, got
        assert ing.terminate() == 0
        rest = []
        sock.settimeout(2)
        try:
            while True:
                rest.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        assert "STOPPING=1" in rest
    finally:
        ing.close()
        sock.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_database_outage_keeps_messages_until_committed(broker, tmp_path):
    server = LocalPostgres()
    ing = None
    try:
        server.start()
        admin_execute(server.url, "CREATE DATABASE outage TEMPLATE template0")
        url = with_database(server.url, "outage")
        db = connect(url)
        register_fleet(db)
        db.close()
        ing = IngestProcess(url, broker, tmp_path / "ing.log", "ingest-o").start()
        k = make_kiosk(tmp_path, broker, "k1", "s1", batch_max_events=10)
        total = k.record(40)
        server.halt()
        agent = AgentThread(k)
        try:
            assert wait_until(lambda: "database unavailable" in ing.log(), 20), ing.log()
            time.sleep(1.0)
            assert k.store.outbox_depth() == total          # nothing acked while the database is down
            server.start()
            assert wait_until(lambda: k.store.outbox_depth() == 0, 40), ing.log()
        finally:
            agent.stop()
        db = connect(url)
        try:
            assert count(db, "SELECT COUNT(*) FROM response") == total
            assert count(db, "SELECT COUNT(DISTINCT id) FROM response") == total
            assert count(db, "SELECT COUNT(*) FROM dead_letter") == 0
        finally:
            db.close()
        assert ing.terminate() == 0
    finally:
        if ing:
            ing.close()
        server.stop()
