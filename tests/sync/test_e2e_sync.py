"""End to end, with every real part: kiosk databases, the sync agent, mosquitto with TLS,
passwords and ACL, the real `kiosk-central ingest` process and the central store.

The happy path and the faults this side owns: broker restart mid-drain (persistence on), the
sync agent SIGKILLed at random (seeded) points and restarted, the connection cut mid-stream
through a TCP proxy. Each ends the same way: every kiosk event is in the central store exactly
once, the kiosk has all of them acked, nothing dead-lettered.
"""

from __future__ import annotations

import random
import time

import pytest

from kiosk.pushed import file_mapping
from seeds.backlog import add_backlog
from kiosk.sync_agent import SyncAgent
from tests.sync.e2e import Central, Running, assert_same_everywhere, start_sync, wait_until
from tests.sync.tcpproxy import TcpProxy

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture
def central(broker, tmp_path):
    c = Central(tmp_path / "central", broker)
    c.start_ingest()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def unlimited_central(broker, tmp_path):
    """The centre without its per-kiosk budget of bytes, for a backlog of one kiosk past its
    burst (20 MiB) that must drain at full speed for the test's own sake."""
    c = Central(tmp_path / "central", broker)
    c.start_ingest(args=("--kiosk-bytes-per-s", "0"))
    try:
        yield c
    finally:
        c.stop()


def agent_for(k, seed=1) -> SyncAgent:
    return SyncAgent(k.cfg, k.store, base_mapping=file_mapping(k.cfg), rng=random.Random(seed))


def test_answers_reach_the_centre_once_and_acks_mark_them(broker, central, make_kiosk):
    k1, k2 = make_kiosk(broker, "k1"), make_kiosk(broker, "k2")
    k1.record(120, followup_every=6)
    k2.record(40)
    for k in (k1, k2):
        assert agent_for(k).run(once=True, timeout=30)
    assert assert_same_everywhere(central, "k1", k1.store) == 140
    assert assert_same_everywhere(central, "k2", k2.store) == 40
    assert k1.store.get_meta("sync.last_ack_at")
    # The centre keeps what the kiosk said: values, languages, the follow-up comments.
    assert central.query("SELECT SUM(value) FROM response WHERE kiosk_id = 'k1'")[0][0] == \
        k1.store.db.execute_sql("SELECT SUM(value) FROM response").fetchone()[0]
    assert central.query("SELECT COUNT(*) FROM followup WHERE comment LIKE 'comment %'")[0][0] == 20
    # Fleet status: the birth said online with the backlog, the clean exit said offline.
    assert wait_until(lambda: central.query(
        "SELECT online FROM kiosk_status WHERE kiosk_id = 'k1'") == [(0,)], timeout=10)


def test_events_refused_for_good_are_kept_and_never_sent_again(broker, central, make_kiosk):
    """What the centre can never accept comes back named in the ack's `rejected`: the kiosk keeps
    it, marked, out of the outbox, and never sends it again (not after a restart either); the
    rest of a refused batch goes again at once, without it. An unsynced clock far ahead is not
    refused: the centre corrects the time from the boot's synced answers."""
    from datetime import datetime, timedelta, timezone
    from server_sync import protocol as P
    k = make_kiosk(broker, "k1", batch_max_events=10, ack_timeout_s=60.0)   # no re-send by timeout
    k.record(30)
    db = k.store.db
    db.execute_sql("UPDATE response SET value = 9 WHERE seq = 5")             # off its scale
    ahead = P.iso_ms(datetime.now(timezone.utc) + timedelta(days=2))
    db.execute_sql("UPDATE response SET recorded_at = ? WHERE seq = 12", (ahead,))  # a synced clock ahead
    was = db.execute_sql("SELECT recorded_at FROM response WHERE seq = 20").fetchone()[0]
    far = P.iso_ms(datetime.now(timezone.utc) + timedelta(days=730))
    db.execute_sql("UPDATE response SET recorded_at = ?, clock_synced = 0 WHERE seq = 20", (far,))
    with Running(agent_for(k)) as agent:
        assert wait_until(lambda: k.store.outbox_depth() == 0, timeout=20), (agent.counters, central.ingest_log())
        # The status tells the centre how many the kiosk keeps refused.
        assert wait_until(lambda: '"rejected":2' in (central.query(
            "SELECT payload FROM kiosk_status WHERE kiosk_id = 'k1'") or [("",)])[0][0], timeout=10)
    refused = dict(db.execute_sql("SELECT seq, rejected_reason FROM response WHERE rejected_at IS NOT NULL"))
    assert sorted(refused) == [5, 12] and k.store.rejected_count() == 2
    assert "value 9 out of range" in refused[5] and "in the future" in refused[12]
    kept = {r[0] for r in db.execute_sql("SELECT id FROM response WHERE rejected_at IS NULL")}
    assert set(central.event_ids("k1")) == kept and len(kept) == 28
    assert central.query("SELECT COUNT(*) FROM dead_letter")[0][0] == 2
    status, at, kiosk_at = central.query("SELECT time_status, recorded_at, kiosk_recorded_at FROM response"
                                         " WHERE seq = 20")[0]
    assert status == "corrected" and kiosk_at.startswith(far[:10])
    assert datetime.fromisoformat(at) == datetime.fromisoformat(was.replace("Z", "")), (at, was)
    # A restart sends what is unacked again: nothing, the refused ones included.
    again = agent_for(k, seed=2)
    assert again.run(once=True, timeout=20) and again.counters.events_sent == 0
    assert central.query("SELECT COUNT(*) FROM dead_letter")[0][0] == 2 and k.store.rejected_count() == 2
    # `kiosk sync --once` does not say all is well: it names how many and why, and exits 1.
    import contextlib
    import io

    from kiosk.cli import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["--config", str(k.path), "sync", "--once", "--timeout", "20"])
    assert rc == 1, err.getvalue()
    assert "2 event(s) refused by the centre for good" in err.getvalue() and "value 9 out of range" in err.getvalue()


def test_broker_restart_mid_drain(broker, central, make_kiosk):
    k = make_kiosk(broker, "k1", batch_max_events=50)
    total = add_backlog(k.cfg, k.store, 20000, seed=2)        # outlasts the restart on a fast machine
    with Running(agent_for(k)) as agent:
        assert wait_until(lambda: central.count("k1") >= 300, timeout=60)
        broker.restart()                                   # SIGTERM: mosquitto saves its queues
        at_restart = k.store.outbox_depth()
        assert wait_until(lambda: k.store.outbox_depth() == 0, timeout=90), \
            (agent.last_error, agent.counters, central.ingest_log())
    assert at_restart > 0, "the drain finished before the restart; the test proved nothing"
    assert assert_same_everywhere(central, "k1", k.store) == total


def test_sync_agent_sigkilled_at_random_points(broker, unlimited_central, make_kiosk, tmp_path):
    # 60,000 answers (~24 MB, and what each kill leaves to send again) are past one kiosk's burst:
    # the rest would go at its budget's rate (docs/central.md), a minute or two, past the final
    # drain's timeout. The budget is not what this test is about.
    central = unlimited_central
    BACKLOG = 60_000
    rng = random.Random(20261123)
    k = make_kiosk(broker, "k1", batch_max_events=100, ack_timeout_s=3.0)
    # Big enough that the drain outlasts the kill times below even on a fast, quiet machine.
    total = add_backlog(k.cfg, k.store, BACKLOG, seed=3)         # events: answers and follow-ups
    log = tmp_path / "sync.log"
    mid_drain = []
    for round_ in range(5):
        before = k.store.outbox_depth()
        proc = start_sync(k.path, log)
        if round_ % 2:
            # At a random point of the drain: once it has begun (on a loaded machine python's
            # start-up alone can outlast a fixed delay), then up to 0.8 s into it.
            assert wait_until(lambda: k.store.outbox_depth() < before, timeout=60, every=0.02)
            time.sleep(rng.uniform(0.0, 0.8))
        else:
            time.sleep(rng.uniform(0.4, 1.6))                # anywhere: start-up (~0.4 s) or the drain
        proc.kill()
        proc.wait()
        depth = k.store.outbox_depth()
        mid_drain.append(0 < depth < total)
        if round_ == 0 and depth < total:
            # The broker saw the socket die without DISCONNECT: the Last Will says offline.
            assert wait_until(lambda: central.query(
                "SELECT online FROM kiosk_status WHERE kiosk_id = 'k1'") == [(0,)], timeout=10)
        k.record(5)                                          # the app goes on recording meanwhile
        total += 5
    assert any(mid_drain), f"no kill landed mid-drain: {mid_drain}"
    final = start_sync(k.path, log, "--once", "--timeout", "90")
    assert final.wait(120) == 0, log.read_text()[-2000:]
    assert assert_same_everywhere(central, "k1", k.store) == total


def test_connection_cut_mid_stream(broker, central, make_kiosk):
    with TcpProxy(broker.host, broker.port) as proxy:
        k = make_kiosk(broker, "k1", port=proxy.port, batch_max_events=50)
        total = add_backlog(k.cfg, k.store, 8000, seed=4)
        cuts = 0
        with Running(agent_for(k)) as agent:
            for target in (500, 1500, 2500, 3500):
                # After a cut the ingest still commits what the broker had queued (up to 16
                # batches), so wait for the agent's new connection as well as for progress.
                assert wait_until(lambda: central.count("k1") >= target and agent.connected
                                  and proxy.open_connections > 0, timeout=60), \
                    (agent.last_error, agent.counters, central.ingest_log())
                cuts += proxy.cut()
            proxy.pause()                                    # a stalled link, then it recovers
            time.sleep(0.5)
            proxy.resume()
            assert wait_until(lambda: k.store.outbox_depth() == 0, timeout=90), \
                (agent.last_error, agent.counters, central.ingest_log())
        assert cuts >= 4 and proxy.connections >= 5 and agent.counters.connects >= 5
    assert assert_same_everywhere(central, "k1", k.store) == total


def test_a_first_push_before_the_kiosk_ever_reported_is_applied(broker, central, make_kiosk, tmp_path, capsys):
    """docs/deployment.md walked through: `kiosk add`, then `config push` before the kiosk ever
    reported. The push went out as version 1, which the kiosk, at the shipped kiosk.toml's
    config_version 1, took for the config it already ran and dropped without a word, while
    `fleet` showed config 1 and the centre had defined the pushed questions as asked."""
    import json

    from kiosk import loading
    from server_sync.cli import main as central_main
    k = make_kiosk(broker, "k1")
    assert k.cfg.config_version == 1
    push = tmp_path / "push.toml"
    push.write_text('[ui]\nthank_you_s = 4.0\n')
    rc = central_main(["config", "push", "--db", central.url, "--kiosk", "k1", str(push), "--json",
                       "--broker-host", broker.host, "--broker-port", str(broker.port),
                       "--ca-file", broker.ca_file, "--password-file", str(central.password_file)])
    assert rc == 0 and json.loads(capsys.readouterr().out)["pushed"][0]["version"] == 2
    assert central.query("SELECT COUNT(*) FROM kiosk_status")[0][0] == 0          # never reported
    with Running(agent_for(k)):
        assert wait_until(lambda: k.store.get_meta("config.applied_version") == "2")
        assert wait_until(lambda: central.query(
            "SELECT config_version, config_error FROM kiosk_status WHERE kiosk_id = 'k1'") == [(2, None)])
    cfg = loading.load(str(k.path), env={})
    assert cfg.config_version == 2 and cfg.ui.thank_you_s == 4.0


def test_config_pushed_by_the_centre_reaches_the_kiosk(broker, central, make_kiosk, tmp_path, capsys):
    """Through the real broker: the kiosk applies the push, the fleet learns its version; the
    staff roster reaches the kiosk (which masks the names in comments) while the centre's record
    of the push keeps "[name]" for each (it kept every name for ever: a privacy review)."""
    import json

    from kiosk import loading
    from server_sync.cli import main as central_main
    k = make_kiosk(broker, "k1")
    push = tmp_path / "push.toml"
    push.write_text('[ui]\nthank_you_s = 4.0\n\n[filters]\nrepeat_window_s = 2.5\n\n'
                    '[privacy]\nstaff_names = ["Anna Lindqvist", "Per-Olof Svensson"]\n', encoding="utf-8")
    with Running(agent_for(k)):
        assert wait_until(lambda: k.store.get_meta("sync.connected") == "1")
        rc = central_main(["config", "push", "--db", central.url, "--kiosk", "k1", str(push),
                           "--broker-host", broker.host, "--broker-port", str(broker.port),
                           "--ca-file", broker.ca_file, "--password-file", str(central.password_file)])
        assert rc == 0, capsys.readouterr().err
        assert wait_until(lambda: k.store.get_meta("config.applied_version") is not None)
        version = int(k.store.get_meta("config.applied_version"))
        assert version > 1
        # The fleet view learns the applied version from the kiosk's status.
        assert wait_until(lambda: central.query(
            "SELECT config_version FROM kiosk_status WHERE kiosk_id = 'k1'") == [(version,)])
    cfg = loading.load(str(k.path), env={})
    assert cfg.config_version == version and cfg.ui.thank_you_s == 4.0 and cfg.filters.repeat_window_s == 2.5
    assert cfg.privacy.staff_names == ("Anna Lindqvist", "Per-Olof Svensson")
    (kept,), = central.query("SELECT payload FROM config_push WHERE kiosk_id = 'k1'")
    assert json.loads(kept)["privacy"]["staff_names"] == ["[name]", "[name]"] and "Anna" not in kept


def test_a_kiosk_at_the_highest_config_version_is_skipped_and_the_rest_of_its_site_pushed(
        broker, central, make_kiosk, tmp_path, capsys):
    """Through the real broker and ingest: k2's kiosk.toml says config_version 2^31-1 (the highest
    a config may have), and its status says so. `config push --site` asked for 2^31, which no
    config may have, and failed the whole site, naming no kiosk, k1 getting nothing (a review).
    Now k2 is skipped and named with why, k1 gets and applies its push, the exit is 2; pushed to
    k2 alone, nothing is published, recorded or defined."""
    import dataclasses
    import json

    from kiosk import loading
    from server_sync.cli import main as central_main
    from tests.sync.e2e import SITE
    k1 = make_kiosk(broker, "k1")
    k2 = make_kiosk(broker, "k2")
    k2.path.write_text(k2.path.read_text().replace("config_version = 1", "config_version = 2147483647"))
    k2 = dataclasses.replace(k2, cfg=loading.load(str(k2.path), env={}))
    push = tmp_path / "q.toml"
    push.write_text('[[questions]]\nid = "visit"\nversion = 3\nscale = "smiley4"\ntext = {sv = "a", nb = "b", en = "c"}\n')
    broker_args = ["--broker-host", broker.host, "--broker-port", str(broker.port), "--ca-file", broker.ca_file,
                   "--password-file", str(central.password_file), "--db", central.url]
    why = ("no push to kiosk k2: it reports running config version 2147483647, the highest a config version can "
           "be, so no push can go above it (the centre never pushed it one); see to its kiosk.toml's config_version "
           "on the device.")
    with Running(agent_for(k1, seed=1)), Running(agent_for(k2, seed=2)):
        assert wait_until(lambda: sorted(central.query("SELECT kiosk_id, config_version FROM kiosk_status")) == [
            ("k1", 1), ("k2", 2147483647)])
        assert central_main(["config", "push", "--site", SITE, str(push), "--dry-run", *broker_args]) == 2
        out, err = capsys.readouterr()
        assert out.startswith("would push config version 2 to kiosk k1 ") and "k2" not in out, out
        assert why in " ".join(err.split()), err
        assert central_main(["config", "push", "--site", SITE, str(push), "--json", *broker_args]) == 2
        out, err = capsys.readouterr()
        result = json.loads(out)
        assert result["pushed"] == [{"kiosk_id": "k1", "version": 2, "topic": "kundpuls/v1/kiosk/k1/config"}]
        assert result["skipped"] == [{"kiosk_id": "k2", "reason": why[len("no push to kiosk k2: "):-1]}]
        assert f"{why} Kiosk k1 got it: recorded." in " ".join(err.split()), err
        assert wait_until(lambda: k1.store.get_meta("config.applied_version") == "2")
        # k2 alone: nothing pushed, recorded or defined.
        push.write_text(push.read_text().replace("version = 3", "version = 4"))
        assert central_main(["config", "push", "--kiosk", "k2", str(push), *broker_args]) == 2
        assert f"{why} Nothing was pushed or recorded." in " ".join(capsys.readouterr().err.split())
        assert wait_until(lambda: central.query(
            "SELECT config_version FROM kiosk_status WHERE kiosk_id = 'k1'") == [(2,)])
    assert k2.store.get_meta("config.applied_version") is None          # the broker held nothing for it
    assert central.query("SELECT kiosk_id, version FROM config_push") == [("k1", 2)]
    assert central.query("SELECT COUNT(*) FROM question WHERE version = 4") == [(0,)]


def test_a_comment_the_card_damaged_reaches_the_centre_and_the_rest_with_it(broker, central, make_kiosk, caplog):
    """A byte of a comment damaged on the card (not UTF-8; SQLite's integrity_check finds nothing):
    `kiosk sync` stopped with "holds text that is not UTF-8 … run kiosk repair --force" and sent
    nothing at all, at every restart, until someone ran that on the kiosk. Now every event goes,
    the damaged one with U+FFFD in place of the damaged characters (as `kiosk export` writes it),
    the ingest stores it as any comment, and the log names the table and column, never the text."""
    import logging

    from kiosk.cli import main
    k = make_kiosk(broker, "k1", batch_max_events=10)
    k.record(30, followup_every=3)                     # 30 answers, 10 follow-ups "comment N"
    db = k.store.db
    seq = db.execute_sql("SELECT seq FROM followup ORDER BY seq LIMIT 1 OFFSET 4").fetchone()[0]
    db.execute_sql("UPDATE followup SET comment = CAST(X'4BC3' AS TEXT) WHERE seq = ?", (seq,))
    caplog.set_level(logging.INFO, logger="kundpuls.sync")
    assert main(["--config", str(k.path), "sync", "--once", "--timeout", "20"]) == 0, central.ingest_log()
    assert assert_same_everywhere(central, "k1", k.store) == 40
    assert central.query("SELECT comment FROM followup WHERE seq = ?", (seq,)) == [("K\ufffd",)]
    assert central.query("SELECT COUNT(*) FROM followup WHERE comment LIKE 'comment %'")[0][0] == 9
    said = [r.getMessage() for r in caplog.records if "not UTF-8" in r.getMessage()]
    assert len(said) == 1 and f"seq {seq}" in said[0] and "followup.comment" in said[0], said
    assert "K\ufffd" not in caplog.text and "'K" not in caplog.text
