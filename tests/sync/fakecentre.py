"""A minimal centre for the agent's own tests: subscribes like the ingest (shared subscription,
as user `central`), decodes batches with the real protocol, keeps every event by id, and acks.

It is deliberately not the central ingest (that one is tested in tests/central and by the e2e
tests); it lets an agent test control what the centre does: `drop_next(n)` swallows the next n
batches without an ack, `hold()` stops acking (`release_held()` then sends the acks it kept back,
as a slow centre would), `pushed` publishes retained configs and alerts.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from server_sync import protocol as P
from server_sync.exc import ProtocolError


class FakeCentre:
    def __init__(self, broker, client_id: str = "fake-centre") -> None:
        self.broker = broker
        self.events: dict[str, dict] = {}       # id -> event dict, first seen
        self.deliveries = 0                     # events received, duplicates included
        self.batches = 0
        self.rejected: list[str] = []
        self.statuses: dict[str, list[P.Status]] = {}
        self._drop = 0
        self._holding = False
        self._held: list[tuple[str, bytes]] = []     # acks not sent while holding
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.tls_set(ca_certs=broker.ca_file)
        self.client.username_pw_set("central", broker.passwd("central"))
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            [(P.SHARED_EVENTS_SUBSCRIPTION, 1), (P.STATUS_SUBSCRIPTION, 1)])
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(broker.host, broker.port, keepalive=10)
        self.client.loop_start()
        if not subscribed.wait(5):
            raise RuntimeError("fake centre could not subscribe")

    def drop_next(self, n: int) -> None:
        with self._lock:
            self._drop = n

    def hold(self, holding: bool = True) -> None:
        with self._lock:
            self._holding = holding

    def release_held(self) -> int:
        """Send the acks kept back while holding (each waits for its PUBACK); how many."""
        with self._lock:
            held, self._held = self._held, []
        for topic, payload in held:
            self.client.publish(topic, payload, qos=1).wait_for_publish(5)
        return len(held)

    def _on_message(self, client, userdata, msg) -> None:
        kiosk_id, kind = P.parse_kiosk_topic(msg.topic)
        if kind == "status":
            with self.changed:
                self.statuses.setdefault(kiosk_id, []).append(P.decode_status(msg.payload))
                self.changed.notify_all()
            return
        try:
            batch = P.decode_batch(msg.topic, msg.payload, now=datetime.now(timezone.utc))
        except ProtocolError as e:
            with self.changed:
                self.rejected.append(e.reason)
                self.changed.notify_all()
            return
        with self.changed:
            self.batches += 1
            if self._drop > 0:
                self._drop -= 1
                return
            for e in batch.events:
                self.deliveries += 1
                self.events.setdefault(e.id, e.as_dict())
            ack = (P.ack_topic(kiosk_id), P.encode_ack(batch.batch_id, [e.seq for e in batch.events]))
            holding = self._holding
            if holding:
                self._held.append(ack)
            self.changed.notify_all()
        if not holding:
            client.publish(*ack, qos=1)

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
