"""server_sync/mqtt_properties.py: a centre's paho client skips a PUBLISH's property block larger
than Kundpuls ever uses, unread; a smaller one it parses exactly as paho does."""

from __future__ import annotations

import threading
import time

import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from server_sync import mqtt_properties
from server_sync.mqtt_properties import PUBLISH_PROPERTIES_MAX_BYTES, bounded, skipped_bytes
from tests.raw_mqtt import empty_user_properties, utf8


def plain_unpack(block: bytes, packet_type: int = PacketTypes.PUBLISH) -> tuple[dict, int]:
    """paho's own parse of `block`, unguarded: (its properties, the bytes it used)."""
    props, used = mqtt_properties.paho_unpack(Properties(packet_type), block)
    return props.json(), used


def guarded_unpack(block: bytes, packet_type: int = PacketTypes.PUBLISH) -> tuple[dict, int, int]:
    """The parse of `block` in a thread bounded as a centre's client is: (its properties, the
    bytes it used, the bytes it skipped)."""
    with bounded():
        props, used = Properties(packet_type).unpack(block)
    return props.json(), used, skipped_bytes(props)


def publish_properties(**fields) -> bytes:
    props = Properties(PacketTypes.PUBLISH)
    for name, value in fields.items():
        setattr(props, name, value)
    return props.pack()


def user_properties_of(total: int) -> bytes:
    """A property block of exactly `total` bytes of properties: one User Property with a name
    of the right length."""
    name = "n" * (total - 5)
    return publish_properties(UserProperty=[(name, "")])


SMALL = {
    "none": b"\x00",
    "every kind": publish_properties(PayloadFormatIndicator=1, MessageExpiryInterval=3600,
                                     ContentType="application/json", ResponseTopic="kundpuls/v1/x",
                                     CorrelationData=b"\x00\x01",
                                     SubscriptionIdentifier=[7, 300], TopicAlias=3,
                                     UserProperty=[("a", "1"), ("b", "ä"), ("a", "2")]),
    "at the bound": user_properties_of(PUBLISH_PROPERTIES_MAX_BYTES),
    "200 empty user properties": empty_user_properties(200),
}


@pytest.mark.parametrize("block", SMALL.values(), ids=SMALL.keys())
def test_a_block_within_the_bound_parses_as_paho_does(block):
    props, used, skipped = guarded_unpack(block + b"payload")
    assert (props, used) == plain_unpack(block + b"payload")
    assert used == len(block) and skipped == 0


@pytest.mark.parametrize("count", [PUBLISH_PROPERTIES_MAX_BYTES // 5 + 1, 200_000])
def test_a_larger_block_is_skipped_whole_unread(count):
    """One byte over the bound, or the 1,000,000 bytes of 200,000 empty User Properties (paho
    took 160 s): no property, the whole block's length used (its length prefix included), at
    once; the payload after it is the packet's."""
    block = empty_user_properties(count)
    t0 = time.perf_counter()
    props, used, skipped = guarded_unpack(block + b"payload")
    assert time.perf_counter() - t0 < 0.05
    assert (props, used, skipped) == ({}, len(block), count * 5)
    with bounded():
        packet = _packet.decode_publish(0x32, utf8("kundpuls/v1/kiosk/k1/status") + b"\x00\x09" + block + b"{}",
                                        MQTTProtocolVersion.MQTTv5)
    assert (packet.topic, packet.mid, packet.payload, packet.properties.json()) == (
        b"kundpuls/v1/kiosk/k1/status", 9, b"{}", {})
    assert skipped_bytes(packet.properties) == count * 5


def test_the_bound_holds_only_in_a_bounded_thread_and_for_a_publish():
    """Outside `bounded()`, in another thread, and for a packet other than PUBLISH, a block over
    the bound is parsed in full as paho does; `bounded` undoes itself on the way out."""
    block = empty_user_properties(PUBLISH_PROPERTIES_MAX_BYTES // 5 + 100)
    expected = plain_unpack(block)
    assert len(expected[0]["UserProperty"]) == PUBLISH_PROPERTIES_MAX_BYTES // 5 + 100
    assert Properties(PacketTypes.PUBLISH).unpack(block)[0].json() == expected[0]
    seen = {}
    with bounded():
        other = threading.Thread(target=lambda: seen.update(props=Properties(PacketTypes.PUBLISH).unpack(block)))
        other.start()
        other.join()
        assert guarded_unpack(block, PacketTypes.CONNACK)[:2] == plain_unpack(block, PacketTypes.CONNACK)
    assert seen["props"][0].json() == expected[0]
    assert Properties(PacketTypes.PUBLISH).unpack(block)[0].json() == expected[0]


def test_a_guarded_client_gets_the_message_without_the_block(broker):
    """A client made by the ingest's make_client, on the test broker (no plugin: the properties
    reach it): k1's status with 200,000 empty User Properties arrives at once, without them, and
    says how many bytes were skipped; the message after it arrives as usual."""
    from server_sync.ingest import BrokerSettings, make_client
    from tests.raw_mqtt import PUBACK, RawClient
    settings = BrokerSettings(broker.host, broker.port, ca_file=broker.ca_file, password=broker.passwd("central"),
                              client_id="guarded")
    client = make_client(settings, manual_ack=False)
    got: list = []
    arrived = threading.Event()
    subscribed = threading.Event()
    client.on_message = lambda c, u, m: (got.append((m.payload, m.properties.json(), skipped_bytes(m.properties))),
                                         len(got) == 2 and arrived.set())
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, *a: c.subscribe("kundpuls/v1/kiosk/+/status", qos=1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    k1 = None
    try:
        assert subscribed.wait(10)
        k1 = RawClient({"ca": broker.ca_file, "port": broker.port}, "k1", broker.passwd("k1"))
        t0 = time.monotonic()
        k1.publish("kundpuls/v1/kiosk/k1/status", b"first", properties=empty_user_properties(200_000))
        k1.publish("kundpuls/v1/kiosk/k1/status", b"second", mid=2)
        assert k1.ack_code(PUBACK, 2) == 0
        assert arrived.wait(30)
        assert time.monotonic() - t0 < 2.0
        assert got == [(b"first", {}, 1_000_000), (b"second", {}, 0)]
    finally:
        if k1 is not None:
            k1.close()
        client.disconnect()
        client.loop_stop()
