"""Crash safety: a child process records taps in a loop and is SIGKILLed at random points, many
times, on the same database. Every tap whose `record()` had returned (the child printed it) must
be in the database; seq strictly increasing, never reused; integrity_check ok."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 25

CHILD = r"""
import sys
from kiosk.capture import Recorder
from kiosk.config import parse_config
from kiosk.store import LocalStore
from seeds.demo import demo_config_mapping
cfg = parse_config(demo_config_mapping()).with_data_dir(sys.argv[1])
store = LocalStore(cfg.db_path)
rec = Recorder(cfg, store)
print("ready", flush=True)
i = 0
while True:
    i += 1
    r = rec.record("visit", 1 + i % 4, source="simulate")
    if i % 5 == 0:
        f = rec.record_followup(r.id, ["queue"])
        sys.stdout.write(f"F {f.seq} {f.id}\n")
    sys.stdout.write(f"R {r.seq} {r.id}\n")
    sys.stdout.flush()
"""


def run_round(data_dir: Path, rng: random.Random) -> list[tuple[str, int, str]]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    started = threading.Event()

    def read():
        for line in child.stdout:
            lines.append(line)
            started.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if rng.random() < 0.2:
        # Sometimes during start-up: opening, migrating, first commits.
        time.sleep(rng.uniform(0, 0.4))
    else:
        assert started.wait(20), "child never started: " + child.stderr.read()
        time.sleep(rng.uniform(0, 0.25))
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    reader.join(10)
    child.stderr.close()
    acked = []
    for line in lines:
        parts = line.split()
        # Only complete lines count: a line cut by the kill was never fully acknowledged.
        if line.endswith("\n") and len(parts) == 3 and parts[0] in "RF":
            acked.append((parts[0], int(parts[1]), parts[2]))
    return acked


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_tap(tmp_path):
    rng = random.Random(20261123)
    data_dir = tmp_path / "data"
    rounds = []
    t0 = time.monotonic()
    for _ in range(ROUNDS):
        rounds.append(run_round(data_dir, rng))
    acked = [a for r in rounds for a in r]
    assert time.monotonic() - t0 < 60
    assert len(acked) > 50, "the child hardly recorded anything; the test proves nothing"

    con = sqlite3.connect(data_dir / "kiosk.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        responses = dict(con.execute("SELECT id, seq FROM response").fetchall())
        followups = dict(con.execute("SELECT id, seq FROM followup").fetchall())
        all_seqs = [s for (s,) in con.execute(
            "SELECT seq FROM response UNION ALL SELECT seq FROM followup ORDER BY seq")]
        counter = con.execute("SELECT value FROM sequence WHERE name = 'event'").fetchone()[0]
    finally:
        con.close()
    for kind, seq, rid in acked:
        table = responses if kind == "R" else followups
        assert table.get(rid) == seq, f"acknowledged {kind} seq {seq} ({rid}) is missing"
    assert len(all_seqs) == len(set(all_seqs)), "a seq was used twice"
    # Answers in the order their record() returned: strictly increasing across every crash and
    # restart, so a seq is never handed out twice, even one whose commit the kill interrupted.
    answered = [seq for kind, seq, _ in acked if kind == "R"]
    assert all(a < b for a, b in zip(answered, answered[1:]))
    for before, after in zip(rounds, rounds[1:]):
        if before and after:
            assert max(s for _, s, _ in before) < min(s for _, s, _ in after)
    assert all_seqs[-1] <= counter
