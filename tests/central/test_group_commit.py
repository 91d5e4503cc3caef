"""Group commit (`Ingest.commit_group`), on SQLite and a real PostgreSQL: several messages in one
transaction, each in its own savepoint. A refused message is dead-lettered while its neighbours
commit; a group that never commits leaves nothing behind (not even a cached question); two
ingestors committing overlapping groups in opposite orders on PostgreSQL do not deadlock."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest

from server_sync import protocol
from server_sync.central.db import DATABASE_DOWN, connect
from server_sync.central.dialect import lost_a_race
from server_sync.central.registry import ZONE_FIX
from server_sync.ingest import Ingest
from tests.central.wire import NOW, T0, batch, count, followup, register_fleet, response


@pytest.fixture
def ingest(central_db):
    register_fleet(central_db)
    return Ingest(central_db, clock=lambda: NOW, max_bytes=64 * 1024)


def decoded(ingest: Ingest, topic: str, payload: bytes) -> tuple:
    return ingest.decode(topic, payload), payload, False


def rollup_total(db) -> int:
    return count(db, "SELECT COALESCE(SUM(n), 0) FROM rollup_hourly")


def test_bad_message_in_a_group_is_dead_lettered_while_its_neighbours_commit(ingest, central_db):
    db = central_db
    good1 = [response(1), response(2, value=1)]
    # Refused only after it wrote: its answer notes the new question "mood" as seen (smiley4), its
    # follow-up answers k1's answer. The savepoint must take the question row back.
    bad = [response(1, kiosk="k2", question="mood"), followup(2, good1[0]["id"], kiosk="k2")]
    good2 = [response(1, kiosk="k3", site="s2", question="mood", scale="nps11", value=10),
             response(2, kiosk="k3", site="s2", question="mood", scale="nps11", value=3)]
    r3 = response(3)
    good3 = [r3, followup(4, r3["id"])]
    status = protocol.encode_status(version="0.1.0", outbox_depth=0, oldest_unacked_s=None,
                                    clock_synced=True, disk_free_mb=100, config_version=1,
                                    ts=protocol.iso_ms(NOW))
    group = [decoded(ingest, *batch(good1, batch_id="g1")),
             decoded(ingest, *batch(bad, kiosk="k2", batch_id="bad")),
             decoded(ingest, protocol.events_topic("k1"), b'{"schema": 1, "events": ['),
             decoded(ingest, *batch(good2, kiosk="k3", batch_id="g2")),
             decoded(ingest, protocol.status_topic("k4"), status),
             decoded(ingest, *batch(good3, batch_id="g3"))]
    outcomes = ingest.commit_group(group)
    assert [o.kind for o in outcomes] == ["batch", "dead_letter", "dead_letter", "batch", "status", "batch"]
    assert "which is another kiosk's" in outcomes[1].reason and "malformed JSON" in outcomes[2].reason
    acks = [protocol.decode_ack(o.publish[0][1]) for o in outcomes if o.kind == "batch"]
    assert [(a.batch_id, a.ranges) for a in acks] == [("g1", ((1, 2),)), ("g2", ((1, 2),)), ("g3", ((3, 4),))]
    assert count(db, "SELECT COUNT(*) FROM response") == 5
    assert count(db, "SELECT COUNT(*) FROM response WHERE kiosk_id = 'k2'") == 0
    assert count(db, "SELECT COUNT(*) FROM followup") == 1
    assert count(db, "SELECT COUNT(*) FROM dead_letter") == 2
    assert count(db, "SELECT COUNT(*) FROM kiosk_status WHERE kiosk_id = 'k4'") == 1
    # The refused batch's question row went with its savepoint; the neighbour noted it as nps11.
    assert db.execute_sql("SELECT scale FROM question WHERE id = 'mood'").fetchall() == [("nps11",)]
    assert rollup_total(db) == 5
    assert count(db, "SELECT COALESCE(SUM(n), 0) FROM rollup_daily") == 5
    # Everything committed: a re-send of the whole group is all duplicates, nothing counted twice.
    again = ingest.commit_group(group)
    assert [o.accepted.duplicates for o in again if o.kind == "batch"] == [2, 2, 2]
    assert count(db, "SELECT COUNT(*) FROM dead_letter") == 2              # kept once, counted twice
    assert count(db, "SELECT SUM(messages) FROM dead_letter_count") == 4
    assert count(db, "SELECT COUNT(*) FROM response") == 5 and rollup_total(db) == 5


def test_a_group_that_never_commits_leaves_nothing(ingest, central_db):
    """A crash (or a database error) before the group's commit: nothing of it is stored and
    nothing is cached, so the redelivered messages go in as new, once."""
    db = central_db
    group = [decoded(ingest, *batch([response(1, question="mood")], batch_id="a")),
             decoded(ingest, *batch([response(1, kiosk="k3", site="s2")], kiosk="k3", batch_id="b"))]

    class Crash(Exception):
        pass

    with pytest.raises(Crash):
        with ingest.intake.group(["kiosk:k1", "kiosk:k3"]):
            assert all(ingest.commit(d, p).kind == "batch" for d, p, _ in group)
            raise Crash
    assert count(db, "SELECT COUNT(*) FROM response") == 0
    assert count(db, "SELECT COUNT(*) FROM question WHERE id = 'mood'") == 0
    assert rollup_total(db) == 0
    outcomes = ingest.commit_group(group)
    assert [o.accepted.new for o in outcomes] == [1, 1]
    assert count(db, "SELECT COUNT(*) FROM question WHERE id = 'mood'") == 1   # registered, not skipped
    assert count(db, "SELECT COUNT(*) FROM response") == 2 and rollup_total(db) == 2


def test_time_correction_inside_one_group_moves_rollups_right(ingest, central_db):
    """An unsynced answer and, later in the same group, the synced event that anchors its boot:
    the correction's -1/+1 and the insert's +1 are summed before anything is written."""
    db = central_db
    early = response(1, at=T0 - timedelta(days=300), synced=False)
    anchor = response(2, at=T0 - timedelta(hours=5, minutes=30))   # 1 s of monotonic time later
    outcomes = ingest.commit_group([decoded(ingest, *batch([early], batch_id="u")),
                                    decoded(ingest, *batch([anchor], batch_id="s"))])
    assert [o.kind for o in outcomes] == ["batch", "batch"] and outcomes[1].accepted.corrected == 1
    status, at = db.execute_sql(f"SELECT time_status, recorded_at FROM response WHERE id = {db.param}",
                                (early["id"],)).fetchone()
    assert status == "corrected"
    assert rollup_total(db) == 2 and count(db, "SELECT COUNT(*) FROM rollup_hourly WHERE n <= 0") == 0
    hours = count(db, "SELECT COUNT(DISTINCT hour) FROM rollup_hourly")
    assert hours == 1, "the early answer's wrong hour must be gone, both counted in the anchor's hour"


@pytest.mark.parametrize("zone", ["Mars/Olympus", ""])
def test_a_sites_time_zone_edited_by_hand_holds_its_answers_back_until_it_is_fixed(ingest, central_db, caplog, zone):
    """ZoneInfo raised on it inside the intake: a dead letter "internal error: ZoneInfoNotFoundError"
    (or ValueError for '') and a traceback in the log, naming neither the site nor the fix. Now
    the batch is refused in one log line that says what to fix; no ack, so its kiosk keeps the
    answers and sends them again; its neighbours commit; once the zone is right the re-send goes
    in, counted in the site's own local hours."""
    db = central_db
    with db.atomic():
        db.execute_sql(f"UPDATE site SET timezone = {db.param} WHERE id = 's1'", (zone,))
    mine = [response(1), response(2, value=1)]
    status = protocol.encode_status(version="0.1.0", outbox_depth=2, oldest_unacked_s=30, clock_synced=True,
                                    disk_free_mb=100, config_version=1, ts=protocol.iso_ms(NOW))
    group = [decoded(ingest, *batch(mine, batch_id="held")),
             decoded(ingest, *batch([response(1, kiosk="k3", site="s2")], kiosk="k3", batch_id="other-site")),
             decoded(ingest, protocol.status_topic("k1"), status)]
    caplog.set_level(logging.INFO)
    outcomes = ingest.commit_group(group)
    assert [o.kind for o in outcomes] == ["dead_letter", "batch", "status"]
    reason = outcomes[0].reason
    assert reason.startswith(f"the stored timezone of site s1 is {zone!r}, not an IANA time zone"), reason
    assert f"set it again: {ZONE_FIX}" in reason, reason
    assert outcomes[0].publish == [] and outcomes[0].rejected == 0      # no ack, nothing refused for good
    assert count(db, "SELECT COUNT(*) FROM response WHERE site_id = 's2'") == 1
    assert count(db, "SELECT COUNT(*) FROM response WHERE site_id = 's1'") == 0 and rollup_total(db) == 1
    assert count(db, "SELECT COUNT(*) FROM kiosk_status WHERE kiosk_id = 'k1'") == 1
    assert db.execute_sql("SELECT reason FROM dead_letter").fetchall() == [(reason,)]
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in logged] == [f"dead-lettered {protocol.events_topic('k1')}: {reason}"]
    assert not logged[0].exc_info, "one line, no traceback"

    with db.atomic():                                       # set right: the kiosk's re-send goes in
        db.execute_sql("UPDATE site SET timezone = 'Europe/Stockholm' WHERE id = 's1'")
    again, = ingest.commit_group([decoded(ingest, *batch(mine, batch_id="held"))])
    assert again.kind == "batch" and again.accepted.new == 2
    assert protocol.decode_ack(again.publish[0][1]).ranges == ((1, 2),)
    # T0 is 11:00 UTC: noon in Stockholm.
    assert db.execute_sql("SELECT local_hour, SUM(n) FROM rollup_hourly WHERE site_id = 's1'"
                          " GROUP BY local_hour").fetchall() == [(12, 2)]


@pytest.mark.postgres
def test_two_ingestors_with_crossed_groups_do_not_deadlock(pg_url):
    """Two ingestors (own connections) each commit groups that touch the same kiosks, sites and
    chain-wide rollup rows in opposite message orders. Locks are taken in one order (advisory
    locks sorted up front, rollup rows written sorted at the end), so neither ever waits for the
    other in a cycle: no deadlock error, and every answer counted once."""
    db0 = connect(pg_url)
    register_fleet(db0)
    rounds = 12
    errors: list[BaseException] = []
    races = []

    def messages(kiosks: list[tuple[str, str]], r: int) -> list[tuple[str, bytes]]:
        out = []
        for i, (k, s) in enumerate(kiosks):
            seq0 = 1000 * r + 100 * (1 if k in ("k1", "k3") else 2)
            # Hours in opposite order too, so the chain-wide rows are met in opposite orders.
            hours = range(3) if i % 2 == 0 else range(2, -1, -1)
            events = [response(seq0 + j, kiosk=k, site=s, value=1 + j % 4,
                               at=T0 - timedelta(hours=h, seconds=j)) for j, h in enumerate(hours)]
            events.append(followup(seq0 + 50, events[0]["id"], kiosk=k, reasons=("queue", "staff")))
            out.append(batch(events, kiosk=k))
        return out

    def worker(kiosks: list[tuple[str, str]], barrier: threading.Barrier) -> None:
        db = connect(pg_url, migrate_schema=False)
        ing = Ingest(db, clock=lambda: NOW)
        try:
            for r in range(rounds):
                group = [decoded(ing, t, p) for t, p in messages(kiosks, r)]
                barrier.wait(10)
                try:
                    outcomes = ing.commit_group(group)
                except DATABASE_DOWN as e:        # a race lost is what the service would retry; must not happen here
                    if not lost_a_race(e):
                        raise
                    races.append(e)
                    db.rollback()
                    outcomes = ing.commit_group(group)
                assert all(o.kind == "batch" for o in outcomes), [o.reason for o in outcomes]
        except BaseException as e:
            errors.append(e)
            barrier.abort()
        finally:
            db.close()

    barrier = threading.Barrier(2)
    a = threading.Thread(target=worker, args=([("k1", "s1"), ("k3", "s2"), ("k2", "s1")], barrier))
    b = threading.Thread(target=worker, args=([("k4", "s2"), ("k2", "s1"), ("k1", "s1")], barrier))
    for t in (a, b):
        t.start()
    for t in (a, b):
        t.join(120)
    try:
        assert not errors, errors
        assert not races, f"{len(races)} deadlock/serialization failures: {races[:1]}"
        # k1 and k2 were sent by both (the same ids? no: each side makes its own), so count all.
        answers = count(db0, "SELECT COUNT(*) FROM response")
        assert answers == 2 * rounds * 3 * 3
        assert rollup_total(db0) == answers
        assert count(db0, "SELECT COALESCE(SUM(n), 0) FROM rollup_chain_hourly") == answers
        assert count(db0, "SELECT COUNT(*) FROM followup") == 2 * rounds * 3
    finally:
        db0.close()


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["response", "rollup_hourly"])
def test_a_statement_timeout_under_a_held_lock_is_retried_not_dead_lettered(pg_url, table):
    """A statement the server cancels (statement_timeout, while another session holds a lock on
    the table the bulk COPY or the rollups' upsert writes) is the store failing, not the message:
    the group raises for a retry and nothing is dead-lettered. The bulk paths use the driver's
    cursor; its QueryCanceled passed every `except OperationalError` and the service dead-lettered
    the batch as an internal error. Once the lock is gone the same group goes in once."""
    import psycopg

    db = connect(pg_url)
    register_fleet(db)
    ingest = Ingest(db, clock=lambda: NOW)
    group = [decoded(ingest, *batch([response(1), response(2, value=1)], batch_id="g1"))]
    db.execute_sql("SET statement_timeout = '300ms'")
    try:
        with psycopg.connect(pg_url) as other:
            other.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")   # reads pass, writes wait
            with pytest.raises(ingest.retry) as raised:
                ingest.commit_group(group)
            other.rollback()
        assert "statement timeout" in str(raised.value)
        db.rollback()
        assert count(db, "SELECT COUNT(*) FROM dead_letter") == 0
        assert [o.kind for o in ingest.commit_group(group)] == ["batch"]
        assert count(db, "SELECT COUNT(*) FROM response") == 2 and rollup_total(db) == 2
        assert count(db, "SELECT COUNT(*) FROM dead_letter") == 0
    finally:
        db.close()


def test_a_row_the_store_refuses_in_a_bulk_insert_is_the_messages_fault(central_url):
    """The other side of the test above: a constraint the store holds (here one added for the
    test) refusing a row of the bulk insert is the message's fault, not the store's: that batch
    is dead-lettered, never retried for ever, and its neighbours in the group go in."""
    db = connect(central_url)
    register_fleet(db)
    if central_url.startswith("sqlite"):
        db.execute_sql("CREATE TRIGGER no_threes BEFORE INSERT ON response WHEN NEW.value = 3"
                       " BEGIN SELECT RAISE(ABORT, 'no threes'); END")
    else:
        db.execute_sql("ALTER TABLE response ADD CONSTRAINT no_threes CHECK (value <> 3)")
    ingest = Ingest(db, clock=lambda: NOW)
    try:
        outcomes = ingest.commit_group([
            decoded(ingest, *batch([response(1), response(2, value=2)], batch_id="g1")),
            decoded(ingest, *batch([response(1, kiosk="k2", value=3)], kiosk="k2", batch_id="bad")),
            decoded(ingest, *batch([response(3, value=1)], batch_id="g2"))])
        assert [o.kind for o in outcomes] == ["batch", "dead_letter", "batch"]
        assert "no_threes" in outcomes[1].reason or "no threes" in outcomes[1].reason
        assert count(db, "SELECT COUNT(*) FROM response") == 3 and rollup_total(db) == 3
        assert count(db, "SELECT COUNT(*) FROM dead_letter") == 1
    finally:
        db.close()


def test_a_groups_statuses_are_written_newest_per_kiosk_and_refusals_counted_once(central_db):
    """Within one group a kiosk's full status replaces its earlier ones (written once, the newest
    wins); a Last Will after a birth still keeps what the birth said; refusals of one kiosk are
    counted in one row write with the right totals."""
    from server_sync.central import dead_letters
    register_fleet(central_db)
    ingest = Ingest(central_db, clock=lambda: NOW)

    def status(depth, online=True):
        if not online:
            return protocol.will_payload()
        return protocol.encode_status(version="1", outbox_depth=depth, oldest_unacked_s=None, clock_synced=True,
                                      disk_free_mb=1, config_version=1, ts=protocol.iso_ms(NOW))

    writes = []
    record_status = ingest.intake.record_status
    ingest.intake.record_status = lambda k, s, **kw: (writes.append((k, s.outbox_depth)), record_status(k, s, **kw))
    messages = [(protocol.status_topic("k1"), status(1)), (protocol.events_topic("k2"), b"{"),
                (protocol.status_topic("k1"), status(2)), (protocol.status_topic("k3"), status(7)),
                (protocol.events_topic("k2"), b"[1"), (protocol.status_topic("k3"), status(0, online=False)),
                (protocol.status_topic("k1"), status(3))]
    outcomes = ingest.commit_group([(ingest.decode(t, p), p, False) for t, p in messages])
    assert [o.kind for o in outcomes] == ["status", "dead_letter", "status", "status", "dead_letter", "status",
                                          "status"]
    assert writes == [("k3", 7), ("k3", None), ("k1", 3)]
    rows = dict(central_db.execute_sql("SELECT kiosk_id, outbox_depth FROM kiosk_status").fetchall())
    assert rows == {"k1": 3, "k3": 7}
    c = dead_letters.counts(central_db)["k2"]
    assert (c["messages"], c["bytes"], c["kept"]) == (2, 3, 2) and c["last_reason"].startswith("malformed JSON")


@pytest.mark.postgres
def test_a_deadlock_is_a_race_lost_not_an_outage(pg_url, tmp_path):
    """A real deadlock between two writers arrives as peewee's OperationalError over psycopg's
    DeadlockDetected: the ingest's `except TransactionRollback` never matched it, so each race
    was retried as a database outage (an ERROR line, a reconnect, a back-off). `lost_a_race`
    sees it; a refused connection and a locked SQLite store are not races."""
    a, b = connect(pg_url), connect(pg_url)
    try:
        a.execute_sql("CREATE TABLE race (id int PRIMARY KEY, v int)")
        a.execute_sql("INSERT INTO race VALUES (1, 0), (2, 0)")
        barrier, failures = threading.Barrier(2), []

        def writer(db, first: int, second: int) -> None:
            try:
                with db.atomic():
                    db.execute_sql("UPDATE race SET v = v + 1 WHERE id = %s", (first,))
                    barrier.wait(10)
                    db.execute_sql("UPDATE race SET v = v + 1 WHERE id = %s", (second,))
            except Exception as e:            # noqa: BLE001 (one of the two is the deadlock's victim)
                failures.append(e)

        threads = [threading.Thread(target=writer, args=(a, 1, 2)), threading.Thread(target=writer, args=(b, 2, 1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        (failure,) = failures
        assert isinstance(failure, DATABASE_DOWN) and lost_a_race(failure), repr(failure)
        # a connection cut under a writer is an outage
        (pid,), = a.execute_sql("SELECT pg_backend_pid()").fetchall()
        b.execute_sql("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(DATABASE_DOWN) as cut:
            a.execute_sql("SELECT 1")
        assert not lost_a_race(cut.value)
    finally:
        a.close()
        b.close()
    import sqlite3
    path = tmp_path / "locked.db"
    connect(f"sqlite:///{path}").close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        store = connect(f"sqlite:///{path}")
        store.execute_sql("PRAGMA busy_timeout = 50")
        with pytest.raises(DATABASE_DOWN) as busy:
            store.execute_sql("INSERT INTO setting (key, value) VALUES ('x', 'y')")
        assert not lost_a_race(busy.value)
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
