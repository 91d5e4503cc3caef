"""The contract between kiosks and the centre: the shared vocabulary (scales and their rules,
languages, the reason catalogue), the events and messages with their validation and wire form,
and the MQTT topics. Pure: no sockets, no database, no clock of its own (callers pass `now`).

A leaf: it imports nothing from `kiosk`, the centre or `seeds` (tests/test_imports.py keeps it
so). Both sides import it: the kiosk encodes batches and decodes acks, pushed configs and
alerts; the centre decodes batches and statuses and encodes acks.

Modules: `scales`, `vocabulary`, `catalogue` (words); `events` (the declaration of an event's
fields); `messages` (batch, ack, status, alert); `pushed` (config push); `topics`; `timetext`;
`codec` (JSON); `errors`. The names below are the ones callers use.
"""

from server_sync.protocol.errors import EventsRefused, KundpulsError, ProtocolError
from server_sync.protocol.events import (EVENT_TYPES, Event, FieldSpec, FollowUpEvent,
                                         ResponseEvent, check_event, event_json, field_names,
                                         fields_of, validate_event)
from server_sync.protocol.messages import (ALERT_TEXT_SINCE, INCARNATION_PATTERN, MAX_ALERTS_KEPT,
                                           MAX_ANCHORS, SCHEMA, Ack, Alert, Anchor, Batch, Rejected, incarnation_batch_id,
                                           incarnation_of, reads_alert_text,
                                           Status, decode_ack, decode_alert, decode_batch,
                                           decode_status, encode_ack, encode_alert, encode_batch,
                                           encode_batch_json, encode_status, keep_alerts,
                                           offline_payload, seq_ranges, valid_anchor, will_payload)
from server_sync.protocol.pushed import (PUSHABLE, SHIPPED_CONFIG_VERSION, decode_config,
                                         encode_config, merge_pushed_config)
from server_sync.protocol.timetext import (EARLIEST, EARLIEST_TEXT, FUTURE_SLACK, iso_ms,
                                           latest_text, parse_iso_ms)
from server_sync.protocol.topics import (PREFIX_RE, ROOT, SHARED_EVENTS_SUBSCRIPTION,
                                         STATUS_SUBSCRIPTION, ack_topic, alerts_topic,
                                         config_topic, events_topic, parse_kiosk_topic,
                                         parse_site_topic, shared_events_subscription,
                                         status_subscription, status_topic)
from server_sync.protocol.vocabulary import (DEFAULT_MAX_BYTES, DEFAULT_MAX_EVENTS, ID_RE,
                                             MAX_COMMENT_CHARS, MAX_CONFIG_VERSION, MAX_INT64,
                                             MAX_REASONS)

__all__ = [name for name in dir() if not name.startswith("_")]
