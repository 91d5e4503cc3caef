"""The MQTT contract v1 between kiosks and the centre, as pure functions: topics, payloads,
validation. No sockets, no database, no clock of its own (callers pass `now`).

Both sides use it: the kiosk's sync agent encodes batches and decodes acks, config pushes and
alerts; the central ingest decodes batches and status, encodes acks; `kiosk-central import`
validates export lines with `validate_event`. Every decoder trusts nothing: anything that does
not follow the contract raises `ProtocolError(reason)` with a reason precise enough for the
dead-letter table, and never any other exception (a hypothesis fuzz test holds it to that).

Topics (with an optional prefix before `kundpuls/v1`, e.g. `acme/`):
    kundpuls/v1/kiosk/{kiosk_id}/events   kiosk -> centre, QoS 1
    kundpuls/v1/kiosk/{kiosk_id}/ack      centre -> kiosk, QoS 1
    kundpuls/v1/kiosk/{kiosk_id}/status   kiosk -> centre, QoS 1, retained; Last Will
    kundpuls/v1/kiosk/{kiosk_id}/config   centre -> kiosk, QoS 1, retained
    kundpuls/v1/site/{site_id}/alerts     centre -> kiosks, QoS 1
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

try:        # a third of the stdlib's parse time per event; the stdlib stays as the fallback
    import orjson
except ImportError:                                     # pragma: no cover - orjson is a dependency
    orjson = None

from server_sync.exc import ProtocolError

SCHEMA = 1
ROOT = "kundpuls/v1"
KINDS = ("events", "ack", "status", "config")

# The vocabulary of answers; kept equal to kiosk.config (a test checks) but not imported from it,
# so the centre does not depend on the kiosk's config module for decoding.
SCALES: dict[str, frozenset[int]] = {
    "smiley4": frozenset(range(1, 5)),
    "smiley5": frozenset(range(1, 6)),
    "nps11": frozenset(range(0, 11)),
}
AUDIENCES = frozenset({"customer", "employee"})
LANGUAGES = frozenset({"sv", "nb", "en"})
FILTER_FLAGS = frozenset({"repeat", "burst"})
EVENT_TYPES = ("response", "followup")

DEFAULT_MAX_BYTES = 1024 * 1024          # the centre's limit; kiosks build at most sync.batch_max_bytes
DEFAULT_MAX_EVENTS = 5000                # the largest sync.batch_max_events a kiosk may set
MAX_COMMENT_CHARS = 2000                 # the largest followup.max_comment_chars a kiosk may set
MAX_REASONS = 16
MAX_INT64 = 2 ** 63 - 1
EARLIEST = datetime(2020, 1, 1, tzinfo=timezone.utc)
EARLIEST_TEXT = "2020-01-01T00:00:00.000Z"      # EARLIEST in the wire format (sorts as text)
FUTURE_SLACK = timedelta(days=1)
MAX_ALERTS_KEPT = 20

ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
BATCH_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,80}")
# Canonical lowercase UUID text, as str(uuid.uuid4()) writes it; faster than uuid.UUID().
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ISO_MS_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
PREFIX_RE = re.compile(r"(?:[^+#/\x00]+/)*")


# ---------------------------------------------------------------------------------------------
# Topics

def _check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"topic prefix must be empty or end with '/' and contain no '+' or '#', got {prefix!r}")
    return prefix


def _kiosk_topic(kiosk_id: str, kind: str, prefix: str) -> str:
    if not ID_RE.fullmatch(kiosk_id):
        raise ValueError(f"bad kiosk id {kiosk_id!r}")
    return f"{_check_prefix(prefix)}{ROOT}/kiosk/{kiosk_id}/{kind}"


def events_topic(kiosk_id: str, prefix: str = "") -> str:
    return _kiosk_topic(kiosk_id, "events", prefix)


def ack_topic(kiosk_id: str, prefix: str = "") -> str:
    return _kiosk_topic(kiosk_id, "ack", prefix)


def status_topic(kiosk_id: str, prefix: str = "") -> str:
    return _kiosk_topic(kiosk_id, "status", prefix)


def config_topic(kiosk_id: str, prefix: str = "") -> str:
    return _kiosk_topic(kiosk_id, "config", prefix)


def alerts_topic(site_id: str, prefix: str = "") -> str:
    if not ID_RE.fullmatch(site_id):
        raise ValueError(f"bad site id {site_id!r}")
    return f"{_check_prefix(prefix)}{ROOT}/site/{site_id}/alerts"


def shared_events_subscription(prefix: str = "", group: str = "ingest") -> str:
    """The subscription N ingestors share; the broker hands each message to one of them."""
    if not ID_RE.fullmatch(group):
        raise ValueError(f"bad share group {group!r}")
    return f"$share/{group}/{_check_prefix(prefix)}{ROOT}/kiosk/+/events"


def status_subscription(prefix: str = "") -> str:
    return f"{_check_prefix(prefix)}{ROOT}/kiosk/+/status"


SHARED_EVENTS_SUBSCRIPTION = shared_events_subscription()
STATUS_SUBSCRIPTION = status_subscription()


def parse_kiosk_topic(topic: str, prefix: str = "") -> tuple[str, str]:
    """`…/kiosk/{id}/{kind}` -> (kiosk_id, kind); anything else raises ProtocolError."""
    if not isinstance(topic, str):
        raise ProtocolError("topic is not text")
    head = f"{prefix}{ROOT}/kiosk/"
    if not topic.startswith(head):
        raise ProtocolError(f"topic {topic[:200]!r} is not under {head}")
    parts = topic[len(head):].split("/")
    if len(parts) != 2:
        raise ProtocolError(f"topic {topic[:200]!r} is not {head}<kiosk_id>/<kind>")
    kiosk_id, kind = parts
    if not ID_RE.fullmatch(kiosk_id):
        raise ProtocolError(f"bad kiosk id {kiosk_id[:80]!r} in topic")
    if kind not in KINDS:
        raise ProtocolError(f"unknown topic kind {kind[:40]!r}; expected one of {', '.join(KINDS)}")
    return kiosk_id, kind


def parse_site_topic(topic: str, prefix: str = "") -> str:
    """`…/site/{site_id}/alerts` -> site_id."""
    head = f"{prefix}{ROOT}/site/"
    if not isinstance(topic, str) or not topic.startswith(head) or not topic.endswith("/alerts"):
        raise ProtocolError(f"topic {str(topic)[:200]!r} is not {head}<site_id>/alerts")
    site_id = topic[len(head):-len("/alerts")]
    if not ID_RE.fullmatch(site_id):
        raise ProtocolError(f"bad site id {site_id[:80]!r} in topic")
    return site_id


# ---------------------------------------------------------------------------------------------
# JSON in and out

def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(payload: Any, max_bytes: int | None = None, what: str = "payload") -> Any:
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogatepass")
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ProtocolError(f"{what} is not bytes")
    size = len(payload)
    if max_bytes is not None and size > max_bytes:
        raise ProtocolError(f"oversize payload: {size} bytes > limit {max_bytes}")
    if orjson is not None:
        # orjson is stricter than the stdlib: it also refuses NaN/Infinity, lone surrogates,
        # integers beyond 64 bits and nesting deeper than 1024; each is a malformed payload.
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError as e:
            _check_utf8(payload)          # name the byte when the fault is the encoding
            raise ProtocolError(f"malformed JSON: {str(e)[:200]}") from None
    text = _check_utf8(payload)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ProtocolError("malformed JSON: nested too deeply") from None
    except ValueError as e:           # JSONDecodeError, NaN/Infinity, over-long integers
        raise ProtocolError(f"malformed JSON: {str(e)[:200]}") from None


def _check_utf8(payload: bytes | bytearray | memoryview) -> str:
    try:
        return bytes(payload).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtocolError(f"malformed JSON: not UTF-8 (byte {e.start})") from None


def _check_schema(obj: Any, what: str) -> None:
    if not isinstance(obj, dict):
        raise ProtocolError(f"{what} must be a JSON object, got {_jtype(obj)}")
    if "schema" not in obj:
        raise ProtocolError(f"missing schema version in {what}")
    v = obj["schema"]
    if type(v) is not int or v != SCHEMA:
        raise ProtocolError(f"unsupported schema version {_short(v)} in {what} (expected {SCHEMA})")


def _check_fields(obj: Mapping[str, Any], required: Iterable[str], optional: Iterable[str],
                  what: str) -> None:
    required = tuple(required)
    for k in required:
        if k not in obj:
            raise ProtocolError(f"{what}: missing field {k!r}")
    if len(obj) > len(required):
        allowed = set(required) | set(optional)
        for k in obj:
            if k not in allowed:
                raise ProtocolError(f"{what}: unknown field {_short(k)}")


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(v), type(v).__name__)


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


def _int(obj: Mapping[str, Any], key: str, what: str, lo: int, hi: int = MAX_INT64) -> int:
    v = obj[key]
    if type(v) is not int:
        raise ProtocolError(f"{what}: {key} must be an integer, got {_jtype(v)}")
    if not lo <= v <= hi:
        raise ProtocolError(f"{what}: {key} {v} out of range {lo}..{hi}")
    return v


def _ident(obj: Mapping[str, Any], key: str, what: str) -> str:
    v = obj[key]
    if type(v) is not str or not ID_RE.fullmatch(v):
        raise ProtocolError(f"{what}: {key} must be 1-64 letters, digits, '-' or '_', got {_short(v)}")
    return v


def _uuid(obj: Mapping[str, Any], key: str, what: str) -> str:
    v = obj[key]
    if type(v) is not str or not UUID_RE.fullmatch(v):
        raise ProtocolError(f"{what}: {key} must be a lowercase UUID, got {_short(v)}")
    return v


def iso_ms(dt: datetime) -> str:
    """2026-11-23T12:00:00.123Z (UTC, milliseconds): the one time format on the wire."""
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso_ms(s: Any, what: str = "time") -> datetime:
    """Parse the wire time format into an aware UTC datetime, or raise ProtocolError."""
    if type(s) is not str or not ISO_MS_RE.fullmatch(s):
        raise ProtocolError(f"{what} must be UTC with milliseconds like 2026-11-23T12:00:00.123Z, got {_short(s)}")
    try:
        return datetime.fromisoformat(s)       # 3.11 reads the Z as UTC: an aware datetime
    except ValueError:
        raise ProtocolError(f"{what} is not a real date and time: {s}") from None


# ---------------------------------------------------------------------------------------------
# Events

# Events are NamedTuples rather than frozen dataclasses: equally immutable, compared and hashed
# by value, but built with one tuple allocation where a frozen dataclass's __init__ pays an
# object.__setattr__ per field (about 6 µs of a 17-field event; the ingest decodes ~20k/s).
class ResponseEvent(NamedTuple):
    id: str
    seq: int
    kiosk_id: str
    site_id: str
    question_id: str
    question_version: int
    scale: str
    value: int
    audience: str
    language: str
    recorded_at: str                 # wire form, UTC ms
    recorded: datetime               # the same, aware UTC
    clock_synced: bool
    boot_id: str
    monotonic_ns: int
    filtered: str | None
    type: str = "response"

    def as_dict(self) -> dict[str, Any]:
        """The canonical wire form (what `Response.to_event()` produced on the kiosk)."""
        return {
            "type": "response", "id": self.id, "seq": self.seq, "kiosk_id": self.kiosk_id,
            "site_id": self.site_id, "question_id": self.question_id,
            "question_version": self.question_version, "scale": self.scale, "value": self.value,
            "audience": self.audience, "language": self.language, "recorded_at": self.recorded_at,
            "clock_synced": self.clock_synced, "boot_id": self.boot_id,
            "monotonic_ns": self.monotonic_ns, "filtered": self.filtered,
        }


class FollowUpEvent(NamedTuple):
    id: str
    seq: int
    kiosk_id: str
    response_id: str
    reasons: tuple[str, ...]
    comment: str | None
    recorded_at: str
    recorded: datetime
    clock_synced: bool
    boot_id: str
    monotonic_ns: int
    type: str = "followup"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": "followup", "id": self.id, "seq": self.seq, "kiosk_id": self.kiosk_id,
            "response_id": self.response_id, "reasons": list(self.reasons),
            "comment": self.comment, "recorded_at": self.recorded_at,
            "clock_synced": self.clock_synced, "boot_id": self.boot_id,
            "monotonic_ns": self.monotonic_ns,
        }


Event = ResponseEvent | FollowUpEvent

_RESPONSE_FIELDS = ("type", "id", "seq", "kiosk_id", "site_id", "question_id", "question_version",
                    "scale", "value", "audience", "language", "recorded_at", "clock_synced",
                    "boot_id", "monotonic_ns", "filtered")
_FOLLOWUP_FIELDS = ("type", "id", "seq", "kiosk_id", "response_id", "reasons", "comment",
                    "recorded_at", "clock_synced", "boot_id", "monotonic_ns")
_FIELD_SETS = {"response": (_RESPONSE_FIELDS, frozenset(_RESPONSE_FIELDS)),
               "followup": (_FOLLOWUP_FIELDS, frozenset(_FOLLOWUP_FIELDS))}


def _known_ident(event: Mapping[str, Any], key: str, what: str, known: set | None) -> str:
    # Within a batch the same site, question and kiosk ids repeat; check each text once.
    v = event[key]
    if known is not None and type(v) is str and ("i", v) in known:
        return v
    v = _ident(event, key, what)
    if known is not None:
        known.add(("i", v))
    return v


def _known_uuid(event: Mapping[str, Any], key: str, what: str, known: set | None) -> str:
    v = event[key]
    if known is not None and type(v) is str and ("u", v) in known:
        return v
    v = _uuid(event, key, what)
    if known is not None:
        known.add(("u", v))
    return v


def validate_event(event: Any, kiosk_id: str | None = None, *, now: datetime,
                   where: str = "event", _known: set | None = None) -> Event:
    """Check one event dict (a batch item or an export line) and return it typed.

    `kiosk_id`: the kiosk the event must belong to (from the topic); None to accept any valid id
    (an export file names its kiosk in every line). `now`: aware UTC, bounds recorded_at.
    """
    if not isinstance(event, dict):
        raise ProtocolError(f"{where} must be an object, got {_jtype(event)}")
    etype = event.get("type")
    if type(etype) is not str or etype not in _FIELD_SETS:
        raise ProtocolError(f"{where}: unknown event type {_short(etype)}; expected response or followup")
    fields, field_set = _FIELD_SETS[etype]
    if event.keys() != field_set:
        _check_fields(event, fields, (), where)
    eid = _uuid(event, "id", where)
    what = f"{where} {eid}"
    seq = _int(event, "seq", what, 1)
    kid = _known_ident(event, "kiosk_id", what, _known)
    if kiosk_id is not None and kid != kiosk_id:
        raise ProtocolError(f"{what}: kiosk_id {kid!r} does not match {kiosk_id!r}")
    recorded = parse_iso_ms(event["recorded_at"], f"{what}: recorded_at")
    if recorded < EARLIEST:
        raise ProtocolError(f"{what}: recorded_at {event['recorded_at']} is before 2020")
    synced = event["clock_synced"]
    if type(synced) is not bool:
        raise ProtocolError(f"{what}: clock_synced must be true or false, got {_jtype(synced)}")
    # A synced clock ahead of the centre's is wrong; an unsynced one may be anywhere, and the
    # centre corrects its time from the boot's synced events (or stores it flagged).
    if synced and recorded > now + FUTURE_SLACK:
        raise ProtocolError(f"{what}: recorded_at {event['recorded_at']} is in the future (now {iso_ms(now)})")
    boot = _known_uuid(event, "boot_id", what, _known)
    mono = _int(event, "monotonic_ns", what, 0)

    if etype == "response":
        scale = event["scale"]
        if type(scale) is not str or scale not in SCALES:
            raise ProtocolError(f"{what}: unknown scale {_short(scale)}; expected one of {', '.join(SCALES)}")
        value = event["value"]
        if type(value) is not int:
            raise ProtocolError(f"{what}: value must be an integer, got {_jtype(value)}")
        if value not in SCALES[scale]:
            lo, hi = min(SCALES[scale]), max(SCALES[scale])
            raise ProtocolError(f"{what}: value {value} out of range for {scale} ({lo}-{hi})")
        audience = event["audience"]
        if type(audience) is not str or audience not in AUDIENCES:
            raise ProtocolError(f"{what}: unknown audience {_short(audience)}; expected customer or employee")
        language = event["language"]
        if type(language) is not str or language not in LANGUAGES:
            raise ProtocolError(f"{what}: language {_short(language)} is not one of sv, nb, en")
        filtered = event["filtered"]
        if filtered is not None and (type(filtered) is not str or filtered not in FILTER_FLAGS):
            raise ProtocolError(f"{what}: filtered must be null, repeat or burst, got {_short(filtered)}")
        return ResponseEvent(
            id=eid, seq=seq, kiosk_id=kid, site_id=_known_ident(event, "site_id", what, _known),
            question_id=_known_ident(event, "question_id", what, _known),
            question_version=_int(event, "question_version", what, 1, 2 ** 31 - 1),
            scale=scale, value=value, audience=audience, language=language,
            recorded_at=event["recorded_at"], recorded=recorded, clock_synced=synced,
            boot_id=boot, monotonic_ns=mono, filtered=filtered)

    response_id = _uuid(event, "response_id", what)
    reasons = event["reasons"]
    if type(reasons) is not list:
        raise ProtocolError(f"{what}: reasons must be an array, got {_jtype(reasons)}")
    if len(reasons) > MAX_REASONS:
        raise ProtocolError(f"{what}: {len(reasons)} reasons, at most {MAX_REASONS}")
    for r in reasons:
        if type(r) is not str or not ID_RE.fullmatch(r):
            raise ProtocolError(f"{what}: reason code {_short(r)} is not an identifier")
    if len(set(reasons)) != len(reasons):
        raise ProtocolError(f"{what}: a reason code is listed twice")
    comment = event["comment"]
    if comment is not None:
        if type(comment) is not str:
            raise ProtocolError(f"{what}: comment must be text or null, got {_jtype(comment)}")
        if len(comment) > MAX_COMMENT_CHARS:
            raise ProtocolError(f"{what}: comment too long ({len(comment)} > {MAX_COMMENT_CHARS} characters)")
        if "\x00" in comment:
            raise ProtocolError(f"{what}: comment contains a NUL character")
    if not reasons and not comment:
        raise ProtocolError(f"{what}: a follow-up needs a reason or a comment")
    return FollowUpEvent(
        id=eid, seq=seq, kiosk_id=kid, response_id=response_id, reasons=tuple(reasons),
        comment=comment, recorded_at=event["recorded_at"], recorded=recorded,
        clock_synced=synced, boot_id=boot, monotonic_ns=mono)


_new_tuple = tuple.__new__
_UUID_MATCH = UUID_RE.fullmatch
_ISO_MATCH = ISO_MS_RE.fullmatch
_RESPONSE_SET = frozenset(_RESPONSE_FIELDS)


def _fast_response(e: Any, kiosk_id: str, latest: str, known: set) -> ResponseEvent | None:
    """The common case of `validate_event` in one pass: a plain, valid response whose site,
    question and boot ids an earlier event of the batch already proved. Returns None for
    anything else (then `validate_event` decides, with its precise reason); never accepts
    what `validate_event` would refuse (a test compares them on fuzzed events)."""
    if type(e) is not dict or e.keys() != _RESPONSE_SET or e["type"] != "response":
        return None
    eid, seq, rec, mono = e["id"], e["seq"], e["recorded_at"], e["monotonic_ns"]
    site, qid, boot, qv = e["site_id"], e["question_id"], e["boot_id"], e["question_version"]
    scale, value, aud, lang = e["scale"], e["value"], e["audience"], e["language"]
    synced, filtered = e["clock_synced"], e["filtered"]
    if not (type(eid) is str and _UUID_MATCH(eid) and type(seq) is int and 0 < seq <= MAX_INT64
            and e["kiosk_id"] == kiosk_id
            and type(site) is str and ("i", site) in known and type(qid) is str and ("i", qid) in known
            and type(boot) is str and ("u", boot) in known
            and type(qv) is int and 1 <= qv <= 2 ** 31 - 1
            and type(scale) is str and scale in SCALES and type(value) is int and value in SCALES[scale]
            and type(aud) is str and aud in AUDIENCES and type(lang) is str and lang in LANGUAGES
            and type(synced) is bool and type(mono) is int and 0 <= mono <= MAX_INT64
            and (filtered is None or (type(filtered) is str and filtered in FILTER_FLAGS))
            and type(rec) is str and _ISO_MATCH(rec) and EARLIEST_TEXT <= rec <= latest):
        return None
    try:
        recorded = datetime.fromisoformat(rec)
    except ValueError:
        return None
    # Positional tuple.__new__: the field order of ResponseEvent, without the keyword-argument
    # __new__ that NamedTuple generates (this path runs once per answer at the centre).
    return _new_tuple(ResponseEvent, (eid, seq, kiosk_id, site, qid, qv, scale, value, aud, lang,
                                      rec, recorded, synced, boot, mono, filtered, "response"))


# ---------------------------------------------------------------------------------------------
# Batches (kiosk -> centre)

class EventsRefused(ProtocolError):
    """A batch whose envelope is sound (its kiosk id is the topic's, its batch id valid) but that
    holds events refused for good: re-sending them cannot help. `seqs` names those events (the
    batch is still refused as a whole), so the centre's ack can tell the kiosk to stop sending
    them (`encode_ack(..., rejected=...)`) and send the others again without them."""

    def __init__(self, reason: str, batch_id: str, seqs: Iterable[int]) -> None:
        super().__init__(reason)
        self.batch_id = batch_id
        self.seqs = tuple(sorted(set(seqs)))


def _seq_of(item: Any) -> int | None:
    if type(item) is dict and type(item.get("seq")) is int and 1 <= item["seq"] <= MAX_INT64:
        return item["seq"]
    return None


def _refused_seqs(raw: Sequence[Any], kiosk_id: str, now: datetime) -> list[int]:
    """The seqs of the batch items that fail on their own; all of them when none does (the fault
    is between events: an id or seq twice). An item without a valid seq cannot be named."""
    bad = []
    for item in raw:
        try:
            validate_event(item, kiosk_id, now=now)
        except ProtocolError:
            bad.append(_seq_of(item))
    if not bad:
        bad = [_seq_of(item) for item in raw]
    return [s for s in bad if s is not None]


@dataclass(frozen=True)
class Batch:
    kiosk_id: str
    batch_id: str
    events: tuple[Event, ...]
    size: int = 0                    # payload bytes


def encode_batch(kiosk_id: str, batch_id: str, events: Sequence[Mapping[str, Any]]) -> bytes:
    """The events payload: events are `to_event()` dicts (or Event.as_dict())."""
    return _dumps({"schema": SCHEMA, "kiosk_id": kiosk_id, "batch": batch_id, "events": list(events)})


def batch_overhead(kiosk_id: str, batch_id: str) -> int:
    """Bytes of an events payload with no events: the budget a batch builder starts from."""
    return len(encode_batch(kiosk_id, batch_id, []))


def event_size(event: Mapping[str, Any]) -> int:
    """Bytes one event adds to a batch payload (its JSON plus the separating comma)."""
    return len(_dumps(event)) + 1


def event_json(event: Mapping[str, Any]) -> bytes:
    """One event as it appears inside a batch payload."""
    return _dumps(event)


def encode_batch_json(kiosk_id: str, batch_id: str, events_json: Sequence[bytes]) -> bytes:
    """`encode_batch` from events already serialised with `event_json` (each is encoded once
    while the batch builder measures it against the byte budget)."""
    head = encode_batch(kiosk_id, batch_id, [])
    return head[:-2] + b",".join(events_json) + head[-2:]


def decode_batch(topic: str, payload: bytes, *, now: datetime, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_events: int = DEFAULT_MAX_EVENTS, prefix: str = "") -> Batch:
    """Validate an events message completely; raise ProtocolError(reason) on the first fault."""
    topic_kiosk, kind = parse_kiosk_topic(topic, prefix)
    if kind != "events":
        raise ProtocolError(f"not an events topic: {topic[:200]!r}")
    obj = _loads(payload, max_bytes, "events payload")
    _check_schema(obj, "batch")
    _check_fields(obj, ("schema", "kiosk_id", "batch", "events"), (), "batch")
    kid = obj["kiosk_id"]
    if type(kid) is not str:
        raise ProtocolError(f"batch: kiosk_id must be a string, got {_jtype(kid)}")
    if kid != topic_kiosk:
        raise ProtocolError(f"kiosk id in payload {_short(kid)} does not match topic {topic_kiosk!r}")
    bid = obj["batch"]
    if type(bid) is not str or not BATCH_ID_RE.fullmatch(bid):
        raise ProtocolError(f"batch: batch id must be 1-80 letters, digits or -_.:, got {_short(bid)}")
    raw = obj["events"]
    if type(raw) is not list:
        raise ProtocolError(f"batch {bid}: events must be an array, got {_jtype(raw)}")
    if not raw:
        raise ProtocolError(f"batch {bid}: no events")
    if len(raw) > max_events:
        raise ProtocolError(f"batch {bid}: too many events ({len(raw)} > limit {max_events})")
    # From here on the envelope is sound: a refusal names the batch's events (EventsRefused).
    try:
        known: set = set()
        latest = iso_ms(now + FUTURE_SLACK)
        events = tuple(_fast_response(e, kid, latest, known)
                       or validate_event(e, kid, now=now, where=f"event {i}", _known=known)
                       for i, e in enumerate(raw))
        ids = {e.id for e in events}
        if len(ids) != len(events):
            seen: set[str] = set()
            for e in events:
                if e.id in seen:
                    raise ProtocolError(f"batch {bid}: duplicate event id {e.id}")
                seen.add(e.id)
        if len({e.seq for e in events}) != len(events):
            raise ProtocolError(f"batch {bid}: duplicate seq")
    except ProtocolError as e:
        raise EventsRefused(e.reason, bid, _refused_seqs(raw, kid, now)) from None
    return Batch(kid, bid, events, len(payload))


# ---------------------------------------------------------------------------------------------
# Acks (centre -> kiosk)

def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """[1, 2, 3, 7, 9, 10] -> [[1, 3], [7, 7], [9, 10]]: a batch of consecutive seqs acks in 5 bytes."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


@dataclass(frozen=True)
class Rejected:
    """Events of a batch the centre refused for good (dead-lettered), and why."""
    ranges: tuple[tuple[int, int], ...]
    reason: str


@dataclass(frozen=True)
class Ack:
    batch_id: str
    ranges: tuple[tuple[int, int], ...]
    rejected: tuple[Rejected, ...] = ()

    def covers(self, seq: int) -> bool:
        return any(lo <= seq <= hi for lo, hi in self.ranges)

    @property
    def count(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)

    @property
    def settled(self) -> tuple[tuple[int, int], ...]:
        """Every range the kiosk need not send again: acked or rejected."""
        return self.ranges + tuple(r for rej in self.rejected for r in rej.ranges)


MAX_ACK_RANGES = 100_000
MAX_REJECT_REASON = 500


def encode_ack(batch_id: str, seqs: Iterable[int],
               rejected: Iterable[tuple[Iterable[int], str]] = ()) -> bytes:
    """Ack the events of `batch_id` with these seqs: they are committed in the central store.

    Seqs are unique per kiosk and the ack topic is the kiosk's own, so seq ranges name exactly
    the committed events; the kiosk marks only those. `rejected`: (seqs, reason) of events the
    centre refused for good; the kiosk keeps them but stops sending them. The field is left out
    when empty, so a kiosk from before it reads every ordinary ack as before.
    """
    out: dict[str, Any] = {"schema": SCHEMA, "batch": batch_id, "seqs": seq_ranges(seqs)}
    refused = [{"seqs": seq_ranges(r), "reason": reason[:MAX_REJECT_REASON]} for r, reason in rejected]
    refused = [r for r in refused if r["seqs"]]
    if refused:
        out["rejected"] = refused
    return _dumps(out)


def _ranges(raw: Any, what: str) -> list[tuple[int, int]]:
    if type(raw) is not list or len(raw) > MAX_ACK_RANGES:
        raise ProtocolError(f"{what}: seqs must be an array of [first, last] ranges")
    ranges = []
    for r in raw:
        if (type(r) is not list or len(r) != 2 or type(r[0]) is not int or type(r[1]) is not int
                or not 1 <= r[0] <= r[1] <= MAX_INT64):
            raise ProtocolError(f"{what}: bad seq range {_short(r)}")
        ranges.append((r[0], r[1]))
    return ranges


def decode_ack(payload: bytes) -> Ack:
    obj = _loads(payload, 4 * 1024 * 1024, "ack payload")
    _check_schema(obj, "ack")
    _check_fields(obj, ("schema", "batch", "seqs"), ("rejected",), "ack")
    bid = obj["batch"]
    if type(bid) is not str or not BATCH_ID_RE.fullmatch(bid):
        raise ProtocolError(f"ack: bad batch id {_short(bid)}")
    ranges = _ranges(obj["seqs"], "ack")
    rejected = []
    raw = obj.get("rejected", [])
    if type(raw) is not list or len(raw) > MAX_ACK_RANGES:
        raise ProtocolError("ack: rejected must be an array of {seqs, reason}")
    for item in raw:
        if type(item) is not dict:
            raise ProtocolError(f"ack: rejected item must be an object, got {_jtype(item)}")
        _check_fields(item, ("seqs", "reason"), (), "ack: rejected item")
        reason = item["reason"]
        if type(reason) is not str or len(reason) > MAX_REJECT_REASON:
            raise ProtocolError(f"ack: rejected reason must be text of at most {MAX_REJECT_REASON} characters")
        rejected.append(Rejected(tuple(_ranges(item["seqs"], "ack: rejected")), reason))
    ack = Ack(bid, tuple(ranges), tuple(rejected))
    settled = sorted(ack.settled)
    if len(settled) > MAX_ACK_RANGES:
        raise ProtocolError(f"ack: more than {MAX_ACK_RANGES} ranges")
    for (_, hi), (lo, _) in zip(settled, settled[1:]):
        if lo <= hi:
            raise ProtocolError(f"ack: seq {lo} is named twice (acked and rejected, or rejected twice)")
    return ack


# ---------------------------------------------------------------------------------------------
# Status (kiosk -> centre, retained) and the Last Will

@dataclass(frozen=True)
class Status:
    online: bool
    version: str | None = None
    outbox_depth: int | None = None
    oldest_unacked_s: int | None = None
    clock_synced: bool | None = None
    disk_free_mb: int | None = None
    config_version: int | None = None
    config_error: str | None = None
    ts: str | None = None
    rejected: int | None = None          # events the centre refused for good, kept on the kiosk

    def as_dict(self) -> dict[str, Any]:
        out = {"schema": SCHEMA, "online": self.online, "version": self.version,
               "outbox_depth": self.outbox_depth, "oldest_unacked_s": self.oldest_unacked_s,
               "clock_synced": self.clock_synced, "disk_free_mb": self.disk_free_mb,
               "config_version": self.config_version, "config_error": self.config_error,
               "ts": self.ts}
        if self.rejected:
            out["rejected"] = self.rejected
        return out


def encode_status(*, online: bool = True, version: str | None, outbox_depth: int,
                  oldest_unacked_s: int | None, clock_synced: bool, disk_free_mb: int | None,
                  config_version: int, config_error: str | None = None, ts: str,
                  rejected: int = 0) -> bytes:
    """A kiosk's status. `rejected` goes out only when non-zero, so a centre from before the
    field still takes the status of every kiosk that has nothing refused."""
    return _dumps(Status(online, version, outbox_depth, oldest_unacked_s, clock_synced,
                         disk_free_mb, config_version, config_error, ts, rejected or None).as_dict())


def will_payload() -> bytes:
    """The Last Will the broker publishes (retained) when a kiosk vanishes: offline."""
    return _dumps({"schema": SCHEMA, "online": False})


def offline_payload(ts: str) -> bytes:
    """What a kiosk publishes itself on a clean shutdown."""
    return _dumps({"schema": SCHEMA, "online": False, "ts": ts})


def decode_status(payload: bytes) -> Status:
    obj = _loads(payload, 64 * 1024, "status payload")
    _check_schema(obj, "status")
    optional = ("version", "outbox_depth", "oldest_unacked_s", "clock_synced", "disk_free_mb",
                "config_version", "config_error", "ts", "rejected")
    _check_fields(obj, ("schema", "online"), optional, "status")
    if type(obj["online"]) is not bool:
        raise ProtocolError("status: online must be true or false")

    def opt(key: str, kind: type, lo: int = 0) -> Any:
        v = obj.get(key)
        if v is None:
            return None
        if type(v) is not kind:
            raise ProtocolError(f"status: {key} must be {_jtype(kind())} or null, got {_jtype(v)}")
        if kind is int and not lo <= v <= MAX_INT64:
            raise ProtocolError(f"status: {key} {v} out of range")
        if kind is str and len(v) > 500:
            raise ProtocolError(f"status: {key} longer than 500 characters")
        return v

    ts = opt("ts", str)
    if ts is not None:
        parse_iso_ms(ts, "status: ts")
    return Status(online=obj["online"], version=opt("version", str),
                  outbox_depth=opt("outbox_depth", int), oldest_unacked_s=opt("oldest_unacked_s", int),
                  clock_synced=opt("clock_synced", bool), disk_free_mb=opt("disk_free_mb", int),
                  config_version=opt("config_version", int), config_error=opt("config_error", str),
                  ts=ts, rejected=opt("rejected", int))


# ---------------------------------------------------------------------------------------------
# Config push (centre -> kiosk, retained)

# The parts of kiosk.toml the centre may change. Never identity, broker, data dir, GPIO wiring or
# the staff PIN: a pushed config must not be able to move a kiosk to another broker or site.
PUSHABLE_TABLES = ("filters", "followup", "ui")      # merged key by key over the file's
PUSHABLE_WHOLE = ("questions", "schedule", "reasons")  # replaced as a whole
PUSHABLE_KIOSK = ("languages", "default_language")    # top-level in the push, [kiosk] in the file
PUSHABLE = ("version",) + PUSHABLE_TABLES + PUSHABLE_WHOLE + PUSHABLE_KIOSK


def encode_config(version: int, body: Mapping[str, Any]) -> bytes:
    """A config push: `{"version": N, ...}` with only pushable sections."""
    out = {"version": version}
    out.update({k: v for k, v in body.items() if k != "version"})
    decode_config(_dumps(out))          # refuse to publish what a kiosk would refuse
    return _dumps(out)


def decode_config(payload: bytes) -> dict[str, Any]:
    """Shape-check a pushed config (JSON object, integer version >= 1, only pushable keys).

    Whether the content is a valid kiosk config is decided by `merge_pushed_config` +
    `kiosk.config.parse_config` against the kiosk's own file (see `validate_pushed_config`).
    """
    obj = _loads(payload, 1024 * 1024, "config payload")
    if not isinstance(obj, dict):
        raise ProtocolError(f"config must be a JSON object, got {_jtype(obj)}")
    if "version" not in obj:
        raise ProtocolError("config: missing field 'version'")
    v = obj["version"]
    if type(v) is not int or not 1 <= v <= 2 ** 31 - 1:
        raise ProtocolError(f"config: version must be a positive integer, got {_short(v)}")
    for k in obj:
        if k not in PUSHABLE:
            raise ProtocolError(f"config: key {_short(k)} cannot be pushed; allowed: {', '.join(PUSHABLE[1:])}")
    for k in PUSHABLE_TABLES + ("reasons",):
        if k in obj and not isinstance(obj[k], dict):
            raise ProtocolError(f"config: {k} must be an object, got {_jtype(obj[k])}")
    for k in ("questions", "schedule", "languages"):
        if k in obj and not isinstance(obj[k], list):
            raise ProtocolError(f"config: {k} must be an array, got {_jtype(obj[k])}")
    return obj


def merge_pushed_config(base: Mapping[str, Any], pushed: Mapping[str, Any]) -> dict[str, Any]:
    """The kiosk.toml mapping that results from applying `pushed` over the file's `base`.

    Tables in PUSHABLE_TABLES merge key by key; questions, schedule and reasons replace the
    file's; languages and default_language go to [kiosk]; `version` becomes config_version.
    Pure: neither argument is modified.
    """
    out = copy.deepcopy(dict(base))
    for k in PUSHABLE_TABLES:
        if k in pushed:
            merged = dict(out.get(k) or {})
            merged.update(copy.deepcopy(pushed[k]))
            out[k] = merged
    for k in PUSHABLE_WHOLE:
        if k in pushed:
            out[k] = copy.deepcopy(pushed[k])
    for k in PUSHABLE_KIOSK:
        if k in pushed:
            kiosk = dict(out.get("kiosk") or {})
            kiosk[k] = copy.deepcopy(pushed[k])
            out["kiosk"] = kiosk
    if "languages" in pushed and "default_language" not in pushed:
        langs = pushed["languages"]
        kiosk = out["kiosk"]
        if langs and kiosk.get("default_language") not in langs:
            kiosk["default_language"] = langs[0]
    if "version" in pushed:
        out["config_version"] = pushed["version"]
    return out


def validate_pushed_config(base: Mapping[str, Any], payload: bytes, current_version: int):
    """Decode a config push and check it would make a valid config newer than `current_version`.

    Returns (pushed mapping, KioskConfig). Raises ProtocolError with the reason to report.
    """
    from kiosk.config import parse_config
    from kiosk.exc import ConfigError

    pushed = decode_config(payload)
    if pushed["version"] <= current_version:
        raise ProtocolError(f"config version {pushed['version']} is not newer than the applied {current_version}")
    try:
        cfg = parse_config(merge_pushed_config(base, pushed))
    except ConfigError as e:
        raise ProtocolError(f"invalid config: {e}") from None
    except (TypeError, AttributeError, KeyError) as e:   # shapes parse_config does not expect
        raise ProtocolError(f"invalid config: {type(e).__name__}: {e}") from None
    return pushed, cfg


# ---------------------------------------------------------------------------------------------
# Site alerts (centre -> kiosks)

@dataclass(frozen=True)
class Alert:
    id: str
    site_id: str
    raised_at: str
    kind: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "site_id": self.site_id, "raised_at": self.raised_at,
                "kind": self.kind, "message": self.message}


def encode_alert(*, id: str, site_id: str, raised_at: str, kind: str, message: str) -> bytes:
    alert = Alert(id, site_id, raised_at, kind, message)
    _validate_alert_fields(alert.as_dict())
    return _dumps({"schema": SCHEMA, **alert.as_dict()})


def _validate_alert_fields(obj: Mapping[str, Any]) -> None:
    if type(obj["id"]) is not str or not BATCH_ID_RE.fullmatch(obj["id"]):
        raise ProtocolError(f"alert: bad id {_short(obj['id'])}")
    _ident(obj, "site_id", "alert")
    parse_iso_ms(obj["raised_at"], "alert: raised_at")
    _ident(obj, "kind", "alert")
    if type(obj["message"]) is not str or len(obj["message"]) > 1000:
        raise ProtocolError("alert: message must be text of at most 1000 characters")


def decode_alert(payload: bytes, site_id: str | None = None) -> Alert:
    obj = _loads(payload, 64 * 1024, "alert payload")
    _check_schema(obj, "alert")
    _check_fields(obj, ("schema", "id", "site_id", "raised_at", "kind", "message"), (), "alert")
    _validate_alert_fields(obj)
    if site_id is not None and obj["site_id"] != site_id:
        raise ProtocolError(f"alert for site {obj['site_id']!r} arrived on the topic of {site_id!r}")
    return Alert(obj["id"], obj["site_id"], obj["raised_at"], obj["kind"], obj["message"])


def keep_alerts(existing: Sequence[Mapping[str, Any]], alert: Alert,
                keep: int = MAX_ALERTS_KEPT) -> list[dict[str, Any]]:
    """The `site.alerts` list after `alert` arrives: no duplicates by id, newest last, at most `keep`."""
    out = [dict(a) for a in existing if isinstance(a, Mapping) and a.get("id") != alert.id]
    out.append(alert.as_dict())
    return out[-keep:]

