"""Events the centre refused for good, on the kiosk: the agent marks exactly what the ack names
(and sends the rest of the batch again at once), they leave the outbox, and `kiosk stats`,
`kiosk doctor` and the status the centre sees all count them. (Through the real broker and
ingest: tests/sync/test_e2e_sync.py.)"""

from __future__ import annotations

import io
import json
import sqlite3

import pytest

from kiosk import doctor
from kiosk.commands.stats import render_text
from kiosk.migrations import MIGRATIONS
from kiosk.stats import local_stats
from server_sync import protocol as P
from kiosk.sync_agent import SyncAgent


def test_the_agent_marks_what_the_ack_rejects_and_requeues_the_rest(cfg, store, recorder):
    for v in (1, 2, 3, 4, 1, 2):
        recorder.record("visit", v)
        recorder.clock.advance(10)
    agent = SyncAgent(cfg, store, monotonic=lambda: 0.0, password="")
    b = agent.outbox.next_batch(4, 1 << 20, now=recorder.clock.now(), sent_at="x")
    agent.inflight.add(b.batch_id, b.seqs, at=0.0)
    assert agent.outbox.unsent_count() == 2
    acked = agent.handle_ack(P.encode_ack(b.batch_id, [], rejected=[([2], "event x: value 9 out of range")]))
    assert acked == 0 and agent.counters.events_rejected == 1 and agent.counters.events_acked == 0
    assert store.rejected_count() == 1 and store.outbox_depth() == 5
    assert len(agent.inflight) == 0 and agent.outbox.unsent_count() == 5    # 1, 3, 4 go again now
    assert agent._next_status == 0.0                                         # and the centre hears of it
    status = P.decode_status(agent.status_payload())
    assert status.rejected == 1 and status.outbox_depth == 5
    # An ack naming it again (a redelivery) changes nothing.
    agent.handle_ack(P.encode_ack(b.batch_id, [], rejected=[([2], "again")]))
    assert store.rejected_count() == 1 and agent.counters.events_rejected == 1


def _reject(store, recorder, cfg, n_events: int, seqs: list[int]) -> None:
    for i in range(n_events):
        recorder.record("visit", 1 + i % 4)
        recorder.clock.advance(10)
    from kiosk.outbox import Outbox
    box = Outbox(store, cfg.kiosk_id)
    box.next_batch(100, 1 << 20, now=recorder.clock.now(), sent_at="x")
    box.mark_rejected([(P.seq_ranges(seqs), "event x: value 9 out of range")], "2026-11-23T12:00:00.000Z")


def test_stats_and_doctor_count_the_rejected(cfg, store, recorder):
    _reject(store, recorder, cfg, 5, [2, 4])
    now = recorder.clock.now()
    result = local_stats(cfg, store, now)
    assert result["outbox"]["rejected"] == 2 and result["outbox"]["depth"] == 3
    out = io.StringIO()
    render_text(result, out)
    assert "3 waiting for the centre" in out.getvalue()
    assert "2 refused by the centre (kept here, not sent again)" in out.getvalue()
    check, = [c for c in doctor.check_database(cfg, now) if c.name == "outbox"]
    assert check.status == doctor.WARN and "3 records wait" in check.detail
    assert "2 records refused by the centre for good" in check.detail


def test_doctor_without_rejected_and_on_an_older_schema(cfg, store, recorder, tmp_path):
    _reject(store, recorder, cfg, 3, [])
    check, = [c for c in doctor.check_database(cfg, recorder.clock.now()) if c.name == "outbox"]
    assert check.status == doctor.OK and "refused" not in check.detail
    # A database still at schema 2 (doctor does not migrate): no rejected_at column yet.
    old = tmp_path / "old" / "kiosk.db"
    old.parent.mkdir()
    con = sqlite3.connect(old)
    for number, _name, statements in MIGRATIONS[:2]:
        for sql in statements:
            con.execute(sql)
        con.execute(f"PRAGMA user_version = {number}")
    con.commit()
    con.close()
    older = cfg.with_data_dir(old.parent)
    assert older.db_path == old
    checks = {c.name: c for c in doctor.check_database(older, recorder.clock.now())}
    assert checks["outbox"].status == doctor.OK and checks["schema"].status == doctor.WARN
    assert checks["schema"].detail.startswith("schema 2,")


def test_the_status_leaves_out_rejected_when_there_is_none(cfg, store, recorder):
    recorder.record("visit", 3)
    agent = SyncAgent(cfg, store, password="")
    assert "rejected" not in json.loads(agent.status_payload())


def test_refused_events_are_listed_by_reason_and_put_back_by_command(cfg, store, recorder, capsys):
    from kiosk.cli import main
    _reject(store, recorder, cfg, 5, [2, 4])
    store.close()
    args = ["--data-dir", str(cfg.data_dir)]
    assert main([*args, "refused", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == {"total": 2, "by_reason": {"value 9 out of range": 2}}
    # A reason that matches nothing is a mistake (it said "0 event(s) back in the outbox", rc 0):
    # an error naming the reasons there are.
    assert main([*args, "refused", "retry", "--reason", "nothing like it"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("kiosk: error: no refused event's reason contains 'nothing like it';")
    assert "the reasons are: value 9 out of range (2)" in err
    assert main([*args, "refused", "retry"]) == 0
    assert capsys.readouterr().out.startswith("2 event(s) back in the outbox")
    assert main([*args, "refused", "retry", "--reason", "out of range"]) == 0     # none left: not an error
    assert capsys.readouterr().out.startswith("no events refused by the centre")
    db = sqlite3.connect(cfg.db_path)
    assert db.execute("SELECT COUNT(*) FROM response WHERE rejected_at IS NOT NULL").fetchone()[0] == 0
    assert db.execute("SELECT seq FROM response WHERE sent_at IS NULL ORDER BY seq").fetchall() == [(2,), (4,)]
    assert db.execute("SELECT COUNT(*) FROM response WHERE acked_at IS NULL").fetchone()[0] == 5   # all in the outbox


def test_set_aside_waits_for_a_synced_clock(cfg, store, recorder, capsys, monkeypatch):
    """`set-aside` stamps when the decision was made, and retention keeps set-aside events
    keep_acked_days from then: stamped on an unsynced clock (a Pi on fake-hwclock's March while
    it is November) they went at the first retention pass after the sync. Refused until the
    clock is synced, saying so; nothing is set aside meanwhile."""
    from kiosk import clock as kiosk_clock
    from kiosk.cli import main
    from kiosk.outbox import Outbox
    recorder.record("visit", 1)
    box = Outbox(store, cfg.kiosk_id)
    box.next_batch(100, 1 << 20, now=recorder.clock.now(), sent_at="x")
    box.mark_rejected([(P.seq_ranges([1]), "site_id 'gbg' is not the site")], "2026-11-23T12:00:00.000Z")
    store.close()
    args = ["--data-dir", str(cfg.data_dir)]
    monkeypatch.setattr(kiosk_clock, "kernel_clock_synced", lambda: False)
    assert main([*args, "refused", "set-aside", "--all"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("kiosk: error: the clock is not synchronised"), err
    assert "kiosk doctor" in err and "systemd-timesyncd" in err and "Traceback" not in err
    with sqlite3.connect(cfg.db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM response WHERE set_aside_at IS NOT NULL").fetchone()[0] == 0
    monkeypatch.setattr(kiosk_clock, "kernel_clock_synced", lambda: True)
    assert main([*args, "refused", "set-aside", "--all"]) == 0
    assert capsys.readouterr().out.startswith("1 event(s) set aside")


def test_refused_events_a_person_sets_aside_no_longer_keep_the_kiosk_flagged_and_go_with_retention(
        cfg, store, recorder, capsys, monkeypatch):
    """Answers recorded under a site the kiosk never stood at (its config was wrong) can never be
    taken: `set-aside` is the way out of a flag nobody could clear. They stay on the card (the
    staff view counts them) until retention removes them as acknowledged ones."""
    from datetime import datetime, timedelta
    from kiosk.cli import main
    from kiosk.retention import prune_acknowledged
    from kiosk.outbox import Outbox
    for i in range(6):
        recorder.record("visit", 1 + i % 4)
        recorder.clock.advance(10)
    box = Outbox(store, cfg.kiosk_id)
    box.next_batch(100, 1 << 20, now=recorder.clock.now(), sent_at="x")
    # Two refusals of one cause, each naming the first event it found: one line.
    box.mark_rejected([(P.seq_ranges([1, 2]), "event 3f2a…: site_id 'gbg' is not the site kiosk k1 is registered at"),
                       (P.seq_ranges([3]), "event 9c1b…: site_id 'gbg' is not the site kiosk k1 is registered at"),
                       (P.seq_ranges([4]), "event 77aa…: value 9 out of range")], "2026-11-23T12:00:00.000Z")
    assert store.refused_by_reason() == {"site_id 'gbg' is not the site kiosk k1 is registered at": 3,
                                         "value 9 out of range": 1}
    store.close()
    args = ["--data-dir", str(cfg.data_dir)]
    from kiosk import clock as kiosk_clock
    monkeypatch.setattr(kiosk_clock, "kernel_clock_synced", lambda: True)   # set-aside waits for it
    with pytest.raises(SystemExit) as said:                                 # neither --reason nor --all
        main([*args, "refused", "set-aside"])
    assert said.value.code == 2
    assert "one of the arguments --reason --all is required" in capsys.readouterr().err
    for empty in ("", "  "):                # an unset $REASON matched every reason: --all, for good
        for action in ("set-aside", "retry"):
            with pytest.raises(SystemExit) as said:
                main([*args, "refused", action, "--reason", empty])
            assert said.value.code == 2
            assert "argument --reason: must not be empty" in capsys.readouterr().err
    assert main([*args, "refused", "set-aside", "--reason", "no such thing"]) == 2
    assert "the reasons are: site_id 'gbg'" in capsys.readouterr().err
    assert main([*args, "refused", "set-aside", "--reason", "gbg"]) == 0
    assert capsys.readouterr().out.startswith("3 event(s) set aside: the centre will never have them")
    assert main([*args, "refused", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"total": 1, "by_reason": {"value 9 out of range": 1}}
    assert main([*args, "refused", "retry", "--reason", "gbg"]) == 2        # set aside: not held any more
    assert capsys.readouterr().err == ("kiosk: error: the 3 refused event(s) whose reason contains 'gbg' were set "
                                       "aside (`kiosk refused set-aside`): never sent, no longer held; held: "
                                       "value 9 out of range (1)\n")
    from kiosk.store import LocalStore
    with LocalStore.existing(cfg.db_path, kiosk_id=cfg.kiosk_id) as again:
        assert again.rejected_count() == 1 and again.outbox_depth() == 2
        now = recorder.clock.now()
        assert local_stats(cfg, again, now)["outbox"]["rejected"] == 1
        check, = [c for c in doctor.check_database(cfg, now) if c.name == "outbox"]
        assert "1 records refused by the centre for good" in check.detail
        # Retention: the set-aside ones go the whole period after the decision, however old they
        # were then; the held one and the outbox stay.
        decided = datetime.fromisoformat(again.db.execute_sql(
            "SELECT MAX(set_aside_at) FROM response").fetchone()[0].replace("Z", "+00:00"))
        assert decided - now > timedelta(days=5)                           # recorded long before
        this_boot = {"boot_id": recorder.clock.boot_id(), "monotonic_ns": recorder.clock.monotonic_ns()}
        assert prune_acknowledged(again, 90, decided + timedelta(days=89), **this_boot) == 0
        assert prune_acknowledged(again, 90, decided + timedelta(days=91), **this_boot) == 3
        assert again.rejected_count() == 1 and again.outbox_depth() == 2
    assert main([*args, "refused", "set-aside", "--all"]) == 0
    assert capsys.readouterr().out.startswith("1 event(s) set aside")
    assert main([*args, "refused", "set-aside", "--all"]) == 2
    assert "the 1 refused event(s) were set aside" in capsys.readouterr().err
