"""Load a kiosk's export file (`kiosk export --format jsonl`, carried on a USB stick) into the
central store, through the same validation (`protocol.validate_event`) and the same intake
(`central.intake.Intake.accept`: dedupe, conflicts, time correction, rollups) as MQTT ingest.

Importing a file twice, or a file whose events already arrived over MQTT, adds nothing. A bad line
is dead-lettered with its line number and reason; the rest still goes in. A file without its end
line (or with fewer events than it says) is reported as truncated.
Streams the file (never reads it whole); never writes to the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from peewee import Database

from server_sync import protocol
from server_sync.central import registry
from server_sync.central.dead_letters import UNLIMITED
from server_sync.central.intake import Accepted, Intake, utc_now
from server_sync.exc import CentralConfigError, ProtocolError
from server_sync.protocol.errors import KIOSK_RETRY

EXPORT_SCHEMA = 1
CHUNK = 1000                 # events per transaction: big enough for bulk inserts, small in memory
MAX_LINE = 64 * 1024
IMPORT_AGAIN = "import the file again (what is stored already is skipped)"
MAX_DIGITS = 40            # no field of an event is a longer whole number (a seq is at most 2^63)


def _whole_number(text: str) -> int:
    """json's parse_int: a number of thousands of digits is refused as what it is, not with
    Python's advice to raise sys.set_int_max_str_digits (or converted in quadratic time below it)."""
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"a whole number of {len(text.lstrip('-'))} digits (an event has none over {MAX_DIGITS})")
    return int(text)
SHOWN_REFUSED = 10           # reasons of dead-lettered lines the summary keeps (all are in dead_letter)


@dataclass
class ImportSummary:
    file: str
    kiosk_id: str
    events: int = 0          # event lines read (good or bad)
    new: int = 0
    duplicates: int = 0
    conflicts: int = 0
    corrected: int = 0
    dead_lettered: int = 0
    declared: int | None = None      # what the end line says; None = no end line (truncated)
    end_damaged: bool = False        # the last line was not JSON: the end line, damaged (not counted)
    refused: list[str] = field(default_factory=list)    # why lines were dead-lettered, the first SHOWN_REFUSED

    @property
    def complete(self) -> bool:
        """Every event the end line counts was read (damaged lines too: read, then refused); more
        is not less: a line added to the file is refused on its own."""
        return self.declared is not None and self.events >= self.declared

    def as_dict(self) -> dict:
        return {**asdict(self), "complete": self.complete}


Progress = Callable[[int, "int | None", int], None]     # (bytes read, bytes total (None: a pipe), events read)


def bounded_lines(f: BinaryIO, limit: int) -> Iterator[bytes]:
    """The lines of `f`, none longer than `limit` + 1 bytes: of a longer line only its start is
    kept (refused for its length as before) and the rest is read in pieces and dropped, so one
    endless line on an untrusted stick cannot fill the centre's memory."""
    while line := f.readline(limit + 1):
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := f.readline(limit + 1)) and not rest.endswith(b"\n"):
                pass
        yield line


class _Counting:
    """A binary file read line by line, counting the bytes read: how far an import is, also of a
    pipe (`import -`), whose position cannot be asked (f.tell(): "Illegal seek", a traceback after
    the first 1,000 lines; a review)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.read = 0

    def readline(self, limit: int = -1) -> bytes:
        line = self.f.readline(limit)
        self.read += len(line)
        return line


class ExportImport:
    """One export file going into the store bound to `intake`."""

    def __init__(self, db: Database, path: Path, *, clock: Callable[[], datetime] = utc_now,
                 chunk: int = CHUNK, progress: Progress | None = None) -> None:
        self.db = db
        self.path = Path(path)
        self.clock = clock
        self.chunk = chunk
        self.progress = progress
        self.intake = Intake(db, clock)

    def run(self) -> ImportSummary:
        try:
            f = open(self.path, "rb")
        except OSError as e:
            raise CentralConfigError(f"cannot read {self.path}: {e.strerror}") from None
        with f:
            st = os.fstat(f.fileno())
            total = st.st_size if stat.S_ISREG(st.st_mode) else None       # a pipe's size is not known
            f = _Counting(f)
            head = f.readline(MAX_LINE + 1)
            kiosk_id = self._header(head)
            self.summary = ImportSummary(str(self.path), kiosk_id)
            # The header names the export's time: two exports piped in are told apart.
            self._digest = hashlib.sha256(f"{self.path.name}:{total}:".encode() + head).hexdigest()[:12]
            self._chunks = 0
            pending: list[tuple[int, bytes, protocol.Event]] = []
            ids: set[str] = set()
            now = self.clock()
            lineno = 1
            self._last_damaged = False
            for raw in bounded_lines(f, MAX_LINE):
                lineno += 1
                if not raw.strip():
                    continue
                if self.summary.declared is not None:
                    self._dead(lineno, raw, f"line {lineno}: a line after the end line")
                    continue
                self._last_damaged = False
                event = self._event(lineno, raw, kiosk_id, now)
                if event is None:
                    continue
                if event.id in ids or len(pending) >= self.chunk:
                    self._flush(kiosk_id, pending)
                    pending, ids = [], set()
                pending.append((lineno, raw, event))
                ids.add(event.id)
                if self.progress and lineno % 1000 == 0:
                    self.progress(f.read, total, self.summary.events)
            self._flush(kiosk_id, pending)
            if self._last_damaged and self.summary.declared is None:
                # The file's last line is no JSON: its end line, damaged, not an event (a damaged
                # line in the middle is one: read, and refused).
                self.summary.events -= 1
                self.summary.end_damaged = True
            if self.progress:
                self.progress(f.read, f.read if total is None else total, self.summary.events)
        return self.summary

    def _header(self, raw: bytes) -> str:
        where = f"{self.path}: line 1"
        if not raw.strip():
            raise CentralConfigError(f"{self.path} is empty (or starts with a blank line): not a "
                                     "`kiosk export --format jsonl` file") if raw else CentralConfigError(
                f"{self.path} is empty: export the kiosk's answers again (kiosk export --format jsonl)")
        try:
            head = json.loads(raw, parse_int=_whole_number)
        except ValueError:
            raise CentralConfigError(f"{where} is not JSON: not a `kiosk export --format jsonl` file") from None
        if not isinstance(head, dict) or head.get("type") != "export":
            raise CentralConfigError(f"{where} is not an export header (a `kiosk export --format jsonl` file "
                                     "starts with {\"type\": \"export\", …})")
        if head.get("schema") != EXPORT_SCHEMA:
            raise CentralConfigError(f"{where}: unsupported export schema {head.get('schema')!r} "
                                     f"(this centre reads {EXPORT_SCHEMA})")
        kiosk_id = head.get("kiosk_id")
        if not isinstance(kiosk_id, str) or not protocol.ID_RE.fullmatch(kiosk_id):
            raise CentralConfigError(f"{where}: bad kiosk_id {kiosk_id!r}")
        known = registry.kiosk(self.db, kiosk_id)
        if known is None:
            raise CentralConfigError(f"kiosk {kiosk_id!r} (from {self.path}) is not registered; register it "
                                     f"first: kiosk-central kiosk add {kiosk_id} --site SITE")
        if not known["active"]:
            # Every event would be refused one by one (a dead letter each, for answers already
            # stored too): refuse the file up front and write nothing.
            raise CentralConfigError(f"kiosk {kiosk_id!r} (from {self.path}) is deactivated; nothing imported. "
                                     f"To take its answers again, bring it back first: kiosk-central kiosk add "
                                     f"{kiosk_id} --site {known['site_id']} --rotate-password")
        return kiosk_id

    def _event(self, lineno: int, raw: bytes, kiosk_id: str, now: datetime) -> protocol.Event | None:
        try:
            if len(raw) > MAX_LINE:
                self.summary.events += 1
                raise ProtocolError(f"line {lineno}: longer than {MAX_LINE} bytes")
            try:
                obj = json.loads(raw, parse_int=_whole_number)
            except ValueError as e:
                # An event line damaged on the stick: counted as read, so that a whole file with
                # one bad line is not taken for a truncated one (unless it is the last: run).
                self.summary.events += 1
                self._last_damaged = True
                why = ("not UTF-8 text" if isinstance(e, UnicodeDecodeError) else
                       # Some of json's messages end in "at" already ("Invalid control character at").
                       f"{e.msg.removesuffix(' at')} at column {e.colno}" if isinstance(e, json.JSONDecodeError)
                       else str(e)[:200])
                raise ProtocolError(f"line {lineno}: malformed JSON: {why}") from None
            if isinstance(obj, dict) and obj.get("type") == "end":
                n = obj.get("events")
                if type(n) is not int or n < 0:
                    raise ProtocolError(f"line {lineno}: end line without an event count")
                self.summary.declared = n
                return None
            self.summary.events += 1
            return protocol.validate_event(obj, kiosk_id, now=now, where=f"line {lineno}")
        except ProtocolError as e:
            self._dead(lineno, raw, e.reason)
            return None

    def _flush(self, kiosk_id: str, pending: list[tuple[int, bytes, protocol.Event]]) -> None:
        if not pending:
            return
        try:
            self._add(self.intake.accept(self._batch(kiosk_id, [e for _, _, e in pending])))
            return
        except ProtocolError:
            pass
        # The registry refused something in the chunk: take the events one by one, so only the
        # offending lines are dead-lettered.
        for lineno, raw, event in pending:
            try:
                self._add(self.intake.accept(self._batch(kiosk_id, [event])))
            except ProtocolError as e:
                self._dead(lineno, raw, f"line {lineno}: {e.reason}")

    def _batch(self, kiosk_id: str, events: list) -> protocol.Batch:
        self._chunks += 1
        return protocol.Batch(kiosk_id, f"import-{self._digest}-{self._chunks}", tuple(events))

    def _add(self, a: Accepted) -> None:
        s = self.summary
        s.new += a.new
        s.duplicates += a.duplicates
        s.conflicts += a.conflicts
        s.corrected += a.corrected

    def _dead(self, lineno: int, raw: bytes, reason: str) -> None:
        # A refusal's remedy names the kiosk's command; for a file it is the import again.
        reason = reason.replace(KIOSK_RETRY, IMPORT_AGAIN)
        self.summary.dead_lettered += 1
        if len(self.summary.refused) < SHOWN_REFUSED:
            self.summary.refused.append(reason)
        # An operator's file, not a flood: every refused line is kept (each once).
        self.intake.dead_letter(f"import:{self.path.name}:{lineno}", reason, raw.rstrip(b"\n"),
                                self.summary.kiosk_id, limits=UNLIMITED)
