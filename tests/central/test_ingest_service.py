"""The ingest process as a service: it tells systemd READY, pings the watchdog and says STOPPING
on SIGTERM; and when the database goes away it keeps the message unacknowledged, retries, and
commits it once the database is back (nothing dead-lettered, nothing lost)."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta, timezone

import pytest

from server_sync.central.db import connect
from tests.central.fleet import AgentThread, IngestProcess, NotifySocket, make_kiosk, wait_until
from tests.central.wire import count, register_fleet
from tests.fixtures.postgres import LocalPostgres, admin_execute, with_database

pytestmark = pytest.mark.broker


def test_ingest_speaks_sd_notify(broker, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    register_fleet(db)
    db.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(10)
    ing = IngestProcess(url, broker, tmp_path / "ing.log", "ingest-n",
                        env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"})
    try:
        ing.start()
        got: list[str] = []
        end = time.monotonic() + 10
        while time.monotonic() < end and not (any(m.startswith("READY=1") for m in got)
                                               and got.count("WATCHDOG=1") >= 3):
            got.append(sock.recv(4096).decode())
        assert any(m.startswith("READY=1") for m in got) and got.count("WATCHDOG=1") >= 3, got
        assert ing.terminate() == 0
        rest = []
        sock.settimeout(2)
        try:
            while True:
                rest.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        assert "STOPPING=1" in rest
    finally:
        ing.close()
        sock.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_database_outage_keeps_messages_until_committed(broker, tmp_path):
    server = LocalPostgres()
    ing = None
    try:
        server.start()
        admin_execute(server.url, "CREATE DATABASE outage TEMPLATE template0")
        url = with_database(server.url, "outage")
        db = connect(url)
        register_fleet(db)
        db.close()
        ing = IngestProcess(url, broker, tmp_path / "ing.log", "ingest-o").start()
        k = make_kiosk(tmp_path, broker, "k1", "s1", batch_max_events=10)
        total = k.record(40)
        server.halt()
        agent = AgentThread(k)
        try:
            assert wait_until(lambda: "database unavailable" in ing.log(), 20), ing.log()
            time.sleep(1.0)
            assert k.store.outbox_depth() == total          # nothing acked while the database is down
            server.start()
            assert wait_until(lambda: k.store.outbox_depth() == 0, 40), ing.log()
        finally:
            agent.stop()
        assert_stored_once_none_dead_lettered(url, total)
        assert ing.terminate() == 0
    finally:
        if ing:
            ing.close()
        server.stop()


def assert_stored_once_none_dead_lettered(url: str, total: int) -> None:
    db = connect(url)
    try:
        assert count(db, "SELECT COUNT(*) FROM response") == total
        assert count(db, "SELECT COUNT(DISTINCT id) FROM response") == total
        assert count(db, "SELECT COUNT(*) FROM dead_letter") == 0
    finally:
        db.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_statement_timeouts_under_a_held_lock_dead_letter_nothing(broker, pg_url, tmp_path):
    """The database's statement_timeout cancels the ingest's writes while another session holds
    its tables locked for a few seconds: a store failure like an outage (docs/central.md), so the
    groups are retried, nothing is dead-lettered or acked meanwhile, and every answer goes in
    once. It used to dead-letter 12 of 40 answers' batches as 'internal error: QueryCanceled'."""
    import psycopg

    name = pg_url.rsplit("/", 1)[1]
    db = connect(pg_url)
    register_fleet(db)
    db.execute_sql(f"ALTER DATABASE {name} SET statement_timeout = '200ms'")   # for new sessions
    db.close()
    ing = IngestProcess(pg_url, broker, tmp_path / "ing.log", "ingest-t")
    k = make_kiosk(tmp_path, broker, "k1", "s1", batch_max_events=10)
    try:
        ing.start()
        with psycopg.connect(pg_url) as locker:
            locker.execute("SET statement_timeout = 0")
            # Reads pass, writes wait: the bulk COPY and the rollups' upserts are what time out.
            locker.execute("LOCK TABLE response, rollup_hourly, rollup_daily IN EXCLUSIVE MODE")
            total = k.record(40)
            agent = AgentThread(k)
            try:
                assert wait_until(lambda: "database unavailable" in ing.log(), 20), ing.log()
                time.sleep(3.0)
                assert k.store.outbox_depth() == total          # nothing acked while the writes fail
                locker.rollback()
                assert wait_until(lambda: k.store.outbox_depth() == 0, 40), ing.log()
            finally:
                agent.stop()
        assert_stored_once_none_dead_lettered(pg_url, total)
        assert "dead-lettered" not in ing.log().replace("0 dead-lettered", ""), ing.log()
        assert ing.terminate() == 0
    finally:
        ing.close()


WATCHDOG_S = 4.0        # WatchdogSec here; kundpuls-ingest.service has 60


class Outage:
    """The store failing under the ingest for a while: SQLite held in a write transaction by
    another process, PostgreSQL's tables locked by another session, or PostgreSQL stopped."""

    def __init__(self, kind: str, tmp_path) -> None:
        self.kind, self.server, self._held = kind, None, None
        if kind == "sqlite locked":
            self.path = tmp_path / "c.db"
            self.url = f"sqlite:///{self.path}"
        else:
            self.server = LocalPostgres()
            self.server.start()
            admin_execute(self.server.url, "CREATE DATABASE wd TEMPLATE template0")
            self.url = with_database(self.server.url, "wd")
        db = connect(self.url)
        register_fleet(db)
        db.close()

    def begin(self) -> None:
        if self.kind == "sqlite locked":
            import sqlite3
            self._held = sqlite3.connect(self.path, isolation_level=None)
            self._held.execute("BEGIN IMMEDIATE")
        elif self.kind == "postgresql locked":
            import psycopg
            self._held = psycopg.connect(self.url)
            self._held.execute("LOCK TABLE response, rollup_hourly, rollup_daily IN EXCLUSIVE MODE")
        else:
            self.server.halt()

    def end(self) -> None:
        if self._held is not None:
            self._held.rollback()
            self._held.close()
            self._held = None
        elif self.kind == "postgresql stopped":
            self.server.start()

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
        if self.server:
            self.server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite locked", pytest.param("postgresql locked", marks=pytest.mark.postgres),
                                  pytest.param("postgresql stopped", marks=pytest.mark.postgres)])
def test_the_watchdog_is_fed_while_a_group_waits_for_the_store(broker, tmp_path, kind):
    """While a group waits for the store, the ingest goes on pinging the watchdog, well within
    WatchdogSec, and the answers go in once when the store is back. The retry loop waited without
    pinging, and an attempt waited for a lock as long as the engine let it (SQLite's busy timeout,
    10 s; PostgreSQL without end): with PostgreSQL stopped 100 s the watchdog heard nothing for
    100 s, with SQLite held 75 s for 76 s, and systemd (WatchdogSec=60) would have killed it.
    Each attempt now waits for a lock a quarter of WatchdogSec at most."""
    outage = Outage(kind, tmp_path)
    notify = NotifySocket(tmp_path / "notify.sock")
    ing = IngestProcess(outage.url, broker, tmp_path / "ing.log", "ingest-w",
                        env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6))})
    k = make_kiosk(tmp_path, broker, "k1", "s1", batch_max_events=10)
    try:
        ing.start()
        total = k.record(30)
        outage.begin()
        began = time.monotonic()
        agent = AgentThread(k)
        try:
            assert wait_until(lambda: "database unavailable" in ing.log(), 20), ing.log()
            time.sleep(max(0.0, began + 2 * WATCHDOG_S - time.monotonic()))
            assert k.store.outbox_depth() == total              # nothing acked meanwhile
            outage.end()
            assert wait_until(lambda: k.store.outbox_depth() == 0, 40), ing.log()
        finally:
            agent.stop()
        silence = notify.longest_silence(began)
        # Pings come at least every half of WatchdogSec plus one lock wait (a quarter): within
        # 3/4 of it, and systemd kills at the whole. 0.9 leaves a loaded machine its scheduling
        # (3.0 s was seen in a CI run beside browser tests); without the fix, silences were 12-16 s.
        assert silence < 0.9 * WATCHDOG_S, f"no WATCHDOG=1 for {silence:.1f} s\n{ing.log()}"
        assert_stored_once_none_dead_lettered(outage.url, total)
        assert ing.terminate() == 0
    finally:
        ing.close()
        notify.close()
        outage.close()


def test_after_commit_hook_output_is_published(broker, tmp_path):
    """What a hook returns (the real-time alert rule's slot) reaches subscribers, after the commit."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from server_sync import protocol
    from server_sync.ingest import BrokerSettings, Ingest, IngestService, make_client

    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    register_fleet(db)
    seen_at_hook = []

    def hook(hdb, site_ids, now, prefix):
        seen_at_hook.append(count(hdb, "SELECT COUNT(*) FROM response"))    # already committed
        return [(protocol.alerts_topic(s), b'{"hello": "alert"}') for s in sorted(site_ids)]

    settings = BrokerSettings(host=broker.host, port=broker.port, ca_file=broker.ca_file,
                              password=broker.passwd("central"), client_id="ingest-hook")
    service = IngestService(Ingest(db, hooks=[hook]), make_client(settings), settings)
    stop = threading.Event()
    runner = threading.Thread(target=service.run, args=(stop,), daemon=True)
    runner.start()
    got = []
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="k2-alerts", protocol=mqtt.MQTTv5)
    listener.tls_set(ca_certs=broker.ca_file)
    listener.username_pw_set("k2", broker.passwd("k2"))
    listener.on_connect = lambda c, u, f, rc, p: c.subscribe(protocol.alerts_topic("s1"), qos=1)
    listener.on_message = lambda c, u, m: got.append((m.topic, m.payload))
    listener.connect(broker.host, broker.port, keepalive=10)
    listener.loop_start()
    try:
        assert wait_until(lambda: service._subscribed.is_set(), 10)
        time.sleep(0.3)                                  # the listener's subscription
        k = make_kiosk(tmp_path, broker, "k1", "s1")
        total = k.record(5)
        assert k.agent().run(once=True, timeout=20)
        assert wait_until(lambda: got, 10)
        assert got[0] == ("kundpuls/v1/site/s1/alerts", b'{"hello": "alert"}')
        assert seen_at_hook and seen_at_hook[0] >= 1 and seen_at_hook[-1] == total
    finally:
        stop.set()
        runner.join(15)
        listener.loop_stop()
        db.close()
    assert not runner.is_alive()


def test_an_ingest_with_a_prefix_publishes_its_alerts_under_it(make_broker, tmp_path):
    """`kiosk-central ingest --prefix acme/` hands its prefix to the alert hook: a dip alert goes
    out on acme/kundpuls/v1/site/s1/alerts, the topic the site's kiosks read (the broker lets the
    centre publish nothing outside acme/)."""
    import random
    from datetime import datetime, timedelta, timezone

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from server_sync import protocol
    from tests.analysis.seeding import add_question, answer, commit

    broker = make_broker(prefix="acme/")
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    register_fleet(db)
    # Four ordinary weeks at s1 (12% negative), then two bad days (60%): the next answers that
    # reach s1 through ingest raise a dip alert.
    rng = random.Random(3)
    add_question(db, "dip")
    noon = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0, tzinfo=None)
    commit(db, [answer("s1", noon - timedelta(days=d, minutes=rng.randrange(300)),
                       rng.choice((1, 2)) if rng.random() < (0.6 if d <= 2 else 0.12) else rng.choice((3, 4)),
                       question="dip", kiosk="k1")
                for d in range(1, 32) if d != 3 for _ in range(40)])
    db.close()
    assert alerts_in(url) == 0

    got = []
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="k2-alerts", protocol=mqtt.MQTTv5)
    listener.tls_set(ca_certs=broker.ca_file)
    listener.username_pw_set("k2", broker.passwd("k2"))
    listener.on_connect = lambda c, u, f, rc, p: c.subscribe(protocol.alerts_topic("s1", "acme/"), qos=1)
    listener.on_message = lambda c, u, m: got.append((m.topic, m.payload))
    listener.connect(broker.host, broker.port, keepalive=10)
    listener.loop_start()
    ing = IngestProcess(url, broker, tmp_path / "ing.log", "ingest-prefix", "--prefix", "acme/")
    try:
        ing.start()
        time.sleep(0.3)                                  # the listener's subscription
        k = make_kiosk(tmp_path, broker, "k1", "s1")
        k.record(3)
        assert k.agent().run(once=True, timeout=20)
        assert wait_until(lambda: got, 15), ing.log()
        topic, payload = got[0]
        assert topic == "acme/kundpuls/v1/site/s1/alerts"
        assert protocol.parse_site_topic(topic, "acme/") == "s1"
        assert protocol.decode_alert(payload, "s1").kind == "realtime"
        assert alerts_in(url) == 1
    finally:
        listener.loop_stop()
        ing.close()


def alerts_in(url: str) -> int:
    db = connect(url)
    try:
        return count(db, "SELECT COUNT(*) FROM alert")
    finally:
        db.close()


def test_unreachable_broker_is_reported_then_reached(broker, tmp_path):
    """With the broker down, ingest says so (what failed, where, which attempt), not on every
    one of paho's retries, and says when it gets through."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    register_fleet(db)
    db.close()
    broker.stop()
    ing = IngestProcess(url, broker, tmp_path / "ing.log", "ingest-u").start(wait=False)
    try:
        want = f"cannot connect to the broker at {broker.host}:{broker.port} (ConnectionRefusedError"
        assert wait_until(lambda: want in ing.log(), 15), ing.log()
        assert "attempt 1; retrying" in ing.log()
        time.sleep(3.5)                     # paho tried again after 1 and 2 s: logged once in 10 s
        assert ing.log().count("cannot connect to the broker") == 1, ing.log()
        broker.start()
        assert wait_until(lambda: "subscribed to" in ing.log(), 40), ing.log()
        assert "reached the broker after" in ing.log()
        assert ing.terminate() == 0
    finally:
        ing.close()


def test_connect_failures_are_logged_at_most_every_ten_seconds(caplog):
    from server_sync.ingest import BrokerSettings, Ingest, IngestService, make_client
    now = [100.0]
    settings = BrokerSettings("mqtt.example", 8883, tls=False)
    service = IngestService(Ingest(None), make_client(settings), settings, monotonic=lambda: now[0])
    caplog.set_level("WARNING", logger="kundpuls.ingest")
    for t, error in ((100.0, ConnectionRefusedError(111, "Connection refused")), (101.0, None), (103.0, None),
                     (107.0, None), (115.0, OSError(113, "No route to host")), (116.0, None)):
        now[0] = t
        service._connect_error = error or service._connect_error
        service._on_connect_fail(service.client, None)
    lines = [r.getMessage() for r in caplog.records if r.name == "kundpuls.ingest"]
    assert lines == [
        "cannot connect to the broker at mqtt.example:8883 (ConnectionRefusedError: [Errno 111] Connection refused),"
        " attempt 1; retrying",
        "cannot connect to the broker at mqtt.example:8883 (OSError: [Errno 113] No route to host), attempt 5;"
        " 4 attempts since the last message; retrying"]


def test_the_share_group_is_named_from_the_centres_password():
    """Every ingestor with the centre's password lands in one group; nobody without it can name
    the group (a kiosk joining it would be handed batches it never acks)."""
    from server_sync.ingest import share_group
    from server_sync.protocol import ID_RE, shared_events_subscription
    group = share_group("central-secret")
    assert group == share_group("central-secret") != share_group("central-secret2")
    assert group.startswith("ingest-") and len(group) == 39 and ID_RE.fullmatch(group)
    assert "central-secret" not in shared_events_subscription("", group)
    assert share_group(None) == share_group("") == "ingest"          # a demo without credentials


def test_ingestors_on_one_host_get_their_own_client_id_by_default(broker, tmp_path):
    """Two ingestors started alike on one host (no --client-id) used to share one client id and
    knock each other off the broker in turn; each now takes its own, and a restart gets its own
    back."""
    import socket

    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = connect(url)
    register_fleet(db)
    db.close()
    env = {"STATE_DIRECTORY": str(tmp_path / "state")}

    def ingestor(name: str) -> IngestProcess:
        p = IngestProcess(url, broker, tmp_path / f"{name}.log", "unused", env=env)
        at = p.cmd.index("--client-id")
        del p.cmd[at:at + 2]
        return p.start()

    host = socket.gethostname()
    a, b = ingestor("a"), ingestor("b")
    try:
        assert f"as kundpuls-ingest-{host} " in a.log() and f"as kundpuls-ingest-{host}-2 " in b.log()
        assert a.terminate() == 0
        again = ingestor("a2")
        assert f"as kundpuls-ingest-{host} " in again.log()
        again.terminate()
        assert "already connected" not in broker.log() and "taken over" not in b.log()
    finally:
        for p in (a, b):
            p.close()


def test_an_idle_ingest_logs_its_counters_only_when_they_change(caplog):
    """Every 10 s the counters go to systemd's status line; to the journal only when they changed,
    or once an hour as a heartbeat (an idle ingest used to log the same line 8,640 times a day)."""
    from server_sync.ingest import (COUNTERS_HEARTBEAT_S, BrokerSettings, Ingest, IngestService, Outcome,
                                    make_client)
    settings = BrokerSettings("mqtt.example", 8883, tls=False)
    service = IngestService(Ingest(None), make_client(settings), settings)
    caplog.set_level("INFO", logger="kundpuls.ingest")
    for t in range(0, 600, 10):                              # ten idle minutes
        service._report_counters(float(t))
    assert len(caplog.records) == 1
    service.counters.add(Outcome("status"))
    service._report_counters(600.0)
    service._report_counters(610.0)
    assert len(caplog.records) == 2 and "1 messages" in caplog.records[-1].getMessage()
    service._report_counters(600.0 + COUNTERS_HEARTBEAT_S)
    assert len(caplog.records) == 3


def test_a_wrong_broker_password_is_said_once_with_what_to_check(caplog):
    """The broker answers a wrong password "Not authorized" and paho, retrying, reports each drop
    as "Protocol error": the log says the real reason once, and what to check."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    from server_sync.ingest import BrokerSettings, Ingest, IngestService, make_client
    settings = BrokerSettings("mqtt.example", 8883, tls=False)
    service = IngestService(Ingest(None), make_client(settings), settings)
    caplog.set_level("INFO", logger="kundpuls.ingest")
    refused = ReasonCode(PacketTypes.CONNACK, "Not authorized")
    dropped = ReasonCode(PacketTypes.DISCONNECT, "Protocol error")
    for _ in range(3):
        service._on_connect(service.client, None, None, refused, None)
        service._on_disconnect(service.client, None, None, dropped, None)
    lines = [r.getMessage() for r in caplog.records if r.name == "kundpuls.ingest"]
    assert lines == ["broker mqtt.example:8883 refused the connection: not authorized: check"
                     " --username/--password-file (the broker user and its password); retrying"], lines


def test_a_wrong_broker_password_with_the_real_broker(broker, tmp_path):
    """The real broker refuses the CONNECT ("Not authorized" or "Bad user name or password") and
    paho retries: the log says so once, with what to check, and no "Protocol error"."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    connect(url).close()
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not the password\n")
    ing = IngestProcess(url, broker, tmp_path / "ing.log", "ingest-w", "--password-file", str(wrong))
    ing.start(wait=False)
    try:
        assert wait_until(lambda: "refused the connection" in ing.log(), 15), ing.log()
        time.sleep(4)                       # paho tried again after 1 and 2 s
        log = ing.log()
        assert log.count("refused the connection") == 1 and "check --username/--password-file" in log, log
        assert "Protocol error" not in log and "disconnected from the broker" not in log, log
        assert ing.terminate() == 0
    finally:
        ing.close()


def _publisher(broker, user: str, client_id: str, will: bool = False):
    """A connected paho client of `user` (a kiosk's own credential), its loop running; with
    `will`, the Last Will the kiosk agent sets (retained `online: false` on its status topic)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from server_sync import protocol
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=broker.ca_file)
    c.username_pw_set(user, broker.passwd(user))
    if will:
        c.will_set(protocol.status_topic(user), protocol.will_payload(), qos=1, retain=True)
    c.connect(broker.host, broker.port, keepalive=10)
    c.loop_start()
    return c


@pytest.mark.postgres
def test_a_hostile_kiosk_cannot_stop_the_ingest(broker, pg_url, tmp_path):
    """One kiosk's own credential: a RETAINED status with a field named "\\u0000" (msgspec names
    the field in its error, PostgreSQL refuses a NUL in text) and a batch whose event has such a
    field. Before the fix the dead-letter insert raised DataError outside any handler: the ingest
    died, and the retained status killed every restart. Now both are dead-lettered with readable
    reasons and another kiosk's answers are acked as before."""
    from server_sync import protocol
    from tests.central.wire import batch, response
    db = connect(pg_url)
    register_fleet(db)
    db.close()
    hostile = _publisher(broker, "k3", "k3-hostile")
    status_topic = protocol.status_topic("k3")
    hostile.publish(status_topic, b'{"schema":1,"online":true,"\\u0000\\u001b[2J":1}', qos=1,
                    retain=True).wait_for_publish(5)
    ing = IngestProcess(pg_url, broker, tmp_path / "ing.log", "ingest-h").start()
    try:
        event = dict(response(1, kiosk="k3", site="s2"), **{"\x00\x1b]0;pwned\x07": 1})
        hostile.publish(*batch([event], kiosk="k3"), qos=1).wait_for_publish(5)
        db = connect(pg_url)
        try:
            assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM dead_letter") == 2, 15), ing.log()
            reasons = sorted(r[0] for r in db.execute_sql("SELECT reason FROM dead_letter").fetchall())
        finally:
            db.close()
        assert reasons == ["event 0: Object contains unknown field `\\x00\\x1b]0;pwned\\x07`",
                           "status: Object contains unknown field `\\x00\\x1b[2J`"], reasons
        assert ing.proc.poll() is None, ing.log()
        k = make_kiosk(tmp_path, broker, "k1", "s1")
        k.record(5)
        assert k.agent().run(once=True, timeout=20), ing.log()
        assert k.store.outbox_depth() == 0
        assert ing.terminate() == 0
        # A restart gets the retained status again (the broker replays it): still alive.
        ing.start()
        k.record(3)
        assert k.agent().run(once=True, timeout=20), ing.log()
        assert ing.proc.poll() is None, ing.log()
    finally:
        hostile.loop_stop()
        ing.close()


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


FLOOD_MESSAGES = 300
FLOOD_BYTES = 1_000_000


@pytest.mark.slow
def test_a_qos0_flood_does_not_grow_the_ingest_without_bound(broker, tmp_path):
    """One kiosk credential publishes 300 refused 1 MB messages at QoS 0 (the broker hands QoS 0
    over without waiting for acks) while the ingest's database is slow (here: another writer holds
    SQLite's write lock for a few seconds). Before, paho's thread put them all into an unbounded
    queue: peak RSS 344 MB here from a 47 MB baseline (4.3 GB for 1,500 in the review). Now the inbox
    holds at most 96 MiB, paho's thread waits and TCP back-pressure holds the rest at the broker:
    the peak stays near the baseline plus that (measured 148 MB). Another kiosk's batch, sent while
    paho's thread is blocked, is acked (the worker's PUBACKs and acks only queue in paho: no
    deadlock), and every flood message is counted in the end."""
    import sqlite3
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    register_fleet(db)
    db.close()
    # Without the per-kiosk limit, which now takes 20 of these at most (its burst of bytes): this is
    # about the inbox, the bound that holds for what the limit lets through (many kiosks together).
    ing = IngestProcess(url, broker, tmp_path / "ing.log", "ingest-f", "--kiosk-bytes-per-s", "0").start()
    flooder = _publisher(broker, "k3", "k3-flood")
    writer = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    try:
        base = _peak_rss_mb(ing.proc.pid)
        writer.execute("BEGIN IMMEDIATE")                # a slow database: the ingest's commit waits
        junk = b"{" + b"x" * (FLOOD_BYTES - 1)
        infos = [flooder.publish("kundpuls/v1/kiosk/k3/events", junk, qos=0) for _ in range(FLOOD_MESSAGES)]
        for info in infos:
            info.wait_for_publish(60)
        k = make_kiosk(tmp_path, broker, "k1", "s1")
        k.record(3)
        agent = AgentThread(k)                           # its batch queues behind the flood
        time.sleep(3)
        writer.execute("COMMIT")
        try:
            assert wait_until(lambda: k.store.outbox_depth() == 0, 40), ing.log()
        finally:
            agent.stop()
        assert "inbox full (20000 messages or 96 MiB held" in ing.log()
        db = connect(url)
        try:
            refused = lambda: count(db, "SELECT COALESCE(SUM(messages), 0) FROM dead_letter_count")  # noqa: E731
            assert wait_until(lambda: refused() >= FLOOD_MESSAGES, 120), (refused(), ing.log())
        finally:
            db.close()
        peak = _peak_rss_mb(ing.proc.pid)
        print(f"ingest RSS: {base:.0f} MB before the flood, peak {peak:.0f} MB")
        assert peak < base + 200, (base, peak)
        k.record(3)
        assert k.agent().run(once=True, timeout=20), ing.log()
        assert ing.proc.poll() is None
    finally:
        writer.close()
        flooder.loop_stop()
        ing.close()


FLOOD_MALFORMED = 5000
FLOOD_STATUSES = 3000


@pytest.mark.postgres
@pytest.mark.slow
def test_one_kiosks_flood_does_not_hold_up_another_kiosks_ack(broker, pg_url, tmp_path):
    """Kiosk k3 floods 5,000 malformed messages and 3,000 statuses (QoS 0), then sends a real
    batch; kiosk k1 then sends one answer. Before, the inbox was one FIFO and a group took up to
    5,000 messages in arrival order, each refusal and status updating the same count and status
    rows again in one transaction: k1's ack took 24 s here (179 s for 20,000 in the review). Now
    groups are taken round-robin across kiosks with a budget per kiosk, statuses are coalesced to
    the newest per kiosk and refusals counted once per group: k1 is acked before the flood is
    through (in 2.0 s; round-robin alone: 2.6 s), and the whole flood is through in about half
    the time. Nothing of k3's valid
    data is lost: its batch is stored and its newest status is the one kept."""
    from server_sync import protocol
    from tests.central.wire import batch, response
    db = connect(pg_url)
    register_fleet(db)
    db.close()
    # Without the per-kiosk rate limit (tested in test_ingest.py): this is about the groups.
    ing = IngestProcess(pg_url, broker, tmp_path / "ing.log", "ingest-fair", "--kiosk-bytes-per-s", "0").start()
    flooder = _publisher(broker, "k3", "k3-fair")
    k = make_kiosk(tmp_path, broker, "k1", "s1")
    k.record(1)
    try:
        events_topic, status_topic = protocol.events_topic("k3"), protocol.status_topic("k3")
        infos = []
        for i in range(max(FLOOD_MALFORMED, FLOOD_STATUSES)):
            if i < FLOOD_MALFORMED:
                infos.append(flooder.publish(events_topic, b'{"schema":1,' + str(i).encode(), qos=0))
            if i < FLOOD_STATUSES:
                infos.append(flooder.publish(status_topic, protocol.encode_status(
                    version="1", outbox_depth=i, oldest_unacked_s=None, clock_synced=True, disk_free_mb=1,
                    config_version=1, ts="2026-11-23T12:00:00.000Z"), qos=0))
        real = flooder.publish(*batch([response(1, kiosk="k3", site="s2")], kiosk="k3"), qos=1)
        for info in infos + [real]:
            info.wait_for_publish(60)
        start = time.monotonic()
        assert k.agent().run(once=True, timeout=300), ing.log()
        delay = time.monotonic() - start
        db = connect(pg_url)
        try:
            refused = lambda: count(db, "SELECT COALESCE(SUM(messages), 0) FROM dead_letter_count")  # noqa: E731
            # Not a time (this asserted delay < 5 s on two shared cores, which one FIFO group
            # with no budget per kiosk also met once, at 4.7 s): the order. k1's answer, sent
            # after the whole flood was in the broker, is acked before the flood is through
            # (about a quarter of its refusals counted by then); in one FIFO all of them were.
            refused_at_ack = refused()
            print(f"k1 acked {delay:.1f} s after k3's flood, {refused_at_ack} of its {FLOOD_MALFORMED} refusals counted by then")
            assert refused_at_ack < FLOOD_MALFORMED, refused_at_ack
            assert wait_until(lambda: refused() >= FLOOD_MALFORMED, 300), (refused(), ing.log())
            assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM response WHERE kiosk_id = 'k3'") == 1, 30)
            assert wait_until(lambda: count(db, "SELECT outbox_depth FROM kiosk_status WHERE kiosk_id = 'k3'")
                              == FLOOD_STATUSES - 1, 30), ing.log()
        finally:
            db.close()
    finally:
        flooder.loop_stop()
        ing.close()


@pytest.mark.slow
def test_a_flooding_kiosk_is_held_to_its_rate_and_its_answers_come_again(broker, tmp_path):
    """`--kiosk-bytes-per-s 41000 --kiosk-burst-bytes 164000` (with the charge of 8 KiB a
    message: about 20 small messages at once, then 5 a second): a kiosk flooding 2,000 messages on
    its events topic has most of them not taken (counted, said in the log); its own answers, sent
    by its agent meanwhile and over the rate, stay in its outbox and go in once its rate allows;
    another kiosk is acked at once. (Statuses never meet the rate: see the next test.)"""
    url = _sqlite_fleet(tmp_path)
    ing = IngestProcess(url, broker, tmp_path / "ing.log", "ingest-rate", "--kiosk-bytes-per-s", "41000",
                        "--kiosk-burst-bytes", "164000").start()
    flooder = _publisher(broker, "k2", "k2-flood")
    try:
        _flood_events(flooder, "k2", 2000)
        k1 = make_kiosk(tmp_path, broker, "k1", "s1")
        k1.record(2)
        assert k1.agent().run(once=True, timeout=10), ing.log()
        assert wait_until(lambda: "kiosk k2 sends more than 41000 bytes a second" in ing.log(), 10), ing.log()
        k2 = make_kiosk(tmp_path, broker, "k2", "s1", batch_max_events=1)
        total = k2.record(30)
        agent = AgentThread(k2)
        try:
            assert wait_until(lambda: k2.store.outbox_depth() == 0, 60), ing.log()
        finally:
            agent.stop()
        db = connect(url)
        try:
            assert count(db, "SELECT COUNT(*) FROM response WHERE kiosk_id = 'k2'") == total
        finally:
            db.close()
    finally:
        flooder.loop_stop()
        ing.close()


def _sqlite_fleet(tmp_path) -> str:
    """The URL of a SQLite central store with the test fleet registered."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    register_fleet(db)
    db.close()
    return url


def _flood_events(client, kiosk: str, n: int) -> None:
    """`n` malformed messages (QoS 1) on `kiosk`'s events topic, each through to the broker."""
    from server_sync import protocol
    infos = [client.publish(protocol.events_topic(kiosk), b'{"schema":1,' + str(i).encode(), qos=1)
             for i in range(n)]
    for info in infos:
        info.wait_for_publish(60)


def _status_of(url: str, kiosk: str) -> tuple | None:
    """(online, last_seen, outbox_depth) of `kiosk`'s kiosk_status row, or None."""
    db = connect(url)
    try:
        row = db.execute_sql("SELECT online, last_seen, outbox_depth FROM kiosk_status WHERE kiosk_id = ?",
                             (kiosk,)).fetchone()
    finally:
        db.close()
    return None if row is None else (bool(row[0]), row[1], row[2])


def test_a_kiosk_that_floods_then_dies_is_recorded_offline(broker, tmp_path):
    """k2 (its own credential, a Last Will on its status topic as the agent sets it) publishes a
    live status, floods 60 malformed messages past its burst and loses its link: the broker
    publishes its will once, while k2's bucket is empty (`--kiosk-bytes-per-s 82 --kiosk-burst-bytes
    164000`: about 20 small messages, then one per 100 s, so it still is). Before, the will was over the rate and dropped like an
    answer (but nobody sends a will again): the centre showed k2 online for good. Now statuses never meet the rate limit (coalesced instead):
    k2 is offline, with the counts of its last status. Then, with the ingest stopped, the row is
    made stale; the restarted ingest gets the retained will from the broker and puts it right,
    without moving last_seen (a retained status is old news)."""
    from server_sync import protocol
    url = _sqlite_fleet(tmp_path)
    ing = IngestProcess(url, broker, tmp_path / "ing.log", "ingest-lwt", "--kiosk-bytes-per-s", "82",
                        "--kiosk-burst-bytes", "164000").start()
    dying = _publisher(broker, "k2", "k2-dying", will=True)
    try:
        status = protocol.encode_status(version="1", outbox_depth=7, oldest_unacked_s=None, clock_synced=True,
                                        disk_free_mb=1, config_version=1, ts="2026-11-23T12:00:00.000Z")
        dying.publish(protocol.status_topic("k2"), status, qos=1, retain=True).wait_for_publish(5)
        assert wait_until(lambda: (_status_of(url, "k2") or (False,))[0], 10), ing.log()
        _flood_events(dying, "k2", 60)
        assert wait_until(lambda: "kiosk k2 sends more than 82 bytes a second" in ing.log(), 10), ing.log()
        dying.loop_stop()
        dying.socket().close()                          # no DISCONNECT: the broker sends the will
        assert wait_until(lambda: _status_of(url, "k2")[0] is False, 5), (_status_of(url, "k2"), ing.log())
        online, last_seen, depth = _status_of(url, "k2")
        assert depth == 7                               # the will keeps the counts of the status before it
        assert ing.terminate() == 0
        db = connect(url)
        try:
            db.execute_sql("UPDATE kiosk_status SET online = 1 WHERE kiosk_id = 'k2'")
        finally:
            db.close()
        ing.start()                                     # the broker replays k2's retained will
        assert wait_until(lambda: _status_of(url, "k2")[0] is False, 5), (_status_of(url, "k2"), ing.log())
        assert _status_of(url, "k2")[1] == last_seen, ing.log()
        assert ing.terminate() == 0
    finally:
        dying.loop_stop()
        ing.close()


def test_a_kiosk_that_died_while_ingest_was_down_is_last_seen_when_it_spoke(broker, tmp_path):
    """k2 reports (its row, dated 2 hours back as a kiosk's would be in a long outage); the ingest is
    killed (the broker keeps its session, and queues what comes for it); k2 says its status (its
    synced clock reads an hour ago) and dies. The restarted ingest gets the queued status and will
    (and the retained will, which may push the status out of the inbox: statuses are coalesced):
    k2 is offline and last seen when it spoke, or when it was heard before, never at the restart
    (which put its silence flag 2 open hours late: a review)."""
    from server_sync import protocol
    url = _sqlite_fleet(tmp_path)
    ing = IngestProcess(url, broker, tmp_path / "ing.log", "ingest-outage").start()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    before, spoke = now - timedelta(hours=2), now - timedelta(hours=1)

    def status(at: datetime) -> bytes:
        return protocol.encode_status(version="1", outbox_depth=0, oldest_unacked_s=None, clock_synced=True,
                                      disk_free_mb=900, config_version=1, ts=protocol.iso_ms(at))
    dying = _publisher(broker, "k2", "k2-dying", will=True)
    try:
        dying.publish(protocol.status_topic("k2"), status(now), qos=1, retain=True).wait_for_publish(5)
        assert wait_until(lambda: _status_of(url, "k2") is not None, 10), ing.log()
        db = connect(url)
        try:
            db.execute_sql("UPDATE kiosk_status SET last_seen = ? WHERE kiosk_id = 'k2'", (before.replace(tzinfo=None),))
        finally:
            db.close()
        ing.close()                                     # SIGKILL: its session, with its subscriptions, stays
        dying.publish(protocol.status_topic("k2"), status(spoke), qos=1, retain=True).wait_for_publish(5)
        dying.loop_stop()
        dying.socket().close()                          # no DISCONNECT: the broker keeps the will for the ingest
        time.sleep(0.5)
        restart = datetime.now(timezone.utc)
        ing.start()
        assert wait_until(lambda: _status_of(url, "k2")[0] is False, 20), ing.log()
        time.sleep(0.5)                                 # the retained will too
        online, last_seen, _depth = _status_of(url, "k2")
        seen = datetime.fromisoformat(str(last_seen)).replace(tzinfo=timezone.utc)
        assert online is False and seen in (before, spoke) and seen < restart, (last_seen, ing.log())
        assert ing.terminate() == 0
    finally:
        dying.loop_stop()
        ing.close()
