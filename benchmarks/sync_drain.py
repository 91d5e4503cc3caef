"""Sync drain: a kiosk's unsynced backlog into the central store, end to end, through mosquitto
on loopback (TLS, passwords, ACL as in production), with the real ingest process.

Measured in the same run:
- our design: the sync agent (batches of up to 500 events / 256 KiB, QoS 1, acked by the
  centre after its commit) draining 100,000 and 10,000 answers into the central store on
  SQLite (WAL, synchronous=FULL) and on PostgreSQL; timed from the agent's start (connect
  included) until the last event is acked on the kiosk;
- the naive design: one QoS 1 message per answer, a paho subscriber validating and inserting
  each in its own commit, on the same kind of SQLite file;
- the floors: the broker's raw QoS 1 message rate (small messages, publisher to subscriber,
  no database), and the same batch payloads through the broker to a subscriber that does
  nothing (transport only: what the design could reach with a free database).

The ingest runs without its per-kiosk budget of bytes (`--kiosk-bytes-per-s 0`): the 100,000
answers here come from one kiosk (~40 MB, a year of a busy kiosk), past that budget's burst of
20 MiB, after which a real kiosk's backlog goes at its rate (docs/central.md, "A budget of bytes
per kiosk"); what is measured is what the centre takes, which a fleet reaches together. A
10,000-answer backlog (~4 MB) is within the burst either way.

Targets (issue 4): at least 20,000 answers/s end to end; a 10,000-answer backlog drained in
under 1 s. `run()` returns the numbers and the ratios; `python -m benchmarks sync_drain` records
them in benchmarks/results/sync_drain.json with the machine. Each drain also records the CPU
seconds the ingest process, the agent (this process) and, on PostgreSQL, the server spent on
it: on a shared machine they vary much less than the wall time, which other work stretches.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.machine import load_1m
from kiosk.config import parse_config
from kiosk.store import LocalStore
from seeds.backlog import add_backlog
from seeds.demo import demo_config_mapping
from server_sync import protocol as P
from kiosk.sync_agent import SyncAgent
from tests.fixtures.broker import Broker, TestCA

ROOT = Path(__file__).resolve().parent.parent
SITE = "sthlm-sodermalm"
BIG, SMALL = 100_000, 10_000
NAIVE_N = 4_000
RAW_N = 20_000


def _paho(broker: Broker, user: str, client_id: str):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=broker.ca_file)
    c.username_pw_set(user, broker.passwd(user))
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    ready = threading.Event()
    c.on_connect = lambda *a: ready.set()
    c.connect(broker.host, broker.port, keepalive=30)
    c.loop_start()
    if not ready.wait(10):
        raise RuntimeError(f"{client_id} could not connect")
    return c


def _subscribe(c, topic: str) -> None:
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.subscribe(topic, qos=1)
    if not done.wait(10):
        raise RuntimeError("no SUBACK")


def _close(*clients) -> None:
    for c in clients:
        c.disconnect()
        c.loop_stop()


def cpu_seconds(pids) -> float | None:
    """User + system CPU seconds of these processes so far (Linux /proc; None elsewhere)."""
    total = 0.0
    try:
        for pid in pids:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    return total


def _postgres_pids(data_dir: Path) -> list[int]:
    """The postmaster of the cluster in `data_dir` and its children (the server's processes)."""
    try:
        master = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            if int(entry) == master or ppid == master:
                pids.append(int(entry))
    return pids


def _kiosk(broker: Broker, tmp: Path, kiosk_id: str, n: int, seed: int):
    mapping = demo_config_mapping(kiosk_id, SITE)
    mapping["broker"] = broker.kiosk_broker_mapping(kiosk_id)
    mapping["kiosk"]["data_dir"] = str(tmp / kiosk_id)
    cfg = parse_config(mapping)
    store = LocalStore(cfg.db_path)
    events = add_backlog(cfg, store, n, seed=seed)
    return cfg, store, events


# --- floors ---------------------------------------------------------------------------------------

def raw_broker_rate(broker: Broker, n: int = RAW_N) -> dict:
    """Small QoS 1 messages one by one, publisher to subscriber, nothing else."""
    sub = _paho(broker, "central", "bench-raw-sub")
    got = threading.Event()
    count = [0]

    def on_message(c, u, m):
        count[0] += 1
        if count[0] == n:
            got.set()
    sub.on_message = on_message
    _subscribe(sub, P.events_topic("k5"))
    pub = _paho(broker, "k5", "bench-raw-pub")
    body = b"x" * 400                          # about one event's JSON
    t0 = time.perf_counter()
    infos = [pub.publish(P.events_topic("k5"), body, qos=1) for _ in range(n)]
    for i in infos:
        i.wait_for_publish(60)
    t_pub = time.perf_counter() - t0
    got.wait(120)
    t_sub = time.perf_counter() - t0
    _close(pub, sub)
    return {"messages": n, "received": count[0], "publish_puback_msg_per_s": round(n / t_pub),
            "publisher_to_subscriber_msg_per_s": round(count[0] / t_sub)}


def batch_transport_floor(broker: Broker, cfg, store) -> dict:
    """The agent's own batch payloads through the broker to a subscriber that does nothing."""
    from kiosk.outbox import Outbox
    box = Outbox(store, cfg.kiosk_id)
    now = datetime.now(timezone.utc)
    payloads = []
    while (b := box.next_batch(cfg.sync.batch_max_events, cfg.sync.batch_max_bytes, now=now,
                               sent_at=P.iso_ms(now))) is not None:
        payloads.append((b.count, b.payload))
    box.requeue()
    events = sum(c for c, _ in payloads)
    sub = _paho(broker, "central", "bench-floor-sub")
    got = threading.Event()
    seen = [0]

    def on_message(c, u, m):
        seen[0] += 1
        if seen[0] == len(payloads):
            got.set()
    sub.on_message = on_message
    _subscribe(sub, P.events_topic(cfg.kiosk_id))
    pub = _paho(broker, cfg.kiosk_id, "bench-floor-pub")
    t0 = time.perf_counter()
    for _, p in payloads:
        pub.publish(P.events_topic(cfg.kiosk_id), p, qos=1)
    got.wait(120)
    t = time.perf_counter() - t0
    _close(pub, sub)
    return {"events": events, "batches": len(payloads), "seconds": round(t, 3),
            "events_per_s": round(events / t), "mb_per_s": round(sum(len(p) for _, p in payloads) / t / 1e6, 1)}


# --- the real thing -------------------------------------------------------------------------------

class _Centre:
    """A registered central store and one `kiosk-central ingest` process on it."""

    def __init__(self, broker: Broker, url: str, tmp: Path, kiosks: list[str], client_id: str,
                 server_pids=lambda: []) -> None:
        from server_sync.central import registry
        from server_sync.central.db import connect
        db = connect(url)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        if registry.site(db, SITE) is None:
            registry.add_site(db, SITE, "Stockholm Södermalm", "Europe/Stockholm", now)
        for k in kiosks:
            registry.add_kiosk(db, k, SITE, now)
        db.close()
        self.url = url
        self.server_pids = server_pids          # the database server's processes (PostgreSQL)
        self.log = tmp / f"{client_id}.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server_sync", "ingest", "--db", url, "--broker-host", broker.host,
                 "--broker-port", str(broker.port), "--ca-file", broker.ca_file, "--username", "central",
                 "--password-file", str(broker.password_file_for("central")), "--client-id", client_id,
                 "--log-level", "info", "--kiosk-bytes-per-s", "0"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        if not broker.wait_for_log(f"{client_id} 1 $share/", timeout=30):
            self.stop()
            raise RuntimeError(f"ingest did not subscribe: {self.log.read_text()[-2000:]}")

    def count(self, kiosk_id: str) -> int:
        from server_sync.central.db import connect
        db = connect(self.url, migrate_schema=False)
        try:
            p = db.param
            return db.execute_sql(f"SELECT (SELECT COUNT(*) FROM response WHERE kiosk_id = {p})"
                                  f" + (SELECT COUNT(*) FROM followup WHERE kiosk_id = {p})",
                                  (kiosk_id, kiosk_id)).fetchone()[0]
        finally:
            db.close()

    def stop(self) -> dict:
        """Stop ingest; return its closing counts (messages, group commits)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        m = re.search(r"stopped; (\d+) messages in (\d+) commits", self.log.read_text(errors="replace"))
        return {"messages": int(m.group(1)), "group_commits": int(m.group(2))} if m else {}


def drain(cfg, store, events: int, centre: _Centre) -> dict:
    agent = SyncAgent(cfg, store, rng=random.Random(1))
    server = centre.server_pids()
    cpu0 = cpu_seconds([centre.proc.pid]), time.process_time(), cpu_seconds(server)
    t0 = time.perf_counter()
    agent.run(once=True, timeout=600)
    t = time.perf_counter() - t0
    cpu1 = cpu_seconds([centre.proc.pid]), time.process_time(), cpu_seconds(server)
    arrived = centre.count(cfg.kiosk_id)
    if arrived != events or store.outbox_depth() != 0:
        raise RuntimeError(f"drain incomplete: {arrived} of {events} at the centre")
    # An event is an answer or a follow-up; the target is stated in answers, so both are reported.
    answers = store.db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0]
    cpu = {name: round(b - a, 2) for name, a, b in zip(("ingest", "agent", "server"), cpu0, cpu1)
           if a is not None and b is not None and (name != "server" or server)}
    return {"events": events, "answers": answers, "seconds": round(t, 3), "events_per_s": round(events / t),
            "answers_per_s": round(answers / t), "cpu_seconds": cpu,
            "batches": agent.counters.batches_sent, "resent": agent.counters.resent}


def scenario(broker: Broker, tmp: Path, url: str, tag: str, kiosks: tuple[str, ...], server_pids=lambda: []) -> dict:
    """100k once, then 10k three times (fresh kiosks; the machine is shared, so the median and
    the best of three say more than one run)."""
    big = _kiosk(broker, tmp, kiosks[0], BIG, seed=11)
    smalls = [_kiosk(broker, tmp, k, SMALL, seed=12 + i) for i, k in enumerate(kiosks[1:])]
    centre = _Centre(broker, url, tmp, list(kiosks), f"bench-ingest-{tag}", server_pids)
    out: dict = {}
    try:
        out["backlog_100k"] = drain(big[0], big[1], big[2], centre)
        runs = [drain(cfg, store, events, centre) for cfg, store, events in smalls]
        secs = sorted(r["seconds"] for r in runs)
        out["backlog_10k"] = {"events": runs[0]["events"], "answers": runs[0]["answers"], "runs_seconds": [r["seconds"] for r in runs],
                              "median_seconds": secs[len(secs) // 2], "best_seconds": secs[0]}
    finally:
        out["ingest"] = centre.stop()           # over the four drains: messages per group commit
        for _, store, _ in [big, *smalls]:
            store.close()
    return out


# --- the naive design ------------------------------------------------------------------------------

def naive(broker: Broker, tmp: Path, n: int = NAIVE_N) -> dict:
    """One QoS 1 message per answer; a subscriber validating and committing each one."""
    cfg, store, _ = _kiosk(broker, tmp, "k4", n, seed=13)
    rows = store.db.execute_sql("SELECT * FROM response ORDER BY seq LIMIT ?", (n,)).fetchall()
    cols = [d[0] for d in store.db.execute_sql("SELECT * FROM response LIMIT 0").description]
    from kiosk.store import Response
    events = [Response(**dict(zip(cols, r))).to_event() for r in rows]
    store.close()

    db = sqlite3.connect(tmp / "naive.db", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = wal")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE response (id TEXT PRIMARY KEY, kiosk_id TEXT, seq INTEGER, question_id TEXT,"
               " value INTEGER, recorded_at TEXT, body TEXT)")
    sub = _paho(broker, "central", "bench-naive-sub")
    done = threading.Event()
    count = [0]

    def on_message(c, u, m):
        e = P.validate_event(json.loads(m.payload), "k4", now=datetime.now(timezone.utc))
        db.execute("INSERT INTO response VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                   (e.id, e.kiosk_id, e.seq, e.question_id, e.value, e.recorded_at, m.payload.decode()))
        count[0] += 1
        if count[0] == len(events):
            done.set()
    sub.on_message = on_message
    _subscribe(sub, P.events_topic("k4"))
    pub = _paho(broker, "k4", "bench-naive-pub")
    t0 = time.perf_counter()
    for e in events:
        pub.publish(P.events_topic("k4"), P.event_json(e), qos=1)
    done.wait(300)
    t = time.perf_counter() - t0
    _close(pub, sub)
    stored = db.execute("SELECT COUNT(*) FROM response").fetchone()[0]
    db.close()
    # Its events are answers only (no follow-ups): events/s and answers/s are the same here.
    return {"events": len(events), "stored": stored, "seconds": round(t, 3), "events_per_s": round(stored / t),
            "answers_per_s": round(stored / t)}


# --- the run ---------------------------------------------------------------------------------------

def ratios(result: dict) -> dict:
    """Our drain against the naive design, answers/s with answers/s (ours also carries the
    follow-ups, the naive design's messages are answers only), and against the floors, which
    move events (the transport floor) or messages (the raw broker)."""
    naive = result["naive"]["answers_per_s"]
    sqlite = result["sqlite"]["backlog_100k"]
    out = {
        "ours_sqlite_answers_vs_naive_answers": round(sqlite["answers_per_s"] / naive, 1),
        "ours_sqlite_events_vs_batch_transport_floor_events": round(sqlite["events_per_s"] / result["batch_transport_floor"]["events_per_s"], 3),
        "ours_sqlite_events_vs_raw_broker_msg_rate": round(sqlite["events_per_s"] / result["raw_broker"]["publisher_to_subscriber_msg_per_s"], 2),
    }
    for engine in ("postgresql", "postgresql_production"):
        pg = result.get(engine)
        if isinstance(pg, dict) and "backlog_100k" in pg:
            out[f"ours_{engine}_answers_vs_naive_answers"] = round(pg["backlog_100k"]["answers_per_s"] / naive, 1)
    return out


def run() -> dict:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kundpuls-bench-sync-") as d:
        tmp = Path(d)
        ca = TestCA(tmp / "ca")
        users = tuple(f"k{i}" for i in range(1, 15)) + ("central",)
        with Broker(tmp / "broker", ca, users) as broker:
            result: dict = {"broker": "mosquitto 2.0 on loopback, TLS 1.2, password file, ACL, persistence on",
                            "agent": "in-process SyncAgent, batch_max_events=500, batch_max_bytes=262144",
                            "ingest": "one `kiosk-central ingest` process"}
            result["raw_broker"] = raw_broker_rate(broker)
            floor_cfg, floor_store, _ = _kiosk(broker, tmp, "k3", BIG, seed=10)
            result["batch_transport_floor"] = batch_transport_floor(broker, floor_cfg, floor_store)
            floor_store.close()
            result["sqlite"] = scenario(broker, tmp, f"sqlite:///{tmp / 'central.db'}", "sqlite", ("k1", "k2", "k8", "k9"))
            result["postgresql"] = _postgres(broker, tmp)
            result["postgresql_production"] = _postgres(broker, tmp, PRODUCTION, ("k5", "k12", "k13", "k14"))
            result["naive"] = naive(broker, tmp)

    result["ratios"] = ratios(result)
    targets = {"end_to_end_ge_20000_answers_per_s_sqlite": result["sqlite"]["backlog_100k"]["answers_per_s"] >= 20_000,
               "backlog_10k_under_1s_sqlite": result["sqlite"]["backlog_10k"]["median_seconds"] < 1.0}
    for engine in ("postgresql", "postgresql_production"):
        pg = result[engine]
        if isinstance(pg, dict) and "backlog_100k" in pg:
            targets[f"end_to_end_ge_20000_answers_per_s_{engine}"] = pg["backlog_100k"]["answers_per_s"] >= 20_000
            targets[f"backlog_10k_under_1s_{engine}"] = pg["backlog_10k"]["median_seconds"] < 1.0
    result["targets_met"] = targets
    # The machine is shared; other work running at the same time slows every series alike.
    result["load_average_1m"] = load_1m(load_before)
    # How busy the centre was during the 100k drain: CPU seconds of the ingest process (and of
    # the PostgreSQL server, which works in turn with it) over the wall time. Near 1, the centre
    # is the limit; the batch transport floor shows the broker is not.
    busy = {}
    for engine in ("sqlite", "postgresql", "postgresql_production"):
        big = result[engine].get("backlog_100k") if isinstance(result[engine], dict) else None
        if big and big.get("cpu_seconds", {}).get("ingest") is not None:
            busy[engine] = round((big["cpu_seconds"]["ingest"] + big["cpu_seconds"].get("server", 0))
                                 / big["seconds"], 2)
    result["centre_cpu_per_wall_second_100k"] = busy
    return result


# A production server's durability: every commit flushed to disk before ingest acks it.
PRODUCTION = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


def _postgres(broker: Broker, tmp: Path, settings: dict[str, str] | None = None,
              kiosks: tuple[str, ...] = ("k6", "k7", "k10", "k11")) -> dict:
    try:
        from tests.fixtures.postgres import LocalPostgres, admin_execute, with_database
    except ImportError as e:
        return {"skipped": f"PostgreSQL helper not available: {e}"}
    server = LocalPostgres(settings)
    try:
        server.start()
    except RuntimeError as e:
        return {"skipped": str(e)[:300]}
    try:
        admin_execute(server.url, "CREATE DATABASE bench TEMPLATE template0 ENCODING 'UTF8'")
        out = scenario(broker, tmp, with_database(server.url, "bench"), "pg" if settings is None else "pg-prod",
                       kiosks, server_pids=lambda: _postgres_pids(server.data))
        durability = ", ".join(f"{k}={server.settings[k]}" for k in ("fsync", "synchronous_commit", "full_page_writes"))
        out["server"] = (f"PostgreSQL 15, {'test' if settings is None else 'production'} settings ({durability})")
        return out
    finally:
        server.stop()


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
