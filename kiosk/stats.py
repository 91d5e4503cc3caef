"""Local statistics for staff (`kiosk stats`, the staff screen): aggregated in SQL.

Periods are store-local days (the `local_date` stamped at capture, put right by kiosk.local_day
for answers stamped before the clock synced). Filtered presses are left out of every figure and
counted separately. Never writes.

A series is (question, scale), as at the centre: answers on two scales are never mixed into one
figure. A question answered on another scale than its current one (a 5-button panel put in
mid-day) keeps its id for the current scale's answers; each earlier scale is a series of its own,
`question@scale`, marked `earlier_scale` and listed in the current one's `other_series`, so its
answers are counted, not lost, and today is compared with last week within one scale.

Why the queries look the way they do: the covering index `response_stats` (migration 2) holds
every column read here, in the order of the inner GROUP BY, so SQLite streams one index range
without touching the table or sorting; the outer query folds the (small) groups. One scan of
the last 8 days serves today, yesterday, the same weekday last week and the last 7 days.

No figure here comes from an employee question (audience `employee`): its answers are those of
the few colleagues who also open this screen, a day's figures would give single answers away,
and the kiosk has none of the centre's minimum-group rule (docs/privacy.md). They are left out
of every figure and named in `withheld`; the office's reports show them for groups large enough.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from kiosk.config import KioskConfig
from kiosk.damaged_text import tolerant_text
from kiosk.durations import is_duration, parse_duration
from kiosk.exc import CaptureError
from server_sync.protocol.rounding import rounded
from server_sync.protocol.scales import SCALES, sql_rule
from server_sync.protocol.tally import Tally
from server_sync.protocol.timetext import iso_ms

if TYPE_CHECKING:                   # the store (peewee) is the caller's: `kiosk --help` builds no database
    from kiosk.store import LocalStore

# (local_date, question_id, scale, value, local_hour, flagged, count)
_Row = tuple[str, str, str, int, int, int, int]


def withheld_questions(cfg: KioskConfig, store: LocalStore) -> frozenset[str]:
    """The questions no local figure shows: those the config asks of employees, and any the
    database holds employee answers of (one since taken out of the config)."""
    ids = {q.id for q in cfg.questions if q.audience != "customer"}
    ids.update(qid for (qid,) in store.db.execute_sql(
        "SELECT DISTINCT question_id FROM response INDEXED BY response_employee"
        " WHERE audience != 'customer'"))
    return frozenset(ids)


def _grouped(store: LocalStore, first: date, last: date, question: str | None,
             by_date: bool, withheld: Iterable[str], until: datetime | None = None) -> list[_Row]:
    """`until`: only answers recorded before then (each row of it is read from the table; keep
    the span to a day)."""
    args: list[Any] = [first.isoformat(), last.isoformat()]
    qfilter = ""
    if question:
        qfilter = " AND question_id = ?"
        args.append(question)
    left_out = sorted(withheld)
    if left_out:
        qfilter += f" AND question_id NOT IN ({', '.join('?' * len(left_out))})"
        args.extend(left_out)
    if until is not None:
        qfilter += " AND recorded_at < ?"
        args.append(iso_ms(until))
    day = "local_date" if by_date else "''"
    sql = (
        f"SELECT {day}, question_id, scale, value, local_hour, flagged, SUM(n) FROM ("
        "  SELECT local_date, question_id, scale, value, local_hour,"
        "         filtered IS NOT NULL AS flagged, COUNT(*) AS n"
        "  FROM response INDEXED BY response_stats"
        "  WHERE local_date BETWEEN ? AND ?" + qfilter +
        "  GROUP BY local_date, question_id, scale, value, local_hour, filtered)"
        f" GROUP BY {'1, ' if by_date else ''}question_id, scale, value, local_hour, flagged")
    return store.db.execute_sql(sql, args).fetchall()


def _period(rows: Iterable[_Row], first: date, last: date,
            current: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The figures of `first`..`last`, one entry per series. `current` maps a question id to the
    scale it is asked on now (the config's); see the module docstring."""
    lo, hi = first.isoformat(), last.isoformat()
    counts: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    newest: dict[tuple[str, str], tuple[str, int]] = {}
    hours = [0] * 24
    flagged = 0
    for day, qid, scale, value, hour, is_flagged, n in rows:
        if day and not lo <= day <= hi:
            continue
        if is_flagged:
            flagged += n
            continue
        c = counts[(qid, scale)]
        c[value] = c.get(value, 0) + n
        newest[(qid, scale)] = max(newest.get((qid, scale), ("", -1)), (day, hour))
        hours[hour] += n
    scales: dict[str, list[str]] = defaultdict(list)
    for qid, scale in sorted(counts):
        scales[qid].append(scale)
    questions: dict[str, dict[str, Any]] = {}
    for qid, asked_on in scales.items():
        now_on = (current or {}).get(qid) or max(
            asked_on, key=lambda sc: (newest[(qid, sc)], sum(counts[(qid, sc)].values())))
        earlier = [sc for sc in asked_on if sc != now_on]
        if now_on in asked_on:
            questions[qid] = _entry(now_on, counts[(qid, now_on)])
            if earlier:
                questions[qid]["other_series"] = [f"{qid}@{sc}" for sc in earlier]
        for sc in earlier:
            questions[f"{qid}@{sc}"] = {**_entry(sc, counts[(qid, sc)]), "series_of": qid, "earlier_scale": True}
    return {
        "from": lo, "to": hi,
        "answers": sum(q["n"] for q in questions.values()),
        "flagged": flagged,
        "questions": questions,
        "by_hour": hours,
    }


def _entry(scale: str, c: dict[int, int]) -> dict[str, Any]:
    """One series' figures from its answers per value."""
    tally = Tally.from_counts(scale, c)
    entry: dict[str, Any] = {
        "scale": scale,
        "n": tally.n,
        "counts": {str(v): c.get(v, 0) for v in (SCALES[scale].values if scale in SCALES else sorted(c))},
        "csat": _round(tally.csat()),
    }
    if scale == "nps11":
        entry["nps"] = _round(tally.nps())
    else:
        entry["happy_index"] = _round(tally.happy_index())
    return entry


def current_scales(cfg: KioskConfig) -> dict[str, str]:
    """The scale each configured question is asked on now: its answers are the question's
    series (one the config no longer has takes, in `_period`, the scale it was answered on last)."""
    return {q.id: q.scale for q in cfg.questions}


def _round(x: float | None) -> float | None:
    """To the one decimal the staff view shows, a half away from zero as the centre's pages round
    (`protocol.rounding`): 56.25 is 56.3 on both."""
    return None if x is None else float(rounded(x, 1))


def local_today(cfg: KioskConfig, now: datetime) -> date:
    return now.astimezone(ZoneInfo(cfg.timezone)).date()


def local_stats(cfg: KioskConfig, store: LocalStore, now: datetime, *,
                since: date | None = None, question: str | None = None) -> dict[str, Any]:
    """Today, yesterday, the same weekday last week, the last 7 days (and `since` → today when
    given), plus outbox health."""
    today = local_today(cfg, now)
    week_ago = today - timedelta(days=7)
    withheld = withheld_questions(cfg, store)
    rows = _grouped(store, week_ago, today, question, by_date=True, withheld=withheld)
    current = current_scales(cfg)
    periods = {
        "today": _period(rows, today, today, current),
        "yesterday": _period(rows, today - timedelta(days=1), today - timedelta(days=1), current),
        "same_weekday_last_week": _period(rows, week_ago, week_ago, current),
        "last_7_days": _period(rows, today - timedelta(days=6), today, current),
    }
    if since:
        periods["since"] = _period(_grouped(store, since, today, question, by_date=False, withheld=withheld),
                                   since, today, current)
    return {
        "kiosk_id": cfg.kiosk_id, "site_id": cfg.site_id, "generated_at": now.isoformat(),
        "question": question,
        "periods": periods,
        "withheld": sorted(withheld if question is None else withheld & {question}),
        "outbox": {"depth": store.outbox_depth(), "oldest_unacked": store.oldest_unacked(),
                   "rejected": store.rejected_count(),
                   "last_ack": store.get_meta("sync.last_ack_at"),
                   "broker_connected": store.get_meta("sync.connected") == "1"},
    }


def staff_screen(cfg: KioskConfig, store: LocalStore, now: datetime, question: str) -> dict[str, Any]:
    """The staff screen's figures for `question`: `local_stats` and `staff_summary`. Text the card
    damaged (a byte not UTF-8: a question id, a reason, a comment) is read with U+FFFD, not a
    screen that closes the app at every visit (kiosk.damaged_text). Its figures are of one
    question, by its id: an answer whose id the card damaged is in none of them. `kiosk stats`
    reads strictly, and says how to mend the card (kiosk.store.card_failure)."""
    with tolerant_text(store.db.connection()):
        return {"stats": local_stats(cfg, store, now, question=question),
                "summary": staff_summary(cfg, store, now, question)}


STAFF_COMMENTS = 3          # latest comments on the staff screen
TOP_REASONS = 3


def _top(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """The `TOP_REASONS` most cited reasons, most first (ties by code)."""
    ranked = sorted(((-n, code) for code, n in counts.items() if n > 0))[:TOP_REASONS]
    return [{"code": code, "n": -n} for n, code in ranked]


def staff_summary(cfg: KioskConfig, store: LocalStore, now: datetime, question: str) -> dict[str, Any]:
    """What the staff screen adds to `local_stats` for one question, over the last 7 days:
    each day's answers and score on the question's current scale (the trend), the figures of the
    same weekday last week up to the time of day it is now (`same_time_last_week`, a period as
    `local_stats` gives them, to compare today so far with), the answers on
    earlier scales (`earlier_scale`: scale → n, counted apart), the reasons most chosen with a
    negative answer (`top_complaints`) and with another (`top_praise`: only where the kiosk asks
    why after every answer), and the latest comments (scrubbed of e-mail addresses and phone
    numbers when they were recorded). Flagged presses and their follow-ups are left out, as everywhere; an employee question's
    answers are in none of it (`withheld` is then true)."""
    today = local_today(cfg, now)
    first = today - timedelta(days=6)
    withheld = withheld_questions(cfg, store)
    week_ago = today - timedelta(days=7)
    if question in withheld:
        days = [{"date": (first + timedelta(days=i)).isoformat(), "n": 0, "score": None} for i in range(7)]
        return {"from": first.isoformat(), "to": today.isoformat(), "days": days, "earlier_scale": {},
                "same_time_last_week": _period((), week_ago, week_ago),
                "followups": 0, "top_complaints": [], "top_praise": [], "comments": [], "withheld": True}
    rows = _grouped(store, first, today, question, by_date=True, withheld=withheld)
    current = current_scales(cfg)
    # Today so far is compared with the same weekday last week up to the same local time: its
    # whole day made every morning read as a collapse (17 answers by noon against 40 all day).
    local_now = now.astimezone(ZoneInfo(cfg.timezone))
    until = datetime.combine(week_ago, local_now.time(), local_now.tzinfo)
    so_far = _grouped(store, week_ago, week_ago, question, by_date=True, withheld=withheld, until=until)
    days = []
    for i in range(7):
        d = first + timedelta(days=i)
        row = _period(rows, d, d, current)["questions"].get(question, {"n": 0})
        days.append({"date": d.isoformat(), "n": row["n"],
                     "score": row.get("happy_index", row.get("nps"))})
    # Answers on an earlier scale are in no figure above (a series never mixes scales): say
    # how many there were, so nobody takes the current scale's few answers for the whole week.
    week = _period(rows, first, today, current)["questions"]
    earlier = {q["scale"]: q["n"] for q in week.values() if q.get("series_of") == question}
    # Driven by the answers of the week (the local_date index), then their follow-ups by
    # response id: the cost follows a week's answers, not the whole history.
    span = (first.isoformat(), today.isoformat(), question)
    # The reasons are figures too: of the current scale's answers only, as the trend's.
    scale = current.get(question)
    # Each reason's mentions by negative answers and by all: where the kiosk asks why after every
    # answer (followup "every") a happy customer says what went well, which is no complaint.
    # Reasons the card damaged are in neither list, not a staff screen that closes the app
    # (kiosk.damaged_text): a cell no longer JSON is read as none, a code with a byte not UTF-8
    # (read as U+FFFD, which no catalogue code holds) is left out.
    with tolerant_text(store.db.connection()):
        reasons = [row for row in store.db.execute_sql(
            f"SELECT j.value, SUM({sql_rule('negative', 'r.scale', 'r.value')}), COUNT(*)"
            " FROM response r INDEXED BY response_stats"
            " JOIN followup f ON f.response_id = r.id,"
            " json_each(CASE WHEN json_valid(f.reasons) THEN f.reasons ELSE '[]' END) j"
            " WHERE r.local_date BETWEEN ? AND ? AND r.question_id = ? AND r.filtered IS NULL"
            " AND (? IS NULL OR r.scale = ?) GROUP BY j.value", (*span, scale, scale)).fetchall()
            if "\ufffd" not in str(row[0])]
    answered = store.db.execute_sql(
        "SELECT COUNT(*) FROM response r INDEXED BY response_stats"
        " JOIN followup f ON f.response_id = r.id"
        " WHERE r.local_date BETWEEN ? AND ? AND r.question_id = ? AND r.filtered IS NULL"
        " AND (? IS NULL OR r.scale = ?)", (*span, scale, scale)).fetchone()[0]
    # A comment the card damaged (a byte not UTF-8) is shown with U+FFFD, not a staff screen
    # that closes the app (kiosk.damaged_text).
    with tolerant_text(store.db.connection()):
        comments = store.db.execute_sql(
            "SELECT f.comment, r.local_date, r.local_hour, r.value FROM response r"
            " INDEXED BY response_stats JOIN followup f ON f.response_id = r.id"
            " WHERE r.local_date BETWEEN ? AND ? AND r.question_id = ? AND r.filtered IS NULL"
            " AND f.comment IS NOT NULL AND f.comment != '' AND r.audience = 'customer'"
            " ORDER BY f.seq DESC LIMIT ?", (*span, STAFF_COMMENTS)).fetchall()
    return {
        "from": first.isoformat(), "to": today.isoformat(), "days": days,
        "earlier_scale": earlier,
        "same_time_last_week": _period(so_far, week_ago, week_ago, current),
        "followups": answered,
        "top_complaints": _top({code: negative for code, negative, _n in reasons}),
        "top_praise": _top({code: n - negative for code, negative, n in reasons}),
        "comments": [{"text": text, "date": d, "hour": h, "value": v} for text, d, h, v in comments],
        "withheld": False,
    }


def parse_since(text: str) -> date | int:
    """`--since` as typed: an ISO date (YYYY-MM-DD), or `Nd` for the last N days including
    today. Raises ValueError with a message fit for the user."""
    text = text.strip()
    if is_duration(text, units="d"):
        return parse_duration(text, units="d").days
    try:
        return date.fromisoformat(text)
    except ValueError:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):     # the shape of a date, but no day
            raise ValueError(f"{text!r} is not a date: no such date in the calendar") from None
        raise ValueError(f"{text!r} is neither a date YYYY-MM-DD nor a number of days like 7d") from None


def resolve_since(since: date | int | None, today: date) -> date | None:
    """`--since` as parsed (a date or N days) as the first store-local date of the period.
    A date after today is a mistake, not an empty period: CaptureError."""
    if since is None:
        return None
    first = since if isinstance(since, date) else today - timedelta(days=since - 1)
    if first > today:
        raise CaptureError(f"--since {first.isoformat()} is in the future")
    return first
