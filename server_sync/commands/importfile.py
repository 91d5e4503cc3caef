"""`kiosk-central import FILE`: load a kiosk's `kiosk export --format jsonl` file (USB stick)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from server_sync.cli import existing_database_url
from server_sync.program.cli import STANDARD_STREAM, nonempty
from server_sync.program.progress import progress_callback


def add_parser(sub, common) -> None:
    p = sub.add_parser("import", parents=[common], help="import a kiosk export file (JSONL) into the central store",
                       description="Load a `kiosk export --format jsonl` file through the same validation and "
                                   "dedupe as MQTT ingest. Safe to repeat: what is already stored is skipped.")
    p.add_argument("file", metavar="FILE", type=nonempty,
                   help="the export file; '-' reads standard input (ssh kiosk kiosk export | kiosk-central import -)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from server_sync.central.db import connect
    from server_sync.importer import ExportImport

    # A pipe is read as it comes, like any file (a FIFO waits for its writer, as `cat` does).
    path = Path("/dev/stdin" if args.file == STANDARD_STREAM else args.file)
    db = connect(existing_database_url(args))
    try:
        progress = progress_callback(unit="B", desc=path.name, enabled=not (args.no_progress or args.json),
                                     detail=lambda events: f"{events:,} events")
        summary = ExportImport(db, path, progress=progress).run()
    finally:
        db.close()
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        print(f"{path}: kiosk {summary.kiosk_id}, {summary.events} events: {summary.new} new, "
              f"{summary.duplicates} duplicates, {summary.conflicts} conflicts, "
              f"{summary.dead_lettered} dead-lettered")
        if summary.corrected:
            print(f"  {summary.corrected} earlier answers had their time corrected")
        # Which lines and why, not only how many (the `dead_letter` table has every one, whole).
        for reason in summary.refused:
            print(f"kiosk-central: refused {reason}", file=sys.stderr)
        if summary.dead_lettered > len(summary.refused):
            print(f"kiosk-central: … and {summary.dead_lettered - len(summary.refused)} more "
                  "(every one is in the dead_letter table)", file=sys.stderr)
    if summary.end_damaged:
        print(f"kiosk-central: warning: the last line of {path} is damaged (its end line, with the count of "
              f"events): {summary.events} events read, whether that is all cannot be told; import the kiosk's "
              "export again to be sure (what is stored is skipped)", file=sys.stderr)
        return 1
    if not summary.complete:
        said = "no end line" if summary.declared is None else f"the end line says {summary.declared} events"
        print(f"kiosk-central: warning: {path} looks truncated ({said}, {summary.events} read); "
              "what was readable is imported, import a complete export to get the rest", file=sys.stderr)
        return 1
    return 1 if summary.dead_lettered else 0
