"""The sync agent against a real mosquitto (TLS, passwords, ACL) and a fake centre that the test
controls: acks only from the centre, re-sends after timeout and restart, status and Last Will,
config push applied or refused, site alerts, clear failures."""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import threading
import time
from pathlib import Path

import pytest

from kiosk import loading
from kiosk.cli import main as kiosk_main
from kiosk.pushed import file_mapping, pushed_path
from server_sync import protocol as P
from kiosk.sync_agent import Backoff, SyncAgent, SyncError
from kiosk.usable import APP, HEADLESS, record_kind
from seeds.catalogue import QUESTIONS
from tests.sync.e2e import Running

pytestmark = pytest.mark.broker


def agent_for(k, **kw) -> SyncAgent:
    return SyncAgent(k.cfg, k.store, base_mapping=file_mapping(k.cfg), rng=random.Random(7), **kw)


def acked(store) -> int:
    return store.db.execute_sql(
        "SELECT (SELECT COUNT(*) FROM response WHERE acked_at IS NOT NULL)"
        " + (SELECT COUNT(*) FROM followup WHERE acked_at IS NOT NULL)").fetchone()[0]


def wait_until(pred, timeout=10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def config_error(centre, kiosk_id: str = "k1") -> str:
    """The config_error of the kiosk's last status the centre saw ("" for none)."""
    statuses = centre.statuses.get(kiosk_id)
    return (statuses[-1].config_error if statuses else None) or ""


def test_backoff_doubles_with_jitter_up_to_the_maximum():
    b = Backoff(1.0, 8.0, random.Random(1))
    delays = [b.next() for _ in range(6)]
    for d, cap in zip(delays, (1, 2, 4, 8, 8, 8)):
        assert cap / 2 <= d <= cap
    assert len(set(delays)) == 6                   # jittered
    b.reset()
    assert b.next() <= 1.0
    assert [Backoff(1, 8, random.Random(5)).next() for _ in range(2)] == \
           [Backoff(1, 8, random.Random(5)).next() for _ in range(2)]      # the RNG decides


def test_happy_path_drains_once_and_acks_from_the_centre(broker, centre, make_kiosk):
    k = make_kiosk(broker, batch_max_events=40)
    k.record(150, followup_every=10)
    total = k.store.outbox_depth()
    assert total == 165
    agent = agent_for(k)
    assert agent.run(once=True, timeout=20) is True
    assert k.store.outbox_depth() == 0 and acked(k.store) == total
    assert len(centre.events) == total and centre.deliveries == total     # once each
    assert agent.counters.batches_sent == 5                              # 165 / 40 per batch
    assert k.store.get_meta("sync.last_ack_at") and k.store.get_meta("sync.connected") == "0"
    assert centre.wait_for(lambda c: c.statuses.get("k1") and not c.statuses["k1"][-1].online)
    birth = centre.statuses["k1"][0]
    assert birth.online and birth.outbox_depth == total and birth.config_version == 1
    assert birth.clock_synced is not None and birth.disk_free_mb > 0 and birth.version
    # What arrived is exactly what the kiosk recorded.
    rows = k.store.db.execute_sql("SELECT id, seq FROM response UNION ALL SELECT id, seq FROM followup").fetchall()
    assert {i: s for i, s in rows} == {i: e["seq"] for i, e in centre.events.items()}


def test_puback_is_not_an_ack(broker, centre, make_kiosk):
    k = make_kiosk(broker)
    k.record(20)
    centre.hold()
    with Running(agent_for(k)):
        assert centre.wait_for(lambda c: len(c.events) == 20)      # the broker has them all (PUBACKed) ...
        time.sleep(0.3)
        assert acked(k.store) == 0                                 # ... but only the centre's ack counts
    with pytest.raises(SyncError, match=r"timed out after 0\.5 s: 20 event\(s\) not yet acknowledged"):
        agent_for(k).run(once=True, timeout=0.5)


def test_unacked_batches_go_again_after_the_ack_timeout(broker, centre, make_kiosk):
    k = make_kiosk(broker, ack_timeout_s=1.0, batch_max_events=10)
    k.record(30)
    centre.drop_next(2)                             # lost on the centre's side, never acked
    agent = agent_for(k)
    assert agent.run(once=True, timeout=15)
    assert len(centre.events) == 30 and acked(k.store) == 30
    assert centre.batches >= 5 and agent.counters.resent >= 20
    counts = k.store.db.execute_sql("SELECT send_count, COUNT(*) FROM response GROUP BY 1").fetchall()
    assert dict(counts) == {1: 10, 2: 20}


def test_restart_sends_the_unacked_again(broker, centre, make_kiosk):
    k = make_kiosk(broker, ack_timeout_s=60.0)
    k.record(25)
    centre.hold()
    with Running(agent_for(k)):
        assert centre.wait_for(lambda c: c.deliveries == 25)
    assert acked(k.store) == 0
    centre.hold(False)
    assert agent_for(k).run(once=True, timeout=20)           # a new process: re-sends at start
    assert acked(k.store) == 25 and centre.deliveries == 50 and len(centre.events) == 25


def test_events_recorded_while_running_follow(broker, centre, make_kiosk):
    k = make_kiosk(broker)
    with Running(agent_for(k)):
        for _ in range(5):
            k.record(4)
            assert wait_until(lambda: k.store.outbox_depth() == 0)
    assert len(centre.events) == 20


def test_config_push_applied_then_a_bad_one_refused(broker, centre, make_kiosk):
    k = make_kiosk(broker)
    topic = P.config_topic("k1")
    with Running(agent_for(k)) as agent:
        centre.publish(topic, P.encode_config(5, {"ui": {"thank_you_s": 3.5},
                                                  "filters": {"repeat_window_s": 1.0}}), retain=True)
        assert wait_until(lambda: k.store.get_meta("config.applied_version") == "5")
        cfg = loading.load(str(k.path), env={})           # what the app gets at its next start
        assert cfg.config_version == 5 and cfg.ui.thank_you_s == 3.5 and cfg.filters.repeat_window_s == 1.0
        assert cfg.kiosk_id == "k1" and cfg.broker.port == broker.port
        assert centre.wait_for(lambda c: c.statuses["k1"][-1].config_version == 5)

        bad = json.dumps({"version": 6, "ui": {"thank_you_s": 500}}).encode()
        centre.publish(topic, bad, retain=True)
        assert wait_until(lambda: k.store.get_meta("config.refused") is not None)
        refused = json.loads(k.store.get_meta("config.refused"))
        assert refused["version"] == 6 and "ui.thank_you_s" in refused["reason"]
        assert centre.wait_for(lambda c: (c.statuses["k1"][-1].config_error or "").startswith("config 6 refused"))
        assert centre.statuses["k1"][-1].config_version == 5
        assert agent.applied_version == 5
    assert loading.load(str(k.path), env={}).ui.thank_you_s == 3.5      # the good one is kept

    old = json.dumps({"version": 3, "ui": {"thank_you_s": 1.0}}).encode()
    agent = agent_for(k)
    assert agent.applied_version == 5 and agent.handle_config(old) is False
    assert "not newer than the applied 5" in json.loads(k.store.get_meta("config.refused"))["reason"]
    assert json.loads(pushed_path(k.cfg.data_dir).read_text())["version"] == 5


def test_a_config_cleared_on_the_broker_leaves_the_kiosk_on_the_push_it_applied(broker, centre, make_kiosk):
    """`kiosk deactivate --clear-status` publishes an empty retained config (the staff roster off
    the broker): a kiosk still connected then, or started again later, keeps running the push it
    saved, says no refusal, and takes the next push above it."""
    k = make_kiosk(broker)
    topic = P.config_topic("k1")
    with Running(agent_for(k)) as agent:
        centre.publish(topic, P.encode_config(5, {"privacy": {"staff_names": ["Lisa Lundqvist"]}}), retain=True)
        assert wait_until(lambda: k.store.get_meta("config.applied_version") == "5")
        centre.publish(topic, b"", retain=True)
        time.sleep(0.5)
        assert agent.applied_version == 5 and agent.config_error is None
    again = agent_for(k)
    assert again.applied_version == 5 and again.handle_config(b"") is False and again.config_error is None
    assert loading.load(str(k.path), env={}).privacy.staff_names == ("Lisa Lundqvist",)
    assert again.handle_config(P.encode_config(6, {"privacy": {"staff_names": []}})) is True


def test_a_push_at_the_version_the_kiosk_runs_is_refused_aloud_unless_it_makes_what_runs(broker, centre, make_kiosk,
                                                                                          caplog):
    """A first push at version 1 to a kiosk whose kiosk.toml is at 1 (the shipped file's) was
    taken for the retained config it already runs and dropped: no pushed-config.json, no log, no
    config_error, and `fleet` showed config 1 as if applied. Now such a push is refused aloud,
    naming both versions; the push it applied, delivered again (a reconnect, a restart), is let
    be, and so is one that changes nothing. The file still wins at the pushed version (a
    technician's edit on the device), and a push it overrules that way is said too."""
    k = make_kiosk(broker)
    caplog.set_level(logging.INFO, logger="kundpuls.sync")
    with Running(agent_for(k)) as agent:
        centre.publish(P.config_topic("k1"), P.encode_config(1, {"ui": {"thank_you_s": 3.5}}), retain=True)
        assert centre.wait_for(lambda c: config_error(c).startswith("config 1 refused"))
        assert config_error(centre) == "config 1 refused: config version 1 is not newer than the applied 1"
        assert centre.statuses["k1"][-1].config_version == 1 and agent.applied_version == 1
        assert not pushed_path(k.cfg.data_dir).exists()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "config 1 refused: config version 1 is not newer than the applied 1"]
    assert json.loads(k.store.get_meta("config.refused"))["version"] == 1

    applied = P.encode_config(2, {"ui": {"thank_you_s": 3.5}})
    assert agent_for(k).handle_config(applied) is True
    caplog.clear()
    again = agent_for(k)                            # restarted: the retained push comes again
    assert again.handle_config(applied) is False
    assert again.handle_config(P.encode_config(2, {"ui": {"thank_you_s": 3.5, "fullscreen": False}})) is False
    assert again.config_error is None and k.store.get_meta("config.refused") is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert again.handle_config(P.encode_config(2, {"ui": {"thank_you_s": 5.0}})) is False
    assert again.config_error == "config 2 refused: config version 2 is not newer than the applied 2"
    assert json.loads(pushed_path(k.cfg.data_dir).read_text())["ui"] == {"thank_you_s": 3.5}

    # A technician sets the file's own version to 2 with a change of their own: the file wins,
    # so the retained push 2 is not what runs, and that is said.
    k.path.write_text(k.path.read_text().replace("config_version = 1", "config_version = 2")
                      .replace("[ui]\n", "[ui]\nthank_you_s = 6.0\n"))
    cfg = loading.load(str(k.path), env={})
    assert cfg.config_version == 2 and cfg.ui.thank_you_s == 6.0
    edited = SyncAgent(cfg, k.store, base_mapping=file_mapping(cfg))
    assert edited.handle_config(applied) is False
    assert edited.config_error == "config 2 refused: config version 2 is not newer than the applied 2"


def test_a_push_the_kiosk_running_here_cannot_ask_is_refused(broker, centre, make_kiosk):
    """A buttons-only kiosk cannot ask an NPS question: the agent refuses such a push on receipt
    (saving it would stop the buttons at the next start), a touchscreen kiosk takes it."""
    k = make_kiosk(broker)
    record_kind(k.store, HEADLESS)                  # what the headless kiosk says when it starts
    nps_only = P.encode_config(7, {"questions": [dict(QUESTIONS["recommend"])], "schedule": []})
    topic = P.config_topic("k1")
    with Running(agent_for(k)) as agent:
        centre.publish(topic, nps_only, retain=True)
        assert centre.wait_for(lambda c: config_error(c).startswith("config 7 refused"))
        status = centre.statuses["k1"][-1]
        assert "no question can be answered with 4 buttons" in status.config_error
        assert status.config_version == 1 and agent.applied_version == 1
        assert json.loads(k.store.get_meta("config.refused"))["version"] == 7
        assert not pushed_path(k.cfg.data_dir).exists()
    record_kind(k.store, APP)                       # the same push to a touchscreen kiosk
    agent = agent_for(k)
    assert agent.handle_config(nps_only) is True and agent.applied_version == 7


def test_a_kiosk_that_says_its_kind_after_the_push_is_reported_as_it_runs(broker, make_kiosk):
    """First boot: the agent took an NPS-only push before the kiosk beside it said what it is."""
    k = make_kiosk(broker)
    agent = agent_for(k)
    assert agent.handle_config(P.encode_config(7, {"questions": [dict(QUESTIONS["recommend"])],
                                                   "schedule": []})) is True
    record_kind(k.store, HEADLESS)                  # the buttons-only kiosk starts (and leaves it out)
    agent.publish_status()
    status = json.loads(agent.status_payload())
    assert status["config_version"] == 1
    assert status["config_error"].startswith("saved push v7 no longer valid with k1.toml: ")
    assert "no question can be answered with 4 buttons" in status["config_error"]
    record_kind(k.store, APP)                       # re-provisioned with a screen: it asks them
    agent.publish_status()
    status = json.loads(agent.status_payload())
    assert status["config_version"] == 7 and status.get("config_error") is None


def test_a_saved_push_no_longer_valid_is_not_reported_as_applied(broker, make_kiosk):
    k = make_kiosk(broker)
    assert agent_for(k).handle_config(P.encode_config(5, {"default_language": "nb"})) is True
    # A technician narrows the languages in kiosk.toml (its config_version left as it was).
    k.path.write_text(k.path.read_text().replace("[kiosk]\n", '[kiosk]\nlanguages = ["sv", "en"]\n'))
    cfg = loading.load(str(k.path), env={})
    assert cfg.config_version == 1 and cfg.languages == ("sv", "en")          # the push is left out
    agent = SyncAgent(cfg, k.store, base_mapping=file_mapping(cfg))
    status = json.loads(agent.status_payload())
    assert status["config_version"] == 1
    assert status["config_error"].startswith("saved push v5 no longer valid with k1.toml: ")
    assert "kiosk.default_language" in status["config_error"]


def test_a_push_that_cannot_be_saved_is_refused_and_the_agent_goes_on(broker, centre, make_kiosk, monkeypatch):
    k = make_kiosk(broker)
    topic = P.config_topic("k1")
    data = k.cfg.data_dir
    (data / "pushed-config.tmp").mkdir()            # in the way of a fixed temp name: not of ours

    def card_full(fd):
        # A full SD card, in process: the write lands in the page cache, fsync reports ENOSPC.
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with Running(agent_for(k)) as agent:
        running = threading.enumerate()
        with monkeypatch.context() as m:
            m.setattr("kiosk.pushed.os.fsync", card_full)
            centre.publish(topic, P.encode_config(2, {"ui": {"thank_you_s": 3}}), retain=True)
            assert centre.wait_for(lambda c: config_error(c).startswith("config 2 refused: cannot save it in"))
        assert "No space left on device" in centre.statuses["k1"][-1].config_error
        assert agent.applied_version == 1 and not pushed_path(data).exists()
        assert sorted(p.name for p in data.iterdir() if p.name.endswith(".tmp")) == ["pushed-config.tmp"]
        assert all(t.is_alive() for t in running)                          # the agent goes on
        centre.publish(topic, P.encode_config(3, {"ui": {"thank_you_s": 3}}), retain=True)
        assert wait_until(lambda: agent.applied_version == 3)
        assert centre.wait_for(lambda c: c.statuses["k1"][-1].config_version == 3
                               and c.statuses["k1"][-1].config_error is None)
    assert json.loads(pushed_path(data).read_text())["version"] == 3


def test_a_push_refused_for_a_full_card_is_applied_once_there_is_room(broker, centre, make_kiosk, monkeypatch,
                                                                     caplog):
    """The retained push came again only at the next connect: a kiosk whose card was freed ran
    its old config, flagged in `fleet`, until its link dropped. Now it tries again by itself,
    quietly (the refusal was said once), and applies the push once the card takes the file."""
    import kiosk.sync_agent
    monkeypatch.setattr(kiosk.sync_agent, "CONFIG_RETRY_S", 0.2)
    k = make_kiosk(broker)
    caplog.set_level(logging.INFO, logger="kundpuls.sync")

    def card_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with Running(agent_for(k)) as agent:
        with monkeypatch.context() as m:
            m.setattr("kiosk.pushed.os.fsync", card_full)
            centre.publish(P.config_topic("k1"), P.encode_config(2, {"ui": {"thank_you_s": 3}}), retain=True)
            assert centre.wait_for(lambda c: config_error(c).startswith("config 2 refused: cannot save it in"))
            time.sleep(1.0)                                  # several tries, on a card still full
            assert agent.applied_version == 1
        assert wait_until(lambda: agent.applied_version == 2)           # room again: no reconnect needed
        assert centre.wait_for(lambda c: c.statuses["k1"][-1].config_version == 2
                               and c.statuses["k1"][-1].config_error is None)
        assert agent.counters.connects == 1
    assert json.loads(pushed_path(k.cfg.data_dir).read_text())["version"] == 2
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


def test_a_refused_push_names_its_version(broker, make_kiosk):
    k = make_kiosk(broker)
    agent = agent_for(k)
    assert agent.handle_config(json.dumps({"version": 99, "kiosk": {"id": "k2"}}).encode()) is False
    assert agent.config_error.startswith("config 99 refused: config: key 'kiosk' cannot be pushed")
    assert json.loads(k.store.get_meta("config.refused"))["version"] == 99


def refuse_writes(store, column: str) -> None:
    """The real database refuses to set `column` on an answer (as a failing card would refuse
    any write) while meta test.refuse_writes is "1"; it is, from now."""
    store.db.execute_sql(
        f"CREATE TRIGGER refuse_{column} BEFORE UPDATE OF {column} ON response"
        " WHEN (SELECT value FROM meta WHERE key = 'test.refuse_writes') = '1'"
        " BEGIN SELECT RAISE(ABORT, 'the card took no write'); END")
    store.set_meta("test.refuse_writes", "1")


def test_an_outbox_the_database_cannot_mark_waits_and_the_agent_goes_on(broker, centre, make_kiosk, caplog):
    k = make_kiosk(broker, ack_timeout_s=1.0, batch_max_events=5)
    k.record(10)
    refuse_writes(k.store, "sent_at")                 # no batch can be taken (marked sent)
    caplog.set_level(logging.INFO, logger="kundpuls.sync")
    with Running(agent_for(k)) as agent:
        assert centre.wait_for(lambda c: c.statuses.get("k1"))        # connected, status sent
        time.sleep(1.5)
        assert centre.deliveries == 0 and agent.connected
        k.store.set_meta("test.refuse_writes", "0")
        assert wait_until(lambda: acked(k.store) == 10)
    assert len(centre.events) == 10
    failures = [r for r in caplog.records if "cannot write to the kiosk database" in r.getMessage()]
    assert len(failures) == 1 and "in the outbox" in failures[0].getMessage()


def test_an_ack_the_database_cannot_record_is_sent_again_and_counted_once(broker, centre, make_kiosk, caplog):
    """A failed write while handling a message neither kills the agent nor loses the ack: the
    batch stays in flight, goes again after the ack timeout, and the centre dedups it."""
    k = make_kiosk(broker, ack_timeout_s=1.0, batch_max_events=5)
    k.record(10)
    refuse_writes(k.store, "acked_at")
    caplog.set_level(logging.INFO, logger="kundpuls.sync")
    agent = agent_for(k)
    with Running(agent) as _:
        runner = [t for t in threading.enumerate() if t.name != threading.current_thread().name]
        assert centre.wait_for(lambda c: c.deliveries >= 15)         # acked, failed, sent again
        assert acked(k.store) == 0 and all(t.is_alive() for t in runner)
        k.store.set_meta("test.refuse_writes", "0")
        assert wait_until(lambda: acked(k.store) == 10)
    assert len(centre.events) == 10 and centre.deliveries > 10 and agent.counters.resent >= 5
    failures = [r for r in caplog.records if "cannot write to the kiosk database" in r.getMessage()]
    assert len(failures) == 1 and "the card took no write" in failures[0].getMessage()
    assert any("takes writes again" in r.getMessage() for r in caplog.records)


def test_a_reconnect_while_the_database_takes_no_write_neither_stops_the_agent_nor_loses_a_batch(
        broker, centre, make_kiosk, caplog):
    """On a reconnect the agent makes what was in flight sendable again (a write) and notes the
    link for the staff screen (a write): a card that takes none delays the resend, never stops
    the agent; once it takes writes again every answer is acked, each counted once."""
    k = make_kiosk(broker, ack_timeout_s=30.0, batch_max_events=5)
    k.record(10)
    refuse_writes(k.store, "acked_at")               # the batches go out, their acks are not recorded
    k.store.db.execute_sql(
        "CREATE TRIGGER refuse_meta BEFORE UPDATE ON meta WHEN NEW.key = 'sync.connected' AND"
        " (SELECT value FROM meta WHERE key = 'test.refuse_writes') = '1'"
        " BEGIN SELECT RAISE(ABORT, 'the card took no write'); END")
    k.store.db.execute_sql(
        "CREATE TRIGGER refuse_requeue BEFORE UPDATE OF sent_at ON response WHEN NEW.sent_at IS NULL AND"
        " (SELECT value FROM meta WHERE key = 'test.refuse_writes') = '1'"
        " BEGIN SELECT RAISE(ABORT, 'the card took no write'); END")
    caplog.set_level(logging.INFO, logger="kundpuls.sync")
    with Running(agent_for(k)) as agent:
        assert centre.wait_for(lambda c: c.deliveries >= 2)          # both batches out, unacked here
        broker.restart()
        assert wait_until(lambda: agent.counters.connects >= 2, timeout=20)
        time.sleep(1.0)
        runner = [t for t in threading.enumerate() if t.name != threading.current_thread().name]
        assert agent.connected and all(t.is_alive() for t in runner)
        k.store.set_meta("test.refuse_writes", "0")
        assert wait_until(lambda: acked(k.store) == 10, timeout=20)
    assert len(centre.events) == 10
    assert any("the connection state" in r.getMessage() for r in caplog.records)


def test_an_agent_started_on_a_full_card_sends_what_is_recorded_and_catches_up_once_there_is_room(
        broker, centre, make_kiosk, monkeypatch, caplog):
    """A card full at start: the database is read as it stands (kiosk.store, unshared), no
    write goes through. The agent still publishes every recorded event (those a previous run
    marked sent too), logs the refused writes once, and once there is room it records the
    acks: each event counted once at the centre."""
    from kiosk import store as kiosk_store
    from kiosk.store import LocalStore, unshared_uri
    k = make_kiosk(broker, ack_timeout_s=1.0, batch_max_events=4)
    k.record(10)
    k.store.db.execute_sql("UPDATE response SET sent_at = 'earlier', send_count = 1 WHERE seq <= 3")
    k.store.close()                                  # nobody holds it: its WAL is checkpointed
    full = [True]
    monkeypatch.setattr(kiosk_store, "disk_is_full", lambda path: full[0])
    store = LocalStore(k.cfg.db_path, unshared=unshared_uri(k.cfg.db_path))
    caplog.set_level(logging.INFO, logger="kundpuls.sync")
    try:
        with Running(SyncAgent(k.cfg, store, base_mapping=file_mapping(k.cfg), rng=random.Random(7))):
            assert centre.wait_for(lambda c: len(c.events) == 10)           # sent, though not marked
            time.sleep(1.5)                                                  # its acks cannot be recorded
            assert acked(store) == 0 and store.read_only
            full[0] = False                                                  # a file was deleted
            assert wait_until(lambda: acked(store) == 10)
        assert len(centre.events) == 10 and not store.read_only
    finally:
        store.close()
    failures = [r.getMessage() for r in caplog.records if "cannot write to the kiosk database" in r.getMessage()]
    assert len([m for m in failures if "in the outbox" in m]) == 1, failures
    assert any("takes writes again, in the outbox" in r.getMessage() for r in caplog.records)


def test_refused_retry_while_the_agent_runs_is_sent_without_a_restart(broker, centre, make_kiosk):
    k = make_kiosk(broker, ack_timeout_s=1.0)
    k.record(5)
    k.store.db.execute_sql("UPDATE response SET send_count = 1, rejected_at = '2026-12-01T10:00:00.000Z',"
                           " rejected_reason = 'kiosk k1 is registered at another site'")
    with Running(agent_for(k)) as agent:
        k.record(5)
        assert wait_until(lambda: acked(k.store) == 5) and len(centre.events) == 5
        assert kiosk_main(["refused", "retry", "--config", str(k.path)]) == 0     # the command
        t0 = time.monotonic()
        assert wait_until(lambda: acked(k.store) == 10, timeout=5)
        assert time.monotonic() - t0 < 3 * k.cfg.sync.ack_timeout_s
        assert agent.counters.connects == 1                       # no reconnect needed
    assert len(centre.events) == 10 and k.store.rejected_count() == 0


def test_site_alerts_reach_the_staff_view(broker, centre, make_kiosk):
    k = make_kiosk(broker)
    with Running(agent_for(k)):
        assert wait_until(lambda: k.store.get_meta("sync.connected") == "1")
        time.sleep(0.2)                                       # subscriptions in place
        for i in range(3):
            centre.publish(P.alerts_topic(k.cfg.site_id), P.encode_alert(
                id=f"a{i}", site_id=k.cfg.site_id, raised_at="2026-11-23T12:00:00.000Z",
                kind="dip", message=f"Happy Index dipped ({i})",
                text={"sv": f"Nöjdindex sjönk ({i})", "nb": f"Fornøydindeks falt ({i})"} if i == 2 else None))
        assert wait_until(lambda: len(json.loads(k.store.get_meta("site.alerts") or "[]")) == 3)
    alerts = json.loads(k.store.get_meta("site.alerts"))
    assert [a["id"] for a in alerts] == ["a0", "a1", "a2"] and alerts[0]["kind"] == "dip"
    assert "text" not in alerts[0] and alerts[2]["text"] == {"sv": "Nöjdindex sjönk (2)", "nb": "Fornøydindeks falt (2)"}


def test_wrong_password_fails_fast_with_the_brokers_reason(broker, make_kiosk):
    k = make_kiosk(broker)
    k.record(1)
    agent = SyncAgent(k.cfg, k.store, password="wrong", rng=random.Random(1))
    t0 = time.monotonic()
    with pytest.raises(SyncError, match="refused the connection: (Not authorized|Bad user name or password)"):
        agent.run(once=True, timeout=10)
    assert time.monotonic() - t0 < 5


def test_cli_once(broker, centre, make_kiosk, capsys):
    k = make_kiosk(broker)
    k.record(12)
    assert kiosk_main(["sync", "--once", "--config", str(k.path), "--timeout", "20"]) == 0
    assert "12 event(s) acknowledged" in capsys.readouterr().out
    assert k.store.outbox_depth() == 0
    assert kiosk_main(["sync", "--once", "--json", "--config", str(k.path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outbox_after"] == 0 and out["acks_ignored"] == 0


def test_cli_once_times_out_clearly_when_the_broker_is_away(broker, make_kiosk, capsys):
    k = make_kiosk(broker)
    k.record(3)
    broker.stop()
    assert kiosk_main(["sync", "--once", "--config", str(k.path), "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kiosk: error: timed out after 1 s: 3 event(s) not yet acknowledged")
    assert "not connected" in err and "refused" in err.lower()


def test_cli_once_json_says_what_it_did_when_it_fails(broker, make_kiosk, capsys):
    """`sync --once --json` printed no JSON on a timeout (the error came before it) though it
    did after refused events: a script reading stdout got nothing. Now the result, `drained`
    false and the `error`, then the same error on stderr and exit 1; a broker's refusal too."""
    k = make_kiosk(broker)
    k.record(3)
    Path(k.cfg.broker.password_file).write_text("not-the-password\n")
    assert kiosk_main(["sync", "--once", "--json", "--config", str(k.path), "--timeout", "10"]) == 1
    out, err = capsys.readouterr()
    refused = json.loads(out)
    assert refused["drained"] is False and refused["error"].startswith("the broker refused the connection: ")
    assert err == f"kiosk: error: {refused['error']}\n"
    broker.stop()
    assert kiosk_main(["sync", "--once", "--json", "--config", str(k.path), "--timeout", "1"]) == 1
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["drained"] is False and result["error"].startswith("timed out after 1 s: 3 event(s) not yet acknowledged")
    assert err == f"kiosk: error: {result['error']}\n"
    assert set(result) == set(refused) >= {"events_acked", "events_sent", "events_rejected", "acks_ignored",
                                           "batches", "outbox_before", "outbox_after", "refused"}
    assert (result["events_acked"], result["outbox_before"], result["outbox_after"], result["refused"]) == (0, 3, 3, {})


def test_cli_rejects_bad_timeout(capsys):
    with pytest.raises(SystemExit) as e:
        kiosk_main(["sync", "--once", "--timeout", "soon"])
    assert e.value.code == 2
    assert "error: argument --timeout: not a number of seconds: 'soon'" in capsys.readouterr().err


def test_daemon_leaves_cleanly_on_sigterm(broker, centre, make_kiosk, tmp_path):
    import signal
    from tests.sync.e2e import start_sync
    k = make_kiosk(broker)
    k.record(3)
    import socket
    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(10)
    proc = start_sync(k.path, tmp_path / "sync.log",
                      env={"NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "400000"})
    try:
        seen = set()
        while not {"READY=1", "WATCHDOG=1"} <= seen:       # systemd hears from it (Type=notify)
            seen.update(notify.recv(4096).decode().splitlines())
        assert wait_until(lambda: k.store.outbox_depth() == 0, timeout=20), (tmp_path / "sync.log").read_text()
        assert k.store.get_meta("sync.connected") == "1"
        # The address the staff screen shows (the app itself has no AF_INET under systemd).
        assert k.store.get_meta("net.local_ip") == "127.0.0.1"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        notify.setblocking(False)
        rest = []
        try:
            while True:
                rest.append(notify.recv(4096).decode())
        except BlockingIOError:
            pass
        assert any("STOPPING=1" in m for m in rest)
    finally:
        notify.close()
        if proc.poll() is None:
            proc.kill()
    assert k.store.get_meta("sync.connected") == "0"
    # It said offline itself (with a time stamp); the Last Will carries none.
    assert centre.wait_for(lambda c: not c.statuses["k1"][-1].online and c.statuses["k1"][-1].ts)


def test_ack_timeout_doubles_while_the_centre_is_silent(cfg, store, recorder):
    recorder.record("visit", 3)
    now = [0.0]
    agent = SyncAgent(cfg, store, monotonic=lambda: now[0], password="")
    base = cfg.sync.ack_timeout_s
    agent.outbox.next_batch(10, 1 << 20, now=recorder.clock.now(), sent_at="x")
    agent.inflight.add("a", [1], at=0.0)
    agent._expire(base)                                  # no ack: re-sent, next wait doubled
    assert agent.counters.resent == 1 and agent.ack_timeout_s == 2 * base
    agent.inflight.add("b", [1], at=base)
    agent._expire(base + 1.5 * base)
    assert agent.counters.resent == 1                    # not yet: the wait is 2x now
    agent._expire(base + 2 * base)
    assert agent.counters.resent == 2 and agent.ack_timeout_s == 4 * base
    for _ in range(20):
        agent.inflight.add("c", [1], at=0.0)
        agent._expire(1e9)
    assert agent.ack_timeout_s == 1800.0                 # capped
    agent.handle_ack(P.encode_ack(P.incarnation_batch_id(agent.incarnation, 1), [1]))
    assert agent.ack_timeout_s == base                   # the centre answers: back to normal


def test_cli_names_a_missing_credential_file(broker, make_kiosk, capsys):
    k = make_kiosk(broker)
    text = k.path.read_text()
    k.path.write_text(text.replace(broker.ca_file, "/nonexistent/ca.crt"))
    assert kiosk_main(["sync", "--once", "--config", str(k.path)]) == 2
    assert "key 'broker.ca_file': CA certificate file not found: /nonexistent/ca.crt" in capsys.readouterr().err
    k.path.write_text(text.replace(str(broker.password_file_for("k1")), "/nonexistent/pw"))
    assert kiosk_main(["sync", "--once", "--config", str(k.path)]) == 2
    assert "key 'broker.password_file': cannot read the broker password file /nonexistent/pw" in capsys.readouterr().err
    not_pem = k.path.parent / "not-a-cert.crt"
    not_pem.write_text("hello, I am not a certificate\n")
    k.path.write_text(text.replace(broker.ca_file, str(not_pem)))
    assert kiosk_main(["sync", "--once", "--config", str(k.path)]) == 2
    err = capsys.readouterr().err
    assert f"key 'broker.ca_file': {not_pem} is not a PEM CA certificate" in err and "Traceback" not in err


class _Link:
    """A connected MQTT client that keeps what is published (no broker)."""

    def __init__(self) -> None:
        self.published: list[str] = []

    def loop(self, timeout: float) -> int:
        return 0

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False):
        self.published.append(topic.rsplit("/", 1)[-1])
        return type("Info", (), {"rc": 0})()


def test_an_unforeseen_failure_in_a_turn_is_logged_once_and_the_agent_goes_on(cfg, store, recorder, monkeypatch,
                                                                               caplog):
    """An exception none of the agent's paths foresaw (a TypeError, as a recorded_at cell the card
    turned into a BLOB once raised in the outbox) escaped `step`: `kiosk sync` ended, systemd
    started it again 5 s later (Restart=always, no start limit) to meet it again, for ever:
    nothing was sent, no status said why, and acks and pushes went unread. It is now logged once
    (with its traceback), and the agent goes on: the outbox tries again as after a failed write,
    the status at its next interval."""
    recorder.record("visit", 3)
    now = [0.0]
    agent = SyncAgent(cfg, store, monotonic=lambda: now[0], password="")
    link = _Link()
    agent.client, agent.connected = link, True
    agent._next_prune = 1e9                              # not this test's business
    take, failing = agent.outbox.next_batch, [True]

    def next_batch(*args, **kw):
        if failing[0]:
            raise TypeError("'<=' not supported between instances of 'str' and 'bytes'")
        return take(*args, **kw)

    monkeypatch.setattr(agent.outbox, "next_batch", next_batch)
    monkeypatch.setattr(agent.store, "oldest_unacked", lambda: 1 / 0)
    caplog.set_level(logging.INFO, logger="kundpuls.sync")
    for t in (0.0, 0.5, 1.5, 3.0):
        now[0] = t
        agent.step()
    assert link.published == [] and agent.counters.batches_sent == 0
    said = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.exc_info[0] for r in said] == [TypeError, ZeroDivisionError]
    assert "in the outbox" in said[0].getMessage() and "in the status" in said[1].getMessage()
    failing[0] = False
    monkeypatch.undo()
    now[0] = 5.0 + cfg.sync.status_interval_s
    agent.step()
    assert link.published == ["events", "status"] and agent.counters.events_sent == 1
    assert any("no unexpected failure in the outbox any more" in r.getMessage() for r in caplog.records)
