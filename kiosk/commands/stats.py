"""`kiosk stats [--json] [--since YYYY-MM-DD|Nd] [--question ID]`: local results for staff."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone, tzinfo
from typing import Any, TextIO

from kiosk.commands._types import argument_type
from kiosk.stats import local_stats, local_today, parse_since, resolve_since
from server_sync.program.cli import nonempty

_BAR_WIDTH = 40
_PERIOD_TITLES = {
    "today": "today", "yesterday": "yesterday", "same_weekday_last_week": "same day last week",
    "last_7_days": "last 7 days", "since": "since",
}


since_type = argument_type(parse_since)
SINCE_HELP = "a date YYYY-MM-DD, or a positive number of days like 7d: the last 7 days, today included (at most 3660)"


def add_parser(sub, common) -> None:
    p = sub.add_parser("stats", parents=[common],
                       help="today, yesterday, last 7 days: answers, Happy Index, CSAT, NPS, outbox")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--since", type=since_type, metavar="YYYY-MM-DD|Nd",
                   help=f"also a period from this date (or the last N days) to today: {SINCE_HELP}")
    p.add_argument("--question", type=nonempty, metavar="ID", help="only this question")
    p.set_defaults(func=stats_command)


def stats_command(args: argparse.Namespace) -> int:
    from kiosk.loading import load_config
    from kiosk.clock import SystemClock
    from kiosk.exc import CaptureError
    from kiosk.store import LocalStore

    cfg = load_config(args)
    now = SystemClock().now()
    since = resolve_since(args.since, local_today(cfg, now))
    with LocalStore.existing(cfg.db_path, kiosk_id=cfg.kiosk_id) as store:
        if args.question and args.question not in {q.id for q in cfg.questions}:
            # A question removed from the config still has history: accept ids in the database.
            known = {r[0] for r in store.db.execute_sql("SELECT DISTINCT question_id FROM response")}
            if args.question not in known:
                ids = sorted({q.id for q in cfg.questions} | known)
                raise CaptureError(f"no question {args.question!r} (known: {', '.join(ids)})")
        result = local_stats(cfg, store, now, since=since, question=args.question)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        from zoneinfo import ZoneInfo
        render_text(result, sys.stdout, zone=ZoneInfo(cfg.timezone))
    return 0


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def local_minute(when: str, zone: tzinfo) -> str:
    """An ISO time as the store's wall clock to the minute with its zone's abbreviation,
    "2026-12-07 17:32 CET": the periods and hours below it are the store's too."""
    local = datetime.fromisoformat(when).astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or str(zone))


def render_text(result: dict[str, Any], out: TextIO, zone: tzinfo = timezone.utc) -> None:
    """The human table: one line per period and series (a question on an earlier scale is a
    series of its own, `question@scale`, named under the table), then answers by hour as bars.
    `zone`: the store's, which the heading's time is shown in."""
    w = out.write
    w(f"Kiosk {result['kiosk_id']} (site {result['site_id']}), {local_minute(result['generated_at'], zone)}"
      + (f", question {result['question']}" if result.get("question") else "") + "\n")
    ob = result["outbox"]
    state = "connected" if ob["broker_connected"] else "not connected"
    w(f"Outbox: {ob['depth']} waiting for the centre"
      + (f" (oldest {ob['oldest_unacked']})" if ob["oldest_unacked"] else "")
      + f"; broker {state}; last ack {ob['last_ack'] or 'never'}"
      + (f"; {ob['rejected']} refused by the centre (kept here, not sent again)" if ob.get("rejected") else "")
      + "\n\n")
    header = f"{'period':<20} {'from':<10} {'question':<12} {'n':>6} {'happy':>6} {'CSAT%':>6} {'NPS':>6} {'flagged':>7}  answers per value"
    w(header + "\n" + "-" * len(header) + "\n")
    for key, p in result["periods"].items():
        title = _PERIOD_TITLES.get(key, key)
        if not p["questions"]:
            w(f"{title:<20} {p['from']:<10} {'-':<12} {0:>6} {'-':>6} {'-':>6} {'-':>6} {p['flagged']:>7}\n")
            continue
        for i, (qid, q) in enumerate(p["questions"].items()):
            counts = " ".join(f"{v}:{c}" for v, c in q["counts"].items())
            flagged = p["flagged"] if i == 0 else ""
            w(f"{title if i == 0 else '':<20} {p['from'] if i == 0 else '':<10} {qid:<12} {q['n']:>6} "
              f"{_fmt(q.get('happy_index')):>6} {_fmt(q['csat']):>6} {_fmt(q.get('nps')):>6} {flagged:>7}  {counts}\n")
    earlier = {sid: q for p in result["periods"].values() for sid, q in p["questions"].items() if q.get("earlier_scale")}
    for sid, q in sorted(earlier.items()):
        w(f"\n{sid}: answers on an earlier scale ({q['scale']}) of question {q['series_of']}, a separate series "
          "(never mixed with its current scale's figures)")
    if earlier:
        w("\n")
    if result.get("withheld"):
        w(f"\nNot shown here: {', '.join(result['withheld'])}, asked of employees; the office's reports show"
          " their answers for groups of at least 5, so that no one's answer can be picked out\n")
    for key in ("today", "since" if "since" in result["periods"] else "last_7_days"):
        p = result["periods"][key]
        w(f"\nAnswers by hour, {_PERIOD_TITLES[key]} ({p['from']} to {p['to']}):\n")
        w(hour_bars(p["by_hour"]) + "\n")


def hour_bars(by_hour: list[int], width: int = _BAR_WIDTH) -> str:
    """A small text bar chart of the hours that have answers (and the hours between them)."""
    hours = [h for h, c in enumerate(by_hour) if c]
    if not hours:
        return "  (no answers)"
    top = max(by_hour)
    lines = []
    for h in range(hours[0], hours[-1] + 1):
        c = by_hour[h]
        eighths = round(c / top * width * 8)
        bar = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
        lines.append(f"  {h:02d} {bar:<{width}} {c}")
    return "\n".join(lines)
