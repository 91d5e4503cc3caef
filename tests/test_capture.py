"""The one capture path: validate → filter → stamp → commit → return; follow-ups linked and scrubbed."""

from __future__ import annotations

import json
import re
import sqlite3
import threading

import pytest

from kiosk.capture import Recorder
from kiosk.exc import CaptureError
from kiosk.store import FollowUp, LocalStore, Response


def test_record_stamps_and_commits(recorder, store, cfg, clock):
    rec = recorder.record("visit", 3, language="en", source="button")
    assert rec.seq == 1 and rec.value == 3 and rec.filtered is None and rec.wants_followup is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec.recorded_at)
    assert rec.recorded_at == "2026-11-23T11:00:00.000Z"
    # Durable: a separate connection (another process would see the same) finds the row.
    con = sqlite3.connect(cfg.db_path)
    row = con.execute("SELECT id, seq, kiosk_id, site_id, question_id, question_version, scale, value,"
                      " audience, language, clock_synced, boot_id, monotonic_ns, filtered, source,"
                      " local_date, local_hour, acked_at FROM response").fetchone()
    con.close()
    assert row == (rec.id, 1, cfg.kiosk_id, cfg.site_id, "visit", 1, "smiley4", 3, "customer", "en", 1,
                   clock.boot_id(), clock.monotonic_ns(), None, "button", "2026-11-23", 12, None)


def test_negative_answer_wants_followup_and_unsynced_clock_is_recorded(recorder, store, clock):
    clock.synced = False
    rec = recorder.record("visit", 1)
    assert rec.wants_followup
    assert Response.get_by_id(rec.id).to_event()["clock_synced"] is False


@pytest.mark.parametrize("qid, value, message", [
    ("nope", 1, "unknown question"),
    ("visit", 5, "not on the smiley4 scale"),
    ("visit", 0, "not on the smiley4 scale"),
    ("visit", True, "not on the smiley4 scale"),
    ("visit", "3", "not on the smiley4 scale"),
    ("recommend", 11, "not on the nps11 scale"),
])
def test_invalid_answers_are_refused_and_nothing_is_stored(recorder, store, qid, value, message):
    with pytest.raises(CaptureError, match=message):
        recorder.record(qid, value)
    assert store.outbox_depth() == 0


def test_bad_language_and_source(recorder):
    with pytest.raises(CaptureError, match="language"):
        recorder.record("visit", 2, language="de")
    with pytest.raises(CaptureError, match="source"):
        recorder.record("visit", 2, source="carrier-pigeon")


def test_nps_edges(recorder, clock):
    for v in (0, 10):
        clock.advance(10)
        assert recorder.record("recommend", v).value == v


def test_seq_is_shared_and_strictly_increasing_across_reopen(cfg, clock):
    with LocalStore(cfg.db_path) as s:
        r = Recorder(cfg, s, clock)
        a = r.record("visit", 1)
        f = r.record_followup(a.id, ["queue"])
        clock.advance(10)
        b = r.record("visit", 4)
    with LocalStore(cfg.db_path) as s:
        clock.advance(10)
        c = Recorder(cfg, s, clock).record("visit", 2)
    assert [a.seq, f.seq, b.seq, c.seq] == [1, 2, 3, 4]


def test_threads_never_share_a_seq(recorder, store):
    seqs, errors = [], []

    def tap():
        try:
            for _ in range(25):
                seqs.append(recorder.record("visit", 4, source="touch").seq)
        except Exception as e:      # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=tap) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(seqs) == list(range(1, 101))
    assert store.outbox_depth() == 100


def test_followup_is_linked_deduplicated_and_scrubbed(recorder, store):
    rec = recorder.record("visit", 1)
    fu = recorder.record_followup(rec.id, ["queue", "staff", "queue"],
                                  "Ring mig på 070-123 45 67 eller anna@example.se")
    assert fu.response_id == rec.id and fu.reasons == ("queue", "staff")
    assert fu.comment == "Ring mig på [phone] eller [e-mail]"
    ev = FollowUp.get_by_id(fu.id).to_event()
    assert ev["response_id"] == rec.id and ev["reasons"] == ["queue", "staff"]
    stored = store.db.execute_sql("SELECT comment FROM followup").fetchone()[0]
    assert "070" not in stored and "@" not in stored
    assert store.outbox_depth() == 2


def test_followup_comment_is_cut_to_max(recorder, cfg):
    rec = recorder.record("visit", 2)
    fu = recorder.record_followup(rec.id, [], "x" * 500)
    assert len(fu.comment) == cfg.followup.max_comment_chars


@pytest.mark.parametrize("reasons, comment, message", [
    (["workload"], None, "not in the catalogue"),
    ([], None, "needs a reason or a comment"),
    ([], "   ", "needs a reason or a comment"),
])
def test_bad_followups(recorder, reasons, comment, message):
    rec = recorder.record("visit", 1)
    with pytest.raises(CaptureError, match=message):
        recorder.record_followup(rec.id, reasons, comment)


def test_followup_needs_a_known_response_and_only_one(recorder):
    with pytest.raises(CaptureError, match="no answer with id"):
        recorder.record_followup("00000000-0000-4000-8000-000000000000", ["queue"])
    rec = recorder.record("visit", 1)
    recorder.record_followup(rec.id, ["queue"])
    with pytest.raises(CaptureError, match="already has a follow-up"):
        recorder.record_followup(rec.id, ["staff"])


def test_event_dicts_are_json_and_complete(recorder):
    rec = recorder.record("visit", 2)
    fu = recorder.record_followup(rec.id, ["price"])
    ev = Response.get_by_id(rec.id).to_event()
    from server_sync.protocol import ResponseEvent, field_names
    assert set(ev) == {"type", *field_names(ResponseEvent)}           # every declared field, nothing else
    assert {"id", "seq", "kiosk_id", "site_id", "question_id", "value", "recorded_at"} <= set(ev)
    json.dumps(ev)
    json.dumps(FollowUp.get_by_id(fu.id).to_event())


def test_a_press_that_failed_to_record_does_not_flag_the_next(recorder, store, clock):
    import sqlite3

    # A real failure inside the write transaction (as a full disk would raise it).
    store.db.execute_sql("CREATE TRIGGER refuse BEFORE INSERT ON response"
                         " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    with pytest.raises(sqlite3.DatabaseError):
        recorder.record("visit", 2)
    store.db.execute_sql("DROP TRIGGER refuse")
    clock.advance(1)
    again = recorder.record("visit", 2)
    assert again.filtered is None          # the failed press never happened, as far as filters know
    assert store.db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0] == 1


def test_a_pushed_staff_roster_masks_names_before_anything_is_stored(config_mapping, store, clock):
    """The roster comes with a config push (merged over the file like any pushable table) and a
    comment naming a clerk is stored with the name masked: it never reaches the disk or the wire."""
    from kiosk.config import parse_config
    from server_sync.protocol import decode_config, encode_config, merge_pushed_config
    push = decode_config(encode_config(7, {"privacy": {"staff_names": ["Anna", "Lars-Erik"]}}))
    cfg = parse_config(merge_pushed_config(config_mapping, push)).with_data_dir(store.path.parent)
    assert cfg.privacy.staff_names == ("Anna", "Lars-Erik") and cfg.config_version == 7
    recorder = Recorder(cfg, store, clock)
    rec = recorder.record("visit", 1)
    fu = recorder.record_followup(rec.id, (), "Anna i kassan var otrevlig, fråga lars-erik")
    assert fu.comment == "[name] i kassan var otrevlig, fråga [name]"
    stored = store.db.execute_sql("SELECT comment FROM followup").fetchone()[0]
    assert stored == fu.comment and "Anna" not in json.dumps(FollowUp.get_by_id(fu.id).to_event())


def test_a_followup_whose_answer_was_removed_meanwhile_is_refused_as_unknown(recorder, store, monkeypatch):
    """The answer's existence was checked outside the write transaction: the sync agent's
    retention removing it before the write made the insert fail with a raw IntegrityError, which
    the UI does not catch. The row goes here after the call began and before the write (while
    the comment is scrubbed): the follow-up is refused as one of an unknown answer."""
    import kiosk.capture
    rec = recorder.record("visit", 1)
    scrub = kiosk.capture.scrub_comment

    def scrub_while_retention_runs(*a, **k):
        store.db.execute_sql("DELETE FROM response WHERE id = ?", (rec.id,))
        return scrub(*a, **k)

    monkeypatch.setattr(kiosk.capture, "scrub_comment", scrub_while_retention_runs)
    with pytest.raises(CaptureError, match="no answer with id"):
        recorder.record_followup(rec.id, ["queue"], "kön var lång")
    assert store.db.execute_sql("SELECT COUNT(*) FROM followup").fetchone()[0] == 0


@pytest.mark.parametrize("what", ["answer", "follow-up"])
def test_one_waiting_for_the_lock_while_ntp_steps_the_clock_is_never_synced_with_the_old_time(
        recorder, store, cfg, clock, what):
    """A tap (or its follow-up) that waited for a write of the sync agent's while NTP stepped the
    clock read its wall time before the wait and whether the clock was synced after it: stored
    synced with the time from before the step, it was named its boot's clock anchor (a follow-up
    since the anchors took synced follow-ups) and moved the boot's unsynced answers by the step
    (a review: 30 days, fake-hwclock's). Read first, the flag says unsynced: the centre corrects
    the time from the boot's anchor."""
    from datetime import datetime, timezone
    clock.step(datetime(2026, 10, 24, 11, 0, tzinfo=timezone.utc))     # fake-hwclock: 30 days behind
    clock.synced = False
    first = recorder.record("visit", 1)
    holder = sqlite3.connect(cfg.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")                                  # the agent's write
    errors: list[BaseException] = []

    def tap() -> None:
        try:
            recorder.record("visit", 4) if what == "answer" else recorder.record_followup(first.id, ["queue"])
        except BaseException as e:                                     # reported below
            errors.append(e)
    t = threading.Thread(target=tap)
    t.start()
    t.join(0.3)                                                        # it waits for the lock
    clock.step(datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc))     # NTP steps the clock
    clock.synced = True
    holder.execute("COMMIT")
    holder.close()
    t.join(10)
    assert not errors and not t.is_alive()
    table = "response" if what == "answer" else "followup"
    rows = store.db.execute_sql(f"SELECT recorded_at, clock_synced FROM {table} ORDER BY seq").fetchall()
    assert rows[-1] == ("2026-10-24T11:00:00.000Z", 0), rows
