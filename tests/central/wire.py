"""Builders of kiosk events and batches for the central tests (the wire form of
`Response.to_event()` / `FollowUp.to_event()`), and a registered fleet to send them from."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from server_sync import protocol
from server_sync.central import registry

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
BOOT = "11111111-1111-4111-8111-111111111111"
T0 = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)
MONO0 = 5_000_000_000


def new_id() -> str:
    return str(uuid.uuid4())


def response(seq: int, *, kiosk: str = "k1", site: str = "s1", value: int = 4, question: str = "visit",
             scale: str = "smiley4", at: datetime | None = None, synced: bool = True, boot: str = BOOT,
             mono: int | None = None, filtered: str | None = None, id: str | None = None,
             audience: str = "customer") -> dict[str, Any]:
    at = at or T0 + timedelta(seconds=seq)
    return {"type": "response", "id": id or new_id(), "seq": seq, "kiosk_id": kiosk, "site_id": site,
            "question_id": question, "question_version": 1, "scale": scale, "value": value,
            "audience": audience, "language": "sv", "recorded_at": protocol.iso_ms(at),
            "clock_synced": synced, "boot_id": boot,
            "monotonic_ns": MONO0 + seq * 1_000_000_000 if mono is None else mono, "filtered": filtered}


def followup(seq: int, response_id: str, *, kiosk: str = "k1", reasons=("queue",), comment=None,
             at: datetime | None = None, synced: bool = True, boot: str = BOOT, mono: int | None = None,
             id: str | None = None) -> dict[str, Any]:
    at = at or T0 + timedelta(seconds=seq)
    return {"type": "followup", "id": id or new_id(), "seq": seq, "kiosk_id": kiosk,
            "response_id": response_id, "reasons": list(reasons), "comment": comment,
            "recorded_at": protocol.iso_ms(at), "clock_synced": synced, "boot_id": boot,
            "monotonic_ns": MONO0 + seq * 1_000_000_000 if mono is None else mono}


def batch(events: list[dict], kiosk: str = "k1", batch_id: str | None = None,
          anchors: Sequence[protocol.Anchor] = ()) -> tuple[str, bytes]:
    """(topic, payload) of an events message; `anchors`: its boots' clock anchors."""
    return protocol.events_topic(kiosk), protocol.encode_batch(kiosk, batch_id or new_id(), events, anchors)


def register_fleet(db, sites=("s1", "s2"), kiosks=(("k1", "s1"), ("k2", "s1"), ("k3", "s2"), ("k4", "s2"))) -> None:
    for s in sites:
        registry.add_site(db, s, f"Store {s}", "Europe/Stockholm", NOW.replace(tzinfo=None))
    for k, s in kiosks:
        with db.atomic():
            registry.add_kiosk(db, k, s, NOW.replace(tzinfo=None))


def count(db, sql: str, params=()) -> int:
    return db.execute_sql(sql, params).fetchone()[0]
