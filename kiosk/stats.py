"""Local statistics for staff (`kiosk stats`, the staff screen): aggregated in SQL.

Periods are store-local days (the `local_date` stamped at capture). Filtered presses are left
out of every figure and counted separately. Never writes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kiosk import metrics
from kiosk.config import KioskConfig
from kiosk.store import LocalStore


def _period_stats(store: LocalStore, first: date, last: date, question: str | None) -> dict[str, Any]:
    args: list[Any] = [first.isoformat(), last.isoformat()]
    qfilter = ""
    if question:
        qfilter = " AND question_id = ?"
        args.append(question)
    db = store.db
    per_value = db.execute_sql(
        "SELECT question_id, scale, value, COUNT(*) FROM response"
        " WHERE local_date BETWEEN ? AND ? AND filtered IS NULL" + qfilter +
        " GROUP BY question_id, scale, value", args).fetchall()
    by_hour = db.execute_sql(
        "SELECT local_hour, COUNT(*) FROM response"
        " WHERE local_date BETWEEN ? AND ? AND filtered IS NULL" + qfilter +
        " GROUP BY local_hour", args).fetchall()
    flagged = db.execute_sql(
        "SELECT COUNT(*) FROM response WHERE local_date BETWEEN ? AND ? AND filtered IS NOT NULL"
        + qfilter, args).fetchone()[0]
    questions: dict[str, dict[str, Any]] = {}
    for qid, scale, value, count in per_value:
        q = questions.setdefault(qid, {"scale": scale, "counts": {}})
        q["counts"][value] = count
    out_q = {}
    for qid, q in sorted(questions.items()):
        counts, scale = q["counts"], q["scale"]
        entry: dict[str, Any] = {
            "scale": scale,
            "n": metrics.total(counts),
            "counts": {str(v): counts.get(v, 0) for v in _scale_values(scale)},
            "csat": _round(metrics.csat(counts, scale)),
        }
        if scale == "nps11":
            entry["nps"] = _round(metrics.nps(counts))
        else:
            entry["happy_index"] = _round(metrics.happy_index(counts, scale))
        out_q[qid] = entry
    hours = {h: c for h, c in by_hour}
    return {
        "from": first.isoformat(), "to": last.isoformat(),
        "answers": sum(q["n"] for q in out_q.values()),
        "flagged": flagged,
        "questions": out_q,
        "by_hour": [hours.get(h, 0) for h in range(24)],
    }


def _scale_values(scale: str) -> range:
    return range(0, 11) if scale == "nps11" else range(1, 5 if scale == "smiley4" else 6)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def local_stats(cfg: KioskConfig, store: LocalStore, now: datetime, *,
                since: date | None = None, question: str | None = None) -> dict[str, Any]:
    """Today, yesterday, the last 7 days (and `since` when given), plus outbox health."""
    today = now.astimezone(ZoneInfo(cfg.timezone)).date()
    periods = {
        "today": _period_stats(store, today, today, question),
        "yesterday": _period_stats(store, today - timedelta(days=1), today - timedelta(days=1), question),
        "same_weekday_last_week": _period_stats(store, today - timedelta(days=7), today - timedelta(days=7), question),
        "last_7_days": _period_stats(store, today - timedelta(days=6), today, question),
    }
    if since:
        periods["since"] = _period_stats(store, since, today, question)
    return {
        "kiosk_id": cfg.kiosk_id, "site_id": cfg.site_id, "generated_at": now.isoformat(),
        "periods": periods,
        "outbox": {"depth": store.outbox_depth(), "oldest_unacked": store.oldest_unacked(),
                   "last_ack": store.get_meta("sync.last_ack_at"),
                   "broker_connected": store.get_meta("sync.connected") == "1"},
    }
