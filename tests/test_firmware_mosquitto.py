"""The shipped central broker config (firmware_config/mosquitto/) runs on a real mosquitto and
enforces its ACL: TLS from the test CA of tests/fixtures/broker.py (openssl), the shipped
drop-in and ACL with only paths and the port rewritten. Nothing here patches the broker;
every check is an MQTT round trip.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from seeds.broker_plugin import with_built_plugin
from server_sync import provision
from tests.fixtures.broker import TestCA, free_tcp_port

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[1]
MOSQ = ROOT / "firmware_config" / "mosquitto"
PASSWORDS = {"central": "central-secret", "kiosk-a": "secret-a", "kiosk-b": "secret-b",
             "store-site-1": "bridge-secret"}
SITES = {"kiosk-a": "site-1", "kiosk-b": "site-2"}
WAIT_S = 5.0


def _run(*cmd: str, cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=30)


def shipped_config_for_test(d: Path, ca: TestCA, port: int, central_port: int | None) -> Path:
    """Debian's main mosquitto.conf layout with the shipped drop-in, paths moved into `d`. Without
    `central_port` the centre's listener is left out, as on a store broker."""
    conf_d = d / "conf.d"
    conf_d.mkdir()
    text = (MOSQ / "kundpuls.conf").read_text()
    if central_port is None:
        head, sep, tail = text.partition("\nlistener 8884\n")
        assert sep, "shipped kundpuls.conf no longer has the centre's listener 8884"
        text = head + "\n" + tail[tail.index("\n\n"):]      # drop that listener's block
    else:
        text = text.replace("listener 8884", f"listener {central_port} 127.0.0.1")
    subs = {
        "listener 8883": f"listener {port} 127.0.0.1",
        "/etc/mosquitto/certs/ca.crt": str(ca.ca_file),
        "/etc/mosquitto/certs/server.crt": str(ca.cert_file),
        "/etc/mosquitto/certs/server.key": str(ca.key_file),
        "/etc/mosquitto/kundpuls.passwd": str(d / "kundpuls.passwd"),
        "/etc/mosquitto/kundpuls.acl": str(d / "kundpuls.acl"),
    }
    if central_port is not None:
        subs["/etc/mosquitto/kundpuls-central.passwd"] = str(d / "kundpuls-central.passwd")
        subs["/etc/mosquitto/kundpuls-central.acl"] = str(d / "kundpuls-central.acl")
    for old, new in subs.items():
        assert old in text, f"shipped kundpuls.conf no longer contains {old!r}"
        text = text.replace(old, new)
    (conf_d / "kundpuls.conf").write_text(with_built_plugin(text))
    # The centre's listener: its own password file (mosquitto_passwd, as the guide says) and ACL.
    shutil.copy(MOSQ / "kundpuls-central.acl", d / "kundpuls-central.acl")
    (d / "kundpuls-central.passwd").touch()
    _run("mosquitto_passwd", "-b", str(d / "kundpuls-central.passwd"), "central", PASSWORDS["central"], cwd=d)
    # The ACL as shipped, plus what `kiosk-central kiosk add` writes for each kiosk (its own code:
    # the password entry and the site-alerts block), plus the store bridge block.
    acl, pw = d / "kundpuls.acl", d / "kundpuls.passwd"
    shutil.copy(MOSQ / "kundpuls.acl", acl)
    for user, password in PASSWORDS.items():
        if user == "central":
            continue                                          # the centre's listener only
        if user in SITES:
            provision.set_password(pw, user, password)
            assert provision.ensure_acl(acl, user, SITES[user])
        else:
            pw.touch()
            _run("mosquitto_passwd", "-b", str(pw), user, password, cwd=d)
    with open(acl, "a") as f:
        f.write(bridge_acl_block("site-1", ["kiosk-a"]))    # the block bridge-store.conf documents
    return main_config(d, conf_d)


def main_config(d: Path, conf_d: Path) -> Path:
    (d / "persist").mkdir()
    main = d / "mosquitto.conf"
    lines = ["persistence true", f"persistence_location {d}/persist/", "log_dest stderr",
             f"include_dir {conf_d}"]
    if os.geteuid() == 0:
        lines.insert(0, "user root")   # mosquitto drops root to `mosquitto`, which cannot read tmp files
    main.write_text("\n".join(lines) + "\n")
    return main


def bridge_acl_block(site: str, kiosks: list[str]) -> str:
    """The central ACL block for a store bridge, exactly as the comment in bridge-store.conf says."""
    text = (MOSQ / "bridge-store.conf").read_text()
    doc = re.findall(r"(?m)^#   (user store-SITE|topic \S+ \S+)$", text)
    assert doc[0] == "user store-SITE" and len(doc) >= 4, doc
    out = [doc[0]]
    for line in doc[1:]:
        if "KIOSK" in line:
            out += [line.replace("KIOSK", k) for k in kiosks]
        else:
            out.append(line)
    return "\n" + "\n".join(out).replace("SITE", site) + "\n"


def store_broker_config(d: Path, ca: TestCA, port: int, central_port: int) -> Path:
    """A store broker: the shipped drop-in and ACL (its own kiosk users) plus the shipped bridge."""
    main = shipped_config_for_test(d, ca, port, None)
    bridge = (MOSQ / "bridge-store.conf").read_text()
    subs = {"SITE": "site-1", "central.example.com:8883": f"localhost:{central_port}",
            "/etc/mosquitto/certs/central-ca.crt": str(ca.ca_file),
            "remote_password CHANGE-ME": f"remote_password {PASSWORDS['store-site-1']}",
            "restart_timeout 5 60": "restart_timeout 1 2"}
    for old, new in subs.items():
        assert old in bridge, f"bridge-store.conf no longer contains {old!r}"
        bridge = bridge.replace(old, new)
    (d / "conf.d" / "bridge-store.conf").write_text(bridge)
    return main


class Mosquitto:
    """One mosquitto process on a config file; fails the test with its log if it does not listen."""

    def __init__(self, conf: Path, port: int) -> None:
        self.log_path = conf.parent / "mosquitto.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail("mosquitto exited with the shipped config:\n" + self.log_path.read_text())
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail("mosquitto did not listen:\n" + self.log_path.read_text())
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def shipped_broker(tmp_path_factory, broker_ca):
    if not shutil.which("mosquitto"):
        pytest.fail("mosquitto is required (see .ci/system-deps.sh)")
    d = tmp_path_factory.mktemp("mosq")
    port, central_port = free_tcp_port(), free_tcp_port()
    conf = shipped_config_for_test(d, broker_ca, port, central_port)
    server = Mosquitto(conf, port)
    try:
        yield {"port": port, "central_port": central_port, "ca": str(broker_ca.ca_file), "dir": d}
    finally:
        server.stop()


class Peer:
    """A paho MQTT 5 client over TLS that records what it receives and its CONNACK/SUBACK codes."""

    def __init__(self, broker: dict, user: str | None, password: str | None = None,
                 port: int | None = None, client_id: str | None = None,
                 session_expiry: int | None = None, will: tuple[str, bytes, bool] | None = None) -> None:
        """`session_expiry`: a persistent session (clean_start false, kept that many seconds);
        `will`: a QoS 1 Last Will (topic, payload, retain)."""
        self.messages: list[mqtt.MQTTMessage] = []
        self.arrived = threading.Condition()
        self.connected = threading.Event()
        self.connack: ReasonCode | None = None
        self.subacks: dict[int, list[ReasonCode]] = {}
        self.pubacks: dict[int, ReasonCode] = {}
        self.disconnects: list[ReasonCode] = []
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{user}-{id(self)}",
                             protocol=mqtt.MQTTv5)
        self.c.tls_set(ca_certs=broker["ca"], cert_reqs=ssl.CERT_REQUIRED)
        if user is not None:
            self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_publish = self._on_publish
        self.c.on_disconnect = lambda c, userdata, flags, rc, props: self.disconnects.append(rc)
        if will is not None:
            self.c.will_set(will[0], will[1], qos=1, retain=will[2])
        session = {}
        if session_expiry is not None:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = session_expiry
            session = {"clean_start": False, "properties": props}
        self.c.connect("localhost", port or broker["port"], keepalive=30, **session)
        self.c.loop_start()
        assert self.connected.wait(WAIT_S), "no CONNACK"

    def _on_connect(self, c, userdata, flags, rc, props):
        self.connack = rc
        self.connected.set()

    def _on_message(self, c, userdata, msg):
        with self.arrived:
            self.messages.append(msg)
            self.arrived.notify_all()

    def _on_subscribe(self, c, userdata, mid, rcs, props):
        with self.arrived:
            self.subacks[mid] = rcs
            self.arrived.notify_all()

    def _on_publish(self, c, userdata, mid, rc, props):
        with self.arrived:
            self.pubacks[mid] = rc
            self.arrived.notify_all()

    def subscribe(self, topic: str) -> list[ReasonCode]:
        _, mid = self.c.subscribe(topic, qos=1)
        with self.arrived:
            assert self.arrived.wait_for(lambda: mid in self.subacks, WAIT_S), f"no SUBACK for {topic}"
            return self.subacks[mid]

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> ReasonCode:
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        with self.arrived:
            assert self.arrived.wait_for(lambda: info.mid in self.pubacks, WAIT_S), f"no PUBACK for {topic}"
            return self.pubacks[info.mid]

    def wait_for_payload(self, payload: bytes) -> list[bytes]:
        """Everything received up to and including `payload` (fails if it never comes)."""
        with self.arrived:
            ok = self.arrived.wait_for(lambda: any(m.payload == payload for m in self.messages), WAIT_S)
            got = [m.payload for m in self.messages]
        assert ok, f"{payload!r} never arrived; got {got!r}"
        return got

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def peers(shipped_broker):
    """Connected peers; `central` goes to the centre's listener unless a port is given."""
    made: list[Peer] = []

    def make(user, password=None, port=None, client_id=None):
        if port is None and user == "central":
            port = shipped_broker["central_port"]
        p = Peer(shipped_broker, user, password, port, client_id)
        made.append(p)
        return p
    yield make
    for p in made:
        p.close()


def test_anonymous_and_wrong_password_are_refused(peers):
    anon = peers(None)
    assert anon.connack.is_failure, f"anonymous connect accepted: {anon.connack}"
    wrong = peers("kiosk-a", "not-the-password")
    assert wrong.connack.is_failure
    good = peers("kiosk-a", PASSWORDS["kiosk-a"])
    assert not good.connack.is_failure


def test_each_listener_knows_only_its_own_users(peers, shipped_broker):
    assert peers("central", PASSWORDS["central"], port=shipped_broker["port"]).connack.is_failure
    assert peers("kiosk-a", PASSWORDS["kiosk-a"], port=shipped_broker["central_port"]).connack.is_failure
    assert not peers("central", PASSWORDS["central"]).connack.is_failure


def test_a_kiosk_credential_cannot_take_over_another_kiosks_session(peers, shipped_broker):
    central = peers("central", PASSWORDS["central"])
    a = peers("kiosk-a", PASSWORDS["kiosk-a"], client_id="kiosk-a")
    a.subscribe("kundpuls/v1/kiosk/kiosk-a/ack")
    # kiosk-b's credential asks for kiosk-a's client id: the broker makes it "kiosk-b" instead of
    # closing kiosk-a's connection (which is what plain MQTT client-id takeover does).
    b = peers("kiosk-b", PASSWORDS["kiosk-b"], client_id="kiosk-a")
    assert not b.connack.is_failure
    central.publish("kundpuls/v1/kiosk/kiosk-a/ack", b"ack-a")
    assert a.wait_for_payload(b"ack-a") == [b"ack-a"]
    assert a.c.is_connected() and a.disconnects == []
    log = (shipped_broker["dir"] / "mosquitto.log").read_text()
    assert "Client kiosk-a already connected" not in log
    assert re.search(r"New client connected from \S+ as kiosk-b \(.*u'kiosk-b'\)", log), log[-1500:]


def test_plaintext_mqtt_is_not_served(shipped_broker):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="plain", protocol=mqtt.MQTTv5)
    c.username_pw_set("kiosk-a", PASSWORDS["kiosk-a"])
    with pytest.raises(Exception):
        c.connect("localhost", shipped_broker["port"], keepalive=5)
        # A TLS listener answers a plaintext CONNECT by dropping the connection.
        for _ in range(50):
            if c.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                raise ConnectionError("dropped")
        raise AssertionError("plaintext client stayed connected")


def test_kiosk_cannot_publish_under_another_kiosks_topics(peers):
    central = peers("central", PASSWORDS["central"])
    assert not central.subscribe("$share/ingest/kundpuls/v1/kiosk/+/events")[0].is_failure
    assert not central.subscribe("kundpuls/v1/kiosk/+/status")[0].is_failure
    a = peers("kiosk-a", PASSWORDS["kiosk-a"])
    a.publish("kundpuls/v1/kiosk/kiosk-b/events", b"forged-events")
    a.publish("kundpuls/v1/kiosk/kiosk-b/status", b"forged-status")
    a.publish("kundpuls/v1/kiosk/kiosk-a/status", b"status-a")
    a.publish("kundpuls/v1/kiosk/kiosk-a/events", b"events-a")
    # One connection, one broker: delivery keeps publish order, so anything forged would have
    # arrived before the allowed message that comes last.
    got = central.wait_for_payload(b"events-a")
    assert b"forged-events" not in got and b"forged-status" not in got
    assert b"status-a" in got


def test_kiosk_cannot_write_acks_configs_or_alerts(peers):
    central = peers("central", PASSWORDS["central"])
    b = peers("kiosk-b", PASSWORDS["kiosk-b"])
    for t in ("kundpuls/v1/kiosk/kiosk-b/config", "kundpuls/v1/kiosk/kiosk-b/ack", "kundpuls/v1/site/site-2/alerts"):
        assert not b.subscribe(t)[0].is_failure
    a = peers("kiosk-a", PASSWORDS["kiosk-a"])
    a.publish("kundpuls/v1/kiosk/kiosk-b/config", b"forged-config")
    a.publish("kundpuls/v1/kiosk/kiosk-b/ack", b"forged-ack")
    a.publish("kundpuls/v1/kiosk/kiosk-a/ack", b"self-ack")          # not even its own ack
    a.publish("kundpuls/v1/site/site-2/alerts", b"forged-alert")
    central.publish("kundpuls/v1/site/site-2/alerts", b"real-alert")
    got = b.wait_for_payload(b"real-alert")
    assert got == [b"real-alert"]


def test_kiosk_reads_only_its_own_config_ack_and_site_alerts(peers):
    """Another kiosk's topics and wildcards are refused at SUBSCRIBE (the plugin); what is granted
    is delivered only as far as the acl_file lets the kiosk read: any site's alerts may be
    subscribed to (the plugin does not know a kiosk's site), only its own site's arrive."""
    central = peers("central", PASSWORDS["central"])
    central.publish("kundpuls/v1/kiosk/kiosk-b/config", b"config-b", retain=True)
    central.publish("kundpuls/v1/kiosk/kiosk-a/config", b"config-a", retain=True)
    a = peers("kiosk-a", PASSWORDS["kiosk-a"])
    for topic in ("kundpuls/v1/kiosk/kiosk-b/config", "kundpuls/v1/kiosk/kiosk-b/events", "kundpuls/v1/kiosk/+/ack"):
        assert a.subscribe(topic)[0].value == 0x87, topic
    for topic in ("kundpuls/v1/site/site-2/alerts", "kundpuls/v1/site/site-1/alerts", "kundpuls/v1/kiosk/kiosk-a/ack",
                  "kundpuls/v1/kiosk/kiosk-a/config"):
        assert not a.subscribe(topic)[0].is_failure, topic
    assert a.wait_for_payload(b"config-a") == [b"config-a"]
    b = peers("kiosk-b", PASSWORDS["kiosk-b"])
    b.publish("kundpuls/v1/kiosk/kiosk-b/events", b"events-b")
    central.publish("kundpuls/v1/kiosk/kiosk-b/ack", b"ack-b")
    central.publish("kundpuls/v1/site/site-2/alerts", b"alert-site-2")
    central.publish("kundpuls/v1/kiosk/kiosk-a/ack", b"ack-a")
    central.publish("kundpuls/v1/site/site-1/alerts", b"alert-site-1")
    got = a.wait_for_payload(b"alert-site-1")
    assert got == [b"config-a", b"ack-a", b"alert-site-1"]


def test_shipped_queue_limits_are_the_documented_sizing():
    """The numbers in kundpuls.conf match the calculation written above them."""
    text = (MOSQ / "kundpuls.conf").read_text()
    msgs = int(re.search(r"^max_queued_messages (\d+)$", text, re.M).group(1))
    size = int(re.search(r"^max_queued_bytes (\d+)$", text, re.M).group(1))
    kiosks, per_day_status, per_day_events = 2000, 24 * 60, 300
    needed_msgs = kiosks * (per_day_status + per_day_events)
    needed_bytes = kiosks * (per_day_status * 400 + per_day_events * 700)
    assert needed_msgs <= msgs <= 2 * needed_msgs
    assert needed_bytes <= size <= 2 * needed_bytes


def test_store_bridge_carries_a_kiosks_topics_both_ways(shipped_broker, broker_ca, peers, tmp_path):
    central = peers("central", PASSWORDS["central"])
    central.subscribe("$share/ingest/kundpuls/v1/kiosk/+/events")
    central.subscribe("kundpuls/v1/bridge/+/state")
    store_port = free_tcp_port()
    store = Mosquitto(store_broker_config(tmp_path, broker_ca, store_port, shipped_broker["port"]), store_port)
    try:
        central.wait_for_payload(b"1")                       # the bridge is up at the centre
        kiosk = peers("kiosk-a", PASSWORDS["kiosk-a"], port=store_port)
        kiosk.subscribe("kundpuls/v1/kiosk/kiosk-a/ack")
        kiosk.publish("kundpuls/v1/kiosk/kiosk-b/events", b"forged-via-store")
        kiosk.publish("kundpuls/v1/kiosk/kiosk-a/events", b"events-a-via-store")
        got = central.wait_for_payload(b"events-a-via-store")
        assert b"forged-via-store" not in got
        # The centre's ack comes back; the bridge subscribes just after it says it is up, so retry.
        deadline = time.monotonic() + WAIT_S
        while not kiosk.messages:
            assert time.monotonic() < deadline, "the ack never came back through the bridge"
            central.publish("kundpuls/v1/kiosk/kiosk-a/ack", b"ack-a")
            with kiosk.arrived:
                kiosk.arrived.wait_for(lambda: kiosk.messages, 0.2)
        assert {m.payload for m in kiosk.messages} == {b"ack-a"}
        # The bridge's credential speaks only for its own store's kiosks.
        bridge_user = peers("store-site-1", PASSWORDS["store-site-1"])
        bridge_user.publish("kundpuls/v1/kiosk/kiosk-b/events", b"forged-by-bridge-user")
        bridge_user.publish("kundpuls/v1/kiosk/kiosk-a/events", b"allowed-by-bridge-user")
        got = central.wait_for_payload(b"allowed-by-bridge-user")
        assert b"forged-by-bridge-user" not in got
    finally:
        store.stop()


def test_default_ports_match_the_shipped_listeners():
    """Kiosks default to the stores' listener, the centre's commands to the centre's one."""
    from kiosk.config import BrokerSettings
    from server_sync.commands.ingest import CENTRE_PORT
    listeners = re.findall(r"^listener (\d+)$", (MOSQ / "kundpuls.conf").read_text(), re.M)
    assert listeners == [str(BrokerSettings().port), str(CENTRE_PORT)] == ["8883", "8884"]


def test_a_kiosk_credential_cannot_steal_or_stall_the_ingests_batches(peers, shipped_broker, tmp_path):
    """mosquitto 2.0's acl_file grants a kiosk every SUBSCRIBE (its read ACL applies only at
    delivery): a kiosk in the ingest's share group would be handed its share of every kiosk's
    batches, which the broker then drops, never acked. The shipped plugin refuses a kiosk every
    shared subscription (tests/test_broker_subscriptions.py), and the real ingest, on the shipped
    broker's centre listener, names its group from the centre's password besides: a kiosk
    credential that asks for every group it can guess is refused each, takes nothing, and all of
    another kiosk's batches are acked."""
    from types import SimpleNamespace

    from server_sync import protocol
    from server_sync.central import registry
    from server_sync.central.db import connect
    from tests.central.fleet import IngestProcess, wait_until
    from tests.central.wire import batch, response

    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = connect(url)
    for kiosk, site in SITES.items():
        registry.add_site(db, site, site, "Europe/Stockholm", datetime(2026, 1, 1))
        registry.add_kiosk(db, kiosk, site, datetime(2026, 1, 1))
    db.close()
    a = peers("kiosk-a", PASSWORDS["kiosk-a"])
    for guess in ("$share/ingest/kundpuls/v1/kiosk/+/events", "$share/ingest/kundpuls/v1/kiosk/kiosk-b/events",
                  "$share/ingest/#", "$share/kundpuls/kundpuls/v1/kiosk/+/events", "#"):
        assert a.subscribe(guess)[0].value == 0x87, guess
    (tmp_path / "central.pass").write_text(PASSWORDS["central"] + "\n")
    centre = SimpleNamespace(host="localhost", port=shipped_broker["central_port"], ca_file=shipped_broker["ca"],
                             password_file_for=lambda user: tmp_path / "central.pass")
    ingest = IngestProcess(url, centre, tmp_path / "ingest.log").start()
    try:
        b = peers("kiosk-b", PASSWORDS["kiosk-b"])
        b.subscribe(protocol.ack_topic("kiosk-b"))
        for i in range(1, 21):
            b.publish(*batch([response(i, kiosk="kiosk-b", site="site-2")], kiosk="kiosk-b", batch_id=f"b{i}"))
        with b.arrived:
            b.arrived.wait_for(lambda: len(b.messages) >= 20, 15)
        acked = sorted(protocol.decode_ack(m.payload).batch_id for m in b.messages)
        assert acked == sorted(f"b{i}" for i in range(1, 21)), f"batches never acked: {ingest.log()[-2000:]}"
        db = connect(url)
        assert wait_until(lambda: db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0] == 20, 5)
        db.close()
        assert [m.topic for m in a.messages if not m.topic.startswith("kundpuls/v1/kiosk/kiosk-a/")] == []
    finally:
        ingest.close()


def test_the_broker_refuses_packets_larger_than_the_protocol_allows(peers):
    """The largest events payload the protocol allows goes through the shipped broker; one 8 KiB
    larger disconnects its sender and never reaches the centre (one credential must not be able
    to push megabytes at the ingest's dead-letter table)."""
    from server_sync.protocol import DEFAULT_MAX_BYTES
    text = (MOSQ / "kundpuls.conf").read_text()
    assert int(re.search(r"^max_packet_size (\d+)$", text, re.M).group(1)) == DEFAULT_MAX_BYTES + 4096
    central = peers("central", PASSWORDS["central"])
    central.subscribe("kundpuls/v1/kiosk/+/events")
    a = peers("kiosk-a", PASSWORDS["kiosk-a"])
    largest = b"L" * DEFAULT_MAX_BYTES
    assert not a.publish("kundpuls/v1/kiosk/kiosk-a/events", largest).is_failure
    assert central.wait_for_payload(largest)[-1] == largest
    a.c.publish("kundpuls/v1/kiosk/kiosk-a/events", b"X" * (DEFAULT_MAX_BYTES + 8192), qos=1)
    deadline = time.monotonic() + WAIT_S
    while a.c.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not a.c.is_connected(), "the broker kept a client that sent an oversize packet"
    b = peers("kiosk-b", PASSWORDS["kiosk-b"])
    b.publish("kundpuls/v1/kiosk/kiosk-b/events", b"after")
    got = central.wait_for_payload(b"after")
    assert len(got) == 2 and got[0] == largest


def test_deactivate_clears_a_kiosks_retained_status_through_the_shipped_acl(peers, shipped_broker, tmp_path,
                                                                           capsys):
    """A kiosk's retained status is handed to every ingestor at every start; a hostile one (see
    tests/central/test_ingest_service.py) must be removable. `kiosk deactivate --clear-status`
    publishes the empty retained message as `central`, which the shipped central ACL allows."""
    from datetime import datetime

    from server_sync.central import registry
    from server_sync.central.db import connect
    from server_sync.cli import main
    topic = "kundpuls/v1/kiosk/kiosk-a/status"
    hostile = b'{"schema":1,"online":true,"\\u0000":1}'
    kiosk = peers("kiosk-a", PASSWORDS["kiosk-a"])
    assert not kiosk.publish(topic, hostile, retain=True).is_failure
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    registry.add_site(db, "site-1", "Site 1", "Europe/Stockholm", datetime(2026, 11, 1))
    registry.add_kiosk(db, "kiosk-a", "site-1", datetime(2026, 11, 1))
    db.close()
    # Copies of the broker's kiosk files: this broker serves the other tests of the module.
    for name in ("kundpuls.passwd", "kundpuls.acl"):
        shutil.copy(shipped_broker["dir"] / name, tmp_path / name)
    (tmp_path / "central.password").write_text(PASSWORDS["central"] + "\n")
    assert main(["--db", url, "kiosk", "deactivate", "kiosk-a", "--password-file", str(tmp_path / "kundpuls.passwd"),
                 "--acl-file", str(tmp_path / "kundpuls.acl"), "--clear-status", "--broker-host", "localhost",
                 "--broker-port", str(shipped_broker["central_port"]), "--ca-file", shipped_broker["ca"],
                 "--broker-password-file", str(tmp_path / "central.password")]) == 0, capsys.readouterr()
    assert "retained status and config are cleared" in capsys.readouterr().out
    later = peers("central", PASSWORDS["central"])
    assert not later.subscribe("kundpuls/v1/kiosk/+/status")[0].is_failure
    time.sleep(0.5)                                      # a retained message comes with the SUBACK
    assert [m.payload for m in later.messages if m.topic == topic] == []


def test_the_shipped_central_acl_lets_the_ingest_clear_a_retained_batch(peers):
    """A kiosk may publish its events retained; the ingest refuses the batch the broker hands it
    at each start and clears it with an empty retained message as `central` (server_sync/ingest.py)."""
    topic = "kundpuls/v1/kiosk/kiosk-a/events"
    kiosk = peers("kiosk-a", PASSWORDS["kiosk-a"])
    assert not kiosk.publish(topic, b"retained-batch", retain=True).is_failure
    central = peers("central", PASSWORDS["central"])
    assert not central.publish(topic, b"", retain=True).is_failure
    later = peers("central", PASSWORDS["central"])
    assert not later.subscribe(topic)[0].is_failure
    kiosk.publish(topic, b"after")
    # A retained message comes with the subscription, before anything published after it.
    assert later.wait_for_payload(b"after") == [b"after"]


def test_the_plugins_make_rebuilds_a_release_unpacked_over_a_newer_build(tmp_path):
    """docs/deployment.md A9: "unpack the new release archive", then `make -C ratelimit`. An
    archive gives its files the commit's time; a .so built after that commit from the previous
    release looked up to date ("Nothing to be done"), and mosquitto then refused the new
    kundpuls.conf (`unknown option plugin_opt_day_bytes`: the broker down). The build follows
    the source's content: built again when it changed, whatever the times; not when it did not."""
    src = tmp_path / "ratelimit"
    shutil.copytree(MOSQ / "ratelimit", src, ignore=shutil.ignore_patterns("*.so", "*.tmp.*", ".built-from*"))
    source = src / "kundpuls_ratelimit.c"

    def make() -> str:
        done = subprocess.run(["make", "-C", str(src)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    previous = source.read_text()
    source.write_text(previous.replace("plugin_opt_", "plugin_old_opt_"))    # the previous release
    make()
    built = (src / "kundpuls_ratelimit.so").read_bytes()
    assert b"plugin_old_opt_" in built
    assert "gcc" not in make() and "-shared" not in make()               # nothing changed: not built again
    source.write_text(previous)                                          # the new release, unpacked...
    commit_time = time.time() - 86400                                    # ...with its commit's older time
    os.utime(source, (commit_time, commit_time))
    os.utime(src / "Makefile", (commit_time, commit_time))
    assert "-shared" in make()
    rebuilt = (src / "kundpuls_ratelimit.so").read_bytes()
    assert b"plugin_old_opt_" not in rebuilt and b"unknown option plugin_opt_" in rebuilt
