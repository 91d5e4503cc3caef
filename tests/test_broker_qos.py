"""The kiosks' listener of the shipped broker takes QoS 0 and 1 only (`max_qos 1`, kundpuls.conf).

Nothing in Kundpuls publishes at QoS 2 (the sync agent, the store bridge's topics and the Wills are
QoS 1). A QoS 2 PUBLISH whose PUBREL never comes was held by mosquitto 2.0.11 in RAM, beyond the
client's receive maximum (its refused PUBRECs give the quota back), charged to the kiosk's budget
but not delivered: a hostile kiosk banked its budget there (1,325 messages and 94 MiB in 20
minutes, kept across disconnects and restarts) and then released it all at once, which delayed
another kiosk's message 5.9 s. Refused at the listener, QoS 2 cannot be banked."""

from __future__ import annotations

import re

import pytest

from tests.raw_mqtt import PUBACK, RawClient
from tests.test_broker_rate_limit import KIOSK_TOPIC, limited  # noqa: F401  (limited: the shipped broker)
from tests.test_firmware_mosquitto import MOSQ, PASSWORDS, Peer

pytestmark = pytest.mark.broker


def test_the_kiosks_listener_refuses_qos_2_and_takes_qos_1(limited):
    """kiosk-a's QoS 2 PUBLISH on its own events topic makes the broker close its connection and
    never reaches the centre; its QoS 1 PUBLISH passes as before. A store bridge's credential is a
    client of the same listener and is refused QoS 2 alike."""
    centre = Peer(limited, "central", PASSWORDS["central"], limited["central_port"])
    try:
        assert not centre.subscribe("kundpuls/v1/kiosk/+/events")[0].is_failure
        for user in ("kiosk-a", "store-site-1"):
            raw = RawClient(limited, user, PASSWORDS[user])
            assert raw.connack == 0
            raw.publish(KIOSK_TOPIC.format("kiosk-a", "events"), b"qos2-" + user.encode(), qos=2, mid=7)
            assert raw.wait(lambda: raw.closed, 5), f"the broker kept {user} after a QoS 2 PUBLISH"
            assert raw.first(5) is None, "a PUBREC came: the broker took the QoS 2 message"
            raw.drop()
        a = RawClient(limited, "kiosk-a", PASSWORDS["kiosk-a"])
        a.publish(KIOSK_TOPIC.format("kiosk-a", "events"), b"qos1-a", qos=1, mid=8)
        assert a.ack_code(PUBACK, 8) == 0
        a.close()
        got = centre.wait_for_payload(b"qos1-a")
        assert [p for p in got if p.startswith(b"qos2-")] == []
        log = (limited["dir"] / "mosquitto.log").read_text(errors="replace")
        assert "Too high QoS" in log, log[-2000:]
    finally:
        centre.close()


def test_a_kiosks_qos_2_subscription_is_granted_qos_1(limited):
    """A kiosk that asks for its ack at QoS 2 gets it at QoS 1 (SUBACK 1), and gets its acks."""
    a = Peer(limited, "kiosk-a", PASSWORDS["kiosk-a"])
    centre = Peer(limited, "central", PASSWORDS["central"], limited["central_port"])
    try:
        _, mid = a.c.subscribe(KIOSK_TOPIC.format("kiosk-a", "ack"), qos=2)
        with a.arrived:
            assert a.arrived.wait_for(lambda: mid in a.subacks, 5)
        assert [rc.value for rc in a.subacks[mid]] == [1]
        centre.publish(KIOSK_TOPIC.format("kiosk-a", "ack"), b"ack-a")
        assert a.wait_for_payload(b"ack-a")[-1] == b"ack-a"
        assert a.messages[-1].qos == 1
    finally:
        a.close()
        centre.close()


def test_the_centres_listener_still_takes_qos_2(limited):
    """`max_qos 1` is the kiosks' listener's alone: the centre's own clients on theirs may still
    publish at QoS 2 (the PUBREC/PUBCOMP exchange completes with success)."""
    centre = Peer(limited, "central", PASSWORDS["central"], limited["central_port"])
    try:
        info = centre.c.publish(KIOSK_TOPIC.format("kiosk-a", "config"), b"", qos=2, retain=True)
        with centre.arrived:
            assert centre.arrived.wait_for(lambda: info.mid in centre.pubacks, 5)
        assert not centre.pubacks[info.mid].is_failure
        assert centre.c.is_connected()
    finally:
        centre.close()


def test_every_listener_a_store_client_uses_allows_at_most_qos_1():
    """The kiosks' listener block of kundpuls.conf (which a store broker copies, bridge-store.conf)
    says `max_qos 1`; the centre's does not need it."""
    text = (MOSQ / "kundpuls.conf").read_text()
    kiosk_block, centre_block = text.split("\nlistener 8883\n")[1].split("\nlistener 8884\n")
    assert re.search(r"^max_qos 1$", kiosk_block, re.M)
    assert not re.search(r"^max_qos ", centre_block, re.M)
