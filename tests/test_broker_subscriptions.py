"""What a client of the kiosks' listener may SUBSCRIBE to on the shipped broker (the plugin of
firmware_config/mosquitto/ratelimit/, loaded by the shipped kundpuls.conf): a kiosk its own ack
and config and a site's alerts, a store bridge its kiosks' ack and config too, at most
MAX_SUBSCRIPTIONS in all; everything else is refused with SUBACK 0x87. mosquitto 2.0's acl_file
alone grants every filter: one kiosk credential with thousands of shared subscriptions under
made-up group names (each group one more delivery attempt and ACL check for every message any
kiosk publishes) slowed every other kiosk's messages, and a persistent session kept them after the
kiosk was deactivated. tests/sync/test_shipped_subscriptions.py runs the real sync agent."""

from __future__ import annotations

import re
import statistics
import subprocess
import time

import pytest

from tests.test_broker_rate_limit import limited, shipped_conf  # noqa: F401  (limited: the shipped broker)
from tests.test_firmware_mosquitto import MOSQ, PASSWORDS, Mosquitto, Peer

pytestmark = pytest.mark.broker

NOT_AUTHORIZED = 0x87
GRANTED_QOS_1 = 1
MAX_SUBSCRIPTIONS = int(re.search(r"^#define MAX_SUBSCRIPTIONS (\d+)$",
                                  (MOSQ / "ratelimit" / "kundpuls_ratelimit.c").read_text(), re.M).group(1))
OWN = ("kundpuls/v1/kiosk/kiosk-a/ack", "kundpuls/v1/kiosk/kiosk-a/config", "kundpuls/v1/site/site-1/alerts")
# What a kiosk has no need of, each a way the reviewer found or one next to it.
REFUSED = ("#", "kundpuls/#", "kundpuls/v1/kiosk/+/events", "kundpuls/v1/kiosk/kiosk-b/events",
           "kundpuls/v1/kiosk/kiosk-a/events", "kundpuls/v1/kiosk/kiosk-a/status", "kundpuls/v1/kiosk/kiosk-b/ack",
           "kundpuls/v1/kiosk/+/ack", "kundpuls/v1/kiosk/kiosk-a/#", "kundpuls/v1/kiosk/kiosk-a/ack/x",
           "kundpuls/v1/site/+/alerts", "kundpuls/v1/site/site-1/#", "$share/g/kundpuls/v1/kiosk/kiosk-a/ack",
           "$share/ingest/kundpuls/v1/kiosk/+/events", "$SYS/#", "acme/kundpuls/v1/kiosk/kiosk-a/ack")
SHARED_FLOOD = 5_000


def subscribe_all(peer: Peer, filters: list[str], per_packet: int = 1_000) -> list[int]:
    """The SUBACK reason code of each filter, asked `per_packet` filters to a SUBSCRIBE."""
    codes: list[int] = []
    for i in range(0, len(filters), per_packet):
        _, mid = peer.c.subscribe([(f, 1) for f in filters[i:i + per_packet]])
        with peer.arrived:
            assert peer.arrived.wait_for(lambda: mid in peer.subacks, 30), "no SUBACK"
        codes += [rc.value for rc in peer.subacks[mid]]
    return codes


def median_latency_s(centre: Peer, sender: Peer, topic: str, label: str, n: int = 40) -> float:
    """The median time from `sender`'s QoS 1 publish on `topic` to its arrival at `centre`."""
    times = []
    for i in range(n):
        payload = f"{label}-{i}".encode()
        t0 = time.perf_counter()
        sender.c.publish(topic, payload, qos=1)
        centre.wait_for_payload(payload)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def test_a_kiosk_is_refused_what_it_does_not_read_and_others_stay_fast(limited):
    """kiosk-a asks for 5,000 shared subscriptions under made-up groups on every kiosk's events
    (5 SUBSCRIBEs of 1,000), and for wildcards and other kiosks' topics: each is refused with
    0x87, while its own ack, config and site alerts are granted; kiosk-b's messages reach the
    centre as fast as before. Before, all were granted and each of kiosk-b's publishes cost the
    broker 5,000 more deliveries (20,000 made it 0.2 -> 7.2 ms, 200,000 78 ms)."""
    centre = Peer(limited, "central", PASSWORDS["central"], limited["central_port"])
    b = Peer(limited, "kiosk-b", PASSWORDS["kiosk-b"])
    a = Peer(limited, "kiosk-a", PASSWORDS["kiosk-a"])
    try:
        assert not centre.subscribe("kundpuls/v1/kiosk/+/events")[0].is_failure
        topic_b = "kundpuls/v1/kiosk/kiosk-b/events"
        median_latency_s(centre, b, topic_b, "warm-up", 10)
        before = median_latency_s(centre, b, topic_b, "before")
        shared = subscribe_all(a, [f"$share/g{i}/kundpuls/v1/kiosk/+/events" for i in range(SHARED_FLOOD)])
        assert set(shared) == {NOT_AUTHORIZED}, f"{shared.count(NOT_AUTHORIZED)} of {len(shared)} refused"
        assert subscribe_all(a, list(REFUSED)) == [NOT_AUTHORIZED] * len(REFUSED)
        assert subscribe_all(a, list(OWN)) == [GRANTED_QOS_1] * len(OWN)
        after = median_latency_s(centre, b, topic_b, "after")
        print(f"kiosk-b -> centre median {before * 1000:.2f} ms before, {after * 1000:.2f} ms after")
        assert after <= 1.5 * before + 0.001, (before, after)
        log = (limited["dir"] / "mosquitto.log").read_text(errors="replace")
        refusals = re.findall(r"kundpuls_ratelimit: subscription '[^']*' of client kiosk-a \(user kiosk-a\) refused", log)
        assert 1 <= len(refusals) <= 2, log[-3000:]          # at most one line a minute per client
    finally:
        for p in (a, b, centre):
            p.close()


def test_a_kiosks_subscriptions_are_counted_by_its_session(limited):
    """Site alerts under made-up site ids cost the broker memory: a client session holds at most
    MAX_SUBSCRIPTIONS. kiosk-a, in a persistent session, gets its ack and config and then site
    alerts until the count is full; the rest are refused, after a reconnect too (the count is the
    session's), until a clean start ends the session."""
    filters = list(OWN[:2]) + [f"kundpuls/v1/site/s{i}/alerts" for i in range(MAX_SUBSCRIPTIONS)]
    a = Peer(limited, "kiosk-a", PASSWORDS["kiosk-a"], session_expiry=3600)
    try:
        codes = subscribe_all(a, filters, per_packet=7)
        assert codes == [GRANTED_QOS_1] * MAX_SUBSCRIPTIONS + [NOT_AUTHORIZED] * 2, codes
        assert subscribe_all(a, list(OWN[:2])) == [NOT_AUTHORIZED] * 2    # even what it holds, when full
    finally:
        a.close()
    a = Peer(limited, "kiosk-a", PASSWORDS["kiosk-a"], session_expiry=3600)
    try:
        assert subscribe_all(a, ["kundpuls/v1/site/new/alerts"]) == [NOT_AUTHORIZED]
        a.c.unsubscribe(filters[-3])     # handled before the SUBSCRIBE that follows on this connection
        assert subscribe_all(a, ["kundpuls/v1/site/new/alerts"]) == [NOT_AUTHORIZED]
    finally:
        a.close()
    a = Peer(limited, "kiosk-a", PASSWORDS["kiosk-a"])          # a clean start
    try:
        assert subscribe_all(a, list(OWN)) == [GRANTED_QOS_1] * len(OWN)
    finally:
        a.close()


def test_a_store_bridge_gets_its_kiosks_acks_and_configs(limited):
    """The store bridge's user (bridge-store.conf: store-SITE) subscribes to its kiosks' ack and
    config with '+' for the kiosk id; it gets those and its site's alerts, and nothing more."""
    bridge = Peer(limited, "store-site-1", PASSWORDS["store-site-1"])
    try:
        wanted = ["kundpuls/v1/kiosk/+/ack", "kundpuls/v1/kiosk/+/config", "kundpuls/v1/site/site-1/alerts",
                  "kundpuls/v1/kiosk/kiosk-a/ack"]
        assert subscribe_all(bridge, wanted) == [GRANTED_QOS_1] * len(wanted)
        refused = ["kundpuls/v1/kiosk/+/events", "kundpuls/v1/kiosk/+/status", "#", "kundpuls/v1/kiosk/#",
                   "$share/g/kundpuls/v1/kiosk/+/ack"]
        assert subscribe_all(bridge, refused) == [NOT_AUTHORIZED] * len(refused)
    finally:
        bridge.close()


def test_a_topic_prefix_moves_what_a_kiosk_may_subscribe_to(tmp_path, broker_ca):
    """A deployment whose kiosks have broker.topic_prefix 'acme/' gives the plugin the same
    (plugin_opt_topic_prefix): the prefixed ack is granted, the bare one refused."""
    main, port, _ = shipped_conf(tmp_path / "mosq", broker_ca)
    conf = tmp_path / "mosq" / "conf.d" / "kundpuls.conf"
    conf.write_text(re.sub(r"^(plugin_opt_day_bytes .*)$", r"\1\nplugin_opt_topic_prefix acme/", conf.read_text(),
                           flags=re.M))
    server = Mosquitto(main, port)
    broker = {"port": port, "ca": str(broker_ca.ca_file)}
    a = Peer(broker, "kiosk-a", PASSWORDS["kiosk-a"])
    try:
        assert subscribe_all(a, ["acme/kundpuls/v1/kiosk/kiosk-a/ack", "acme/kundpuls/v1/site/site-1/alerts",
                                 "kundpuls/v1/kiosk/kiosk-a/ack"]) == [GRANTED_QOS_1] * 2 + [NOT_AUTHORIZED]
    finally:
        a.close()
        server.stop()


def test_a_topic_prefix_with_a_wildcard_stops_the_broker(tmp_path, broker_ca):
    """plugin_opt_topic_prefix is a kiosk's broker.topic_prefix: levels ending in '/', no wildcard;
    anything else is a mistake in kundpuls.conf, and mosquitto does not start."""
    main, _, _ = shipped_conf(tmp_path / "mosq", broker_ca)
    conf = tmp_path / "mosq" / "conf.d" / "kundpuls.conf"
    conf.write_text(re.sub(r"^(plugin_opt_day_bytes .*)$", r"\1\nplugin_opt_topic_prefix +/", conf.read_text(),
                           flags=re.M))
    done = subprocess.run(["mosquitto", "-c", str(main)], capture_output=True, text=True, timeout=20)
    assert done.returncode != 0
    assert "plugin_opt_topic_prefix must be" in done.stdout + done.stderr
