"""Helpers of the analysis tests: write answers the way ingest does (raw row + rollups in one
transaction), and make small chains with the real history generator."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

from server_sync.central import rollups

_ids = itertools.count(1)


def add_site(db, site_id: str, tz: str = "Europe/Stockholm", kiosks: int = 1) -> None:
    p = db.param
    db.execute_sql(f"INSERT INTO site (id, name, timezone, created_at) VALUES ({p}, {p}, {p}, {p})",
                   (site_id, site_id.title(), tz, datetime(2025, 1, 1)))
    for k in range(kiosks):
        db.execute_sql(f"INSERT INTO kiosk (id, site_id, registered_at, active) VALUES ({p}, {p}, {p}, {p})",
                       (f"{site_id}-k{k + 1}", site_id, datetime(2025, 1, 1), True))


def add_question(db, qid: str = "visit", scale: str = "smiley4", audience: str = "customer",
                 defined: bool = True) -> None:
    """Version 1 of `qid` as the centre defines it (`question define`: `defined_at`), or as only
    seen in answers (not `defined`)."""
    p = db.param
    db.execute_sql(f"INSERT INTO question (id, version, scale, audience, text, first_seen, defined_at) VALUES"
                   f" ({p}, 1, {p}, {p}, '{{\"en\": \"How was it?\"}}', {p}, {p})",
                   (qid, scale, audience, datetime(2025, 1, 1), datetime(2025, 1, 1) if defined else None))


def answer(site: str, at: datetime, value: int, question: str = "visit", scale: str = "smiley4",
           audience: str = "customer", filtered: str | None = None, kiosk: str | None = None) -> dict:
    n = next(_ids)
    return {"id": f"00000000-0000-4000-8000-{n:012d}", "site_id": site, "kiosk_id": kiosk or f"{site}-k1",
            "question_id": question, "scale": scale, "audience": audience, "value": value, "recorded_at": at,
            "filtered": filtered, "seq": n}


def commit(db, rows: list[dict], reasons: dict[str, list[str]] | None = None) -> None:
    """Insert answers and their follow-up reasons plus rollups in one transaction (as ingest)."""
    p = db.param
    cols = ("id", "kiosk_id", "site_id", "seq", "question_id", "question_version", "scale", "value", "audience",
            "language", "recorded_at", "kiosk_recorded_at", "clock_synced", "time_status", "boot_id",
            "monotonic_ns", "filtered", "received_at")
    with db.atomic():
        db.cursor().executemany(
            f"INSERT INTO response ({', '.join(cols)}) VALUES ({', '.join([p] * len(cols))})",
            [(r["id"], r["kiosk_id"], r["site_id"], r["seq"], r["question_id"], 1, r["scale"], r["value"],
              r["audience"], "sv", r["recorded_at"], r["recorded_at"], True, "synced", "boot", 0, r["filtered"],
              r["recorded_at"]) for r in rows])
        rollups.apply(db, rows)
        if reasons:
            db.cursor().executemany(
                f"INSERT INTO followup_reason (followup_id, response_id, reason) VALUES ({p}, {p}, {p})",
                [("f" + rid[1:], rid, reason) for rid, rs in reasons.items() for reason in rs])
            rollups.apply_reasons(db, [{"response_id": rid, "reasons": rs} for rid, rs in reasons.items()])


def ordinary_weeks(db, site: str, before: datetime, rng: random.Random, days: int = 28, per_day: int = 40,
                   kiosk: str | None = None) -> int:
    """The days before `before` at `site`, ordinary ones (about 12% negative, answered 08-18 UTC):
    the baseline the dip rule compares a site with. Returns the answers written."""
    rows = []
    for d in range(1, days + 1):
        day = (before - timedelta(days=d)).replace(tzinfo=None)
        for _ in range(per_day):
            at = day.replace(hour=rng.randrange(8, 18), minute=rng.randrange(60))
            rows.append(answer(site, at, rng.choice((1, 2)) if rng.random() < 0.12 else rng.choice((3, 3, 4, 4, 4)),
                               kiosk=kiosk))
    commit(db, rows)
    return len(rows)
