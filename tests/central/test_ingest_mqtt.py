"""`kiosk-central ingest` against a real mosquitto (TLS, password file, ACL) with real kiosks
(the Recorder and the sync agent): every answer arrives once; the broker's security holds;
bad messages are dead-lettered while ingest goes on; a SIGKILLed ingestor and two ingestors on
the shared subscription lose and duplicate nothing."""

from __future__ import annotations

import dataclasses
import json
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server_sync import protocol
from tests.central.fleet import AgentThread, make_kiosk, wait_until
from tests.central.wire import batch, count, followup, response

pytestmark = pytest.mark.broker



def stored(db) -> tuple[int, int]:
    """(rows, distinct ids) over answers and follow-ups."""
    return (count(db, "SELECT (SELECT COUNT(*) FROM response) + (SELECT COUNT(*) FROM followup)"),
            count(db, "SELECT COUNT(*) FROM (SELECT id FROM response UNION SELECT id FROM followup) u"))


def client_for(broker, user: str | None, password: str | None = None, client_id: str = "probe"):
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=broker.ca_file)
    if user:
        c.username_pw_set(user, password if password is not None else broker.passwd(user))
    return c


def connect_result(c, broker) -> str:
    got = threading.Event()
    result = {}

    def on_connect(client, userdata, flags, reason_code, properties):
        result["rc"] = reason_code
        got.set()

    c.on_connect = on_connect
    c.connect(broker.host, broker.port, keepalive=10)
    c.loop_start()
    got.wait(10)
    return str(result.get("rc"))


def test_answers_arrive_once_and_kiosk_is_acked(broker, central, ingestors, tmp_path):
    url, db = central
    ing = ingestors(url, broker)
    k = make_kiosk(tmp_path, broker, "k1", "s1", batch_max_events=50)
    total = k.record(200, followup_every=10)
    assert k.agent().run(once=True, timeout=30) is True
    assert k.store.outbox_depth() == 0
    assert stored(db) == (total, total)
    assert {r[0] for r in db.execute_sql("SELECT id FROM response UNION SELECT id FROM followup")} == k.ids()
    assert count(db, "SELECT COALESCE(SUM(n), 0) FROM rollup_hourly") == \
        count(db, "SELECT COUNT(*) FROM response WHERE filtered IS NULL")
    assert ing.terminate() == 0 and "stopped;" in ing.log()


def test_broker_refuses_anonymous_and_forged_kiosks(broker, central, ingestors, tmp_path):
    url, db = central
    ingestors(url, broker)
    anon = client_for(broker, None, client_id="anon")
    assert connect_result(anon, broker) in ("Not authorized", "Bad user name or password")
    anon.loop_stop()
    wrong = client_for(broker, "k1", "not-the-password", client_id="wrong")
    assert connect_result(wrong, broker) in ("Not authorized", "Bad user name or password")
    wrong.loop_stop()

    # k2's credential publishing under k1's topic: the broker's ACL refuses it (MQTT 5 PUBACK
    # reason), so nothing reaches the centre, not even the dead-letter table.
    k2 = client_for(broker, "k2", client_id="k2")
    assert connect_result(k2, broker) == "Success"
    pubacks = {}
    k2.on_publish = lambda c, u, mid, rc, props: pubacks.setdefault(mid, rc)
    forged = response(1, kiosk="k1")
    info = k2.publish(*batch([forged], kiosk="k1"), qos=1)
    # And a payload claiming k1 on k2's own topic: delivered, then dead-lettered by ingest.
    claim = k2.publish(protocol.events_topic("k2"), batch([response(2, kiosk="k1")], kiosk="k1")[1], qos=1)
    assert wait_until(lambda: info.mid in pubacks and claim.mid in pubacks, 10)
    assert pubacks[info.mid].is_failure and "authorized" in str(pubacks[info.mid]).lower()
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM dead_letter") == 1, 10)
    reason, topic = db.execute_sql("SELECT reason, topic FROM dead_letter").fetchone()
    assert topic == "kundpuls/v1/kiosk/k2/events" and "does not match topic" in reason
    # k1 itself still gets through: the forged id was never stored.
    k1 = make_kiosk(tmp_path, broker, "k1", "s1")
    k1.record(3)
    assert k1.agent().run(once=True, timeout=20)
    assert stored(db) == (3, 3)
    assert count(db, f"SELECT COUNT(*) FROM response WHERE id = {db.param}", (forged["id"],)) == 0
    k2.loop_stop()


def test_a_broker_user_the_centre_never_registered_is_dead_lettered(broker, central, ingestors):
    """A credential the broker knows but the central store does not (a kiosk whose `kiosk add`
    failed half-way, a hand-made broker user): its answers are kept as dead letters with the
    reason, never stored, never acked, and ingest carries on with the registered kiosks."""
    url, db = central
    ingestors(url, broker)
    broker.add_user("k9")
    broker.reload()
    k9 = client_for(broker, "k9", client_id="k9")
    assert connect_result(k9, broker) == "Success"
    acks = []
    k9.on_message = lambda c, u, m: acks.append(m.payload)
    k9.subscribe(protocol.ack_topic("k9"), qos=1)
    k9.publish(*batch([response(1, kiosk="k9", site="s1")], kiosk="k9"), qos=1).wait_for_publish(5)
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM dead_letter") == 1, 10)
    reason, topic, kiosk = db.execute_sql("SELECT reason, topic, kiosk_id FROM dead_letter").fetchone()
    assert "unknown kiosk 'k9'" in reason and topic == "kundpuls/v1/kiosk/k9/events" and kiosk == "k9"
    k1 = client_for(broker, "k1", client_id="k1-raw")
    assert connect_result(k1, broker) == "Success"
    k1_acks = []
    k1.on_message = lambda c, u, m: k1_acks.append(protocol.decode_ack(m.payload))
    k1.subscribe(protocol.ack_topic("k1"), qos=1)
    k1.publish(*batch([response(1)], batch_id="after-k9"), qos=1)
    assert wait_until(lambda: any(a.batch_id == "after-k9" for a in k1_acks), 15), "ingest died?"
    assert stored(db) == (1, 1) and acks == []
    assert count(db, "SELECT COUNT(*) FROM response WHERE kiosk_id = 'k9'") == 0
    k9.loop_stop()
    k1.loop_stop()


def test_bad_messages_are_dead_lettered_and_ingest_stays_alive(broker, central, ingestors):
    url, db = central
    ingestors(url, broker, "ingest-1")
    k1 = client_for(broker, "k1", client_id="k1-raw")
    assert connect_result(k1, broker) == "Success"
    acks = []
    k1.on_message = lambda c, u, m: acks.append(protocol.decode_ack(m.payload))
    k1.subscribe(protocol.ack_topic("k1"), qos=1)
    good = response(1)
    bad = [
        ("malformed JSON", b'{"schema": 1, "events": ['),
        ("unsupported schema version", json.dumps({"schema": 9, "kiosk_id": "k1", "batch": "b",
                                                   "events": [good]}).encode()),
        # One byte over the centre's 1 MiB, within the broker's max_packet_size (1 MiB + 4 KiB).
        ("oversize payload", batch([response(2)])[1].ljust(protocol.DEFAULT_MAX_BYTES + 1)),
        ("out of range", batch([response(1, value=9)])[1]),
        ("in the future", batch([dict(response(1), recorded_at="2099-01-01T00:00:00.000Z")])[1]),
    ]
    for _, payload in bad:
        k1.publish(protocol.events_topic("k1"), payload, qos=1).wait_for_publish(5)
    k1.publish(*batch([good], batch_id="good-1"), qos=1)
    assert wait_until(lambda: any(a.batch_id == "good-1" for a in acks), 15), "ingest died?"
    reasons = [r[0] for r in db.execute_sql("SELECT reason FROM dead_letter ORDER BY id").fetchall()]
    assert len(reasons) == len(bad)
    for (want, _), got in zip(bad, reasons):
        assert want in got
    assert stored(db) == (1, 1)
    # The two batches with sound envelopes but events that can never pass are named back as
    # rejected (the kiosk stops sending them); the garbage gets nothing.
    assert wait_until(lambda: len(acks) == 3, 10), acks
    good_ack, = [a for a in acks if a.batch_id == "good-1"]
    assert good_ack.ranges == ((1, 1),) and good_ack.rejected == ()
    refused = [a for a in acks if a.batch_id != "good-1"]
    assert all(a.ranges == () and [r.ranges for r in a.rejected] == [((1, 1),)] for a in refused)
    assert sorted(next(w for w in ("out of range", "in the future") if w in a.rejected[0].reason)
                  for a in refused) == ["in the future", "out of range"]
    k1.loop_stop()


def test_a_debug_log_holds_no_comment_and_no_refused_payload(broker, central, ingestors):
    """`ingest --log-level debug` logs the centre's own steps, never what a customer wrote: the
    store's driver (peewee) logs every statement with its values at DEBUG, and the root logger at
    DEBUG let it through (the follow-up's comment, a conflict's two versions, a refused message's
    whole payload in its dead letter)."""
    url, db = central
    ing = ingestors(url, broker, "ingest-1", "--log-level", "debug")
    k1 = client_for(broker, "k1", client_id="k1-raw")
    assert connect_result(k1, broker) == "Success"
    acks = []
    k1.on_message = lambda c, u, m: acks.append(protocol.decode_ack(m.payload))
    k1.subscribe(protocol.ack_topic("k1"), qos=1)
    secret = "Kalle i kassan skrek PRIVATEWORD"
    r = response(1, value=1)
    f = followup(2, r["id"], comment=secret)
    refused = followup(4, response(3)["id"], comment=secret + "\x00")        # a control character
    for i, events in enumerate(([r, f], [dict(f, comment=secret + " igen")], [refused])):
        k1.publish(*batch(events, batch_id=f"b{i}"), qos=1).wait_for_publish(5)
    assert wait_until(lambda: len(acks) == 3, 15), acks
    assert count(db, f"SELECT COUNT(*) FROM followup WHERE comment = {db.param}", (secret,)) == 1
    assert count(db, "SELECT COUNT(*) FROM conflict") == 1
    assert count(db, "SELECT COUNT(*) FROM dead_letter") == 1
    assert ing.terminate() == 0
    assert "PRIVATEWORD" not in ing.log()
    k1.loop_stop()


@pytest.mark.slow
def test_ingest_sigkilled_mid_stream_loses_and_duplicates_nothing(broker, central, ingestors, tmp_path):
    url, db = central
    ing = ingestors(url, broker, "ingest-k")
    ing.kill()                                  # a crash: its persistent session now queues for it
    k = make_kiosk(tmp_path, broker, "k1", "s1", batch_max_events=10)
    total = k.record(1500)
    agent = AgentThread(k)
    try:
        # The agent has its window of batches out; the broker holds them for the stopped ingest.
        assert wait_until(lambda: k.store.db.execute_sql(
            "SELECT COUNT(*) FROM response WHERE sent_at IS NOT NULL").fetchone()[0] >= 50, 20)
        # The restarted ingest meets a queue of batches and commits them in groups (one
        # transaction for many messages, acked only after it): SIGKILL it mid-stream, three times.
        at_kill = 0
        for _ in range(3):
            ing = ingestors(url, broker, "ingest-k", wait=False)
            assert wait_until(lambda: stored(db)[0] > at_kill, 30, every=0.002)
            ing.kill()
            at_kill = stored(db)[0]
            assert at_kill < total, "the ingest finished before the kill; the test proves nothing"
        ing = ingestors(url, broker, "ingest-k")
        assert wait_until(lambda: k.store.outbox_depth() == 0, 60)
    finally:
        agent.stop()
    assert stored(db) == (total, total)
    assert count(db, "SELECT COALESCE(SUM(n), 0) FROM rollup_hourly") == \
        count(db, "SELECT COUNT(*) FROM response WHERE filtered IS NULL")
    assert ing.terminate() == 0
    line = [ln for ln in ing.log().splitlines() if "stopped;" in ln][-1]
    messages, commits = (int(x) for x in line.split("stopped; ")[1].split(" commits")[0].split(" messages in "))
    assert commits < messages, f"no group commit happened: {line}"


@pytest.mark.slow
def test_two_ingestors_share_the_stream(broker, central, ingestors, tmp_path):
    url, db = central
    a = ingestors(url, broker, "ingest-a")
    b = ingestors(url, broker, "ingest-b")
    kiosks = [make_kiosk(tmp_path, broker, k, s, batch_max_events=20)
              for k, s in (("k1", "s1"), ("k2", "s1"), ("k3", "s2"), ("k4", "s2"))]
    total = sum(k.record(200, followup_every=20) for k in kiosks)
    agents = [AgentThread(k) for k in kiosks]
    try:
        assert wait_until(lambda: all(k.store.outbox_depth() == 0 for k in kiosks), 60)
    finally:
        for ag in agents:
            ag.stop()
    assert stored(db) == (total, total)
    assert b.terminate() == 0
    # b left the share group cleanly: nothing more is queued for it, a gets every batch at once
    # (a lingering session of b would swallow every other batch until the kiosk re-sent it).
    # Waiting 10 s for an ack, not 2: a slow commit on a loaded machine (three test workers on two
    # cores) was resent too, and only a swallowed batch is to count here.
    more = kiosks[0].record(100)
    k1 = kiosks[0]
    agent = dataclasses.replace(k1, cfg=dataclasses.replace(
        k1.cfg, sync=dataclasses.replace(k1.cfg.sync, ack_timeout_s=10.0))).agent()
    assert agent.run(once=True, timeout=30) and agent.counters.resent == 0, agent.counters
    assert stored(db) == (total + more, total + more)
    assert a.terminate() == 0
    for p in (a, b):
        line = [ln for ln in p.log().splitlines() if "stopped;" in ln][-1]
        handled = int(line.split("stopped; ")[1].split(" messages")[0])
        assert handled > 0, f"one ingestor got nothing: {line}"


def test_answers_from_before_the_clock_synced_arrive_corrected(broker, central, ingestors, tmp_path):
    """The real capture path on a Pi whose clock was wrong until NTP synced (same boot): the
    centre places the early answers by the monotonic clock, flags them `corrected`."""
    from datetime import datetime, timedelta, timezone

    from kiosk.capture import Recorder
    from kiosk.clock import FakeClock
    from server_sync.central.intake import as_datetime

    url, db = central
    ingestors(url, broker)
    k = make_kiosk(tmp_path, broker, "k1", "s1")
    boot = "44444444-4444-4444-8444-444444444444"
    before = FakeClock(datetime(2021, 1, 1, tzinfo=timezone.utc), synced=False, boot_id=boot)
    q = k.cfg.questions[0]
    early_recorder = Recorder(k.cfg, k.store, before)
    early = []
    for i in range(3):
        before.advance(10)
        early.append(early_recorder.record(q.id, q.values[i]))
    # NTP syncs: the wall clock jumps to the truth, the monotonic clock runs on (same boot).
    truth = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    after = FakeClock(truth, synced=True, boot_id=boot)
    after.advance(60)                            # after.monotonic = before's + 30 s: 30 s later
    synced = Recorder(k.cfg, k.store, after).record(q.id, q.values[-1])
    assert k.agent().run(once=True, timeout=20)
    rows = {r[0]: (as_datetime(r[1]), r[2]) for r in db.execute_sql(
        "SELECT id, recorded_at, time_status FROM response").fetchall()}
    sync_time = truth.replace(tzinfo=None) + timedelta(seconds=60)
    assert rows[synced.id] == (sync_time, "synced")
    for i, r in enumerate(early):
        assert rows[r.id] == (sync_time - timedelta(seconds=60 - 10 * (i + 1)), "corrected")


def test_a_bad_retained_status_is_dead_lettered_once(broker, central, ingestors):
    """A retained status reaches every ingestor, and again at each start: it is kept once, and
    every time it comes is counted."""
    from server_sync.central import dead_letters
    url, db = central
    k1 = client_for(broker, "k1", client_id="k1-raw")
    assert connect_result(k1, broker) == "Success"
    k1.publish(protocol.status_topic("k1"), b'{"schema": 1, "online": "maybe"}', qos=1, retain=True).wait_for_publish(5)
    k1.loop_stop()
    a = ingestors(url, broker, "ingest-a")
    ingestors(url, broker, "ingest-b")
    assert wait_until(lambda: dead_letters.counts(db).get("k1", {}).get("messages") == 2, 10)
    assert a.terminate() == 0
    ingestors(url, broker, "ingest-a")                 # a restart: the retained status again
    assert wait_until(lambda: dead_letters.counts(db)["k1"]["messages"] == 3, 10)
    assert count(db, "SELECT COUNT(*) FROM dead_letter") == 1


def test_a_retained_batch_is_stored_once_then_refused_and_cleared_from_the_broker(broker, central, ingestors):
    """A kiosk may publish its events retained (the ACL cannot refuse the flag). Its answers go in
    when it is published; the broker hands it to the ingest again at the next start, where it is
    dead-lettered and cleared on the broker, so the start after that does not get it again."""
    from server_sync.central import dead_letters
    url, db = central
    topic, payload = batch([response(1)], batch_id="retained")
    probe = client_for(broker, "central", client_id="probe")          # sees the retained message go
    seen = []
    probe.on_message = lambda c, u, m: seen.append((bytes(m.payload), bool(m.retain)))
    assert connect_result(probe, broker) == "Success"
    k1 = client_for(broker, "k1", client_id="k1-raw")
    assert connect_result(k1, broker) == "Success"
    a = ingestors(url, broker, "ingest-a")
    k1.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM response") == 1, 10)
    assert a.terminate() == 0
    probe.subscribe(topic, qos=1)
    assert wait_until(lambda: (payload, True) in seen, 10)           # the broker holds it
    a = ingestors(url, broker, "ingest-a")                            # ... and hands it over again
    assert wait_until(lambda: (b"", False) in seen, 10), "not cleared"
    reason, = db.execute_sql("SELECT reason FROM dead_letter").fetchone()
    assert "retained events message" in reason
    assert a.terminate() == 0
    ingestors(url, broker, "ingest-a")                                # nothing retained any more
    k1.publish(*batch([response(2)], batch_id="after"), qos=1).wait_for_publish(5)
    assert wait_until(lambda: count(db, "SELECT COUNT(*) FROM response") == 2, 10)
    assert dead_letters.counts(db)["k1"]["messages"] == 1
    k1.loop_stop()
    probe.loop_stop()


def test_a_deactivated_kiosk_is_cut_off_and_its_answers_kept(broker, central, ingestors, tmp_path, capsys):
    """`kiosk-central kiosk deactivate`: the broker user goes (after the broker's reload the
    kiosk is disconnected and refused), its answers stay, and what still arrives from it is
    refused and counted, never kept."""
    from server_sync.central import dead_letters
    from server_sync.cli import main
    url, db = central
    ingestors(url, broker)
    k = make_kiosk(tmp_path, broker, "k1", "s1")
    k.record(5)
    assert k.agent().run(once=True, timeout=20)
    online = client_for(broker, "k1", client_id="k1-online")
    assert connect_result(online, broker) == "Success"
    assert main(["--db", url, "kiosk", "deactivate", "k1", "--password-file", str(broker.password_file),
                 "--acl-file", str(broker.acl_file)]) == 0
    assert "kiosk k1 deactivated; its 5 answer(s) stay" in capsys.readouterr().out
    assert "k1:" not in broker.password_file.read_text()
    broker.reload()
    assert wait_until(lambda: not online.is_connected(), 10), "the broker kept a revoked credential connected"
    online.loop_stop()
    k.record(2)
    with pytest.raises(Exception, match="refused the connection: (Not authorized|Bad user name)"):
        k.agent().run(once=True, timeout=10)
    assert count(db, "SELECT COUNT(*) FROM response WHERE kiosk_id = 'k1'") == 5
    # A batch of it that was still on its way (a store bridge, a queue) is refused and counted.
    late = client_for(broker, "central", client_id="late")
    assert connect_result(late, broker) == "Success"
    late.publish(*batch([response(100)], kiosk="k1"), qos=1).wait_for_publish(5)
    late.loop_stop()
    assert wait_until(lambda: dead_letters.counts(db).get("k1", {}).get("messages", 0) >= 1, 10)
    assert dead_letters.counts(db)["k1"]["kept"] == 0
    assert count(db, "SELECT COUNT(*) FROM dead_letter WHERE kiosk_id = 'k1'") == 0
    assert count(db, "SELECT COUNT(*) FROM response WHERE kiosk_id = 'k1'") == 5
    assert main(["--db", url, "kiosk", "list", "--json"]) == 0
    listed = {r["id"]: r for r in json.loads(capsys.readouterr().out)["kiosks"]}
    assert listed["k1"]["active"] is False and listed["k1"]["answers"] == 5
    assert listed["k1"]["refused_7d"]["messages"] >= 1 and listed["k2"]["active"] is True


def test_a_repaired_kiosk_loses_and_doubles_nothing(broker, central, ingestors, tmp_path):
    """A kiosk whose card damaged its indexes: repaired (every row salvaged, the sequence going
    on), it sends what the centre had not acknowledged, and the centre holds each answer once."""
    from datetime import datetime, timezone

    from kiosk.repair import repair
    from kiosk.store import LocalStore
    from tests.test_sd_card import damage_indexes
    url, db = central
    ingestors(url, broker)
    k = make_kiosk(tmp_path, broker, "k1", "s1", batch_max_events=50)
    first = k.record(200, followup_every=10)
    assert k.agent().run(once=True, timeout=30)
    later = k.record(100, followup_every=10)                  # recorded, never sent
    top = k.store.db.execute_sql("SELECT value FROM sequence").fetchone()[0]
    k.store.close()
    damage_indexes(k.cfg.db_path, "response")
    result = repair(k.cfg.db_path, now=datetime.now(timezone.utc))
    assert result.salvaged["response"] + result.salvaged["followup"] == first + later
    k.store = LocalStore(k.cfg.db_path, kiosk_id="k1")
    k.recorder.store = k.store
    # Above every seq given out, and above the sent mark (kiosk.earlier: what left is under it).
    from kiosk.earlier import read_sent
    assert read_sent(k.cfg.db_path) > 0 and result.sequence == max(top, read_sent(k.cfg.db_path))
    assert k.recorder.record("visit", 3).seq == result.sequence + 1
    assert k.agent().run(once=True, timeout=30)
    assert stored(db) == (first + later + 1, first + later + 1)
    assert {r[0] for r in db.execute_sql("SELECT id FROM response UNION SELECT id FROM followup")} == k.ids()
    assert count(db, "SELECT COUNT(*) FROM conflict") == 0 and count(db, "SELECT COUNT(*) FROM dead_letter") == 0
