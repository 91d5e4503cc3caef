"""Export every record of a kiosk to a file (JSONL or CSV), for a USB stick when there is no network.

JSONL is the format the centre imports (`kiosk-central import FILE`, idempotent on event id):
line 1 is a header `{"type": "export", "schema": 1, …}`, then one line per event, exactly the
wire event dict (`kiosk.store.wire_event`, as `Response.to_event()` gives it), in `seq` order, and a last
line `{"type": "end", "events": N}` so a truncated file is detected. CSV carries the same
fields for a spreadsheet, and never a cell a spreadsheet would run as a formula. See
docs/export-format.md.

Records are streamed from the database (a plain cursor, no caching), never loaded in
memory at once; export never writes to the database (it does not mark anything sent). A text
cell with a damaged byte (not UTF-8) is written with U+FFFD in its place (kiosk.damaged_text),
a cell the card turned into a BLOB as its text, and a follow-up's reasons no longer JSON as the
text they hold, as the outbox sends them: the rescue path keeps every record it can read.
"""

from __future__ import annotations

import csv
import heapq
import json
import os
from datetime import date, datetime, time as dtime, timezone
from pathlib import Path
from typing import Any, Iterator, TextIO
from zoneinfo import ZoneInfo

from peewee import JOIN

from server_sync.program.spreadsheet import list_cell, text_cell
from server_sync.protocol import FieldSpec, FollowUpEvent, ResponseEvent, field_names, fields_of, iso_ms
from kiosk.config import KioskConfig
from kiosk.damaged_text import tolerant_text
from kiosk.earlier import SentMark
from kiosk.store import FollowUp, LocalStore, Response, wire_event

SCHEMA = 1
FORMATS = ("jsonl", "csv")

# Every field of either event type (from their declaration, answers' first), then the header's own.
CSV_COLUMNS = ("type", *dict.fromkeys(field_names(ResponseEvent) + field_names(FollowUpEvent)),
               "schema", "exported_at")
_FIELDS = {spec.name: spec for spec in fields_of(ResponseEvent) + fields_of(FollowUpEvent)}


def since_utc(tz_name: str, since: date | None) -> str | None:
    """Store-local midnight of `since` as the UTC text recorded_at is compared with."""
    if since is None:
        return None
    local = datetime.combine(since, dtime(0, 0), tzinfo=ZoneInfo(tz_name))
    try:
        return iso_ms(local.astimezone(timezone.utc))
    except OverflowError:
        # East of UTC, midnight of 0001-01-01 is in year 0, which datetime cannot hold: it is
        # before every record, so no lower bound (as `kiosk stats`, comparing local dates, finds).
        return None


def events(store: LocalStore, since: date | None = None, tz_name: str = "UTC") -> Iterator[dict[str, Any]]:
    """Every response and follow-up (from the store-local day `since` on), in seq order.
    An export can reach the centre (`kiosk-central import`): the sent mark covers each seq
    before it is written out (kiosk.earlier).

    The day is the one `kiosk stats` counts an answer on, its `local_date`, not its `recorded_at`:
    an answer given before the clock synced keeps fake-hwclock's old time as sent, and
    kiosk.local_day puts its local_date right. A follow-up goes with its answer; one whose answer
    was lost (`kiosk repair` keeps it) goes by its own recorded_at."""
    sent = SentMark(store.path)
    # One damaged byte in a text cell must not cost the rescue path every record (kiosk.damaged_text).
    with store.db.bind_ctx((Response, FollowUp)), tolerant_text(store.db.connection()):
        rq = Response.select().order_by(Response.seq)
        fq = FollowUp.select().order_by(FollowUp.seq)
        if since is not None:
            day = since.isoformat()
            rq = rq.where(Response.local_date >= day)
            at = since_utc(tz_name, since)
            lost = Response.id.is_null() if at is None else (Response.id.is_null() & (FollowUp.recorded_at >= at))
            fq = (fq.join(Response, JOIN.LEFT_OUTER, on=(FollowUp.response_id == Response.id))
                  .where((Response.local_date >= day) | lost))
        for model, row in heapq.merge(_stored(store, Response, rq), _stored(store, FollowUp, fq),
                                      key=lambda r: r[1]["seq"]):
            sent.cover(row["seq"])
            yield wire_event(model.EVENT, row)


def _stored(store: LocalStore, model: type, query: Any) -> Iterator[tuple[type, dict[str, Any]]]:
    """The rows of `query` as stored, by column name: peewee's own conversion would fail on a
    cell the card turned into a BLOB (wire_value reads it as text, as the outbox sends it)."""
    cur = store.db.execute(query)
    names = [d[0] for d in cur.description]
    for values in cur:
        yield model, dict(zip(names, values))


def header(cfg: KioskConfig, exported_at: datetime, since: date | None) -> dict[str, Any]:
    return {"type": "export", "schema": SCHEMA, "kiosk_id": cfg.kiosk_id, "site_id": cfg.site_id,
            "exported_at": iso_ms(exported_at), "since": since.isoformat() if since else None}


def write_jsonl(cfg: KioskConfig, store: LocalStore, out: TextIO, exported_at: datetime,
                since: date | None = None) -> int:
    out.write(json.dumps(header(cfg, exported_at, since), ensure_ascii=False) + "\n")
    n = 0
    for ev in events(store, since, cfg.timezone):
        out.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")
        n += 1
    out.write(json.dumps({"type": "end", "events": n}) + "\n")
    return n


def write_csv(cfg: KioskConfig, store: LocalStore, out: TextIO, exported_at: datetime,
              since: date | None = None) -> int:
    w = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="raise", lineterminator="\n")
    w.writeheader()
    h = header(cfg, exported_at, since)
    w.writerow({"type": "export", "kiosk_id": text_cell(h["kiosk_id"]), "site_id": text_cell(h["site_id"]),
                "schema": SCHEMA, "exported_at": h["exported_at"]})
    n = 0
    for ev in events(store, since, cfg.timezone):
        w.writerow({name: csv_cell(_FIELDS[name], value) if name in _FIELDS else value
                    for name, value in ev.items()})
        n += 1
    return n


def csv_cell(spec: FieldSpec, value: Any) -> Any:
    """An event field as a spreadsheet cell: booleans 0/1, lists joined with ';', text that
    would start a formula behind an apostrophe (the spreadsheet shows it as text)."""
    if value is None:
        return None
    if spec.kind == "bool":
        return int(value)
    if spec.kind == "list" and not isinstance(value, str):     # a str: no longer JSON (wire_value)
        return list_cell(value)
    return text_cell(value) if isinstance(value, str) else value


def export_to(cfg: KioskConfig, store: LocalStore, fmt: str, output: Path | None, out: TextIO,
              exported_at: datetime, since: date | None = None) -> int:
    """Write to `output` (atomically: a complete file or none) or to the stream `out`."""
    writer = write_jsonl if fmt == "jsonl" else write_csv
    if output is None:
        return writer(cfg, store, out, exported_at, since)
    output = Path(output)
    if output.exists() and not output.is_file():
        # A device or a pipe (-o /dev/null, a FIFO): write into it. Renaming a finished file
        # over it would replace the device itself (as root, /dev/null became a plain file).
        with open(output, "w", encoding="utf-8", newline="") as f:
            return writer(cfg, store, f, exported_at, since)
    tmp = output.with_name(output.name + ".part")
    # A stale part file goes first (unlinking a symlink removes the link, not what it points to),
    # and ours is made new: O_EXCL never opens an existing name and O_NOFOLLOW never a symlink, so
    # a prepared stick with "k.jsonl.part -> /etc/…" cannot make the export overwrite that file.
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    try:
        with open(fd, "w", encoding="utf-8", newline="") as f:
            n = writer(cfg, store, f, exported_at, since)
            f.flush()
            os.fsync(f.fileno())       # a USB stick pulled right after must still hold the file
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n
