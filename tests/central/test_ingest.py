"""Ingest of one message at a time (`Ingest.handle`), on SQLite and a real PostgreSQL: new answers
stored once, re-sends acked as duplicates, conflicts recorded and never overwritten, every bad
message dead-lettered with its reason while ingest goes on, fleet status kept."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from server_sync import protocol
from server_sync.ingest import Ingest
from tests.central.wire import NOW, T0, batch, count, followup, new_id, register_fleet, response


@pytest.fixture
def ingest(central_db):
    register_fleet(central_db)
    return Ingest(central_db, clock=lambda: NOW, max_bytes=64 * 1024)


def rollup_total(db, value=None) -> int:
    sql = "SELECT COALESCE(SUM(n), 0) FROM rollup_hourly" + (f" WHERE value = {value}" if value else "")
    return count(db, sql)


def test_batch_is_stored_once_and_acked(ingest, central_db):
    r1, r2, r3 = response(1, value=4), response(2, value=1), response(3, value=2, filtered="repeat")
    tricky = "slow\tqueue\nat 5 \\ 6, \\N, 'quoted' \"too\" åäø"     # survives COPY/SQL escaping
    f4 = followup(4, r2["id"], reasons=("queue", "staff"), comment=tricky)
    topic, payload = batch([r1, r2, r3, f4], batch_id="b-1")
    out = ingest.handle(topic, payload)
    assert out.kind == "batch" and out.accepted.new == 4 and out.changed_sites == {"s1"}
    (ack_topic, ack_payload), = out.publish
    assert ack_topic == "kundpuls/v1/kiosk/k1/ack"
    ack = protocol.decode_ack(ack_payload)
    assert ack.batch_id == "b-1" and ack.ranges == ((1, 4),)
    db = central_db
    assert count(db, "SELECT COUNT(*) FROM response") == 3
    assert count(db, "SELECT COUNT(*) FROM followup") == 1
    assert sorted(r[0] for r in db.execute_sql("SELECT reason FROM followup_reason").fetchall()) == ["queue", "staff"]
    assert db.execute_sql("SELECT comment FROM followup").fetchone()[0] == tricky
    assert db.execute_sql("SELECT id, scale FROM question").fetchall() == [("visit", "smiley4")]
    assert rollup_total(db) == 2                    # the filtered press is kept but not counted
    row = db.execute_sql("SELECT site_id, time_status, clock_synced FROM response WHERE id = "
                         + db.param, (r1["id"],)).fetchone()
    assert (row[0], row[1], bool(row[2])) == ("s1", "synced", True)

    again = ingest.handle(topic, payload)          # the kiosk missed the ack and re-sends
    assert (again.accepted.new, again.accepted.duplicates) == (0, 4)
    assert protocol.decode_ack(again.publish[0][1]).ranges == ((1, 4),)
    assert again.changed_sites == set()
    assert count(db, "SELECT COUNT(*) FROM response") == 3 and rollup_total(db) == 2


def test_a_resent_batch_costs_no_type_inspection_per_event(ingest, monkeypatch):
    """A batch sent again is read back from the store and compared, event by event; the event
    declaration is inspected through msgspec once per type, never per stored event (it cost
    0.5–2 ms an event, a re-sent batch 18–40 times a new one, holding up every other kiosk)."""
    import msgspec
    inspected = []
    type_info = msgspec.inspect.type_info
    monkeypatch.setattr(msgspec.inspect, "type_info", lambda t: inspected.append(t) or type_info(t))

    def resend_inspections(n: int, seq: int) -> int:
        answers = [response(seq + 2 * i) for i in range(n)]
        events = [e for a in answers for e in (a, followup(a["seq"] + 1, a["id"]))]
        message = batch(events)
        assert ingest.handle(*message).accepted.new == 2 * n
        inspected.clear()
        assert ingest.handle(*message).accepted.duplicates == 2 * n
        return len(inspected)

    assert resend_inspections(5, 1) == resend_inspections(60, 1000) <= 2


def test_same_id_other_content_is_a_conflict_never_an_overwrite(ingest, central_db):
    r = response(1, value=4)
    ingest.handle(*batch([r]))
    changed = dict(r, value=1)
    out = ingest.handle(*batch([changed, response(2)]))
    assert (out.accepted.new, out.accepted.conflicts) == (1, 1)
    assert protocol.decode_ack(out.publish[0][1]).ranges == ((1, 2),)    # recorded: stop re-sending
    db = central_db
    assert count(db, f"SELECT value FROM response WHERE id = {db.param}", (r["id"],)) == 4
    ev, existing, incoming = db.execute_sql("SELECT event_id, existing, incoming FROM conflict").fetchone()
    assert ev == r["id"] and json.loads(existing)["value"] == 4 and json.loads(incoming)["value"] == 1
    ingest.handle(*batch([changed]))               # re-sent again: no second conflict row
    assert count(db, "SELECT COUNT(*) FROM conflict") == 1
    # An id already used by a response may not come back as a follow-up either.
    ingest.handle(*batch([followup(3, r["id"], id=r["id"])]))
    assert count(db, "SELECT COUNT(*) FROM conflict") == 2 and count(db, "SELECT COUNT(*) FROM followup") == 0


def test_answer_with_the_id_of_a_stored_followup_is_a_conflict(ingest, central_db):
    r = response(1)
    f = followup(2, r["id"])
    ingest.handle(*batch([r, f]))
    out = ingest.handle(*batch([response(3, id=f["id"]), response(4)]))
    assert (out.accepted.new, out.accepted.conflicts) == (1, 1)
    db = central_db
    assert count(db, "SELECT COUNT(*) FROM response") == 2 and count(db, "SELECT COUNT(*) FROM conflict") == 1


def _reason_rows(db):
    return sorted(tuple(r) for r in db.execute_sql(
        "SELECT site_id, local_date, reason, n, negative, negative_sum_v FROM rollup_reason_daily").fetchall())


@pytest.mark.parametrize("grouped", [False, True], ids=["one by one", "one group"])
def test_followup_before_its_answer_counts_once_the_answer_comes(ingest, central_db, grouped):
    """A follow-up can arrive before its answer (the answer's batch was re-sent later): its
    reasons are counted when the answer is stored, exactly as a rebuild from the raw rows says."""
    from server_sync.central import rollups
    db = central_db
    a, b = response(1, value=1), response(3, value=2)
    early = [followup(2, a["id"], reasons=("queue", "staff")), followup(4, b["id"], reasons=(), comment="no reason")]
    never = followup(6, new_id(), reasons=("price",))          # its answer never comes
    messages = [batch(early + [never]), batch([a, b, response(5, value=4)])]
    if grouped:
        outs = ingest.commit_group([(ingest.decode(t, p), p, False) for t, p in messages])
        assert [o.kind for o in outs] == ["batch", "batch"]
    else:
        ingest.handle(*messages[0])
        assert _reason_rows(db) == []
        assert sorted(r[0] for r in db.execute_sql("SELECT response_id FROM followup_pending").fetchall()) == \
            sorted([a["id"], b["id"], never["response_id"]])   # the comment-only one waits too (whose is it?)
        ingest.handle(*messages[1])
    counted = _reason_rows(db)
    assert [(r[2], r[3]) for r in counted] == [("queue", 1), ("staff", 1)]
    assert [r[0] for r in db.execute_sql("SELECT response_id FROM followup_pending").fetchall()] == \
        [never["response_id"]]
    rollups.rebuild_reasons(db)
    assert _reason_rows(db) == counted


def test_pending_followups_are_filled_in_by_the_migration(central_db):
    """m0011 finds the follow-ups a store already holds without their answer."""
    from server_sync.central.dialect import dialect_of
    from server_sync.central.migrations import m0011_followup_pending
    db = central_db
    register_fleet(db)
    ingest = Ingest(db, clock=lambda: NOW)
    a = response(1)
    orphan = followup(3, new_id())
    ingest.handle(*batch([a, followup(2, a["id"]), orphan]))
    db.execute_sql("DELETE FROM followup_pending")
    db.execute_sql(dialect_of(db).ddl(m0011_followup_pending.STATEMENTS[1]))
    assert db.execute_sql("SELECT response_id, followup_id FROM followup_pending").fetchall() == \
        [(orphan["response_id"], orphan["id"])]


def _bad_messages():
    """(reason, topic, payload, refused for good: its seqs come back in the ack's `rejected`)."""
    good = response(1)
    yield "malformed JSON", batch([good])[0], b'{"schema": 1, "kiosk_id": "k1", "batch": "x", "events": [}', False
    yield "unsupported schema version", batch([good])[0], json.dumps(
        {"schema": 2, "kiosk_id": "k1", "batch": "x", "events": [good]}).encode(), False
    yield "oversize payload", *batch([response(i, value=1) for i in range(1, 400)]), False
    yield "out of range", *batch([response(1, value=7), response(2)]), True
    yield "unknown kiosk 'k9'", *batch([response(1, kiosk="k9")], kiosk="k9"), False
    yield "in the future", *batch([response(1, at=datetime(2099, 1, 1, tzinfo=timezone.utc)), response(2)]), True
    # An unsynced clock no site's local day holds, of a boot without a synced event: it was an
    # internal OverflowError, the batch dead-lettered with nothing named (sent again forever).
    for at in (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc), datetime(1, 1, 1, tzinfo=timezone.utc)):
        yield f"recorded_at {protocol.iso_ms(at)} of a clock not synced is outside", *batch(
            [response(1, at=at, synced=False, boot=new_id()), response(2)]), True
    yield "does not match topic", protocol.events_topic("k2"), batch([good])[1], False
    yield "not the registered site", *batch([response(1, site="s2"), response(2)]), True
    yield "question visit v1 is defined by the centre as smiley4", *batch([response(1, scale="smiley5"),
                                                                            response(2)]), True


@pytest.mark.parametrize("reason,topic,payload,for_good", list(_bad_messages()),
                         ids=[r for r, *_ in _bad_messages()])
def test_bad_message_is_dead_lettered_and_ingest_goes_on(ingest, central_db, reason, topic, payload, for_good):
    from server_sync.central import questions
    with central_db.atomic():                         # the centre defines visit v1
        questions.define(central_db, "visit", 1, "smiley4", "customer", {}, NOW.replace(tzinfo=None))
    ingest.handle(*batch([response(10)]))
    out = ingest.handle(topic, payload)
    assert out.kind == "dead_letter"
    if for_good:
        # A sound envelope holding an event that can never pass: the kiosk is told which (seq 1,
        # not the good seq 2, which it sends again without it), and stops sending it.
        (ack_topic, ack_payload), = out.publish
        ack = protocol.decode_ack(ack_payload)
        assert ack_topic == "kundpuls/v1/kiosk/k1/ack" and ack.ranges == () and out.rejected == 1
        assert [(r.ranges, reason in r.reason) for r in ack.rejected] == [(((1, 1),), True)]
    else:
        # Garbage names nothing, and a registry refusal is sent again (a fixed registration lets it in).
        assert out.publish == [] and out.rejected == 0
    db = central_db
    got_reason, got_topic, got_payload = db.execute_sql("SELECT reason, topic, payload FROM dead_letter").fetchone()
    assert reason in got_reason and got_topic == topic
    assert bytes(got_payload) == payload
    assert count(db, "SELECT COUNT(*) FROM response") == 1
    out = ingest.handle(*batch([response(11)]))     # still alive: the next good batch goes in
    assert out.kind == "batch" and count(db, "SELECT COUNT(*) FROM response") == 2


def test_a_status_holds_what_its_columns_hold(ingest, central_db):
    """Review (PostgreSQL): a status counter of 2^63-1 passed the decoder (MAX_INT64) but
    kiosk_status keeps INTEGER columns, so the insert failed: dead-lettered as "internal error:
    DataError: integer out of range". Now every counter the columns keep is stored at their
    largest value, and one above is refused by the decoder with the field named."""
    from server_sync.protocol.vocabulary import MAX_INT32
    topic = protocol.status_topic("k1")
    counters = ("outbox_depth", "oldest_unacked_s", "disk_free_mb", "config_version")
    status = {"schema": 1, "online": True, "version": "0.1.0", "clock_synced": True, "ts": "2026-11-23T11:59:00.000Z"}
    largest = json.dumps({**status, **{c: MAX_INT32 for c in counters}, "rejected": MAX_INT32}).encode()
    assert ingest.handle(topic, largest).kind == "status"
    db = central_db
    assert db.execute_sql(f"SELECT {', '.join(counters)} FROM kiosk_status").fetchone() == (MAX_INT32,) * 4
    for field in counters + ("rejected",):
        for too_large in (MAX_INT32 + 1, 2 ** 63 - 1):
            out = ingest.handle(topic, json.dumps({**status, field: too_large}).encode())
            assert out.kind == "dead_letter"
            reason = db.execute_sql("SELECT reason FROM dead_letter ORDER BY id DESC").fetchone()[0]
            assert field in reason and str(MAX_INT32) in reason and "internal error" not in reason, reason
    assert ingest.handle(*batch([response(1)])).kind == "batch"          # ingest goes on


def test_status_birth_will_and_retained_replay(ingest, central_db):
    topic = protocol.status_topic("k1")
    birth = protocol.encode_status(version="0.1.0", outbox_depth=12, oldest_unacked_s=30, clock_synced=True,
                                   disk_free_mb=900, config_version=3, ts="2026-11-23T11:59:00.000Z")
    assert ingest.handle(topic, birth).kind == "status"
    db = central_db
    cols = "online, outbox_depth, config_version, clock_synced, last_seen"
    online, depth, version, synced, seen = db.execute_sql(f"SELECT {cols} FROM kiosk_status").fetchone()
    assert (bool(online), depth, version, bool(synced)) == (True, 12, 3, True)
    later = Ingest(db, clock=lambda: NOW + timedelta(minutes=5))
    later.handle(topic, protocol.will_payload())
    online, depth, version, _s, seen2 = db.execute_sql(f"SELECT {cols} FROM kiosk_status").fetchone()
    assert (bool(online), depth, version) == (False, 12, 3)     # the will keeps what the birth said
    much_later = Ingest(db, clock=lambda: NOW + timedelta(days=3))
    much_later.handle(topic, protocol.will_payload(), retained=True)   # replayed at an ingest start
    assert db.execute_sql("SELECT last_seen FROM kiosk_status").fetchone()[0] == seen2
    refused = config_refused = protocol.encode_status(
        version="0.1.0", outbox_depth=0, oldest_unacked_s=None, clock_synced=True, disk_free_mb=None,
        config_version=3, config_error="config version 4 refused: bad schedule", ts="2026-11-23T12:00:00.000Z")
    ingest.handle(topic, refused)
    assert db.execute_sql("SELECT config_error FROM kiosk_status").fetchone()[0].startswith("config version 4")
    assert ingest.handle(protocol.status_topic("k9"), config_refused).kind == "dead_letter"
    assert ingest.handle(topic, b"not json").kind == "dead_letter"


def test_a_retained_batch_is_refused_and_cleared_and_the_clearing_ignored(ingest, central_db):
    """The broker hands a retained events message to the ingest at every start: refused (no ack,
    its answers not stored again) and cleared by an empty retained message, whose echo is ignored."""
    topic, payload = batch([response(1)])
    out = ingest.handle(topic, payload, retained=True)
    assert out.kind == "dead_letter" and out.publish == [] and out.clear_retained == topic
    assert "retained events message" in out.reason
    db = central_db
    assert count(db, "SELECT COUNT(*) FROM response") == 0
    assert db.execute_sql("SELECT topic, reason FROM dead_letter").fetchall() == [(topic, out.reason)]
    assert ingest.handle(topic, b"").kind == "ignored"                     # the broker passes the clearing on
    assert count(db, "SELECT COUNT(*) FROM dead_letter") == 1
    assert ingest.handle(topic, payload).clear_retained is None            # the same batch live goes in
    assert count(db, "SELECT COUNT(*) FROM response") == 1


def test_a_kiosk_stopping_cleanly_leaves_what_it_holds_then_not_what_it_held_at_birth(ingest, central_db):
    """`kiosk sync --once` (or a stop) drains the outbox and says offline with its counts: the
    fleet shows an empty outbox, not the 1,639 events of its last periodic status; a Last Will
    after that (never sent on a clean stop, but a broker may hold an old one) keeps them."""
    topic = protocol.status_topic("k1")
    said = dict(version="0.1.0", clock_synced=True, disk_free_mb=900, config_version=3)
    ingest.handle(topic, protocol.encode_status(outbox_depth=1639, oldest_unacked_s=167328,
                                                ts="2026-11-23T11:58:00.000Z", **said))
    ingest.handle(topic, protocol.encode_status(online=False, outbox_depth=0, oldest_unacked_s=None,
                                                ts="2026-11-23T11:59:00.000Z", **said))
    cols = "online, outbox_depth, oldest_unacked_s, last_seen"
    online, depth, oldest, seen = central_db.execute_sql(f"SELECT {cols} FROM kiosk_status").fetchone()
    assert (bool(online), depth, oldest) == (False, 0, None)
    Ingest(central_db, clock=lambda: NOW + timedelta(minutes=5)).handle(topic, protocol.will_payload())
    assert central_db.execute_sql(f"SELECT {cols} FROM kiosk_status").fetchone()[1:] == (0, None, seen)
    # A kiosk from before (0.1.0) said offline on a clean stop with a time and no counts: kept.
    ingest.handle(topic, protocol.encode_status(outbox_depth=7, oldest_unacked_s=60, ts="2026-11-23T11:59:30.000Z",
                                                **said))
    Ingest(central_db, clock=lambda: NOW + timedelta(minutes=6)).handle(
        topic, protocol.offline_payload("2026-11-23T12:05:59.000Z"))
    row = central_db.execute_sql("SELECT online, outbox_depth, config_version, version FROM kiosk_status").fetchone()
    assert (bool(row[0]), *row[1:]) == (False, 7, 3, "0.1.0")


def test_after_commit_hooks_get_changed_sites(central_db):
    register_fleet(central_db)
    calls = []

    def hook(db, site_ids, now, prefix):
        calls.append((site_ids, now, prefix))
        return [("kundpuls/v1/site/s1/alerts", b"{}")]

    def broken(db, site_ids, now, prefix):
        raise RuntimeError("rule bug")

    ingest = Ingest(central_db, clock=lambda: NOW, hooks=[broken, hook])
    out = ingest.handle(*batch([response(1)]))
    assert ingest.after_commit(out.changed_sites) == [("kundpuls/v1/site/s1/alerts", b"{}")]
    assert calls == [({"s1"}, NOW, "")]
    dup = ingest.handle(*batch([response(1, id=new_id())], batch_id="b2"))
    assert dup.accepted.new == 1
    assert ingest.after_commit(set()) == [] and len(calls) == 1


def test_an_unsent_follow_up_is_marked_at_the_centre(central_db):
    """A follow-up the customer walked away from arrives marked (`unsent`); one from a kiosk that
    does not say stays NULL; a sent one is false."""
    from server_sync.ingest import Ingest
    from tests.central.wire import batch, followup, register_fleet, response
    register_fleet(central_db)
    events = []
    for seq, unsent in ((1, True), (3, False), (5, None)):
        r = response(seq, value=1)
        f = followup(seq + 1, r["id"], reasons=("queue",))
        if unsent is not None:
            f["unsent"] = unsent
        events += [r, f]
    assert Ingest(central_db).handle(*batch(events)).accepted.new == 6
    stored = sorted(central_db.execute_sql("SELECT seq, unsent FROM followup").fetchall())
    assert [(seq, None if u is None else bool(u)) for seq, u in stored] == [(2, True), (4, False), (6, None)]


def test_a_followup_waiting_for_another_kiosks_answer_is_never_counted(ingest, central_db):
    """A follow-up stored before its answer came, by another kiosk than the answer's (which
    would have to know the answer's random id in advance): when the answer comes, it is moved to
    `conflict` and removed; the answer's own kiosk's follow-up counts, once."""
    db = central_db
    a = response(1, value=1)
    ingest.handle(*batch([followup(1, a["id"], kiosk="k2", reasons=("price",), comment="k2 was here")], kiosk="k2"))
    assert count(db, "SELECT COUNT(*) FROM followup") == 1
    own = followup(2, a["id"], reasons=("queue",))
    out = ingest.handle(*batch([a, own]))
    assert out.kind == "batch" and out.accepted.new == 2
    assert db.execute_sql("SELECT id FROM followup").fetchall() == [(own["id"],)]
    assert [r[2:4] for r in _reason_rows(db)] == [("queue", 1)]
    assert count(db, "SELECT COUNT(*) FROM followup_pending") == 0
    kiosk, existing = db.execute_sql("SELECT kiosk_id, existing FROM conflict").fetchone()
    assert kiosk == "k2" and json.loads(existing)["id"] == a["id"]


class FakeClient:
    """What IngestService asks of paho after a commit: acks to the broker, publishes."""

    def __init__(self) -> None:
        self.acked: list[int] = []
        self.published: list[tuple[str, bytes]] = []

    def reconnect(self, *args, **kwargs) -> None:
        pass

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append(mid)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.published.append((topic, payload))


def test_a_message_that_fails_for_good_never_stops_the_ingest(ingest, central_db, monkeypatch, caplog):
    """A fault no retry cures, in one message of a group: k3's refusal whose dead letter the
    database refuses (as PostgreSQL refused a reason holding a NUL), and k4's status that raises
    past every handler (a bug). Before, either escaped `_process` and stopped the ingest (and
    systemd restarted it into the same retained message). Now the group is committed message by
    message: k4's is dead-lettered with the error as its reason, k3's is acked and dropped with a
    log line, and k1's and k2's answers go in and are acked."""
    import threading
    from types import SimpleNamespace

    from peewee import DataError

    from server_sync.ingest import BrokerSettings, IngestService
    client = FakeClient()
    service = IngestService(ingest, client, BrokerSettings("mqtt.example", tls=False))
    dead_letter, commit = ingest.intake.dead_letter, ingest.commit

    def refusing_dead_letter(topic, reason, *args, **kwargs):
        if "/k3/" in topic:
            raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        return dead_letter(topic, reason, *args, **kwargs)

    def buggy_commit(d, payload, retained=False):
        if d.kiosk_id == "k4" and d.reason is None:
            raise RuntimeError("a bug")
        return commit(d, payload, retained)

    monkeypatch.setattr(ingest.intake, "dead_letter", refusing_dead_letter)
    monkeypatch.setattr(ingest, "commit", buggy_commit)
    status = protocol.encode_status(version="1", outbox_depth=0, oldest_unacked_s=None, clock_synced=True,
                                    disk_free_mb=1, config_version=1, ts=protocol.iso_ms(T0))
    messages = [batch([response(1)]), (protocol.status_topic("k3"), b'{"schema":1,"online":true,"x":1}'),
                (protocol.status_topic("k4"), status), batch([response(1, kiosk="k2")], kiosk="k2")]
    group = [service._decoded((0, SimpleNamespace(mid=i, topic=t, payload=p, qos=1, retain=False)))
             for i, (t, p) in enumerate(messages, 1)]
    caplog.set_level("WARNING", logger="kundpuls.ingest")
    service._process(group, threading.Event())
    assert client.acked == [1, 2, 3, 4]
    assert sorted(t for t, _ in client.published) == ["kundpuls/v1/kiosk/k1/ack", "kundpuls/v1/kiosk/k2/ack"]
    assert count(central_db, "SELECT COUNT(*) FROM response") == 2
    rows = central_db.execute_sql("SELECT kiosk_id, reason FROM dead_letter").fetchall()
    assert rows == [("k4", "internal error: RuntimeError: a bug")]
    assert service.counters.dropped == 1 and "1 dropped" in service.counters.line()
    assert any("could not dead-letter kundpuls/v1/kiosk/k3/status" in r.getMessage() for r in caplog.records)


def test_a_kiosk_over_its_rate_is_not_taken_and_others_are(central_db):
    """Per kiosk, a token bucket of bytes before anything is queued or decoded: k3's messages
    beyond its burst are acknowledged to the broker (its receive maximum must not fill) but never
    queued, so k3 gets no `ack` and sends its answers again later; k1 is not held back; once the
    bucket refills, k3 is taken again."""
    from types import SimpleNamespace

    from server_sync.ingest import BrokerSettings, IngestService
    from server_sync.ingest_inbox import KioskRates
    now = [0.0]
    client = FakeClient()
    service = IngestService(Ingest(central_db), client, BrokerSettings("mqtt.example", tls=False),
                            monotonic=lambda: now[0], rates=KioskRates(1000.0, 3000, 500, clock=lambda: now[0]))
    mids = iter(range(1, 100))

    def deliver(kiosk: str) -> int:
        mid = next(mids)
        topic, payload = batch([response(mid, kiosk=kiosk)], kiosk=kiosk)
        payload = payload.ljust(500)                            # with its charge of 500: 1,000 bytes
        service._on_message(client, None, SimpleNamespace(mid=mid, topic=topic, payload=payload, qos=1, retain=False,
                                                          properties=None))
        return mid

    k3 = [deliver("k3") for _ in range(5)]
    k1 = deliver("k1")
    assert client.acked == k3[3:]                               # over the rate: acked, not taken
    queued = []
    while (item := service._inbox.get_nowait()) is not None:
        queued.append(item[0][1].mid)
    assert queued == k3[:1] + [k1] + k3[1:3]
    assert service.counters.over_rate == 2 and "2 over their kiosk's rate" in service.counters.line()
    now[0] = 2.0                                                # two messages' worth back
    later = [deliver("k3") for _ in range(3)]
    assert client.acked == k3[3:] + later[2:]


def test_statuses_never_meet_the_rate_and_are_coalesced_per_kiosk(central_db):
    """A kiosk over its rate still has its statuses taken (a Last Will is published once, for a
    kiosk that is gone: dropped, it left the kiosk online for good): the newest two per kiosk are
    kept, the older acknowledged to the broker unwritten, none counted over the rate; the group
    writes the last full status, then the will, which keeps that status's counts."""
    import threading
    from types import SimpleNamespace

    from server_sync.ingest import BrokerSettings, IngestService
    from server_sync.ingest_inbox import KioskRates
    register_fleet(central_db)
    client = FakeClient()
    service = IngestService(Ingest(central_db), client, BrokerSettings("mqtt.example", tls=False),
                            rates=KioskRates(1.0, 600, 0, clock=lambda: 0.0))
    topic = protocol.status_topic("k3")

    def deliver(mid: int, topic: str, payload: bytes) -> None:
        service._on_message(client, None, SimpleNamespace(mid=mid, topic=topic, payload=payload, qos=1, retain=False,
                                                          properties=None))

    for mid in (1, 2):                                          # the bucket's one batch, then over it
        deliver(mid, *batch([response(mid, kiosk="k3")], kiosk="k3"))
    for mid in range(3, 8):
        deliver(mid, topic, protocol.encode_status(version="1", outbox_depth=mid, oldest_unacked_s=None,
                                                    clock_synced=True, disk_free_mb=1, config_version=1,
                                                    ts=protocol.iso_ms(T0)))
    deliver(8, topic, protocol.will_payload())
    assert client.acked == [2, 3, 4, 5, 6]                      # over the rate; pushed out by newer
    assert service.counters.over_rate == 1 and service.counters.coalesced == 4
    group = service._take_group(service._inbox.get(0.1))
    assert [m.mid for _g, m, _d in group] == [1, 7, 8]
    service._process(group, threading.Event())
    assert client.acked[-3:] == [1, 7, 8]
    row = central_db.execute_sql("SELECT online, outbox_depth FROM kiosk_status WHERE kiosk_id = 'k3'").fetchone()
    assert (bool(row[0]), row[1]) == (False, 7)
    assert "4 statuses replaced by a newer one before written" in service.counters.line()


def test_a_message_whose_properties_were_skipped_is_handled_counted_and_logged_once_a_minute(central_db, caplog):
    """make_client skips a PUBLISH's property block over the bound unread
    (server_sync/mqtt_properties.py): the message (here k3's Last Will) is handled as any, the
    counters line counts it, and the log names the kiosk and the block's size, at most once a
    minute per kiosk."""
    import threading
    from types import SimpleNamespace

    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from server_sync.ingest import BrokerSettings, IngestService
    from server_sync.mqtt_properties import bounded
    from tests.raw_mqtt import empty_user_properties
    register_fleet(central_db)
    now = [0.0]
    client = FakeClient()
    service = IngestService(Ingest(central_db), client, BrokerSettings("mqtt.example", tls=False),
                            monotonic=lambda: now[0])
    caplog.set_level("WARNING", logger="kundpuls.ingest")

    def deliver(mid: int) -> None:
        with bounded():
            props, _ = Properties(PacketTypes.PUBLISH).unpack(empty_user_properties(200_000))
        service._on_message(client, None, SimpleNamespace(mid=mid, topic=protocol.status_topic("k3"), qos=1,
                                                          payload=protocol.will_payload(), retain=False,
                                                          properties=props))

    deliver(1)
    deliver(2)
    now[0] = 61.0
    deliver(3)
    group = service._take_group(service._inbox.get(0.1))
    service._process(group, threading.Event())
    row = central_db.execute_sql("SELECT online FROM kiosk_status WHERE kiosk_id = 'k3'").fetchone()
    assert row is not None and not row[0]
    assert "3 with MQTT properties skipped unread" in service.counters.line()
    said = ("kiosk k3 sent a message with 1000000 bytes of MQTT properties (Kundpuls sends none; at most 1024 are "
            "read): handled without them")
    lines = [r.getMessage() for r in caplog.records if "MQTT properties" in r.getMessage()]
    assert lines == [said, said + " (1 more since the last warning)"]

def test_a_status_is_dated_when_the_kiosk_said_it_and_a_will_does_not_make_a_kiosk_heard(central_db):
    """The broker keeps a stopped ingest's statuses and hands them over at its restart: dated by
    their arrival, a kiosk that died during the outage looked heard at the restart (its will
    arriving then too), and its silence was flagged 2 open hours late (a review). A status is
    dated by the kiosk's synced clock, within a day before it arrived; a will keeps the time the
    kiosk was last heard; last_seen never goes back."""
    register_fleet(central_db)
    db, topic = central_db, protocol.status_topic("k1")

    def status(said: datetime, synced: bool = True) -> bytes:
        return protocol.encode_status(version="0.1.0", outbox_depth=0, oldest_unacked_s=None, clock_synced=synced,
                                      disk_free_mb=900, config_version=1, ts=protocol.iso_ms(said))

    def seen() -> datetime:
        v = db.execute_sql("SELECT last_seen FROM kiosk_status WHERE kiosk_id = 'k1'").fetchone()[0]
        return (datetime.fromisoformat(v) if isinstance(v, str) else v).replace(tzinfo=timezone.utc)

    restart = NOW + timedelta(minutes=50)                           # the broker keeps a session an hour
    at_restart = Ingest(db, clock=lambda: restart)
    assert at_restart.handle(topic, status(NOW)).kind == "status"
    assert seen() == NOW                                            # said at noon, kept by the broker
    at_restart.handle(topic, protocol.will_payload())               # the broker's will, handed over too
    assert seen() == NOW
    at_restart.handle(topic, status(NOW - timedelta(minutes=5)))    # an older one after a newer: no step back
    assert seen() == NOW
    for said, synced in ((NOW + timedelta(hours=1), False),          # an unsynced clock: its arrival
                         (restart - timedelta(days=2), True),         # older than the broker keeps one
                         (restart - timedelta(minutes=1), True),      # as live as statuses come
                         (restart + timedelta(minutes=1), True)):     # ahead of the centre: its arrival
        db.execute_sql("DELETE FROM kiosk_status")
        at_restart.handle(topic, status(said, synced))
        assert seen() == restart, (said, synced)
    db.execute_sql("DELETE FROM kiosk_status")
    at_restart.handle(topic, protocol.will_payload())               # a will first: heard when it came
    assert seen() == restart
    db.execute_sql("DELETE FROM kiosk_status")                      # a retained status, nothing known before:
    at_restart.handle(topic, status(restart - timedelta(days=3)), retained=True)
    assert seen() == restart - timedelta(days=3)                    # when it was said, however long ago
    for said in (datetime(1, 1, 1, tzinfo=timezone.utc), datetime(2019, 12, 31, 23, 59, tzinfo=timezone.utc)):
        db.execute_sql("DELETE FROM kiosk_status")                  # but no synced clock reads before 2020
        at_restart.handle(topic, status(said), retained=True)
        assert seen() == restart, said
    # A status said before the last one heard changes nothing (it read a dead kiosk online).
    db.execute_sql("DELETE FROM kiosk_status")
    at_restart.handle(topic, status(NOW))
    at_restart.handle(topic, protocol.will_payload())
    at_restart.handle(topic, status(NOW - timedelta(minutes=10)))
    assert db.execute_sql("SELECT online FROM kiosk_status").fetchone()[0] in (False, 0) and seen() == NOW


