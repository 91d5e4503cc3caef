"""The messages of contract v1 besides events' own fields: the batch a kiosk sends, the ack the
centre returns, a kiosk's status and Last Will, and a site alert. Each is declared once as a
struct; encoding and decoding derive from it, and a decoder trusts nothing: anything off the
contract raises `ProtocolError(reason)` (never another exception; a fuzz test holds it to that).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Iterable, Literal, Mapping, Sequence

import msgspec

from server_sync.protocol.codec import check_size, dumps, jtype, loads, printable, short
from server_sync.protocol.errors import EventsRefused, ProtocolError
from server_sync.protocol.events import EVENT_TYPES, Event, Uuid, check_event, validation_reason
from server_sync.protocol.timetext import EARLIEST_TEXT, ISO_MS_PATTERN, latest_text
from server_sync.protocol.topics import parse_kiosk_topic
from server_sync.protocol.vocabulary import (BATCH_ID_PATTERN, BATCH_ID_RE, DEFAULT_MAX_BYTES,
                                             DEFAULT_MAX_EVENTS, ID_PATTERN, LANGUAGES, MAX_CONFIG_VERSION,
                                             MAX_INT32, MAX_INT64)

SCHEMA = 1
BatchId = Annotated[str, msgspec.Meta(pattern=f"^{BATCH_ID_PATTERN}$")]
Ident = Annotated[str, msgspec.Meta(pattern=f"^{ID_PATTERN}$")]
WireTime = Annotated[str, msgspec.Meta(pattern=f"^{ISO_MS_PATTERN}$")]
# A status's counters are kept in INTEGER columns (kiosk_status, m0001: 32 bits on PostgreSQL):
# the decoder refuses what the store cannot hold, with its reason, not an insert's DataError.
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT32)]
ConfigVersion = Annotated[int, msgspec.Meta(ge=0, le=MAX_CONFIG_VERSION)]


def _check_schema(obj: Any, what: str) -> None:
    if not isinstance(obj, dict):
        raise ProtocolError(f"{what} must be a JSON object, got {jtype(obj)}")
    if "schema" not in obj:
        raise ProtocolError(f"missing schema version in {what}")
    v = obj["schema"]
    if type(v) is not int or v != SCHEMA:
        raise ProtocolError(f"unsupported schema version {short(v)} in {what} (expected {SCHEMA})")


def _decode_struct(payload: Any, cls: type, max_bytes: int, what: str) -> Any:
    """A schema-1 message as `cls`: the schema is checked first, so a newer kiosk's message is
    refused for its version rather than for a field this centre does not know."""
    obj = loads(payload, max_bytes, f"{what} payload")
    _check_schema(obj, what)
    try:
        return msgspec.convert(obj, cls, strict=True)
    except msgspec.ValidationError as e:
        raise ProtocolError(validation_reason(e, what)) from None


# ---------------------------------------------------------------------------------------------
# Batches (kiosk -> centre)

class Anchor(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A boot's clock anchor: a reading of its wall clock once synced (`recorded_at`, UTC ms) and
    of its monotonic clock at the same moment. The centre corrects the boot's unsynced times from
    it as from a synced event of the boot, and judges by them where its answers were recorded."""
    boot_id: Uuid
    recorded_at: WireTime
    monotonic_ns: Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)]


def valid_anchor(boot_id: Any, recorded_at: Any, monotonic_ns: Any) -> Anchor | None:
    """The anchor these values make when each is as the contract has it (a lowercase UUID, wire
    time of a real date, 0 to 2^63-1 ns); None when one is not: a kiosk names its anchors from a
    synced answer's cells, which a damaged card can change, and such values say nothing of its
    clock."""
    try:
        anchor = msgspec.convert({"boot_id": boot_id, "recorded_at": recorded_at, "monotonic_ns": monotonic_ns},
                                 Anchor, strict=True)
        datetime.fromisoformat(anchor.recorded_at)
    except (msgspec.ValidationError, ValueError):
        return None
    return anchor


class _AnchorEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An anchor as a batch holds it: its form is checked (the kiosk's code makes it), its values
    are judged one by one (`valid_anchor`: a damaged card can change them)."""
    boot_id: Any
    recorded_at: Any
    monotonic_ns: Any


# A batch names the anchor of each boot whose unsynced answers it holds (a few at most: boots
# since the outbox last drained), so a batch split by size, or sent again alone after the boot's
# synced answers were refused, is judged as the whole would be. Optional and left out when there
# is none: a batch of synced answers is what every centre reads.
MAX_ANCHORS = 100
_AnchorEntries = Annotated[tuple[_AnchorEntry, ...], msgspec.Meta(max_length=MAX_ANCHORS)]


class Batch(msgspec.Struct, frozen=True):
    """A validated events message."""
    kiosk_id: str
    batch_id: str
    events: tuple[Event, ...]
    size: int = 0                    # payload bytes
    anchors: tuple[Anchor, ...] = ()  # those of its boots whose time is one a synced clock reads


# A kiosk's batch id names the incarnation that sent it: "<incarnation>.<n>", the incarnation a
# random id each start of the kiosk's sync agent makes (32 hex digits), n counting its batches.
# Every centre echoes the batch id in its ack (it has done since schema 1), so the kiosk applies
# only the acks of its own incarnation: one the broker kept in the kiosk's session for an earlier
# one can name seqs that now belong to other events (a database made again from seq 1, a card
# image restored, a card re-flashed under the old id). In the batch id rather than a field of its
# own, because a centre refuses a batch with a field it does not know: kiosks upgraded before
# their centre would have every batch dead-lettered.
INCARNATION_PATTERN = r"[0-9a-f]{32}"
_INCARNATION_BATCH_RE = re.compile(rf"({INCARNATION_PATTERN})\.[0-9]{{1,20}}")


def incarnation_batch_id(incarnation: str, n: int) -> str:
    """The id of batch number `n` sent by `incarnation`."""
    batch_id = f"{incarnation}.{n}"
    if not _INCARNATION_BATCH_RE.fullmatch(batch_id):
        raise ValueError(f"bad incarnation {incarnation!r} or batch number {n!r}")
    return batch_id


def incarnation_of(batch_id: str) -> str | None:
    """The incarnation that sent batch `batch_id`; None for a batch id of another form (a kiosk
    from before incarnations)."""
    m = _INCARNATION_BATCH_RE.fullmatch(batch_id)
    return m.group(1) if m else None


class _Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    schema: int
    kiosk_id: str
    batch: str
    events: list[Event]
    anchors: _AnchorEntries = ()


_envelope = msgspec.json.Decoder(_Envelope)


def encode_batch(kiosk_id: str, batch_id: str, events: Sequence[Any], anchors: Sequence[Anchor] = ()) -> bytes:
    """The events payload; `events` are event structs or their `as_dict()` form; `anchors` (none:
    no field) the clock anchors of its boots."""
    head: dict[str, Any] = {"schema": SCHEMA, "kiosk_id": kiosk_id, "batch": batch_id}
    if anchors:
        head["anchors"] = list(anchors)
    return dumps({**head, "events": list(events)})


def encode_batch_json(kiosk_id: str, batch_id: str, events_json: Sequence[bytes],
                      anchors: Sequence[Anchor] = ()) -> bytes:
    """`encode_batch` from events already serialised one by one (the kiosk's outbox has SQLite
    write each event's JSON, and measures it against the byte budget as it goes)."""
    head = encode_batch(kiosk_id, batch_id, [], anchors)
    return head[:-2] + b",".join(events_json) + head[-2:]


def _believable(entries: Sequence[_AnchorEntry], latest: str) -> tuple[Anchor, ...]:
    """The anchors whose values are the contract's (`valid_anchor`) and whose time a synced clock
    may read (from 2020 to `latest`): any other says nothing of when, and is left out, as if the
    batch had none for that boot; the batch is not refused for it (it would be sent again with
    the same anchor, and nothing of that kiosk would ever go in)."""
    out = []
    for e in entries:
        a = valid_anchor(e.boot_id, e.recorded_at, e.monotonic_ns)
        if a is not None and EARLIEST_TEXT <= a.recorded_at <= latest:
            out.append(a)
    return tuple(out)


def _check_envelope(schema: Any, kiosk_id: Any, batch_id: Any, events: Any, topic_kiosk: str,
                    max_events: int) -> None:
    if type(schema) is not int or schema != SCHEMA:
        raise ProtocolError(f"unsupported schema version {short(schema)} in batch (expected {SCHEMA})")
    if type(kiosk_id) is not str:
        raise ProtocolError(f"batch: kiosk_id must be a string, got {jtype(kiosk_id)}")
    if kiosk_id != topic_kiosk:
        raise ProtocolError(f"kiosk id in payload {short(kiosk_id)} does not match topic {topic_kiosk!r}")
    if type(batch_id) is not str or not BATCH_ID_RE.fullmatch(batch_id):
        raise ProtocolError(f"batch: batch id must be 1-80 letters, digits or -_.:, got {short(batch_id)}")
    if type(events) is not list:
        raise ProtocolError(f"batch {batch_id}: events must be an array, got {jtype(events)}")
    if not events:
        raise ProtocolError(f"batch {batch_id}: no events")
    if len(events) > max_events:
        raise ProtocolError(f"batch {batch_id}: too many events ({len(events)} > limit {max_events})")


def _seq_of(item: Any) -> int | None:
    if type(item) is dict and type(item.get("seq")) is int and 1 <= item["seq"] <= MAX_INT64:
        return item["seq"]
    return None


def decode_batch(topic: str, payload: bytes, *, now: datetime, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_events: int = DEFAULT_MAX_EVENTS, prefix: str = "") -> Batch:
    """Validate an events message completely; raise ProtocolError(reason) on the first fault,
    EventsRefused (naming the events) when the envelope is sound but events are not."""
    topic_kiosk, kind = parse_kiosk_topic(topic, prefix)
    if kind != "events":
        raise ProtocolError(f"not an events topic: {topic[:200]!r}")
    payload = check_size(payload, max_bytes, "events payload")
    latest = latest_text(now)
    try:
        env = _envelope.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        raise _refusal(payload, topic_kiosk, max_events, latest) from None
    _check_envelope(env.schema, env.kiosk_id, env.batch, env.events, topic_kiosk, max_events)
    try:
        events = tuple(check_event(e, topic_kiosk, latest, f"event {i}") for i, e in enumerate(env.events))
        _check_unique(env.batch, events)
    except ProtocolError as err:
        raise EventsRefused(err.reason, env.batch, _refused_seqs(
            [e.as_dict() for e in env.events], topic_kiosk, latest)) from None
    return Batch(env.kiosk_id, env.batch, events, len(payload), _believable(env.anchors, latest))


def _check_unique(batch_id: str, events: Sequence[Event]) -> None:
    if len({e.id for e in events}) != len(events):
        seen: set[str] = set()
        for e in events:
            if e.id in seen:
                raise ProtocolError(f"batch {batch_id}: duplicate event id {e.id}")
            seen.add(e.id)
    if len({e.seq for e in events}) != len(events):
        raise ProtocolError(f"batch {batch_id}: duplicate seq")


def _refusal(payload: Any, topic_kiosk: str, max_events: int, latest: str) -> ProtocolError:
    """Why a batch that did not decode is refused: the envelope's fault (raised here), or the
    events' (returned: EventsRefused with their seqs and the reason of the first)."""
    obj = loads(payload, None, "events payload")
    _check_schema(obj, "batch")
    for k in obj:
        if k not in ("schema", "kiosk_id", "batch", "events", "anchors"):
            raise ProtocolError(f"batch: unknown field {short(k)}")
    for k in ("kiosk_id", "batch", "events"):
        if k not in obj:
            raise ProtocolError(f"batch: missing field {k!r}")
    raw = obj["events"]
    _check_envelope(obj["schema"], obj["kiosk_id"], obj["batch"], raw, topic_kiosk, max_events)
    try:
        msgspec.convert(obj.get("anchors", ()), _AnchorEntries, strict=True)
    except msgspec.ValidationError as e:
        raise ProtocolError(validation_reason(e, f"batch {short(obj['batch'])}: anchors")) from None
    reason = None
    for i, item in enumerate(raw):
        try:
            _typed(item, topic_kiosk, latest, f"event {i}")
        except ProtocolError as err:
            reason = err.reason
            break
    return EventsRefused(reason or f"batch {obj['batch']}: events do not decode",
                         obj["batch"], _refused_seqs(raw, topic_kiosk, latest))


def _typed(item: Any, kiosk_id: str, latest: str, where: str) -> Event:
    if type(item) is not dict:
        raise ProtocolError(f"{where} must be an object, got {jtype(item)}")
    etype = item.get("type")
    if type(etype) is not str or etype not in EVENT_TYPES:
        raise ProtocolError(f"{where}: unknown event type {short(etype)}; expected response or followup")
    try:
        e = msgspec.convert(item, EVENT_TYPES[etype], strict=True)
    except msgspec.ValidationError as err:
        raise ProtocolError(validation_reason(err, where)) from None
    return check_event(e, kiosk_id, latest, where)


def _refused_seqs(raw: Sequence[Any], kiosk_id: str, latest: str) -> list[int]:
    """The seqs of the batch items that fail on their own; all of them when none does (the fault
    is between events: an id or seq twice). An item without a valid seq cannot be named."""
    bad = []
    for item in raw:
        try:
            _typed(item, kiosk_id, latest, "event")
        except ProtocolError:
            bad.append(_seq_of(item))
    if not bad:
        bad = [_seq_of(item) for item in raw]
    return [s for s in bad if s is not None]


# ---------------------------------------------------------------------------------------------
# Acks (centre -> kiosk)

MAX_ACK_RANGES = 100_000
MAX_REJECT_REASON = 500
SeqRange = tuple[Annotated[int, msgspec.Meta(ge=1, le=MAX_INT64)], Annotated[int, msgspec.Meta(ge=1, le=MAX_INT64)]]
Ranges = Annotated[tuple[SeqRange, ...], msgspec.Meta(max_length=MAX_ACK_RANGES)]


def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """[1, 2, 3, 7, 9, 10] -> [[1, 3], [7, 7], [9, 10]]: a batch of consecutive seqs acks in 5 bytes."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


class Rejected(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Events of a batch the centre refused for good (dead-lettered), and why."""
    ranges: Ranges = msgspec.field(name="seqs")
    reason: Annotated[str, msgspec.Meta(max_length=MAX_REJECT_REASON)]


class Ack(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """The centre's answer to a batch: the seqs now committed centrally (`ranges`), and those
    refused for good (`rejected`). The ack topic is the kiosk's own and its batch id names the
    kiosk's incarnation that sent the batch, so ranges name exactly the committed events there,
    even when a kiosk database made again reuses seqs (`incarnation_of`)."""
    batch_id: BatchId = msgspec.field(name="batch")
    ranges: Ranges = msgspec.field(name="seqs")
    rejected: Annotated[tuple[Rejected, ...], msgspec.Meta(max_length=MAX_ACK_RANGES)] = ()

    @property
    def incarnation(self) -> str | None:
        """The kiosk incarnation whose batch this ack answers (`incarnation_of`)."""
        return incarnation_of(self.batch_id)

    def covers(self, seq: int) -> bool:
        return any(lo <= seq <= hi for lo, hi in self.ranges)

    @property
    def count(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)

    @property
    def settled(self) -> tuple[tuple[int, int], ...]:
        """Every range the kiosk need not send again: acked or rejected."""
        return self.ranges + tuple(r for rej in self.rejected for r in rej.ranges)


def encode_ack(batch_id: str, seqs: Iterable[int],
               rejected: Iterable[tuple[Iterable[int], str]] = ()) -> bytes:
    """Ack the events of `batch_id` with these seqs; `rejected`: (seqs, reason) refused for good.
    The `rejected` field is left out when empty, so a kiosk from before it reads every ordinary
    ack as before."""
    refused = tuple(Rejected(tuple(map(tuple, seq_ranges(r))), reason[:MAX_REJECT_REASON])
                    for r, reason in rejected)
    ack = Ack(batch_id, tuple(map(tuple, seq_ranges(seqs))), tuple(r for r in refused if r.ranges))
    return dumps({"schema": SCHEMA, **msgspec.to_builtins(ack)})


class _AckMessage(Ack, frozen=True, forbid_unknown_fields=True):
    schema: int = SCHEMA


def decode_ack(payload: bytes) -> Ack:
    msg = _decode_struct(payload, _AckMessage, 4 * 1024 * 1024, "ack")
    ack = Ack(msg.batch_id, msg.ranges, msg.rejected)
    settled = sorted(ack.settled)
    if len(settled) > MAX_ACK_RANGES:
        raise ProtocolError(f"ack: more than {MAX_ACK_RANGES} ranges")
    for lo, hi in settled:
        if lo > hi:
            raise ProtocolError(f"ack: bad seq range {[lo, hi]}")
    for (_, hi), (lo, _) in zip(settled, settled[1:]):
        if lo <= hi:
            raise ProtocolError(f"ack: seq {lo} is named twice (acked and rejected, or rejected twice)")
    return ack


# ---------------------------------------------------------------------------------------------
# Status (kiosk -> centre, retained) and the Last Will

class Status(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A kiosk's health, published retained at birth and every sync.status_interval_s; unset
    fields are left out of the payload (the Last Will says only `online: false`)."""
    online: bool
    version: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    outbox_depth: Count | None = None
    oldest_unacked_s: Count | None = None
    clock_synced: bool | None = None
    disk_free_mb: Count | None = None
    config_version: ConfigVersion | None = None
    config_error: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    ts: WireTime | None = None
    rejected: Count | None = None          # events the centre refused for good, kept on the kiosk

    def as_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **msgspec.to_builtins(self)}


class _StatusMessage(Status, frozen=True, forbid_unknown_fields=True):
    schema: int = SCHEMA


def encode_status(*, online: bool = True, version: str | None, outbox_depth: int,
                  oldest_unacked_s: int | None, clock_synced: bool, disk_free_mb: int | None,
                  config_version: int, config_error: str | None = None, ts: str,
                  rejected: int = 0) -> bytes:
    return dumps(Status(online, version, outbox_depth, oldest_unacked_s, clock_synced, disk_free_mb,
                        config_version, config_error, ts, rejected or None).as_dict())


def will_payload() -> bytes:
    """The Last Will the broker publishes (retained) when a kiosk vanishes: offline."""
    return dumps(Status(online=False).as_dict())


def offline_payload(ts: str) -> bytes:
    """What a kiosk publishes itself on a clean shutdown."""
    return dumps(Status(online=False, ts=ts).as_dict())


def decode_status(payload: bytes) -> Status:
    msg = _decode_struct(payload, _StatusMessage, 64 * 1024, "status")
    if msg.ts is not None:
        try:
            datetime.fromisoformat(msg.ts)
        except ValueError:
            raise ProtocolError(f"status: ts is not a real date and time: {msg.ts}") from None
    fields = {f: getattr(msg, f) for f in Status.__struct_fields__}
    # The kiosk's own words, stored and shown by the centre: made printable like every reason (a
    # NUL is refused by PostgreSQL, an escape sequence acts on a terminal).
    for f in ("version", "config_error"):
        if fields[f] is not None:
            fields[f] = printable(fields[f], 500)
    return Status(**fields)


# ---------------------------------------------------------------------------------------------
# Site alerts (centre -> kiosks)

MAX_ALERTS_KEPT = 20


AlertLanguage = Literal[LANGUAGES]                 # a tuple subscript: Literal["sv", "nb", "en"]
AlertWording = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]

# The first kiosk software that reads an alert's `text`. A kiosk refuses a field it does not
# know (the contract's decoders trust nothing), so the centre sends `text` to a site only when
# every active kiosk there has said, in its status, that it runs this version or a later one.
ALERT_TEXT_SINCE = (0, 2, 0)


class Alert(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    id: BatchId
    site_id: Ident
    raised_at: WireTime
    kind: Ident
    message: Annotated[str, msgspec.Meta(max_length=1000)]     # English, for every reader
    # The alert as a person reads it, by language (the centre's wording); absent for a site
    # with a kiosk older than ALERT_TEXT_SINCE.
    text: dict[AlertLanguage, AlertWording] | None = None

    def as_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


class _AlertMessage(Alert, frozen=True, forbid_unknown_fields=True):
    schema: int = SCHEMA


def reads_alert_text(version: str | None) -> bool:
    """Whether a kiosk that reports software `version` in its status reads an alert's `text`.
    Anything that is not a plain release number ("0.2.0") counts as older: sending `text` to a
    kiosk that refuses it would lose the alert there."""
    parts = (version or "").split(".")
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
        return False
    return tuple(int(p) for p in parts) >= ALERT_TEXT_SINCE


def encode_alert(*, id: str, site_id: str, raised_at: str, kind: str, message: str,
                 text: Mapping[str, str] | None = None) -> bytes:
    """An alert for a site's kiosks; `text` (wording by language) only for a site whose kiosks
    all read it (`reads_alert_text`)."""
    body = {"id": id, "site_id": site_id, "raised_at": raised_at, "kind": kind, "message": message}
    if text is not None:
        body["text"] = dict(text)
    try:
        alert = msgspec.convert(body, Alert, strict=True)
    except msgspec.ValidationError as e:
        raise ProtocolError(validation_reason(e, "alert")) from None
    return dumps({"schema": SCHEMA, **alert.as_dict()})


def decode_alert(payload: bytes, site_id: str | None = None) -> Alert:
    msg = _decode_struct(payload, _AlertMessage, 64 * 1024, "alert")
    if site_id is not None and msg.site_id != site_id:
        raise ProtocolError(f"alert for site {msg.site_id!r} arrived on the topic of {site_id!r}")
    return Alert(msg.id, msg.site_id, msg.raised_at, msg.kind, msg.message, msg.text)


def keep_alerts(existing: Sequence[Mapping[str, Any]], alert: Alert,
                keep: int = MAX_ALERTS_KEPT) -> list[dict[str, Any]]:
    """The `site.alerts` list after `alert` arrives: no duplicates by id, newest last, at most `keep`."""
    out = [dict(a) for a in existing if isinstance(a, Mapping) and a.get("id") != alert.id]
    out.append(alert.as_dict())
    return out[-keep:]


__all__ = ["SCHEMA", "Anchor", "MAX_ANCHORS", "Batch", "encode_batch", "encode_batch_json", "decode_batch", "seq_ranges",
           "INCARNATION_PATTERN", "incarnation_batch_id", "incarnation_of",
           "Rejected", "Ack", "encode_ack", "decode_ack", "Status", "encode_status", "will_payload",
           "offline_payload", "decode_status", "Alert", "ALERT_TEXT_SINCE", "reads_alert_text", "encode_alert",
           "decode_alert", "keep_alerts",
           "MAX_ALERTS_KEPT"]
