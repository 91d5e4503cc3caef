"""`kiosk-central config push (--kiosk ID | --site SITE) FILE`: validate and publish a retained
config with a higher version to each target kiosk."""

from __future__ import annotations

import argparse
import json
import os

from server_sync.cli import existing_database_url
from server_sync.commands.ingest import add_broker_options, broker_settings
from server_sync.exc import CentralConfigError
from server_sync.program.cli import nonempty


def add_parser(sub, common) -> None:
    p = sub.add_parser("config", parents=[common], help="push questions, schedule, languages … to kiosks")
    s = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    from server_sync.protocol.pushed import PUSHABLE_KIOSK, PUSHABLE_TABLES, PUSHABLE_WHOLE
    sections = ", ".join([f"[kiosk] {'/'.join(PUSHABLE_KIOSK)}"]
                         + [f"[[{k}]]" if k in ("questions", "schedule") else f"[{k}]" for k in PUSHABLE_WHOLE]
                         + [f"[{k}]" for k in PUSHABLE_TABLES])
    push = s.add_parser("push", parents=[common], help="validate FILE and publish it (retained) to kiosks",
                        description=f"FILE is a kiosk.toml fragment with only pushable sections: {sections}. It is "
                                    "validated with the kiosk's own rules (all but its wiring's, which the kiosk "
                                    "checks on receipt), given each kiosk a version higher than any it may run "
                                    "(pushed before, reported by it, or the shipped kiosk.toml's), and published "
                                    "retained at QoS 1. A kiosk that runs the highest version there is "
                                    "(2147483647) gets none: it is named, the others get theirs, and the exit is 2.")
    target = push.add_mutually_exclusive_group(required=True)
    target.add_argument("--kiosk", type=nonempty, metavar="ID", help="one active kiosk")
    target.add_argument("--site", type=nonempty, metavar="SITE", help="every active kiosk of a site")
    push.add_argument("file", metavar="FILE", type=nonempty, help="the config fragment (TOML, or .json)")
    push.add_argument("--dry-run", action="store_true", help="validate and show the versions; publish nothing")
    push.add_argument("--force", action="store_true",
                      help="define its questions even where stored answers to that version have another scale or "
                           "audience (question define --help)")
    push.add_argument("--json", action="store_true", help="print the result as JSON")
    add_broker_options(push)
    push.set_defaults(func=push_config)


def push_config(args: argparse.Namespace) -> int:
    from server_sync.central.db import connect
    from server_sync.config_push import answered_questions, failed_push, load_push_file, targets, validate_for
    from server_sync.config_push_store import Sent, record, send

    push = load_push_file(args.file)
    settings = None if args.dry_run else broker_settings(args, f"kundpuls-config-push-{os.getpid()}")
    db = connect(existing_database_url(args))
    sent = Sent([], [], {})                       # nothing for --dry-run
    try:
        # Read before the transaction: on SQLite it holds the single write lock from its BEGIN,
        # and the questions' scans of the answers would hold ingest up (0.8 s a million answers).
        # The targets are read again under their locks (config_push_store.locked_targets).
        checked = {target: validate_for(push, *target) for target in targets(db, args.kiosk, args.site)}
        seen = answered_questions(db, push, next(iter(checked.values())))
        # Recorded and committed first, then published (config_push_store): a push is recorded
        # wherever the broker may hold it, and the kiosks it refused are forgotten after.
        pushed = record(db, push, args.kiosk, args.site, checked, seen=seen, force=args.force, prefix=args.prefix,
                        keep=not args.dry_run)
        if not args.dry_run:
            sent = send(db, settings, pushed)
    finally:
        db.close()
    messages, disagreeing = (pushed.messages if args.dry_run else sent.messages), pushed.disagreeing
    publications, superseded = sent.publications, sent.superseded
    missed = {k for (k, _t, _v, _b), p in zip(messages, publications) if not p.taken}
    result = [{"kiosk_id": k, "version": v, "topic": t} for k, t, v, _b in messages if k not in missed]
    if args.json:
        out = {"dry_run": bool(args.dry_run), "pushed": result, "questions_defined": sorted(disagreeing),
               "stored_answers_otherwise": {q: n for q, n in disagreeing.items() if n}}
        if pushed.skipped:
            out["skipped"] = [{"kiosk_id": k, "reason": why} for k, why in sorted(pushed.skipped.items())]
        if superseded:
            out["superseded"] = [{"kiosk_id": k, "version": v, "by_version": later}
                                 for k, (v, later) in sorted(superseded.items())]
        if any(p.problem for p in publications):
            out["not_confirmed"] = [{"kiosk_id": k, "version": v, "topic": t, "problem": p.problem, "recorded": p.taken}
                                    for (k, t, v, _b), p in zip(messages, publications) if p.problem]
        print(json.dumps(out, indent=2))
    else:
        verb = "would push" if args.dry_run else "pushed"
        for r in result:
            print(f"{verb} config version {r['version']} to kiosk {r['kiosk_id']} ({r['topic']}, retained)")
        for k, (v, later) in sorted(superseded.items()):
            print(f"config version {v} to kiosk {k} not sent: a push recorded after it (config version {later}) "
                  "was sent to it already")
        if disagreeing:
            print(f"questions {'to be ' if args.dry_run else ''}defined by the centre: {', '.join(sorted(disagreeing))}"
                  " (an answer that disagrees is held on its kiosk)")
        for q, n in sorted(disagreeing.items()):
            if n:
                print(f"note: {n} answer(s) stored before for {q} have another scale or audience; they stay as they are")
        if not args.dry_run:
            print("Each kiosk applies it on receipt, or refuses it and says why: kiosk-central fleet")
    failure = failed_push(settings, messages, publications, pushed.skipped, sorted(superseded))
    if failure:
        raise CentralConfigError(failure)
    return 0
