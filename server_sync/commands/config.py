"""`kiosk-central config push (--kiosk ID | --site SITE) FILE`: validate and publish a retained
config with a higher version to each target kiosk."""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime, timezone

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
    from server_sync.central.dialect import placeholders
    from server_sync.config_push import (Publication, answered_questions, config_messages, define_questions,
                                         failed_push, kept_payload, load_push_file, next_versions,
                                         publish_each_retained, targets, validate_for)

    push = load_push_file(args.file)
    settings = None if args.dry_run else broker_settings(args, f"kundpuls-config-push-{os.getpid()}")
    db = connect(existing_database_url(args))
    publications: list[Publication] = []         # none for --dry-run
    missed: dict[str, int] = {}                   # kiosk: version, refused by the broker
    try:
        # Read before the transaction: on SQLite it holds the single write lock from its BEGIN,
        # and the questions' scans of the answers would hold ingest up (0.8 s a million answers).
        kiosks = targets(db, args.kiosk, args.site)
        parsed = [validate_for(push, kiosk_id, site_id) for kiosk_id, site_id in kiosks]
        seen = answered_questions(db, push, parsed[0])
        with db.atomic() as txn:
            now = datetime.now(timezone.utc).replace(tzinfo=None)
            disagreeing = define_questions(db, push, parsed[0], now, force=args.force, seen=seen)
            versions = next_versions(db, [k for k, _ in kiosks])
            messages = config_messages(push, versions.next, args.prefix)
            if not messages:               # every target skipped: nothing defined or recorded
                raise CentralConfigError(failed_push(settings, messages, publications, versions.skipped))
            db.cursor().executemany(
                f"INSERT INTO config_push (kiosk_id, version, payload, pushed_at) VALUES ({placeholders(db, 4)})",
                [(k, v, kept_payload(payload), now) for k, _t, v, payload in messages])
            if args.dry_run:
                txn.rollback()
            else:
                # Published before the commit, the versions still held: the store then keeps the
                # push to each kiosk the broker may hold it for, and to none if it holds it for
                # none. A retained config cannot be taken back from a kiosk that applied it at once,
                # so one that got it is recorded, not cleared (docs/central.md, Config push).
                publications = publish_each_retained(settings, [(t, payload) for _k, t, _v, payload in messages])
                missed = {k: v for (k, _t, v, _b), p in zip(messages, publications) if not p.taken}
                if len(missed) == len(messages):
                    raise CentralConfigError(failed_push(settings, messages, publications, versions.skipped))
                for kiosk_id, version in missed.items():
                    db.execute_sql(f"DELETE FROM config_push WHERE kiosk_id = {db.param} AND version = {db.param}",
                                   (kiosk_id, version))
    finally:
        db.close()
    result = [{"kiosk_id": k, "version": v, "topic": t} for k, t, v, _b in messages if k not in missed]
    if args.json:
        out = {"dry_run": bool(args.dry_run), "pushed": result, "questions_defined": sorted(disagreeing),
               "stored_answers_otherwise": {q: n for q, n in disagreeing.items() if n}}
        if versions.skipped:
            out["skipped"] = [{"kiosk_id": k, "reason": why} for k, why in sorted(versions.skipped.items())]
        if any(p.problem for p in publications):
            out["not_confirmed"] = [{"kiosk_id": k, "version": v, "topic": t, "problem": p.problem, "recorded": p.taken}
                                    for (k, t, v, _b), p in zip(messages, publications) if p.problem]
        print(json.dumps(out, indent=2))
    else:
        verb = "would push" if args.dry_run else "pushed"
        for r in result:
            print(f"{verb} config version {r['version']} to kiosk {r['kiosk_id']} ({r['topic']}, retained)")
        if disagreeing:
            print(f"questions {'to be ' if args.dry_run else ''}defined by the centre: {', '.join(sorted(disagreeing))}"
                  " (an answer that disagrees is held on its kiosk)")
        for q, n in sorted(disagreeing.items()):
            if n:
                print(f"note: {n} answer(s) stored before for {q} have another scale or audience; they stay as they are")
        if not args.dry_run:
            print("Each kiosk applies it on receipt, or refuses it and says why: kiosk-central fleet")
    failure = failed_push(settings, messages, publications, versions.skipped)
    if failure:
        raise CentralConfigError(failure)
    return 0
