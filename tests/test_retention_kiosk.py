"""The SD card keeps acknowledged answers only `privacy.keep_acked_days`; what the centre has not
acknowledged stays whatever its age; the sync agent does it by itself; the seq never goes back."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from kiosk.outbox import Outbox
from kiosk.retention import prune_acknowledged
from kiosk.sync_agent import SyncAgent
from server_sync.protocol import iso_ms


def count(store, table: str) -> int:
    return store.db.execute_sql(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def send_and_ack(store, cfg, clock) -> None:
    box = Outbox(store, cfg.kiosk_id)
    while (b := box.next_batch(500, 1 << 20, now=clock.now(), sent_at=iso_ms(clock.now()))) is not None:
        box.mark_acked([(b.seqs[0], b.seqs[-1])], iso_ms(clock.now()))


def test_acknowledged_answers_past_their_days_go_the_rest_stays(recorder, store, cfg, clock):
    old = recorder.record("visit", 1)
    recorder.record_followup(old.id, ["queue"], "kö")
    old_unanswered = recorder.record("visit", 4)
    send_and_ack(store, cfg, clock)                         # these three are acknowledged ...
    clock.advance(86400 * 100)
    never_acked = recorder.record("visit", 2)               # ... this one recorded later, not
    clock.advance(86400 * 100)
    recent = recorder.record("visit", 3)
    send_and_ack(store, cfg, clock)
    kept_unacked_old = never_acked.id
    store.db.execute_sql("UPDATE response SET acked_at = NULL WHERE id = ?", (kept_unacked_old,))

    removed = prune_acknowledged(store, 90, clock.now(), boot_id=clock.boot_id(),
                                 monotonic_ns=clock.monotonic_ns())
    assert removed == 3                                     # the old answer, its follow-up, the other old answer
    ids = {r[0] for r in store.db.execute_sql("SELECT id FROM response").fetchall()}
    assert ids == {kept_unacked_old, recent.id}
    assert old.id not in ids and old_unanswered.id not in ids and count(store, "followup") == 0
    assert recorder.record("visit", 4).seq == recent.seq + 1      # never a seq again


def test_an_answer_whose_follow_up_is_not_acknowledged_stays(recorder, store, cfg, clock):
    a = recorder.record("visit", 1)
    send_and_ack(store, cfg, clock)
    recorder.record_followup(a.id, ["queue"])               # recorded later, never sent
    clock.advance(86400 * 365)
    assert prune_acknowledged(store, 90, clock.now(), boot_id=clock.boot_id(),
                                 monotonic_ns=clock.monotonic_ns()) == 0
    assert count(store, "response") == 1 and count(store, "followup") == 1


def turns(agent, now_s: list[float], n: int) -> None:
    """`n` turns of the agent's loop, PASS_PAUSE_S apart: a retention pass writes once a turn."""
    from kiosk.sync_agent import PASS_PAUSE_S
    for _ in range(n):
        agent.step()
        now_s[0] += PASS_PAUSE_S


class NoBroker:
    """A client that cannot connect: the agent runs its retention offline too."""

    def __getattr__(self, name):
        def refuse(*a, **k):
            if name == "connect":
                raise OSError("no broker here")
        return refuse


def test_the_sync_agent_prunes_by_itself(recorder, store, cfg, clock):
    recorder.record("visit", 3)
    send_and_ack(store, cfg, clock)
    clock.advance(86400 * (cfg.privacy.keep_acked_days + 1))

    agent = SyncAgent(cfg, store, client_factory=lambda cid: NoBroker(), clock=clock, password="x")
    agent.step()
    assert count(store, "response") == 0
    recorder.record("visit", 3)
    agent.step()                                             # not again before PRUNE_EVERY_S
    assert count(store, "response") == 1


def test_the_sync_agent_does_not_prune_while_the_clock_is_not_synced(recorder, store, cfg, clock):
    """A Pi without RTC can boot days ahead: ages measured on that clock would remove
    acknowledged answers the staff screen still counts (the last 7 days)."""
    recorder.record("visit", 3)
    send_and_ack(store, cfg, clock)
    now_s = [0.0]

    agent = SyncAgent(cfg, store, client_factory=lambda cid: NoBroker(), clock=clock, password="x",
                      monotonic=lambda: now_s[0])
    real = clock.now()
    clock.synced = False
    clock.advance(86400 * (cfg.privacy.keep_acked_days + 1))     # booted 91 days ahead
    agent.step()
    assert count(store, "response") == 1
    clock.set(real)                                               # NTP puts it right
    clock.synced = True
    now_s[0] += 61                                                # the agent looks again soon
    agent.step()
    assert count(store, "response") == 1                          # and the answer is recent
    clock.advance(86400 * (cfg.privacy.keep_acked_days + 1))      # truly old, on a synced clock
    now_s[0] += 6 * 3600
    agent.step()
    assert count(store, "response") == 0


@pytest.mark.parametrize("where", ["kiosk.sync_agent.restamp_unsynced", "kiosk.retention.RetentionPass.step"])
def test_an_unforeseen_failure_in_the_retention_pass_is_logged_once_and_the_agent_goes_on(
        recorder, store, cfg, clock, monkeypatch, caplog, where):
    """The retention turn caught only a full card: a TypeError from a cell the card damaged (a
    monotonic_ns turned text, in the restamp the first pass after the sync runs) ended `kiosk
    sync`, and systemd started it into the same failure for good, so nothing was sent until a
    reboot (a review). Now it is logged once with its traceback, as in the outbox's turn; the
    pass is dropped and a new one comes later, and the rest of the turn goes on."""
    from kiosk.sync_agent import PRUNE_UNSYNCED_RETRY_S
    recorder.record("visit", 3)
    send_and_ack(store, cfg, clock)
    clock.advance(86400 * (cfg.privacy.keep_acked_days + 1))
    now_s = [0.0]
    connects = []
    agent = SyncAgent(cfg, store, client_factory=lambda cid: connects.append(cid) or NoBroker(), clock=clock,
                      password="x", monotonic=lambda: now_s[0])

    def fails(*a, **k):
        raise TypeError("unsupported operand type(s) for //: 'str' and 'int'")

    monkeypatch.setattr(where, fails)
    caplog.set_level(logging.INFO, logger="kundpuls.sync")
    for t in (0.0, 0.5, PRUNE_UNSYNCED_RETRY_S + 1, 2 * PRUNE_UNSYNCED_RETRY_S + 2):
        now_s[0] = t
        agent.step()                                              # raised out of the loop before
        assert not agent.pruning
    said = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.exc_info[0] for r in said] == [TypeError]
    assert "in the retention pass" in said[0].getMessage()
    assert connects                                               # the turn went on to the link
    assert count(store, "response") == 1
    monkeypatch.undo()
    now_s[0] = 3 * PRUNE_UNSYNCED_RETRY_S + 3
    agent.step()
    assert count(store, "response") == 0
    assert any("no unexpected failure in the retention pass any more" in r.getMessage() for r in caplog.records)


def test_an_answer_stamped_before_the_clock_synced_stays_while_its_boot_runs(recorder, store, cfg, clock):
    """A Pi back from months in storage starts with fake-hwclock's old time: an answer taken
    then, acknowledged within the second, and NTP syncing just after made its `recorded_at`
    look 120 days old. Retention removed it while the customer was still on its follow-up
    screen, and the reason they chose was refused ("no answer with id …"). Its age is measured
    on the boot's monotonic clock instead: kept while it is recent, gone when it is not."""
    now_s = [0.0]
    agent = SyncAgent(cfg, store, client_factory=lambda cid: NoBroker(), clock=clock, password="x",
                      monotonic=lambda: now_s[0])
    real = clock.now()
    clock.synced = False
    clock.step(real - timedelta(days=120))                        # fake-hwclock's time, unsynced
    answer = recorder.record("visit", 1)
    assert answer.wants_followup                                   # the follow-up screen opens
    send_and_ack(store, cfg, clock)                                # sent and acknowledged at once
    clock.step(real)                                               # NTP puts the clock right
    clock.synced = True
    agent.step()                                                   # and the agent's retention runs
    assert count(store, "response") == 1
    recorder.record_followup(answer.id, ["queue"])                 # the customer's reason is taken
    send_and_ack(store, cfg, clock)

    clock.advance(86400 * (cfg.privacy.keep_acked_days - 1))      # not old yet on this boot
    now_s[0] += 6 * 3600
    agent.step()
    assert count(store, "response") == 1 and count(store, "followup") == 1
    clock.advance(86400 * 2)                                       # now truly past its days
    now_s[0] += 6 * 3600
    turns(agent, now_s, 2)                                         # the follow-up, then its answer
    assert count(store, "response") == 0 and count(store, "followup") == 0


def test_after_a_reboot_an_unsynced_answer_goes_by_its_stamp(recorder, store, cfg, clock):
    """Another boot's monotonic reading says nothing about now: its follow-up screen is gone
    with that boot, and the answer goes by its `recorded_at` as every other does."""
    clock.synced = False
    clock.step(clock.now() - timedelta(days=120))
    recorder.record("visit", 1)
    send_and_ack(store, cfg, clock)
    clock.step(clock.now() + timedelta(days=120))
    clock.synced = True
    assert prune_acknowledged(store, 90, clock.now(), boot_id=clock.boot_id(),
                              monotonic_ns=clock.monotonic_ns()) == 0
    assert prune_acknowledged(store, 90, clock.now(), boot_id="another boot",
                              monotonic_ns=0) == 1


# -- a big pass in short write transactions: a tap waits for one at most ------------------------

def test_each_transaction_is_sized_to_take_about_the_time_bound():
    """The next transaction's rows: as many as went in TRANSACTION_S at the last one's rate, at
    most twice the last (a fast one on an idle card says little of the next), within bounds."""
    from kiosk.retention import MAX_ROWS, MIN_ROWS, TRANSACTION_S, next_size
    assert next_size(64, took_s=2 * TRANSACTION_S) == 32                 # too slow: halve it
    assert next_size(64, took_s=TRANSACTION_S / 10) == 128               # fast: at most twice
    assert next_size(64, took_s=0.0) == 128
    assert next_size(MIN_ROWS, took_s=1.0) == MIN_ROWS                   # a slow card still moves on
    assert next_size(MAX_ROWS, took_s=0.0) == MAX_ROWS


def test_a_pass_writes_one_short_transaction_per_step(recorder, store, cfg, clock):
    """`RetentionPass.step` makes at most one write transaction, of `size` rows at most, and
    sizes the next by how long this one took (a fake timer: each one as slow as a Pi's)."""
    from kiosk.retention import MIN_ROWS, TRANSACTION_S, RetentionPass
    for i in range(300):
        recorder.record("visit", 1 + i % 4)
        clock.advance(10)
    send_and_ack(store, cfg, clock)
    clock.advance(86400 * 100)
    writes = []
    real_atomic = store.db.atomic

    def counted(*a, **k):
        writes.append(a)
        return real_atomic(*a, **k)
    store.db.atomic = counted
    ticks = iter(range(10 ** 6))
    p = RetentionPass(store, 90, clock.now(), boot_id=clock.boot_id(), monotonic_ns=clock.monotonic_ns(),
                      timer=lambda: next(ticks) * 4 * TRANSACTION_S / 2)   # every transaction 2x too slow
    sizes, removed = [], []
    while not p.done:
        sizes.append(p.size)
        before, n = len(writes), p.removed
        p.step()
        assert len(writes) - before <= 1                                  # one transaction a step
        removed.append(p.removed - n)
    assert sum(removed) == 300 and count(store, "response") == 0
    assert all(r <= s for r, s in zip(removed, sizes))
    assert sizes[:3] == [p.START_ROWS, p.START_ROWS // 2, p.START_ROWS // 4] and min(sizes) == MIN_ROWS


def test_an_answer_given_a_reason_between_the_look_and_the_delete_stays(recorder, store, cfg, clock):
    """The due rows are looked up outside the write transaction (a tap need not wait for the
    scan) and the delete checks them again inside it: an answer whose follow-up came in between
    stays, with its follow-up."""
    from kiosk.retention import RetentionPass
    a = recorder.record("visit", 1)
    b = recorder.record("visit", 2)
    send_and_ack(store, cfg, clock)
    clock.advance(86400 * 100)
    p = RetentionPass(store, 90, clock.now(), boot_id=clock.boot_id(), monotonic_ns=clock.monotonic_ns())
    due = p.due("response", 10)
    assert sorted(due) == sorted([a.id, b.id])
    recorder.record_followup(a.id, ["queue"])                             # meanwhile, a reason
    assert p.delete("response", due) == 1
    assert [r[0] for r in store.db.execute_sql("SELECT id FROM response")] == [a.id] and count(store, "followup") == 1


def test_the_sync_agent_runs_a_big_pass_a_transaction_per_turn(recorder, store, cfg, clock):
    """The agent's loop goes on between two transactions of a pass (its broker link, the taps
    waiting for the write lock): one per turn, PASS_PAUSE_S apart, until the pass is done."""
    from kiosk.sync_agent import PASS_PAUSE_S, PRUNE_EVERY_S
    for i in range(2000):
        recorder.record("visit", 1 + i % 4)
        clock.advance(10)
    send_and_ack(store, cfg, clock)
    clock.advance(86400 * (cfg.privacy.keep_acked_days + 1))
    now_s = [0.0]
    agent = SyncAgent(cfg, store, client_factory=lambda cid: NoBroker(), clock=clock, password="x",
                      monotonic=lambda: now_s[0])
    agent.step()
    left = [count(store, "response")]
    assert 0 < left[0] < 2000                                            # one transaction, not the pass
    agent.step()
    assert count(store, "response") == left[0]                           # not before the pause
    while left[-1]:
        now_s[0] += PASS_PAUSE_S
        agent.step()
        left.append(count(store, "response"))
        assert len(left) < 200
    assert recorder.record("visit", 3).seq == 2001                        # taps went on meanwhile
    now_s[0] += PASS_PAUSE_S
    agent.step()
    assert count(store, "response") == 1                                 # no new pass before PRUNE_EVERY_S
    now_s[0] += PRUNE_EVERY_S
    clock.advance(86400 * (cfg.privacy.keep_acked_days + 1))
    send_and_ack(store, cfg, clock)
    agent.step()
    assert count(store, "response") == 0


# -- what retention removed leaves the card's files too ------------------------------------------

def holding(cfg, text: str) -> dict[str, int]:
    """The kiosk database's files (kiosk.db, -wal, -shm) that hold `text`, byte-wise."""
    found = {}
    for f in sorted(cfg.db_path.parent.glob(cfg.db_path.name + "*")):
        n = f.read_bytes().count(text.encode())
        if n:
            found[f.name] = n
    return found


def test_a_removed_comment_leaves_the_wal_while_the_app_holds_the_store(recorder, store, cfg, clock, caplog):
    """The app and the sync agent hold kiosk.db open for good, so SQLite never cut its WAL, and the
    pass checkpointed it only PASSIVE: a comment retention removed stayed readable in
    kiosk.db-wal (a privacy review). The pass now ends by emptying the WAL; while the app keeps a
    read open it tries again WAL_RETRY_S apart, and a pass that gave up leaves it to the next."""
    from kiosk import retention
    from kiosk.store import LocalStore
    from kiosk.sync_agent import PASS_PAUSE_S, PRUNE_EVERY_S
    a = recorder.record("visit", 1)
    recorder.record_followup(a.id, ["queue"], "Lisa Lundqvist fick vänta länge")
    send_and_ack(store, cfg, clock)
    clock.advance(86400 * 100)
    assert "kiosk.db-wal" in holding(cfg, "Lisa Lundqvist")
    agent_store = LocalStore(cfg.db_path)              # the sync agent's own connection
    try:
        now_s = [0.0]
        agent = SyncAgent(cfg, agent_store, client_factory=lambda cid: NoBroker(), clock=clock, password="x",
                          monotonic=lambda: now_s[0])
        store.db.execute_sql("BEGIN")                  # the app reads, the whole time
        store.db.execute_sql("SELECT COUNT(*) FROM followup").fetchone()
        for _ in range(3):
            agent.step()
            now_s[0] += PASS_PAUSE_S
        assert count(agent_store, "followup") == 0 and count(agent_store, "response") == 0
        assert agent.pruning                           # still at the WAL, which the read holds
        now_s[0] += retention.WAL_RETRY_S
        agent.step()
        assert agent.pruning and holding(cfg, "Lisa Lundqvist")
        store.db.execute_sql("COMMIT")                 # the app between reads (its connection open)
        now_s[0] += retention.WAL_RETRY_S
        agent.step()
        assert not agent.pruning and holding(cfg, "Lisa Lundqvist") == {}

        # A read held through every try: the pass gives up, says so, and the next pass empties it
        # though it has nothing to remove.
        b = recorder.record("visit", 1)
        recorder.record_followup(b.id, ["queue"], "Per Persson ringde aldrig")
        send_and_ack(store, cfg, clock)
        clock.advance(86400 * 100)
        store.db.execute_sql("BEGIN")
        store.db.execute_sql("SELECT COUNT(*) FROM followup").fetchone()
        now_s[0] += PRUNE_EVERY_S
        for _ in range(3 + retention.WAL_TRIES):
            agent.step()
            now_s[0] += retention.WAL_RETRY_S
        assert not agent.pruning and count(agent_store, "followup") == 0
        assert holding(cfg, "Per Persson") and "kiosk.db-wal may still hold" in caplog.text
        store.db.execute_sql("COMMIT")
        now_s[0] += PRUNE_EVERY_S
        agent.step()
        assert holding(cfg, "Per Persson") == {}
        assert recorder.record("visit", 2).seq > b.seq                       # the app writes on
    finally:
        agent_store.close()
