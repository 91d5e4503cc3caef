"""Acks count only for the incarnation that sent their batch: an ack the broker kept in the kiosk's
persistent session for an earlier database under the same kiosk id (one made again from seq 1
after the card lost kiosk.db, a restored image) names seqs that now belong to other taps, and must
not mark them acked. Through the real mosquitto (TLS, ACL, persistence) with the real agent, and
the ack filter on its own, the centre's ingest echoing the incarnation; also a rejecting ack
whose requeue the card refuses."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk import loading
from kiosk.capture import Recorder
from kiosk.clock import FakeClock
from kiosk.store import LocalStore
from kiosk.sync_agent import STORE_FAILURES, SyncAgent
from server_sync import protocol as P
from server_sync.central.db import connect
from server_sync.ingest import Ingest
from tests.central.wire import register_fleet
from tests.sync.conftest import kiosk_toml
from tests.sync.e2e import Running
from tests.sync.fakecentre import FakeCentre
from tests.sync.test_agent import acked, agent_for, refuse_writes, wait_until


@pytest.mark.broker
def test_an_ack_kept_for_a_lost_database_does_not_ack_the_new_ones_taps(broker, centre, make_kiosk):
    k = make_kiosk(broker, ack_timeout_s=1.0)
    k.record(5)
    centre.hold()                                       # the centre is slow: no ack yet
    with Running(agent_for(k)):
        assert centre.wait_for(lambda c: len(c.events) == 5)
    # The centre acks now; the agent is gone, so the broker keeps the ack in session kiosk-k1.
    assert centre.release_held() >= 1
    # The card lost kiosk.db and the files beside it that would show it was there (fsck put
    # them in lost+found; kiosk.earlier): the services make a new one, seq from 1.
    k.store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{k.cfg.db_path}{suffix}").unlink()
    for suffix in (".made", ".sent"):
        Path(f"{k.cfg.db_path}{suffix}").unlink(missing_ok=True)
    store = LocalStore(k.cfg.db_path, kiosk_id="k1")
    try:
        recorder = Recorder(k.cfg, store, k.clock)
        new = []
        for value in (1, 2, 3):
            new.append(recorder.record("visit", value))
            k.clock.advance(7)
        assert [r.seq for r in new] == [1, 2, 3]
        centre.close()                                  # away (an upgrade): only the kept ack answers
        k.store = store
        agent = agent_for(k)
        with Running(agent):
            assert wait_until(lambda: agent.counters.batches_sent >= 1)
            time.sleep(0.5)                             # the kept ack came right after CONNACK
            assert acked(store) == 0, "an ack for the lost database's events acked the new taps"
            assert agent.counters.acks_ignored >= 1
            back = FakeCentre(broker, client_id="fake-centre-back")
            try:
                assert wait_until(lambda: acked(store) == 3, timeout=15)
                assert all(r.id in back.events for r in new)
            finally:
                back.close()
    finally:
        store.close()


def test_only_acks_of_this_incarnation_are_applied(cfg, store, recorder):
    for value in (1, 2, 3, 4):
        recorder.record("visit", value)
        recorder.clock.advance(10)
    agent = SyncAgent(cfg, store, monotonic=lambda: 0.0, password="")
    assert agent.incarnation != SyncAgent(cfg, store, password="").incarnation    # new at each start
    b = agent.outbox.next_batch(4, 1 << 20, now=recorder.clock.now(), sent_at="x")
    assert P.incarnation_of(b.batch_id) == agent.incarnation
    agent.inflight.add(b.batch_id, b.seqs, at=0.0)
    # Another incarnation's, and one from a kiosk before incarnations (uuid batch ids): neither
    # its acked nor its rejected ranges are applied.
    for batch_id in (P.incarnation_batch_id(uuid.uuid4().hex, 1), str(uuid.uuid4())):
        assert agent.handle_ack(P.encode_ack(batch_id, [1, 2], rejected=[([3], "r")])) == 0
    assert store.outbox_depth() == 4 and store.rejected_count() == 0 and agent.inflight.events == 4
    assert agent.counters.acks_ignored == 2 and agent.counters.acks == 0
    assert store.get_meta("sync.last_ack_at") is None
    assert agent.handle_ack(P.encode_ack(b.batch_id, [1, 2], rejected=[([3], "r")])) == 2
    assert store.outbox_depth() == 1 and store.rejected_count() == 1 and agent.counters.acks == 1


def test_a_rejecting_ack_whose_requeue_fails_leaves_the_rest_in_flight(cfg, store, recorder):
    for value in (1, 2, 3, 4):
        recorder.record("visit", value)
        recorder.clock.advance(10)
    agent = SyncAgent(cfg, store, monotonic=lambda: 0.0, password="")
    b = agent.outbox.next_batch(4, 1 << 20, now=recorder.clock.now(), sent_at="x")
    agent.inflight.add(b.batch_id, b.seqs, at=0.0)
    refuse_writes(store, "sent_at")                     # the card takes no requeue
    with pytest.raises(STORE_FAILURES):
        agent.handle_ack(P.encode_ack(b.batch_id, [], rejected=[([2], "event x: value 9 out of range")]))
    assert store.rejected_count() == 1 and agent.outbox.unsent_count() == 0
    # Not sendable again, so still in flight: due again after the ack timeout.
    assert len(agent.inflight) == 1 and agent.inflight.events == 3
    store.set_meta("test.refuse_writes", "0")
    agent._expire(cfg.sync.ack_timeout_s)
    assert agent.outbox.unsent_count() == 3 and len(agent.inflight) == 0


def test_the_centres_ingest_echoes_the_incarnation_in_acks_and_refusals(tmp_path):
    path = tmp_path / "k1.toml"
    path.write_text(kiosk_toml("k1", "s1", tmp_path / "k1", {"host": "localhost", "port": 1883, "tls": False}, {}))
    cfg = loading.load(str(path), env={})
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    register_fleet(db)
    ingest = Ingest(db)
    clock = FakeClock(datetime.now(timezone.utc).replace(microsecond=0))
    acks = []
    with LocalStore(cfg.db_path, kiosk_id="k1") as store:
        agent = SyncAgent(cfg, store, password="")
        recorder = Recorder(cfg, store, clock)
        for ahead in (0, 2):                        # a synced clock two days ahead: refused for good
            clock.advance(ahead * 86400 + 10)
            recorder.record("visit", 3)
            b = agent.outbox.next_batch(100, 1 << 20, now=datetime.now(timezone.utc), sent_at="x")
            (_, payload), = ingest.handle(P.events_topic("k1"), b.payload).publish
            acks.append(P.decode_ack(payload))
    db.close()
    accepted, refused = acks
    assert accepted.ranges == ((1, 1),) and refused.ranges == () and refused.rejected
    assert accepted.incarnation == refused.incarnation == agent.incarnation
