"""How an event becomes a row of the central store, and a stored row an event again, derived
from the declaration of its fields (server_sync.protocol.events): a field declared there is a
column here without another edit (its migration adds the column).

Every wire field is stored under its own name, except the kiosk's clock reading `recorded_at`,
kept as `kiosk_recorded_at`; the centre's own columns follow: the best known time
(`recorded_at`, corrected when the kiosk's clock was not synced), `time_status`, `received_at`,
and for answers the batch they came in and `excluded`: the centre's reason not to count an answer
the kiosk counted (`central.installation`: a tryout), NULL for one that counts.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from msgspec.structs import astuple

from server_sync.protocol import Event, FollowUpEvent, ResponseEvent, field_names, fields_of, iso_ms

KIOSK_TIME = "kiosk_recorded_at"


def _stored_name(name: str) -> str:
    return KIOSK_TIME if name == "recorded_at" else name


def wire_columns(event_type: type) -> tuple[str, ...]:
    """The columns that hold an event's wire fields, in declaration order."""
    return tuple(_stored_name(n) for n in field_names(event_type))


RESPONSE_WIRE = wire_columns(ResponseEvent)
FOLLOWUP_WIRE = wire_columns(FollowUpEvent)
RESPONSE_COLUMNS = RESPONSE_WIRE + ("recorded_at", "time_status", "received_at", "batch", "excluded")
EXCLUDED = RESPONSE_COLUMNS.index("excluded")       # its position in a stored row
# answered_at: the answer's recorded_at, copied for the comments' index (migration m0054).
FOLLOWUP_COLUMNS = FOLLOWUP_WIRE + ("recorded_at", "time_status", "received_at", "answered_at")

# Positions in a wire row, for the few fields the centre reads while it stores.
R = {name: i for i, name in enumerate(field_names(ResponseEvent))}
F = {name: i for i, name in enumerate(field_names(FollowUpEvent))}
_LISTS = {t: tuple(i for i, s in enumerate(fields_of(t)) if s.kind == "list") for t in (ResponseEvent, FollowUpEvent)}


def wire_time_text(wire: str) -> str:
    """A wire time (`YYYY-MM-DDTHH:MM:SS.mmmZ`, UTC) as a TIMESTAMP column value: the text
    `time_param` writes on SQLite for the same naive-UTC datetime, cut from the wire text
    (without building a datetime); PostgreSQL reads that text as the same TIMESTAMP."""
    if wire[20:23] == "000":            # isoformat() leaves out a zero fraction
        return f"{wire[:10]} {wire[11:19]}"
    return f"{wire[:10]} {wire[11:23]}000"


def wire_row(e: Event) -> list[Any]:
    """The wire-field columns of `e`: the kiosk's time as TIMESTAMP text, lists as JSON."""
    row = list(astuple(e))
    row[R["recorded_at"] if type(e) is ResponseEvent else F["recorded_at"]] = wire_time_text(e.recorded_at)
    for i in _LISTS[type(e)]:
        row[i] = json.dumps(list(row[i]))
    return row


def as_datetime(v: Any) -> datetime:
    """A timestamp column as naive UTC datetime (SQLite hands raw SQL results back as text)."""
    if isinstance(v, datetime):
        return v.replace(tzinfo=None) if v.tzinfo is None else v.astimezone(timezone.utc).replace(tzinfo=None)
    return datetime.fromisoformat(str(v))


def stored_wire(event_type: type, row: Sequence[Any]) -> dict[str, Any]:
    """A stored row's `wire_columns` read back as the event's wire form (without `type`), to
    compare with an event that arrives again under the same id."""
    out: dict[str, Any] = {}
    for spec, value in zip(fields_of(event_type), row):
        if value is not None:
            if spec.name == "recorded_at":
                value = iso_ms(as_datetime(value).replace(tzinfo=timezone.utc))
            elif spec.kind == "bool":
                value = bool(value)
            elif spec.kind == "list":
                value = json.loads(value)
        out[spec.name] = value
    return out


def wire_of(e: Event) -> dict[str, Any]:
    """An event's wire form without `type`, as `stored_wire` gives it back."""
    d = e.as_dict()
    d.pop("type")
    return d


def canonical(d: Mapping[str, Any]) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
