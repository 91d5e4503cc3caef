"""End-to-end plumbing: a central store (SQLite file) with registered kiosks, the real
`kiosk-central ingest` as a subprocess, the real `kiosk sync` as a subprocess, and the counts
that every fault test ends with (central = kiosk, no duplicates, nothing dead-lettered)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from server_sync.central import registry
from server_sync.central.db import connect

ROOT = Path(__file__).resolve().parents[2]
SITE = "sthlm-sodermalm"


class Central:
    """The central SQLite store and its ingest process(es)."""

    def __init__(self, directory: Path, broker, kiosks=("k1", "k2")) -> None:
        self.dir = Path(directory)
        self.path = self.dir / "central.db"
        self.url = f"sqlite:///{self.path}"
        self.broker = broker
        self.procs: list[subprocess.Popen] = []
        db = connect(self.url)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        registry.add_site(db, SITE, "Stockholm Södermalm", "Europe/Stockholm", now)
        for k in kiosks:
            registry.add_kiosk(db, k, SITE, now)
        db.close()
        self.password_file = broker.password_file_for("central")

    def start_ingest(self, client_id: str = "ingest-1", wait: bool = True, args: tuple[str, ...] = ()) -> subprocess.Popen:
        """The ingest, with `args` added to its command line."""
        log = open(self.dir / f"{client_id}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "server_sync", "ingest", "--db", self.url,
             "--broker-host", self.broker.host, "--broker-port", str(self.broker.port),
             "--ca-file", self.broker.ca_file, "--username", "central",
             "--password-file", str(self.password_file), "--client-id", client_id,
             "--log-level", "warning", *args],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        if wait and not self.broker.wait_for_log(f"{client_id} 1 $share/", timeout=15):
            raise RuntimeError(f"ingest did not subscribe:\n{self.ingest_log(client_id)}")
        return proc

    def ingest_log(self, client_id: str = "ingest-1") -> str:
        try:
            return (self.dir / f"{client_id}.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()

    def query(self, sql: str, args=()) -> list[tuple]:
        con = sqlite3.connect(self.path, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def event_ids(self, kiosk_id: str) -> list[str]:
        return [r[0] for r in self.query(
            "SELECT id FROM response WHERE kiosk_id = ? UNION ALL SELECT id FROM followup WHERE kiosk_id = ?",
            (kiosk_id, kiosk_id))]

    def count(self, kiosk_id: str) -> int:
        return self.query("SELECT (SELECT COUNT(*) FROM response WHERE kiosk_id = ?)"
                          " + (SELECT COUNT(*) FROM followup WHERE kiosk_id = ?)", (kiosk_id, kiosk_id))[0][0]


def kiosk_event_ids(store) -> list[str]:
    return [r[0] for r in store.db.execute_sql("SELECT id FROM response UNION ALL SELECT id FROM followup")]


def assert_same_everywhere(central: Central, kiosk_id: str, store) -> int:
    """The end of every fault test: each kiosk event is in the central store exactly once, the
    kiosk has every one marked acked, nothing was dead-lettered or a conflict."""
    kiosk_ids = kiosk_event_ids(store)
    central_ids = central.event_ids(kiosk_id)
    assert len(central_ids) == len(set(central_ids)), "duplicates in the central store"
    assert sorted(central_ids) == sorted(kiosk_ids), \
        f"central has {len(central_ids)}, kiosk has {len(kiosk_ids)}"
    assert store.outbox_depth() == 0
    assert central.query("SELECT COUNT(*) FROM dead_letter")[0][0] == 0, central.query("SELECT reason FROM dead_letter LIMIT 3")
    assert central.query("SELECT COUNT(*) FROM conflict")[0][0] == 0
    return len(kiosk_ids)


def start_sync(config_path: Path, log_path: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """The real `kiosk sync` daemon (or `--once`) as its own process, like systemd runs it."""
    log = open(log_path, "ab")
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")} \
        | {"PYTHONUNBUFFERED": "1"} | (env or {})
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "sync", "--config", str(config_path), *args],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    return proc


def wait_until(pred, timeout: float = 20.0, every: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return pred()


class Running:
    """A SyncAgent daemon in a thread, stopped like SIGTERM stops it at the end of the block."""

    def __init__(self, agent) -> None:
        self.agent = agent
        self.stop = threading.Event()
        self.thread = threading.Thread(target=agent.run, args=(self.stop,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.agent

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive(), "the agent did not stop"
