"""MQTT v5 properties a kiosk sends never reach the centre's clients (firmware_config/mosquitto/:
the plugin drops them on the kiosks' listener; server_sync/mqtt_properties.py: the centre's paho
clients skip a PUBLISH's property block larger than Kundpuls ever uses, unread).

Kundpuls sends no properties with a message (kiosk/sync_agent.py). A kiosk's PUBLISH may carry
about a megabyte of them inside max_packet_size, which the plugin's budget of bytes did not count
(it charges the payload), and paho parses a property block in time quadratic in its number of
properties, in its network thread: 40,000 empty User Properties took the centre 4.8 s, 200,000 of
them 160 s, while every other kiosk's messages waited behind them. A retained status so made was
handed to every ingest start; a Last Will carries its properties past the plugin (mosquitto 2.0
shows a plugin neither a Will nor its properties), so the ingest guards itself too."""

from __future__ import annotations

import socket
import time
from datetime import datetime
from types import SimpleNamespace

import pytest

from tests.central.fleet import wait_until
from tests.raw_mqtt import PUBACK, RawClient, empty_user_properties
from tests.test_broker_rate_limit import FLOOD_DELAY_BOUND_S, KIOSK_TOPIC, limited, start_shipped  # noqa: F401
from tests.test_firmware_mosquitto import PASSWORDS, Mosquitto, Peer

pytestmark = pytest.mark.broker

MANY = 40_000                      # empty User Properties: 200,000 bytes, paho's 4.8 s
NO_SUBSCRIBERS = 0x10              # PUBACK: taken, no one subscribed (yet)
MOST = 200_000                     # 1,000,000 bytes, the most max_packet_size lets through: paho's 160 s


def wait_for(peer: Peer, payload: bytes, timeout: float = 120.0):
    """The message `peer` received with `payload` (fails after `timeout` seconds)."""
    with peer.arrived:
        assert peer.arrived.wait_for(lambda: any(m.payload == payload for m in peer.messages), timeout), payload
        return next(m for m in peer.messages if m.payload == payload)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def latency(centre: Peer, sender: Peer, topic: str, payload: bytes) -> float:
    t0 = time.monotonic()
    sender.c.publish(topic, payload, qos=1)
    wait_for(centre, payload)
    return time.monotonic() - t0


def user_properties(message) -> list:
    return list(getattr(message.properties, "UserProperty", []) or [])


def test_a_kiosks_message_properties_are_dropped_at_the_broker(limited):
    """kiosk-a publishes four 1-byte events messages with 40,000 empty User Properties each: they
    are taken (PUBACK 0) and reach the centre without a property, and kiosk-b's message right
    after them reaches the centre within FLOOD_DELAY_BOUND_S of its usual time (17.5 s later
    through the real ingest before)."""
    centre = Peer(limited, "central", PASSWORDS["central"], limited["central_port"])
    b = Peer(limited, "kiosk-b", PASSWORDS["kiosk-b"])
    a = RawClient(limited, "kiosk-a", PASSWORDS["kiosk-a"])
    try:
        assert not centre.subscribe("$share/ingest/kundpuls/v1/kiosk/+/events")[0].is_failure
        topic_b = KIOSK_TOPIC.format("kiosk-b", "events")
        baseline = max(latency(centre, b, topic_b, b"probe-base-%d" % i) for i in range(5))
        block = empty_user_properties(MANY)
        for mid in range(1, 5):
            a.publish(KIOSK_TOPIC.format("kiosk-a", "events"), b"%d" % mid, mid=mid, properties=block)
        assert [a.ack_code(PUBACK, mid, 30) for mid in range(1, 5)] == [0] * 4
        after = latency(centre, b, topic_b, b"probe-after")
        got = [m for m in centre.messages if m.topic == KIOSK_TOPIC.format("kiosk-a", "events")]
        assert after <= baseline + FLOOD_DELAY_BOUND_S, (baseline, after)
        assert [user_properties(m) for m in got] == [[]] * 4
    finally:
        a.close()
        b.close()
        centre.close()


def test_a_retained_status_is_kept_without_its_properties(tmp_path, broker_ca):
    """kiosk-a leaves a retained status with 40,000 empty User Properties. After a broker
    restart (persistence) a new subscriber of the centre gets it at once and without them."""
    server, broker = start_shipped(tmp_path / "mosq", broker_ca)
    try:
        a = RawClient(broker, "kiosk-a", PASSWORDS["kiosk-a"])
        a.publish(KIOSK_TOPIC.format("kiosk-a", "status"), b"retained-status", retain=True,
                  properties=empty_user_properties(MANY))
        assert a.ack_code(PUBACK, 1, 30) in (0, NO_SUBSCRIBERS)
        a.close()
    finally:
        server.stop()
    server = Mosquitto(broker["dir"] / "mosquitto.conf", broker["port"])
    assert wait_until(lambda: listening(broker["central_port"]), 10)   # the centre's opens just after
    centre = Peer(broker, "central", PASSWORDS["central"], broker["central_port"])
    try:
        t0 = time.monotonic()
        assert not centre.subscribe("kundpuls/v1/kiosk/+/status")[0].is_failure
        message = wait_for(centre, b"retained-status")
        took = time.monotonic() - t0
        assert message.retain and user_properties(message) == []
        assert took < 1.0, took
    finally:
        centre.close()
        server.stop()


def test_the_ingest_does_not_parse_a_wills_huge_property_block(limited, tmp_path):
    """kiosk-a connects with a Last Will on its status topic carrying 1,000,000 bytes of empty
    User Properties (the most max_packet_size lets through; the plugin never sees a Will's
    properties) and drops its connection. The real ingest takes the Will (kiosk-a is shown
    offline) without reading the block, says so in its log, and kiosk-b's batch sent right after
    is acked within FLOOD_DELAY_BOUND_S of its usual time (160 s of parsing before)."""
    from server_sync import protocol
    from server_sync.central import registry
    from server_sync.central.db import connect
    from tests.central.fleet import IngestProcess
    from tests.central.wire import batch, response

    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = connect(url)
    for kiosk, site in (("kiosk-a", "site-1"), ("kiosk-b", "site-2")):
        registry.add_site(db, site, site, "Europe/Stockholm", datetime(2026, 1, 1))
        registry.add_kiosk(db, kiosk, site, datetime(2026, 1, 1))
    db.close()
    (tmp_path / "central.pass").write_text(PASSWORDS["central"] + "\n")
    centre = SimpleNamespace(host="localhost", port=limited["central_port"], ca_file=limited["ca"],
                             password_file_for=lambda user: tmp_path / "central.pass")
    ingest = IngestProcess(url, centre, tmp_path / "ingest.log").start()
    b = Peer(limited, "kiosk-b", PASSWORDS["kiosk-b"])
    try:
        b.subscribe(protocol.ack_topic("kiosk-b"))

        def acked_after(seq: int) -> float:
            t0 = time.monotonic()
            b.publish(*batch([response(seq, kiosk="kiosk-b", site="site-2")], kiosk="kiosk-b", batch_id=f"b{seq}"))
            with b.arrived:
                assert b.arrived.wait_for(lambda: len(b.messages) >= seq, 60), f"batch b{seq} never acked"
            return time.monotonic() - t0

        baseline = max(acked_after(seq) for seq in range(1, 4))
        will = (KIOSK_TOPIC.format("kiosk-a", "status"), protocol.will_payload(), empty_user_properties(MOST))
        a = RawClient(limited, "kiosk-a", PASSWORDS["kiosk-a"], will=will, will_retain=True)
        assert a.connack == 0
        a.drop()                                         # the broker publishes the Will
        assert wait_until(lambda: "Client kiosk-a closed its connection" in
                          (limited["dir"] / "mosquitto.log").read_text(errors="replace"), 5)
        after = acked_after(4)
        assert after <= baseline + FLOOD_DELAY_BOUND_S, (baseline, after, ingest.log()[-2000:])
        db = connect(url)
        try:
            assert wait_until(lambda: db.execute_sql(
                "SELECT online FROM kiosk_status WHERE kiosk_id = 'kiosk-a'").fetchone() == (0,), 10), ingest.log()
        finally:
            db.close()
        assert "MQTT properties" in ingest.log(), ingest.log()[-2000:]
    finally:
        b.close()
        ingest.close()
