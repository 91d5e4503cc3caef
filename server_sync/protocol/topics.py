"""MQTT topics of contract v1, built and parsed by pure functions.

    {prefix}kundpuls/v1/kiosk/{kiosk_id}/events   kiosk -> centre, QoS 1
    {prefix}kundpuls/v1/kiosk/{kiosk_id}/ack      centre -> kiosk, QoS 1
    {prefix}kundpuls/v1/kiosk/{kiosk_id}/status   kiosk -> centre, QoS 1, retained; Last Will
    {prefix}kundpuls/v1/kiosk/{kiosk_id}/config   centre -> kiosk, QoS 1, retained
    {prefix}kundpuls/v1/site/{site_id}/alerts     centre -> kiosks, QoS 1
"""

from __future__ import annotations

import re

from server_sync.protocol.errors import ProtocolError
from server_sync.protocol.vocabulary import ID_RE

ROOT = "kundpuls/v1"
KINDS = ("events", "ack", "status", "config")
# Levels of visible ASCII other than the wildcards '+' and '#' and the '"' and '\\' that a TOML
# string would have to escape: a prefix goes into topics, into the broker's ACL file (one rule a
# line, so never a line break or a space) and into a kiosk.toml.
PREFIX_RE = re.compile(r'(?:[!$-*,-.0-\[\]-~]+/)*')


PREFIX_RULE = "empty, or levels ending with '/' of visible ASCII characters other than + # \" \\"


def check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"topic prefix must be {PREFIX_RULE}; got {prefix!r}")
    return prefix


def _kiosk_topic(kiosk_id: str, kind: str, prefix: str) -> str:
    if not ID_RE.fullmatch(kiosk_id):
        raise ValueError(f"bad kiosk id {kiosk_id!r}")
    return f"{check_prefix(prefix)}{ROOT}/kiosk/{kiosk_id}/{kind}"


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
    return f"{check_prefix(prefix)}{ROOT}/site/{site_id}/alerts"


def shared_events_subscription(prefix: str = "", group: str = "ingest") -> str:
    """The subscription N ingestors share; the broker hands each message to one of them."""
    if not ID_RE.fullmatch(group):
        raise ValueError(f"bad share group {group!r}")
    return f"$share/{group}/{check_prefix(prefix)}{ROOT}/kiosk/+/events"


def status_subscription(prefix: str = "") -> str:
    return f"{check_prefix(prefix)}{ROOT}/kiosk/+/status"


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
