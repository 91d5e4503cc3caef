"""The broker's per-kiosk limit of bytes (firmware_config/mosquitto/ratelimit/, loaded by the
shipped kundpuls.conf on the kiosks' listener) on a real mosquitto with the shipped config: one
kiosk's flood, of tiny messages or of full-size ones, is refused at the broker, before it is
queued in front of the other kiosks' messages for the centre; a kiosk's real bursts pass; and a
kiosk whose publishes are refused sends them again, so every answer reaches the centre exactly
once (tests/sync/test_rate_limited.py; tests/sync/test_valid_flood.py floods the real ingest)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from server_sync.protocol import DEFAULT_MAX_BYTES
from tests.fixtures.broker import free_tcp_port, wait_until_it_catches_sighup
from tests.test_firmware_mosquitto import MOSQ, PASSWORDS, Mosquitto, Peer, shipped_config_for_test

pytestmark = pytest.mark.broker

KIOSK_TOPIC = "kundpuls/v1/kiosk/{}/{}"
# What the centre spends on a message it takes: the broker queues whatever a slower subscriber has
# not taken yet, in arrival order. Measured end to end through this broker and the real ingest on
# SQLite (2 shared cores, 2026-12-07, limits off): a full batch (1 MiB, 2,700 answers) 50-68 ms,
# a one-answer batch (450 bytes) 0.34-0.40 ms, a malformed message 0.16 ms.
CENTRE_COST_S_PER_MESSAGE = 0.00035
CENTRE_COST_S_PER_MIB = 0.060
FLOOD = 30_000
FULL = DEFAULT_MAX_BYTES                  # the largest events payload the protocol allows
FULL_FLOOD = 300
# The most a flood may add to another kiosk's delivery: its burst at the centre's cost (2,570 tiny
# messages 0.9 s, 20 full ones 1.2 s; 1.4 and 0.5 s measured) and room for a loaded test machine
# (2 s more seen). Counting messages, not bytes, 300 full messages added 18 s here and 46 s through
# the real ingest (tests/sync/test_valid_flood.py); without any limit, 20,000 tiny ones added 9 s
# (events), 6 s (status).
FLOOD_DELAY_BOUND_S = 3.5
LIMITS = ("bytes_per_s", "burst_bytes", "message_bytes", "day_bytes")


def shipped_limits() -> dict[str, float]:
    """The plugin's options in the shipped kundpuls.conf, by name (bytes_per_s, …)."""
    text = (MOSQ / "kundpuls.conf").read_text()
    return {name: float(re.search(rf"^plugin_opt_{name} (\S+)$", text, re.M).group(1)) for name in LIMITS}


def shipped_conf(d: Path, ca, **limits: float) -> tuple[Path, int, int]:
    """(main config, kiosk port, centre port) of the shipped broker's config in `d`, the plugin's
    options named in `limits` replaced (a test that needs refusals soon: bytes_per_s=…,
    burst_bytes=…, message_bytes=…, day_bytes=…)."""
    d.mkdir(parents=True, exist_ok=True)
    port, central_port = free_tcp_port(), free_tcp_port()
    main = shipped_config_for_test(d, ca, port, central_port)
    conf = d / "conf.d" / "kundpuls.conf"
    text = conf.read_text()
    for name, value in limits.items():
        assert name in LIMITS, name
        text = re.sub(rf"^plugin_opt_{name} .*$", f"plugin_opt_{name} {value}", text, flags=re.M)
    conf.write_text(text)
    with open(main, "a") as f:
        f.write("log_type subscribe\n")           # lets a test wait for the ingest's subscription
    return main, port, central_port


def start_shipped(d: Path, ca, **limits: float) -> tuple[Mosquitto, dict]:
    """The shipped broker, the plugin's options named in `limits` replaced (`shipped_conf`)."""
    main, port, central_port = shipped_conf(d, ca, **limits)
    server = Mosquitto(main, port)
    deadline = time.monotonic() + 10
    while True:                                   # the centre's listener opens just after
        try:
            socket.create_connection(("127.0.0.1", central_port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the centre's listener did not open"
            time.sleep(0.05)
    return server, {"port": port, "central_port": central_port, "ca": str(ca.ca_file), "dir": d,
                    "pid": server.proc.pid}


def reload_config(broker: dict, timeout: float = 10.0) -> None:
    """SIGHUP to the broker, what `systemctl reload mosquitto` (docs/deployment.md, after `kiosk
    add`) and Debian's logrotate send; back once the broker has reloaded. mosquitto logs the line
    below just before it reads its config again, in the one thread that also serves the clients,
    so whatever connects after the line is served by the reloaded config."""
    log = Path(broker["dir"]) / "mosquitto.log"
    before = log.read_text(errors="replace").count("Reloading config.")
    wait_until_it_catches_sighup(broker["pid"])
    os.kill(broker["pid"], signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while log.read_text(errors="replace").count("Reloading config.") <= before:
        assert time.monotonic() < deadline, "the broker did not reload:\n" + log.read_text(errors="replace")[-2000:]
        time.sleep(0.02)


@pytest.fixture
def limited(tmp_path, broker_ca):
    """The shipped broker as shipped, its kiosks' buckets full."""
    server, broker = start_shipped(tmp_path / "mosq", broker_ca)
    try:
        yield broker
    finally:
        server.stop()


class SlowCentre:
    """Subscribed like the ingest (events through the share group, statuses plainly) on the
    centre's listener, spending on each message what the ingest does (CENTRE_COST_S_PER_MESSAGE
    and CENTRE_COST_S_PER_MIB); records when each arrived."""

    def __init__(self, broker: dict) -> None:
        self.arrived: dict[bytes, float] = {}
        self.count = 0
        self.peer = Peer(broker, "central", PASSWORDS["central"], broker["central_port"])
        self.peer.c.on_message = self._on_message
        self.peer.subscribe("$share/ingest/kundpuls/v1/kiosk/+/events")
        self.peer.subscribe("kundpuls/v1/kiosk/+/status")

    def _on_message(self, c, userdata, msg) -> None:
        end = time.perf_counter() + CENTRE_COST_S_PER_MESSAGE + len(msg.payload) / 2**20 * CENTRE_COST_S_PER_MIB
        while time.perf_counter() < end:
            pass
        self.count += 1
        if msg.payload.startswith(b"probe"):
            self.arrived[msg.payload] = time.monotonic()

    def latency(self, sender: Peer, topic: str, payload: bytes, timeout: float = 60.0) -> float:
        """Seconds from `sender`'s publish of `payload` until it reached the centre."""
        t0 = time.monotonic()
        sender.c.publish(topic, payload, qos=1)
        deadline = t0 + timeout
        while payload not in self.arrived:
            assert time.monotonic() < deadline, f"{payload!r} never reached the centre"
            time.sleep(0.002)
        return self.arrived[payload] - t0


def flood(broker: dict, topic: str, n: int, log: Path, size: int = 1) -> subprocess.Popen:
    """The reviewer's one stock command: kiosk-a, with its own credential, publishes `n` QoS 1
    messages of `size` bytes on `topic` back to back (mosquitto_pub goes on past each refusal,
    warning in `log`)."""
    payload = log.with_suffix(".payload")
    payload.write_bytes(b"x" * size)
    with open(log, "w") as err:
        return subprocess.Popen(["mosquitto_pub", "-h", "localhost", "-p", str(broker["port"]), "--cafile",
                                 broker["ca"], "-u", "kiosk-a", "-P", PASSWORDS["kiosk-a"], "-V", "mqttv5", "-q", "1",
                                 "-t", topic, "-f", str(payload), "--repeat", str(n)],
                                stdout=subprocess.DEVNULL, stderr=err)


@pytest.mark.parametrize("leaf, n, size", [("events", FLOOD, 1), ("status", FLOOD, 1), ("events", FULL_FLOOD, FULL)],
                         ids=["events", "status", "events-full-size"])
def test_one_kiosks_flood_does_not_delay_another_kiosk(limited, leaf, n, size, tmp_path):
    """kiosk-a floods its own topic with 30,000 tiny QoS 1 messages, or 300 of the largest the
    protocol allows: the broker passes its burst and rate of bytes (each message counting its
    payload and the charge per message) and refuses the rest, and kiosk-b's messages reach the
    centre within FLOOD_DELAY_BOUND_S of the no-flood baseline all the while."""
    centre = SlowCentre(limited)
    b = Peer(limited, "kiosk-b", PASSWORDS["kiosk-b"])
    proc = None
    try:
        topic_b = KIOSK_TOPIC.format("kiosk-b", leaf)
        baseline = max(centre.latency(b, topic_b, b"probe-base-%d" % i) for i in range(5))
        proc = flood(limited, KIOSK_TOPIC.format("kiosk-a", leaf), n, tmp_path / "flood.err", size)
        t0, during = time.monotonic(), []
        while proc.poll() is None:
            during.append(centre.latency(b, topic_b, b"probe-%d" % len(during)))
            time.sleep(0.1)
        flood_s = time.monotonic() - t0
        refused = (tmp_path / "flood.err").read_text().count("failed: Not authorized")   # PUBACK 0x87
        during.append(centre.latency(b, topic_b, b"probe-after"))
        limits = shipped_limits()
        passed = centre.count - len(during) - 5
        cost = size + limits["message_bytes"]
        print(f"{n} x {size} bytes on {leaf}: {passed} passed, {refused} refused in {flood_s:.1f} s; kiosk-b "
              f"{baseline:.2f} s before, at most {max(during):.2f} s during")
        assert passed * cost <= limits["burst_bytes"] + limits["bytes_per_s"] * (flood_s + 1), (passed, flood_s)
        assert refused == n - passed, (passed, refused, flood_s)
        assert len(during) >= 3
        assert max(during) <= baseline + FLOOD_DELAY_BOUND_S, (baseline, during)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        b.close()
        centre.peer.close()


@pytest.mark.parametrize("size, reconnects", [("default", 3), ("maximum", 1)])
def test_a_kiosks_real_bursts_pass_untouched(limited, size, reconnects):
    """The sync agent's most: at every (re)connect a status and 16 batches in flight at once
    (kiosk/sync_agent.py), each as large as sync.batch_max_bytes, then one batch per ack: three
    reconnects back to back at the default size, or a whole window of the largest batches a kiosk
    may build, all pass."""
    from kiosk.config.schema import key
    from kiosk.sync_agent import SyncAgent
    import inspect
    in_flight = inspect.signature(SyncAgent).parameters["max_inflight_batches"].default
    batch_bytes = getattr(key("sync.batch_max_bytes"), size)
    centre = SlowCentre(limited)
    b = Peer(limited, "kiosk-b", PASSWORDS["kiosk-b"])
    try:
        codes = []
        for burst in range(reconnects):
            codes.append(b.publish("kundpuls/v1/kiosk/kiosk-b/status", b"probe-status-%d" % burst))
            infos = [b.c.publish("kundpuls/v1/kiosk/kiosk-b/events",
                                 (b"probe-batch-%d-%d " % (burst, i)).ljust(batch_bytes, b"x"), qos=1)
                     for i in range(in_flight)]
            with b.arrived:
                assert b.arrived.wait_for(lambda: all(i.mid in b.pubacks for i in infos), 30)
            codes += [b.pubacks[i.mid] for i in infos]
        assert [str(c) for c in codes if c.is_failure] == []
        deadline = time.monotonic() + 30
        while len(centre.arrived) < reconnects * (in_flight + 1) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(centre.arrived) == reconnects * (in_flight + 1)
    finally:
        b.close()
        centre.peer.close()


def test_the_limit_is_the_ingests_and_only_on_the_kiosk_listener():
    """One set of numbers: the broker's (kundpuls.conf) are the ingest's own defaults; and the
    plugin is loaded in the kiosks' listener block only (per_listener_settings: not the centre's)."""
    from server_sync.ingest_inbox import KIOSK_BURST_BYTES, KIOSK_BYTES_PER_S, KIOSK_DAY_BYTES, KIOSK_MESSAGE_BYTES
    assert shipped_limits() == {"bytes_per_s": KIOSK_BYTES_PER_S, "burst_bytes": KIOSK_BURST_BYTES,
                                "message_bytes": KIOSK_MESSAGE_BYTES, "day_bytes": KIOSK_DAY_BYTES}
    text = (MOSQ / "kundpuls.conf").read_text()
    kiosk_block, centre_block = text.split("\nlistener 8884\n")
    assert "\nplugin " in kiosk_block.split("\nlistener 8883\n")[1] and "plugin" not in centre_block
    assert re.search(r"^per_listener_settings true$", text, re.M)


def test_a_kiosk_under_its_rate_is_held_to_its_day(tmp_path, broker_ca):
    """The day's bucket (plugin_opt_day_bytes, here 100,000 bytes with a rate that refills the
    burst at once): kiosk-a's messages of 9,000 bytes (8,192 charged on top) pass five times, then
    are refused (0x87) although its rate would take them, the log says it is its day; kiosk-b's
    day is its own."""
    server, broker = start_shipped(tmp_path / "mosq", broker_ca, bytes_per_s=1e9, burst_bytes=36_000,
                                   day_bytes=100_000)
    a = Peer(broker, "kiosk-a", PASSWORDS["kiosk-a"])
    b = Peer(broker, "kiosk-b", PASSWORDS["kiosk-b"])
    try:
        codes = [a.publish(KIOSK_TOPIC.format("kiosk-a", "events"), b"x" * 9_000) for _ in range(8)]
        assert [c.is_failure for c in codes] == [False] * 5 + [True] * 3, [str(c) for c in codes]
        assert codes[-1].value == 0x87
        assert not b.publish(KIOSK_TOPIC.format("kiosk-b", "events"), b"x" * 9_000).is_failure
        log = (Path(broker["dir"]) / "mosquitto.log").read_text(errors="replace")
        assert "kiosk kiosk-a (client kiosk-a) is over its day's 100000 bytes" in log, log
    finally:
        a.close()
        b.close()
        server.stop()


def leave_with_will(broker: dict, user: str, topic: str, payload: bytes, retain: bool = False) -> None:
    """`user` connects with a QoS 1 Last Will of `payload` on `topic` and leaves with DISCONNECT
    reason 0x04 ("disconnect with will message"): the broker publishes the Will."""
    p = Peer(broker, user, PASSWORDS[user], will=(topic, payload, retain))
    p.c.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message"))
    p.c.loop_stop()


def test_a_kiosks_wills_are_charged_to_its_own_bucket(tmp_path, broker_ca):
    """A Last Will is a message the broker publishes for its client: it costs the kiosk's bucket as
    a PUBLISH does, once, and is dropped when the bucket is spent. kiosk-a spends its burst (36,000
    bytes: two publishes of 9,000 bytes, each counting 8,192 more; a third is refused, 0x87), then
    connects five times with a 20,000-byte Will on its own events topic and leaves with reason 0x04:
    none reaches the centre (the reviewer's loop had brought 200 Wills of 65,000 bytes, 12 MiB, in
    8 s after the bucket was empty). Five Wills on kiosk-b's events topic are charged to kiosk-a,
    not to kiosk-b, whose small retained status Will (the sync agent's) then reaches the centre and
    whose next publish still passes."""
    from server_sync.protocol import will_payload
    server, broker = start_shipped(tmp_path / "mosq", broker_ca, bytes_per_s=1, burst_bytes=36_000)
    centre = Peer(broker, "central", PASSWORDS["central"], broker["central_port"])
    try:
        for topic in ("kundpuls/v1/kiosk/+/events", "kundpuls/v1/kiosk/+/status"):
            assert not centre.subscribe(topic)[0].is_failure
        events_a, events_b = KIOSK_TOPIC.format("kiosk-a", "events"), KIOSK_TOPIC.format("kiosk-b", "events")
        a = Peer(broker, "kiosk-a", PASSWORDS["kiosk-a"])
        codes = [a.publish(events_a, b"x" * 9_000) for _ in range(3)]
        a.close()
        assert [c.is_failure for c in codes] == [False, False, True], [str(c) for c in codes]   # each charged once
        for i in range(5):
            leave_with_will(broker, "kiosk-a", events_a, b"W" * 20_000)
            leave_with_will(broker, "kiosk-a", events_b, b"F" * 20_000)
        status_b = KIOSK_TOPIC.format("kiosk-b", "status")
        leave_with_will(broker, "kiosk-b", status_b, will_payload(), retain=True)
        got = centre.wait_for_payload(will_payload())       # after kiosk-a's Wills, had any passed
        assert [len(p) for p in got if p[:1] in (b"W", b"F")] == [], "a Will got past the spent bucket"
        b = Peer(broker, "kiosk-b", PASSWORDS["kiosk-b"])
        assert not b.publish(events_b, b"x" * 9_000).is_failure
        b.close()
        log = (Path(broker["dir"]) / "mosquitto.log").read_text(errors="replace")
        assert "kiosk kiosk-a (client kiosk-a) is over its rate" in log, log[-3000:]
    finally:
        centre.close()
        server.stop()


def test_a_store_bridges_messages_count_against_their_kiosks(tmp_path, broker_ca):
    """A store bridge carries several kiosks: each message it sends for one of them is charged to
    that kiosk's bucket, not the bridge's own (every write is charged to its sender when the
    broker checks it, then moved to the kiosk the topic names once the ACL allowed it). Its two
    messages of 9,000 bytes for kiosk-a spend kiosk-a's burst of 36,000 (a third is refused, and
    so is kiosk-a's own); the bridge's own bucket is whole, so its 9,000-byte state message passes."""
    server, broker = start_shipped(tmp_path / "mosq", broker_ca, bytes_per_s=1, burst_bytes=36_000)
    bridge = Peer(broker, "store-site-1", PASSWORDS["store-site-1"])
    a = Peer(broker, "kiosk-a", PASSWORDS["kiosk-a"])
    try:
        codes = [bridge.publish(KIOSK_TOPIC.format("kiosk-a", "events"), b"x" * 9_000) for _ in range(3)]
        assert [c.is_failure for c in codes] == [False, False, True], [str(c) for c in codes]
        assert a.publish(KIOSK_TOPIC.format("kiosk-a", "events"), b"x" * 9_000).is_failure
        assert not bridge.publish("kundpuls/v1/bridge/store-site-1/state", b"x" * 9_000).is_failure
    finally:
        a.close()
        bridge.close()
        server.stop()


def test_a_day_smaller_than_the_burst_stops_the_broker(tmp_path, broker_ca):
    """A day that could never hold a message as large as the burst is a mistake in kundpuls.conf:
    mosquitto does not start, and its log names the option."""
    main, _, _ = shipped_conf(tmp_path / "mosq", broker_ca, burst_bytes=36_000, day_bytes=35_999)
    done = subprocess.run(["mosquitto", "-c", str(main)], capture_output=True, text=True, timeout=20)
    log_file = tmp_path / "mosq" / "mosquitto.log"
    log = done.stdout + done.stderr + (log_file.read_text(errors="replace") if log_file.exists() else "")
    assert done.returncode != 0
    assert "plugin_opt_day_bytes must be a number of bytes no smaller than plugin_opt_burst_bytes" in log, log


class ShippedAsFixture:
    """The shipped broker seen as tests/fixtures/broker.py's `Broker` by the end-to-end helpers
    (tests/sync/): the centre on its own listener, kiosks on theirs."""

    def __init__(self, broker: dict) -> None:
        self.host, self.port, self.ca_file = "localhost", broker["central_port"], broker["ca"]
        self.kiosk_port = broker["port"]
        self.dir = Path(broker["dir"])

    def password_file_for(self, user: str) -> Path:
        path = self.dir / f"{user}.password"
        path.write_text(PASSWORDS[user] + "\n")
        path.chmod(0o600)
        return path

    def kiosk_broker_mapping(self, user: str) -> dict:
        return {"host": self.host, "port": self.kiosk_port, "tls": True, "ca_file": self.ca_file,
                "username": user, "password_file": str(self.password_file_for(user)), "keepalive_s": 5,
                "topic_prefix": ""}

    def wait_for_log(self, text: str, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (self.dir / "mosquitto.log").read_text(errors="replace"):
                return True
            time.sleep(0.05)
        return False
