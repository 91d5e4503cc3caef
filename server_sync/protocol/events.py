"""The events a kiosk records and sends, declared once: `ResponseEvent` (an answer) and
`FollowUpEvent` (why). This declaration is the single source of an event's fields, their types
and limits: msgspec validates the wire against it in C, and everything else derives from it (the
kiosk's store model and outbox JSON, the centre's rows and its comparison of a re-sent event),
through `fields_of`. To add a field, declare it here (optional: `name: T | None = None`), add a
migration on each side, and nothing else.

What a type cannot say is checked by `check_event`: the value on the event's own scale, the time
within the centre's bounds, a follow-up with a reason or a comment.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Union

import msgspec

from server_sync.protocol.codec import printable, short, unstorable
from server_sync.protocol.errors import ProtocolError
from server_sync.protocol.scales import SCALE_NAMES, SCALES
from server_sync.protocol.timetext import EARLIEST_TEXT, ISO_MS_PATTERN, UNSYNCED_RANGE, iso_ms, latest_text
from server_sync.protocol.vocabulary import (AUDIENCES, FILTER_FLAGS, ID_PATTERN, ID_RULE, LANGUAGES,
                                             MAX_COMMENT_CHARS, MAX_INT64, MAX_QUESTION_VERSION, MAX_REASONS,
                                             UUID_PATTERN)

Uuid = Annotated[str, msgspec.Meta(pattern=f"^{UUID_PATTERN}$")]
Ident = Annotated[str, msgspec.Meta(pattern=f"^{ID_PATTERN}$")]
Seq = Annotated[int, msgspec.Meta(ge=1, le=MAX_INT64)]
WireTime = Annotated[str, msgspec.Meta(pattern=f"^{ISO_MS_PATTERN}$")]


class _Stamp(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, tag_field="type"):
    """What every event carries: who made it, in which order, and when by which clock."""
    id: Uuid                                   # UUID made on the kiosk at the tap
    seq: Seq                                   # per kiosk, strictly increasing, never reused
    kiosk_id: Ident
    recorded_at: WireTime                      # the kiosk's wall clock, UTC ms
    clock_synced: bool                         # was that clock NTP-synced
    boot_id: Uuid                              # with monotonic_ns: corrects an unsynced clock
    monotonic_ns: Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)]

    type: ClassVar[str]

    def as_dict(self) -> dict[str, Any]:
        """The wire form as plain JSON values (the `type` tag first; arrays as lists)."""
        d = msgspec.to_builtins(self)
        for k, v in d.items():
            if type(v) is tuple:
                d[k] = list(v)
        return d

    @property
    def recorded(self) -> datetime:
        """recorded_at as an aware UTC datetime."""
        return datetime.fromisoformat(self.recorded_at)


class ResponseEvent(_Stamp, kw_only=True, tag="response"):
    """One answer to one question."""
    type: ClassVar[str] = "response"
    site_id: Ident
    question_id: Ident
    question_version: Annotated[int, msgspec.Meta(ge=1, le=MAX_QUESTION_VERSION)]
    scale: Literal[SCALE_NAMES]                # type: ignore[valid-type]
    value: int                                 # on the event's scale: check_event
    audience: Literal[AUDIENCES]               # type: ignore[valid-type]
    language: Literal[LANGUAGES]               # type: ignore[valid-type]
    filtered: Literal[FILTER_FLAGS] | None     # type: ignore[valid-type]  # kept, not counted


class FollowUpEvent(_Stamp, kw_only=True, tag="followup"):
    """Why: reason codes and/or a short comment (scrubbed on the kiosk) for one answer."""
    type: ClassVar[str] = "followup"
    response_id: Uuid
    reasons: Annotated[tuple[Ident, ...], msgspec.Meta(max_length=MAX_REASONS)]
    comment: Annotated[str, msgspec.Meta(max_length=MAX_COMMENT_CHARS)] | None
    # The customer never pressed send: what was chosen or typed was saved when they walked away
    # (the idle timeout, the next answer, the staff gesture). None: a kiosk from before the field.
    unsent: bool | None = None


Event = Union[ResponseEvent, FollowUpEvent]
EVENT_TYPES: dict[str, type] = {"response": ResponseEvent, "followup": FollowUpEvent}


# ---------------------------------------------------------------------------------------------
# The declaration, read back: what the stores derive their columns and JSON from

@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str            # "text", "int", "bool" or "list" (an array; stored as JSON text)
    optional: bool       # may be null


def _kind(t: Any) -> tuple[str, bool]:
    info = msgspec.inspect
    optional = False
    if isinstance(t, info.UnionType):
        members = [m for m in t.types if not isinstance(m, info.NoneType)]
        optional = len(members) < len(t.types)
        t = members[0]
    if isinstance(t, info.BoolType):
        return "bool", optional
    if isinstance(t, info.IntType):
        return "int", optional
    if isinstance(t, (info.StrType, info.LiteralType)):
        return "text", optional
    if isinstance(t, (info.ListType, info.VarTupleType)):
        return "list", optional
    raise TypeError(f"no storage kind for {t!r}")


# Read once per type: msgspec's inspection evaluates every annotation again (0.5–2 ms a call),
# and the centre reads a stored event back through this for each event a kiosk sends again (a
# re-sent batch of 500 cost 18 times a new one, holding up every other kiosk's answers).
@functools.cache
def fields_of(event_type: type) -> tuple[FieldSpec, ...]:
    """The wire fields of an event type in declaration order (the `type` tag not included)."""
    out = []
    for f in msgspec.inspect.type_info(event_type).fields:
        kind, optional = _kind(f.type)
        out.append(FieldSpec(f.name, kind, optional or not f.required))
    return tuple(out)


def field_names(event_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields_of(event_type))


# ---------------------------------------------------------------------------------------------
# Validation



def check_event(e: Event, kiosk_id: str | None, latest: str, where: str = "event") -> Event:
    """What the declaration cannot say. `latest`: `latest_text(now)`, the newest time a synced
    clock may report. Returns `e` (a follow-up's comment composed, NFC), or raises
    ProtocolError with the reason."""
    if kiosk_id is not None and e.kiosk_id != kiosk_id:
        raise ProtocolError(f"{where} {e.id}: kiosk_id {e.kiosk_id!r} does not match {kiosk_id!r}")
    rec = e.recorded_at
    try:
        datetime.fromisoformat(rec)
    except ValueError:
        raise ProtocolError(f"{where} {e.id}: recorded_at is not a real date and time: {rec}") from None
    # A synced clock before 2020 or ahead of the centre's is wrong; an unsynced one may be
    # anywhere a clock can read (a Pi without RTC whose saved time was lost starts at 1970), and
    # the centre corrects its time from the boot's synced events (or stores it flagged): refusing
    # it would lose a tap the kiosk thanked for, since its time never changes and it cannot be
    # retried. Only a reading no clock gives, or one no site's local day holds (UNSYNCED_RANGE),
    # is refused: the centre could not place it (it ended as an internal error, no `rejected`).
    if e.clock_synced and rec < EARLIEST_TEXT:
        raise ProtocolError(f"{where} {e.id}: recorded_at {rec} is before 2020")
    if e.clock_synced and rec > latest:
        raise ProtocolError(f"{where} {e.id}: recorded_at {rec} is in the future (latest accepted {latest})")
    if not e.clock_synced and not UNSYNCED_RANGE[0] <= rec <= UNSYNCED_RANGE[1]:
        raise ProtocolError(f"{where} {e.id}: recorded_at {rec} of a clock not synced is outside "
                            f"{UNSYNCED_RANGE[0]} … {UNSYNCED_RANGE[1]}, where a kiosk's clock can read (from the "
                            "Unix epoch on) and every site's local day exists")
    if type(e) is ResponseEvent:
        s = SCALES[e.scale]
        if not s.lowest <= e.value <= s.highest:
            raise ProtocolError(f"{where} {e.id}: value {e.value} out of range for {e.scale} ({s.lowest}-{s.highest})")
    else:
        if len(set(e.reasons)) != len(e.reasons):
            raise ProtocolError(f"{where} {e.id}: a reason code is listed twice")
        if e.comment is not None and (bad := unstorable(e.comment)):
            raise ProtocolError(f"{where} {e.id}: comment contains {bad}")
        if e.comment is not None and not unicodedata.is_normalized("NFC", e.comment):
            # One way to write each letter ("a" and a combining diaeresis is "ä"), as the search
            # and erasure read them: stored composed, the database's lower() needs nothing more
            # (PostgreSQL's normalize() on every comment searched made a search 5.5 times slower).
            # A few letters grow when composed (U+FB2C: 3); past a comment's length, kept as sent.
            composed = unicodedata.normalize("NFC", e.comment)
            if len(composed) <= MAX_COMMENT_CHARS:
                e = msgspec.structs.replace(e, comment=composed)
        if not e.reasons and not e.comment:
            raise ProtocolError(f"{where} {e.id}: a follow-up needs a reason or a comment")
    return e


_PATTERN_WORDS = {f"^{UUID_PATTERN}$": "a lowercase UUID",
                  f"^{ID_PATTERN}$": f"an identifier ({ID_RULE})",
                  f"^{ISO_MS_PATTERN}$": "UTC with milliseconds like 2026-11-23T12:00:00.123Z"}


def validation_reason(error: msgspec.ValidationError, where: str) -> str:
    """msgspec's words, as `{where}: {field}: {what was wrong}` (regexes named in words). msgspec
    quotes an unknown field's name verbatim, so the text is made `printable` (a NUL in it would
    stop the ingest at PostgreSQL)."""
    text, _, path = str(error).partition(" - at `$")
    for pattern, words in _PATTERN_WORDS.items():
        for shown in (pattern, pattern.replace("\\", "\\\\")):    # msgspec may double a backslash
            text = text.replace(f"Expected `str` matching regex '{shown}'", f"expected {words}")
    path = path.rstrip("`").lstrip(".")
    return printable(f"{where}: {path}: {text}" if path else f"{where}: {text}", 500)


def validate_event(event: Any, kiosk_id: str | None = None, *, now: datetime,
                   where: str = "event") -> Event:
    """Check one event given as plain JSON values (an export line, a test) and return it typed.

    `kiosk_id`: the kiosk it must belong to (None: any valid id). `now`: aware UTC.
    """
    if not isinstance(event, dict):
        raise ProtocolError(f"{where} must be an object, got {type(event).__name__}")
    etype = event.get("type")
    # A str first: a list or an object (`{"type": []}`) cannot be looked up (unhashable).
    if type(etype) is not str or etype not in EVENT_TYPES:
        raise ProtocolError(f"{where}: unknown event type {short(etype)}; expected response or followup")
    try:
        typed = msgspec.convert(event, EVENT_TYPES[etype], strict=True)
    except msgspec.ValidationError as e:
        raise ProtocolError(validation_reason(e, where)) from None
    return check_event(typed, kiosk_id, latest_text(now), where)


def event_json(event: Event) -> bytes:
    """One event as it appears inside a batch payload."""
    return msgspec.json.encode(event)


__all__ = ["ResponseEvent", "FollowUpEvent", "Event", "EVENT_TYPES", "FieldSpec", "fields_of",
           "field_names", "check_event", "validate_event", "validation_reason", "event_json",
           "iso_ms"]
