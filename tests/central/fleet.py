"""Real kiosks and real ingestors for the central MQTT tests: a kiosk = a kiosk.toml mapping,
its own SQLite store, the real Recorder and the real sync agent; an ingestor = the
`kiosk-central ingest` command in a subprocess (so a test can SIGKILL it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kiosk.capture import Recorder
from kiosk.clock import FakeClock
from kiosk.config import KioskConfig, parse_config
from kiosk.store import LocalStore

ROOT = Path(__file__).resolve().parents[2]
FAST_SYNC = {"ack_timeout_s": 2.0, "backoff_min_s": 0.05, "backoff_max_s": 0.5, "status_interval_s": 60.0}


def wait_until(pred, timeout: float = 20.0, every: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return bool(pred())


@dataclass
class TestKiosk:
    __test__ = False
    cfg: KioskConfig
    store: LocalStore
    recorder: Recorder
    clock: FakeClock

    def record(self, n: int, followup_every: int = 0, question: str | None = None) -> int:
        """Record n answers (and a follow-up on every `followup_every`-th) to `question` (the
        first of the config by default); returns events made."""
        q = self.cfg.question(question) if question else self.cfg.questions[0]
        made = 0
        for i in range(n):
            r = self.recorder.record(q.id, q.values[i % len(q.values)])
            made += 1
            self.clock.advance(7)          # past the repeat filter
            if followup_every and i % followup_every == 0:
                self.recorder.record_followup(r.id, reasons=[q.reasons[0]] if q.reasons else [],
                                              comment="ok")
                made += 1
        return made

    def agent(self):
        from kiosk.sync_agent import SyncAgent
        return SyncAgent(self.cfg, self.store, base_mapping={})

    def ids(self) -> set[str]:
        return {r[0] for r in self.store.db.execute_sql(
            "SELECT id FROM response UNION ALL SELECT id FROM followup").fetchall()}


def make_kiosk(tmp_path: Path, broker, kiosk_id: str, site_id: str, questions: list | None = None,
               **sync) -> TestKiosk:
    from seeds.demo import demo_config_mapping
    mapping = demo_config_mapping(kiosk_id, site_id)
    if questions is not None:
        mapping["questions"], mapping["schedule"] = questions, []
    mapping["kiosk"]["data_dir"] = str(tmp_path / kiosk_id)
    mapping["broker"] = broker.kiosk_broker_mapping(kiosk_id)
    mapping["sync"] = {**FAST_SYNC, **sync}
    cfg = parse_config(mapping)
    store = LocalStore(cfg.db_path)
    # Real dates, in the past: the centre refuses recorded_at more than a day ahead of its clock,
    # and `record` advances 7 s per answer.
    clock = FakeClock(datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=3))
    return TestKiosk(cfg, store, Recorder(cfg, store, clock), clock)


class AgentThread:
    """The sync agent daemon in a thread; `stop()` is its SIGTERM."""

    def __init__(self, kiosk: TestKiosk) -> None:
        self.agent = kiosk.agent()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self.agent.run, args=(self._stop,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(15)


class IngestProcess:
    """`python -m server_sync ingest …` as user `central` of the test broker."""

    def __init__(self, db_url: str, broker, log_path: Path, client_id: str = "ingest-1", *extra: str,
                 env: dict | None = None) -> None:
        self.env = env or {}
        self.cmd = [sys.executable, "-m", "server_sync", "ingest", "--db", db_url,
                    "--broker-host", broker.host, "--broker-port", str(broker.port),
                    "--ca-file", broker.ca_file, "--username", "central",
                    "--password-file", str(broker.password_file_for("central")),
                    "--client-id", client_id, *extra]
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> "IngestProcess":
        self._log = open(self.log_path, "ab")
        self._offset = self.log_path.stat().st_size
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("NOTIFY_SOCKET", None)
        env.update(self.env)
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        if wait and not wait_until(lambda: "subscribed to" in self.log() or self.proc.poll() is not None, 30):
            raise AssertionError(f"ingest did not subscribe:\n{self.log()}")
        if self.proc.poll() is not None:
            raise AssertionError(f"ingest exited {self.proc.returncode}:\n{self.log()}")
        return self

    def log(self) -> str:
        return self.log_path.read_bytes()[self._offset:].decode(errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if getattr(self, "_log", None):
            self._log.close()


class NotifySocket:
    """A fake systemd NOTIFY_SOCKET at `path`: when each WATCHDOG=1 was heard (monotonic)."""

    def __init__(self, path: Path) -> None:
        import socket
        self.path = path
        self.pings: list[float] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.1)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._done.is_set():
            try:
                heard = self._sock.recv(4096).decode()
            except OSError:                     # a timeout: listen again
                continue
            if heard == "WATCHDOG=1":
                self.pings.append(time.monotonic())

    def longest_silence(self, since: float) -> float:
        """The longest time without a WATCHDOG=1 from `since` until now."""
        marks = [since] + [t for t in self.pings if t > since] + [time.monotonic()]
        return max(b - a for a, b in zip(marks, marks[1:]))

    def close(self) -> None:
        self._done.set()
        self._thread.join(5)
        self._sock.close()
