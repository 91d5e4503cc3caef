"""`kiosk simulate --taps N [--mix V=W,…] [--over 7d] [--seed S] [--question ID] [--followups]`.

Drives the one capture path (`Recorder`) with a FakeClock moved to each simulated time, so
simulated answers are stamped, filtered and committed exactly like real presses.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import timedelta
from pathlib import Path

from kiosk.exc import ConfigError
from kiosk.commands._types import argument_type
from kiosk.durations import MAX_DAYS, examples, parse_duration
from kiosk.simulate import DEFAULT_MIX, mix_on_scale, parse_mix, pick_values, tap_times
from server_sync.program.progress import progress_bar
from server_sync.program.cli import nonempty, whole_number

_COMMENTS = ("Lång kö i kassan", "Hittade inte det jag sökte", "Trevlig personal!",
             "Too few staff at lunch", "Smutsigt vid ingången", "Kassen var stengt")


def _taps(text: str) -> int:
    n = whole_number(text)
    if not 1 <= n <= 10_000_000:
        raise argparse.ArgumentTypeError("must be between 1 and 10000000")
    return n


def add_parser(sub, common) -> None:
    p = sub.add_parser("simulate", parents=[common],
                       help="record N realistic simulated taps through the real capture path")
    p.add_argument("--taps", type=_taps, required=True, metavar="N", help="how many taps")
    p.add_argument("--mix", type=argument_type(parse_mix), metavar="V=W,…",
                   help="answer weights, e.g. 1=10,2=20,3=40,4=30 (finite, 0 or more)")
    p.add_argument("--over", type=argument_type(parse_duration), default=timedelta(days=7), metavar="PERIOD",
                   help=f"spread over this period ending now: a positive duration like {examples('dhm')}, "
                        f"at most {MAX_DAYS} days (default 7d)")
    p.add_argument("--seed", type=whole_number, default=None, metavar="S", help="random seed (repeatable runs)")
    p.add_argument("--question", type=nonempty, metavar="ID", help="question answered (default: the first one)")
    p.add_argument("--followups", action="store_true",
                   help="answer the follow-up (reasons, sometimes a comment) for most negative taps")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--force", action="store_true",
                   help="simulate into a production kiosk's data directory (its answers would sync as real ones)")
    p.set_defaults(func=simulate_command)


def _is_production(data_dir: Path) -> bool:
    from kiosk.config import PI_DATA_DIR
    try:
        return Path(data_dir).resolve() == Path(PI_DATA_DIR).resolve()
    except OSError:
        return False


def simulate_command(args: argparse.Namespace) -> int:
    from kiosk.capture import Recorder
    from kiosk.loading import load_config
    from kiosk.clock import FakeClock, SystemClock
    from kiosk.store import LocalStore

    cfg = load_config(args)
    if not args.force and _is_production(cfg.data_dir):
        # Simulated answers sync to the centre like real ones: never by accident on a real kiosk.
        raise ConfigError(f"{cfg.data_dir} is a production kiosk's data directory; simulated answers "
                          "would reach the centre as real ones. Use --data-dir DIR, or --force")
    if args.question:
        try:
            q = cfg.question(args.question)
        except KeyError:
            raise ConfigError(f"no question {args.question!r} in the config "
                              f"(known: {', '.join(x.id for x in cfg.questions)})") from None
    else:
        q = cfg.questions[0]
    mix = args.mix or DEFAULT_MIX[q.scale]
    try:
        mix_on_scale(mix, q.values)
    except ValueError as e:
        # Only here is the question, hence its scale, known: not an argparse type's check.
        raise ConfigError(f"--mix for question {q.id!r} ({q.scale}): {e}") from None

    rng = random.Random(args.seed)
    end = SystemClock().now()
    start = end - args.over
    try:
        times = tap_times(args.taps, start, end, cfg.timezone, rng)
    except ValueError as e:
        raise ConfigError(f"--over: {e}") from None
    values = pick_values(args.taps, mix, rng)
    languages = list(cfg.languages)
    lang_weights = [6 if lang == cfg.default_language else 1 for lang in languages]

    # One simulated boot per run: the filters see a realistic monotonic timeline.
    clock = FakeClock(times[0], synced=True, boot_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    flagged = followups = 0
    with LocalStore(cfg.db_path, kiosk_id=cfg.kiosk_id) as store, progress_bar(len(times), unit="tap", desc="simulate") as progress:
        recorder = Recorder(cfg, store, clock)
        first_seq = last_seq = None
        for i, (when, value) in enumerate(zip(times, values)):
            clock.set(when)
            rec = recorder.record(q.id, value, language=rng.choices(languages, lang_weights)[0],
                                  source="simulate")
            first_seq = first_seq or rec.seq
            last_seq = rec.seq
            flagged += rec.filtered is not None
            if args.followups and rec.wants_followup and rec.filtered is None and rng.random() < 0.6:
                nxt = times[i + 1] if i + 1 < len(times) else when + timedelta(seconds=20)
                gap = min(timedelta(seconds=rng.uniform(4, 15)), (nxt - when) / 2)
                clock.set(when + gap)
                reasons = rng.sample(q.reasons, k=min(len(q.reasons), rng.choice((1, 1, 2)))) if q.reasons else []
                comment = rng.choice(_COMMENTS) if (q.comment and (not reasons or rng.random() < 0.2)) else None
                if reasons or comment:
                    last_seq = recorder.record_followup(rec.id, reasons, comment).seq     # a follow-up is an event too
                    followups += 1
            progress.update(1)
    summary = {"question": q.id, "taps": len(times), "flagged": flagged, "followups": followups,
               "from": times[0].isoformat(), "to": times[-1].isoformat(),
               "first_seq": first_seq, "last_seq": last_seq, "database": str(cfg.db_path)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"recorded {summary['taps']} taps on {q.id!r} ({flagged} flagged, {followups} follow-ups), "
              f"{times[0]:%Y-%m-%d %H:%M} to {times[-1]:%Y-%m-%d %H:%M} UTC, seq {first_seq}-{last_seq}, "
              f"into {cfg.db_path}")
    return 0
