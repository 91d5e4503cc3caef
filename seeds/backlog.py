"""An unsynced backlog in a kiosk database: N answers (and follow-ups on some negative ones),
as the capture path would have recorded them over days offline, inserted in bulk.

For the sync benchmark and the end-to-end sync tests, which need tens of thousands of outbox
rows in a second rather than the minutes one durable commit per tap would take. The rows are
the same as `kiosk.capture.Recorder` writes (same columns, seq from the shared sequence);
the answers are plausible, not a realistic history (that is seeds/history.py, centrally).
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone

from kiosk.config import KioskConfig
from kiosk.store import LocalStore
from server_sync.protocol import iso_ms

_REASON_CODES = ("queue", "staff", "availability", "price", "cleanliness", "checkout")


def add_backlog(cfg: KioskConfig, store: LocalStore, n: int, *, seed: int = 1,
                end: datetime | None = None, followup_share: float = 0.2,
                boot_id: str = "22222222-2222-4222-8222-222222222222") -> int:
    """Append `n` answers ending at `end` (default now), 30 s apart, plus follow-ups on about
    `followup_share` of the negative ones. Returns the number of events added."""
    rng = random.Random(seed)
    q = cfg.questions[0]
    values = list(q.values)
    weights = [1 + i for i in range(len(values))]        # more happy than unhappy, as in stores
    end = end or datetime.now(timezone.utc)
    start = end - timedelta(seconds=30 * n)
    db = store.db
    responses, followups = [], []
    with db.atomic("IMMEDIATE"):
        seq = db.execute_sql("SELECT value FROM sequence WHERE name = 'event'").fetchone()[0]
        for i in range(n):
            seq += 1
            at = start + timedelta(seconds=30 * i)
            rid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            value = rng.choices(values, weights)[0]
            responses.append((rid, seq, cfg.kiosk_id, cfg.site_id, q.id, q.version, q.scale, value,
                              q.audience, cfg.default_language, iso_ms(at), 1, boot_id,
                              10 ** 9 + i * 30 * 10 ** 9, None, "simulate", at.strftime("%Y-%m-%d"),
                              at.hour))
            if q.is_negative(value) and rng.random() < followup_share:
                seq += 1
                fid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                reasons = rng.sample(_REASON_CODES, rng.randint(1, 2))
                followups.append((fid, seq, cfg.kiosk_id, rid, json.dumps(reasons), None,
                                  iso_ms(at + timedelta(seconds=5)), 1, boot_id,
                                  10 ** 9 + i * 30 * 10 ** 9 + 5 * 10 ** 9))
        conn = db.connection()
        conn.executemany(
            "INSERT INTO response (id, seq, kiosk_id, site_id, question_id, question_version, scale,"
            " value, audience, language, recorded_at, clock_synced, boot_id, monotonic_ns, filtered,"
            " source, local_date, local_hour) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            responses)
        conn.executemany(
            "INSERT INTO followup (id, seq, kiosk_id, response_id, reasons, comment, recorded_at,"
            " clock_synced, boot_id, monotonic_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", followups)
        db.execute_sql("UPDATE sequence SET value = ? WHERE name = 'event'", (seq,))
    return len(responses) + len(followups)
