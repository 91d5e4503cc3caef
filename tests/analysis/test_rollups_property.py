"""Property: whatever answers arrive, in whatever batches, with time corrections moving some of
them (apply with sign=-1, then +1), every rollup equals a recomputation from the raw rows."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server_sync.analysis.metrics import is_negative, is_top2
from server_sync.central import rollups
from server_sync.central.db import connect
from server_sync.central.rollups import hour_bucket

SITES = {"se": "Europe/Stockholm", "ny": "America/New_York"}
QUESTIONS = {"visit": ("smiley4", "customer"), "five": ("smiley5", "customer"), "recommend": ("nps11", "customer"),
             "pulse": ("smiley4", "employee")}
START = datetime(2026, 3, 27, 20, 0)        # across Europe's DST change and a month end


@st.composite
def answers(draw):
    n = draw(st.integers(1, 40))
    rows = []
    for i in range(n):
        site = draw(st.sampled_from(sorted(SITES)))
        question = draw(st.sampled_from(sorted(QUESTIONS)))
        scale, audience = QUESTIONS[question]
        lo, hi = {"smiley4": (1, 4), "smiley5": (1, 5), "nps11": (0, 10)}[scale]
        rows.append({"id": f"00000000-0000-4000-8000-{i:012d}", "site_id": site,
                     "kiosk_id": f"{site}-{draw(st.integers(1, 2))}", "question_id": question, "scale": scale,
                     "audience": audience, "value": draw(st.integers(lo, hi)),
                     "recorded_at": START + timedelta(minutes=draw(st.integers(0, 6 * 24 * 60))),
                     "filtered": draw(st.sampled_from([None, None, None, "repeat"])),
                     "reasons": draw(st.lists(st.sampled_from(["queue", "staff", "price"]), max_size=2, unique=True))})
    return rows


def _db():
    db = connect("sqlite:///:memory:")
    for site, tz in SITES.items():
        db.execute_sql("INSERT INTO site (id, name, timezone, created_at) VALUES (?, ?, ?, ?)", (site, site, tz, START))
    return db


def _insert(db, rows):
    db.cursor().executemany(
        "INSERT INTO response (id, kiosk_id, site_id, seq, question_id, question_version, scale, value, audience,"
        " language, recorded_at, kiosk_recorded_at, clock_synced, time_status, boot_id, monotonic_ns, filtered,"
        " received_at) VALUES (?, ?, ?, 1, ?, 1, ?, ?, ?, 'sv', ?, ?, 1, 'synced', 'b', 0, ?, ?)",
        [(r["id"], r["kiosk_id"], r["site_id"], r["question_id"], r["scale"], r["value"], r["audience"],
          r["recorded_at"], r["recorded_at"], r["filtered"], r["recorded_at"]) for r in rows])


def _followups(db, rows):
    db.cursor().executemany("INSERT INTO followup_reason (followup_id, response_id, reason) VALUES (?, ?, ?)",
                            [("f" + r["id"][1:], r["id"], reason) for r in rows for reason in r["reasons"]])
    rollups.apply_reasons(db, [{"response_id": r["id"], "reasons": r["reasons"]} for r in rows if r["reasons"]])


def _expected(rows):
    hourly, daily, monthly, chain = Counter(), Counter(), Counter(), Counter()
    for r in rows:
        if r["filtered"]:
            continue
        hour, local_date, local_hour, weekday = hour_bucket(r["recorded_at"], ZoneInfo(SITES[r["site_id"]]))
        v, sc = r["value"], r["scale"]
        hourly[(r["site_id"], r["kiosk_id"], r["question_id"], r["audience"], sc, v, hour.isoformat(sep=" "),
                local_date, local_hour, weekday)] += 1
        stats = (1, v, v * v, int(is_top2(sc, v)), int(is_negative(sc, v)))
        for table, key in ((daily, (r["site_id"], r["question_id"], r["audience"], sc, local_date)),
                           (monthly, (r["site_id"], r["question_id"], r["audience"], sc, local_date[:7])),
                           (chain, (r["question_id"], r["audience"], sc, local_date, local_hour, weekday))):
            for i, x in enumerate(stats):
                table[key + (i,)] += x
    return hourly, daily, monthly, chain


def _stored(db):
    hourly = Counter({tuple(r[:-1]): r[-1] for r in db.execute_sql(
        "SELECT site_id, kiosk_id, question_id, audience, scale, value, hour, local_date, local_hour, weekday, n"
        " FROM rollup_hourly")})
    hourly = Counter({k[:6] + (str(k[6])[:19],) + k[7:]: v for k, v in hourly.items()})
    out = [hourly]
    for table, key in (("rollup_daily", "site_id, question_id, audience, scale, local_date"),
                       ("rollup_monthly", "site_id, question_id, audience, scale, month"),
                       ("rollup_chain_hourly", "question_id, audience, scale, local_date, local_hour, weekday")):
        c = Counter()
        for row in db.execute_sql(f"SELECT {key}, n, sum_v, sum_v2, top2, negative FROM {table}"):
            for i, x in enumerate(row[-5:]):
                if x:
                    c[tuple(row[:-5]) + (i,)] = x
        out.append(c)
    return out


def _reasons(db):
    return [sorted(db.execute_sql(f"SELECT * FROM {t}").fetchall())
            for t in ("rollup_reason_daily", "rollup_reason_monthly")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=answers(), cut=st.integers(0, 40), moved=st.sets(st.integers(0, 39), max_size=8),
       shift_min=st.integers(-3000, 3000))
def test_rollups_equal_a_recomputation_from_raw_rows(rows, cut, moved, shift_min):
    db = _db()
    try:
        with db.atomic():
            for batch in (rows[:cut], rows[cut:]):          # two commits, as two ingest batches
                _insert(db, batch)
                rollups.apply(db, batch)
                _followups(db, batch)
        # A time correction moves some answers: out of their old buckets, into new ones.
        old = [r for i, r in enumerate(rows) if i in moved]
        new = [dict(r, recorded_at=r["recorded_at"] + timedelta(minutes=shift_min)) for r in old]
        with db.atomic():
            rollups.apply(db, old, sign=-1)
            rollups.apply_reasons(db, [{"response_id": r["id"], "reasons": r["reasons"]} for r in old], sign=-1)
            db.cursor().executemany("UPDATE response SET recorded_at = ? WHERE id = ?",
                                    [(r["recorded_at"], r["id"]) for r in new])
            rollups.apply(db, new)
            rollups.apply_reasons(db, [{"response_id": r["id"], "reasons": r["reasons"]} for r in new])
        final = [next((n for n in new if n["id"] == r["id"]), r) for r in rows]
        expected = _expected(final)
        stored = _stored(db)
        hourly = Counter({k[:6] + (k[6][:19],) + k[7:]: v for k, v in expected[0].items()})
        assert stored[0] == hourly
        for got, want in zip(stored[1:], expected[1:]):
            assert got == +want
        for table in ("rollup_hourly", "rollup_daily", "rollup_monthly", "rollup_chain_hourly", "rollup_reason_daily",
                      "rollup_reason_monthly"):          # emptied buckets are deleted, not left at 0
            assert db.execute_sql(f"SELECT COUNT(*) FROM {table} WHERE n <= 0").fetchone()[0] == 0, table
        incremental = _reasons(db)
        rollups.rebuild_reasons(db)
        assert incremental == _reasons(db)
        n_reasons = sum(len(r["reasons"]) for r in final if not r["filtered"])
        assert sum(r[6] for r in incremental[0]) == n_reasons
        json.dumps([list(map(str, r)) for r in incremental[0]])
    finally:
        db.close()
