"""`kiosk-central question list|define`: the question register. The centre defines what a
question version asks (`config push` does it for the questions it pushes); an answer that
disagrees with a definition is held on its kiosk, and nobody else's answers are touched."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from server_sync.cli import existing_database_url
from server_sync.commands._argtypes import count


def add_parser(sub, common) -> None:
    from server_sync.protocol.scales import SCALE_NAMES
    from server_sync.protocol.vocabulary import AUDIENCES
    p = sub.add_parser("question", parents=[common], help="the question register: list it, define a question")
    s = p.add_subparsers(dest="question_command", metavar="ACTION", required=True)
    ls = s.add_parser("list", parents=[common],
                      help="every question version: defined by the centre, built in, or only seen",
                      description="Every question version the centre knows: its scale and audience, whether the "
                                  "centre defined it (config push, question define), it is the built-in "
                                  "catalogue's (visit, checkout, recommend, pulse v1, on their scale and audience: "
                                  "every kiosk may ask them unconfigured, and they are held to that meaning) or "
                                  "the centre only saw it in answers, and the answers stored (and how many of "
                                  "them say otherwise).")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=list_questions)
    d = s.add_parser("define", parents=[common], help="define a question version's scale and audience for the chain",
                     description="From now on an answer to this question version with another scale or audience "
                                 "is held on its kiosk (named in its ack). A version the centre defined before "
                                 "keeps its meaning unless --replace (for a definition given by mistake; then "
                                 "`kiosk refused retry` on the kiosks whose answers were held).")
    d.add_argument("id", metavar="ID", help="question id")
    d.add_argument("version", metavar="VERSION", type=count, help="question version")
    d.add_argument("--scale", required=True, choices=SCALE_NAMES)
    d.add_argument("--audience", required=True, choices=AUDIENCES)
    d.add_argument("--replace", action="store_true", help="change a definition the centre gave before")
    d.add_argument("--force", action="store_true",
                   help="define it even though stored answers to this version have another scale or audience")
    d.add_argument("--json", action="store_true", help="print the result as JSON")
    d.set_defaults(func=define)


def list_questions(args: argparse.Namespace) -> int:
    from server_sync.central import questions
    from server_sync.central.db import connect
    from server_sync.protocol.catalogue import built_in
    db = connect(existing_database_url(args))
    try:
        rows = questions.register(db)
    finally:
        db.close()
    for r in rows:          # "seen" said of the shipped kiosk.toml's own question read as a kiosk's invention
        r["built_in"] = not r["defined"] and built_in(r["id"], r["version"], r["scale"], r["audience"]) is not None
    if args.json:
        print(json.dumps({"questions": rows}, indent=2))
        return 0
    if not rows:
        print("no questions yet: kiosk-central config push defines them, kiosks' answers register theirs")
        return 0
    print(f"{'question':<20} {'version':>7} {'scale':<8} {'audience':<9} {'defined':<8} {'answers':>8}  otherwise")
    for r in rows:
        print(f"{r['id']:<20} {r['version']:>7} {r['scale']:<8} {r['audience']:<9} {_defined_by(r):<8}"
              f" {r['answers']:>8}  {r['answers_otherwise'] or ''}")
    return 0


def _defined_by(row: dict) -> str:
    return "centre" if row["defined"] else "built-in" if row["built_in"] else "seen"


def define(args: argparse.Namespace) -> int:
    from server_sync.central import questions, registry
    from server_sync.central.db import connect
    registry.check_id(args.id, "question id")
    db = connect(existing_database_url(args))
    try:
        seen = questions.answered(db, args.id, args.version, args.scale, args.audience)   # not under the lock
        with db.atomic():
            otherwise = questions.define(db, args.id, args.version, args.scale, args.audience, {},
                                         datetime.now(timezone.utc).replace(tzinfo=None), replace=args.replace,
                                         force=args.force, seen=seen)
    finally:
        db.close()
    if args.json:
        print(json.dumps({"id": args.id, "version": args.version, "scale": args.scale, "audience": args.audience,
                          "stored_answers_otherwise": otherwise}))
        return 0
    print(f"question {args.id} v{args.version} is {args.scale}/{args.audience} for the whole chain; an answer that "
          "says otherwise is held on its kiosk.")
    if otherwise:
        print(f"note: {otherwise} answer(s) stored before say otherwise; they stay as they are")
    return 0
