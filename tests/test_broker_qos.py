"""The kiosks' listener of the shipped broker takes QoS 0 and 1 only, also after a reload.

Nothing in Kundpuls publishes at QoS 2 (the sync agent, the store bridge's topics and the Wills are
QoS 1). A QoS 2 PUBLISH whose PUBREL never comes was held by mosquitto 2.0.11 in RAM, beyond the
client's receive maximum (its refused PUBRECs give the quota back), charged to the kiosk's budget
but not delivered: a hostile kiosk banked its budget there (1,325 messages and 94 MiB in 20
minutes, kept across disconnects and restarts) and then released it all at once, which delayed
another kiosk's message 5.9 s. Refused, QoS 2 cannot be banked.

Two layers (kundpuls.conf): the listener's `max_qos 1`, and the plugin, because mosquitto 2.0.11
forgets the first at every reload (SIGHUP: `systemctl reload mosquitto` after each `kiosk add`,
Debian's logrotate every day), when it resets a listener's settings to their defaults and reads
none of them again; the plugin stays loaded. Each test runs on the broker as started and after a
reload."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.raw_mqtt import PUBACK, PUBCOMP, PUBREC, RawClient
from tests.test_broker_rate_limit import KIOSK_TOPIC, limited, reload_config  # noqa: F401  (limited: a fixture)
from tests.test_firmware_mosquitto import MOSQ, PASSWORDS, Peer

pytestmark = pytest.mark.broker

NOT_AUTHORIZED = 0x87          # PUBREC, SUBACK: the plugin refused it
QOS_NOT_SUPPORTED = 0x9B       # CONNACK: the listener's max_qos refused the Will
NO_SUBSCRIBERS = 0x10          # PUBACK: taken, no one subscribed
RELOADED = "after-reload"


@pytest.fixture(params=["as-started", RELOADED])
def broker(request, limited):
    """The shipped broker as started, and after a reload (SIGHUP), which `reloaded` says."""
    if request.param == RELOADED:
        reload_config(limited)
    return {**limited, "reloaded": request.param == RELOADED}


def log_of(broker: dict) -> str:
    return (Path(broker["dir"]) / "mosquitto.log").read_text(errors="replace")


def rss_mib(pid: int) -> float:
    """The resident memory of process `pid`, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) / 1024


def test_the_kiosks_listener_refuses_qos_2_and_takes_qos_1(broker):
    """kiosk-a's QoS 2 PUBLISH on its own events topic never reaches the centre, not even once it
    sends PUBREL: as started the listener closes the connection ("Too high QoS"), after a reload
    the plugin answers PUBREC 0x87 and holds nothing. Its QoS 1 PUBLISH passes as before. A store
    bridge's credential is a client of the same listener and is refused QoS 2 alike."""
    centre = Peer(broker, "central", PASSWORDS["central"], broker["central_port"])
    try:
        assert not centre.subscribe("kundpuls/v1/kiosk/+/events")[0].is_failure
        for user in ("kiosk-a", "store-site-1"):
            raw = RawClient(broker, user, PASSWORDS[user])
            assert raw.connack == 0
            raw.publish(KIOSK_TOPIC.format("kiosk-a", "events"), b"qos2-" + user.encode(), qos=2, mid=7)
            if broker["reloaded"]:
                assert raw.ack_code(PUBREC, 7) == NOT_AUTHORIZED, "the broker took the QoS 2 message"
                raw.pubrel(7)                        # had the broker held it, this would release it
                assert raw.ack_code(PUBCOMP, 7) is not None
                raw.close()
            else:
                assert raw.wait(lambda: raw.closed, 5), f"the broker kept {user} after a QoS 2 PUBLISH"
                assert raw.first(PUBREC) is None, "a PUBREC came: the broker took the QoS 2 message"
                raw.drop()
        a = RawClient(broker, "kiosk-a", PASSWORDS["kiosk-a"])
        a.publish(KIOSK_TOPIC.format("kiosk-a", "events"), b"qos1-a", qos=1, mid=8)
        assert a.ack_code(PUBACK, 8) == 0
        a.close()
        got = centre.wait_for_payload(b"qos1-a")
        assert [p for p in got if p.startswith(b"qos2-")] == []
        log = log_of(broker)
        if broker["reloaded"]:
            assert "kundpuls_ratelimit: a QoS 2 message of client kiosk-a refused" in log, log[-2000:]
        else:
            assert "Too high QoS" in log, log[-2000:]
    finally:
        centre.close()


def test_qos_2_flows_left_open_hold_nothing_after_a_reload(limited):
    """After a reload kiosk-a sends 16 QoS 2 messages of 1 MiB (within its burst of 20 MiB) and never
    sends PUBREL: each gets PUBREC 0x87 and the broker's memory does not grow by them (the plugin
    refuses them before mosquitto stores anything; held, they added 17 MiB). Refused, they cost
    nothing of its burst: 19 QoS 1 messages of 1 MiB pass after them."""
    reload_config(limited)
    a = RawClient(limited, "kiosk-a", PASSWORDS["kiosk-a"])
    try:
        before = rss_mib(limited["pid"])
        for mid in range(1, 17):
            a.publish(KIOSK_TOPIC.format("kiosk-a", "events"), b"x" * 2**20, qos=2, mid=mid)
        assert a.wait(lambda: len([t for t, _ in a.got if t == PUBREC]) == 16, 30), a.got
        grew = rss_mib(limited["pid"]) - before
        assert [a.ack_code(PUBREC, mid) for mid in range(1, 17)] == [NOT_AUTHORIZED] * 16
        assert grew < 4, f"the broker grew {grew:.1f} MiB with 16 MiB of QoS 2 flows left open"
        for mid in range(17, 36):
            a.publish(KIOSK_TOPIC.format("kiosk-a", "events"), b"x" * 2**20, qos=1, mid=mid)
        assert [a.ack_code(PUBACK, mid) for mid in range(17, 36)] == [NO_SUBSCRIBERS] * 19
    finally:
        a.close()


def test_a_kiosks_qos_2_subscription_is_never_granted(broker):
    """A kiosk that asks for its ack at QoS 2 gets it at QoS 1 (SUBACK 1) as started; after a reload
    the listener would grant QoS 2 and the plugin, which cannot lower it, refuses it (SUBACK 0x87).
    Its QoS 1 subscription (the sync agent's) is granted either way and gets its acks at QoS 1, a
    QoS 2 publish of the centre's too."""
    a = Peer(broker, "kiosk-a", PASSWORDS["kiosk-a"])
    centre = Peer(broker, "central", PASSWORDS["central"], broker["central_port"])
    try:
        ack = KIOSK_TOPIC.format("kiosk-a", "ack")
        _, mid = a.c.subscribe(ack, qos=2)
        with a.arrived:
            assert a.arrived.wait_for(lambda: mid in a.subacks, 5)
        assert [rc.value for rc in a.subacks[mid]] == [NOT_AUTHORIZED if broker["reloaded"] else 1]
        assert [rc.value for rc in a.subscribe(ack)] == [1]
        centre.c.publish(ack, b"ack-a", qos=2)
        assert a.wait_for_payload(b"ack-a")[-1] == b"ack-a"
        assert a.messages[-1].qos == 1
    finally:
        a.close()
        centre.close()


def test_a_kiosks_qos_2_will_never_reaches_the_centre(broker):
    """kiosk-a's QoS 2 Will is refused at CONNECT as started (CONNACK 0x9B); after a reload the
    listener takes it and the plugin refuses it when the broker would publish it (the one time a
    plugin sees a Will), so the centre never gets it. A QoS 1 Will still reaches the centre."""
    centre = Peer(broker, "central", PASSWORDS["central"], broker["central_port"])
    status = KIOSK_TOPIC.format("kiosk-a", "status")
    try:
        assert not centre.subscribe("kundpuls/v1/kiosk/+/status")[0].is_failure
        raw = RawClient(broker, "kiosk-a", PASSWORDS["kiosk-a"], will=(status, b"will-qos2", b"\x00"), will_qos=2)
        if broker["reloaded"]:
            assert raw.connack == 0
            raw.drop()
            deadline = time.monotonic() + 5
            while "Client kiosk-a closed its connection." not in log_of(broker):  # its Will's moment
                assert time.monotonic() < deadline, log_of(broker)[-2000:]
                time.sleep(0.02)
        else:
            assert raw.connack == QOS_NOT_SUPPORTED
            assert raw.wait(lambda: raw.closed, 5)
            raw.drop()
        raw = RawClient(broker, "kiosk-a", PASSWORDS["kiosk-a"], will=(status, b"will-qos1", b"\x00"), will_qos=1)
        assert raw.connack == 0
        raw.drop()
        got = centre.wait_for_payload(b"will-qos1")
        assert b"will-qos2" not in got
    finally:
        centre.close()


def test_the_centres_listener_still_takes_qos_2(broker):
    """QoS at most 1 is the kiosks' listener's alone: the centre's own clients on theirs may still
    publish at QoS 2 (the PUBREC/PUBCOMP exchange completes with success)."""
    centre = Peer(broker, "central", PASSWORDS["central"], broker["central_port"])
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
    says `max_qos 1` and loads the plugin that holds it to QoS 1 across reloads; the centre's does
    neither."""
    text = (MOSQ / "kundpuls.conf").read_text()
    kiosk_block, centre_block = text.split("\nlistener 8883\n")[1].split("\nlistener 8884\n")
    assert re.search(r"^max_qos 1$", kiosk_block, re.M)
    assert re.search(r"^plugin /usr/local/lib/kundpuls/kundpuls_ratelimit\.so$", kiosk_block, re.M)
    assert not re.search(r"^(max_qos|plugin) ", centre_block, re.M)
