"""Central ingest's store path without the network: `Ingest.handle` on 500-event batches
(decode + validate + dedupe + rollups + one durable commit per batch), on SQLite and PostgreSQL.

Measured in the same run, on the same engine and schema:
- the floor: the same answer rows bulk-inserted into `response` (executemany / COPY, one
  transaction per 500), with no decoding, validation, dedupe or rollups;
- the naive design: one INSERT and one commit per answer (what a per-message subscriber does);
- the decode share: `protocol.decode_batch` alone;
- every batch sent again (a kiosk that missed its acks): each event is read back from the store
  and compared, so all are duplicates; reported as a ratio to the same batches' first sending
  (it was 18-40 times a new batch while each stored event inspected its type again);
- group commit (`Ingest.commit_group`, what the ingest service does with the messages queued
  during the previous commit): GROUP batches per transaction, each in its own savepoint.
It tells how much of ingest's time is the store's floor and how much is our work on top, apart
from the broker and the kiosk (benchmarks/sync_drain measures those end to end).
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

N = 40_000
BATCH = 500
NAIVE_N = 2_000
GROUP = 8                       # batches per group commit: the sync agent's in-flight window


def _events(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(seconds=30 * n)
    boot = "33333333-3333-4333-8333-333333333333"
    out, seq = [], 0
    from server_sync.protocol import iso_ms
    for i in range(n):
        seq += 1
        value = rng.choices((1, 2, 3, 4), (1, 2, 3, 4))[0]
        rid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        at = iso_ms(start + timedelta(seconds=30 * i))
        out.append({"type": "response", "id": rid, "seq": seq, "kiosk_id": "k1", "site_id": "s1",
                    "question_id": "visit", "question_version": 1, "scale": "smiley4", "value": value,
                    "audience": "customer", "language": "sv", "recorded_at": at, "clock_synced": True,
                    "boot_id": boot, "monotonic_ns": 10**9 + i * 30 * 10**9, "filtered": None})
        if value <= 2 and rng.random() < 0.2:
            seq += 1
            out.append({"type": "followup", "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "seq": seq, "kiosk_id": "k1", "response_id": rid, "reasons": ["queue"],
                        "comment": None, "recorded_at": at, "clock_synced": True, "boot_id": boot,
                        "monotonic_ns": 10**9 + i * 30 * 10**9 + 5})
    return out


def _store(url: str):
    from server_sync.central import registry
    from server_sync.central.db import connect
    db = connect(url)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    registry.add_site(db, "s1", "Store 1", "Europe/Stockholm", now)
    registry.add_kiosk(db, "k1", "s1", now)
    return db


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def measure(url_for, tag: str, events: list[dict]) -> dict:
    from server_sync import protocol as P
    from server_sync.central.dialect import insert_new, writer_transaction
    from server_sync.central.intake import RESPONSE_COLUMNS
    from server_sync.ingest import Ingest

    msgs = [(P.events_topic("k1"), P.encode_batch("k1", f"b{i}", events[i:i + BATCH]))
            for i in range(0, len(events), BATCH)]
    answers = sum(1 for e in events if e["type"] == "response")
    now = datetime.now(timezone.utc)

    db = _store(url_for("ours"))
    ingest = Ingest(db)

    def ours():
        for topic, payload in msgs:
            assert ingest.handle(topic, payload).kind == "batch"
    wall, cpu = _timed(ours)

    def resent():
        for topic, payload in msgs:
            out = ingest.handle(topic, payload)
            assert out.kind == "batch" and out.accepted.new == 0
    rwall, rcpu = _timed(resent)
    db.close()

    db = _store(url_for("grouped"))
    grouped_ingest = Ingest(db)

    def grouped():
        for i in range(0, len(msgs), GROUP):
            group = [(grouped_ingest.decode(t, p), p, False) for t, p in msgs[i:i + GROUP]]
            assert all(o.kind == "batch" for o in grouped_ingest.commit_group(group))
    gwall, gcpu = _timed(grouped)
    db.close()

    decode_wall, _ = _timed(lambda: [P.decode_batch(t, p, now=now) for t, p in msgs])

    # Floor: the same response rows, bulk-inserted, one transaction per batch.
    db = _store(url_for("floor"))
    ts = now.replace(tzinfo=None)
    stored = {"kiosk_recorded_at": ts, "recorded_at": ts, "time_status": "synced", "received_at": ts, "batch": "b",
              "excluded": None}
    rows = [tuple({**e, **stored}[c] for c in RESPONSE_COLUMNS) for e in events if e["type"] == "response"]

    def floor():
        for i in range(0, len(rows), BATCH):
            with writer_transaction(db, "kiosk:k1"):
                insert_new(db, "response", RESPONSE_COLUMNS, rows[i:i + BATCH], "id")
    floor_wall, _ = _timed(floor)
    db.close()

    # Naive: one INSERT + one commit per answer.
    db = _store(url_for("naive"))
    p = db.param
    sql = f"INSERT INTO response ({', '.join(RESPONSE_COLUMNS)}) VALUES ({', '.join([p] * len(RESPONSE_COLUMNS))})"

    def naive():
        for r in rows[:NAIVE_N]:
            with db.atomic():
                db.execute_sql(sql, r)
    naive_wall, _ = _timed(naive)
    db.close()

    ours_rate = answers / wall
    return {
        "answers": answers, "events": len(events), "batches": len(msgs),
        "ours": {"seconds": round(wall, 3), "answers_per_s": round(ours_rate), "cpu_s": round(cpu, 3)},
        "ours_group_commit": {"batches_per_commit": GROUP, "seconds": round(gwall, 3),
                              "answers_per_s": round(answers / gwall), "cpu_s": round(gcpu, 3)},
        "resent": {"seconds": round(rwall, 3), "events_per_s": round(len(events) / rwall), "cpu_s": round(rcpu, 3)},
        "decode_only": {"seconds": round(decode_wall, 3), "answers_per_s": round(answers / decode_wall)},
        "floor_bulk_insert": {"seconds": round(floor_wall, 3), "answers_per_s": round(answers / floor_wall)},
        "naive_row_per_commit": {"answers": NAIVE_N, "seconds": round(naive_wall, 3),
                                 "answers_per_s": round(NAIVE_N / naive_wall)},
        "ratio_ours_vs_floor": round(ours_rate / (answers / floor_wall), 2),
        "ratio_group_commit_vs_floor": round((answers / gwall) / (answers / floor_wall), 2),
        "ratio_group_commit_vs_per_message": round(wall / gwall, 2),
        "ratio_ours_vs_naive": round(ours_rate / (NAIVE_N / naive_wall), 1),
        "ratio_resent_vs_new": round(rwall / wall, 2),
    }


def run() -> dict:
    events = _events(N)
    out: dict = {"setup": f"{N} answers (+ follow-ups on ~20 % of negatives) in {BATCH}-event batches, "
                          "one kiosk; SQLite WAL synchronous=FULL; PostgreSQL 15 with test settings "
                          "(fsync off: its commit cost is not measured)"}
    with tempfile.TemporaryDirectory(prefix="kundpuls-bench-ingest-") as d:
        out["sqlite"] = measure(lambda name: f"sqlite:///{Path(d) / name}.db", "sqlite", events)
        try:
            from tests.fixtures.postgres import LocalPostgres, admin_execute, with_database
            server = LocalPostgres()
            server.start()
        except (ImportError, RuntimeError) as e:
            out["postgresql"] = {"skipped": str(e)[:300]}
        else:
            try:
                def pg(name: str) -> str:
                    admin_execute(server.url, f"CREATE DATABASE {name} TEMPLATE template0")
                    return with_database(server.url, name)
                out["postgresql"] = measure(pg, "postgresql", events)
            finally:
                server.stop()
    return out
