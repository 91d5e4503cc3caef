"""The outbox queries on a real kiosk database: batches bounded by count and bytes, in seq order,
marked sent; acks mark exactly the named seqs; requeue; an invalid event travels alone."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

import pytest

from server_sync import protocol as P
from kiosk.outbox import Inflight, Outbox

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
SENT = "2026-11-23T12:00:00.000Z"


def seqs_where(store, cond: str) -> list[int]:
    return [r[0] for r in store.db.execute_sql(
        f"SELECT seq FROM response WHERE {cond} UNION ALL SELECT seq FROM followup WHERE {cond} ORDER BY 1")]


def record(recorder, clock, n, followups=False):
    for i in range(n):
        r = recorder.record("visit", 1 + i % 4)
        clock.advance(10)
        if followups and i % 3 == 0:
            recorder.record_followup(r.id, ["queue"], "x" * 150)


def test_batches_by_count_in_seq_order(cfg, store, recorder, clock):
    record(recorder, clock, 12, followups=True)            # 12 responses + 4 follow-ups, seqs 1..16
    box = Outbox(store, cfg.kiosk_id)
    got = []
    while (b := box.next_batch(5, 1 << 20, now=NOW, sent_at=SENT)) is not None:
        batch = P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload, now=NOW)
        assert [e.seq for e in batch.events] == list(b.seqs) and b.count <= 5 and b.invalid is None
        got.extend(b.seqs)
    assert got == list(range(1, 17))
    assert seqs_where(store, "sent_at IS NULL") == [] and box.unsent_count() == 0
    assert box.depth() == 16                                # sent is not acked


def test_batches_by_bytes(cfg, store, recorder, clock):
    record(recorder, clock, 40, followups=True)
    box = Outbox(store, cfg.kiosk_id)
    sizes = []
    while (b := box.next_batch(500, 4096, now=NOW, sent_at=SENT)) is not None:
        assert len(b.payload) <= 4096
        sizes.append(b.count)
    assert sum(sizes) == 54 and len(sizes) >= 5
    # Each batch is as full as the budget allows: the next event would not have fitted.
    assert max(sizes) > 5


def test_ack_marks_exactly_the_named_seqs_and_requeue(cfg, store, recorder, clock):
    record(recorder, clock, 10)
    box = Outbox(store, cfg.kiosk_id)
    b = box.next_batch(10, 1 << 20, now=NOW, sent_at=SENT)
    ack = P.decode_ack(P.encode_ack(b.batch_id, [1, 2, 3, 7]))
    assert box.mark_acked(ack.ranges, SENT) == 4
    assert box.mark_acked(ack.ranges, SENT) == 0            # a repeated ack changes nothing
    assert seqs_where(store, "acked_at IS NOT NULL") == [1, 2, 3, 7]
    assert box.requeue([4, 5]) == 2
    assert seqs_where(store, "sent_at IS NULL AND acked_at IS NULL") == [4, 5]
    assert box.requeue() == 4                               # 6, 8, 9, 10: a reconnect
    b2 = box.next_batch(10, 1 << 20, now=NOW, sent_at=SENT)
    assert b2.seqs == (4, 5, 6, 8, 9, 10)
    counts = dict(store.db.execute_sql("SELECT seq, send_count FROM response").fetchall())
    assert counts[1] == 1 and counts[4] == 2


def test_an_ack_never_confirms_an_event_that_was_never_sent(cfg, store, recorder, clock):
    record(recorder, clock, 3)
    box = Outbox(store, cfg.kiosk_id)
    box.next_batch(2, 1 << 20, now=NOW, sent_at=SENT)       # seqs 1, 2 go out; 3 stays home
    stale = P.decode_ack(P.encode_ack("old-batch", [1, 2, 3]))  # e.g. queued for a re-imaged kiosk
    assert box.mark_acked(stale.ranges, SENT) == 2
    assert seqs_where(store, "acked_at IS NULL") == [3]


def test_an_invalid_event_travels_alone(cfg, store, recorder, clock):
    record(recorder, clock, 6)
    store.db.execute_sql("UPDATE response SET recorded_at = '2019-06-01T00:00:00.000Z' WHERE seq = 3")
    box = Outbox(store, cfg.kiosk_id)
    batches = []
    while (b := box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT)) is not None:
        batches.append(b)
    assert [b.seqs for b in batches] == [(1, 2), (3,), (4, 5, 6)]
    assert "before 2020" in batches[1].invalid
    body = json.loads(batches[1].payload)
    assert [e["seq"] for e in body["events"]] == [3]


def test_an_unsynced_clock_ahead_travels_with_the_others(cfg, store, recorder, clock):
    record(recorder, clock, 4)
    store.db.execute_sql("UPDATE response SET recorded_at = '2027-06-01T00:00:00.000Z', clock_synced = 0"
                         " WHERE seq = 2")
    b = Outbox(store, cfg.kiosk_id).next_batch(100, 1 << 20, now=NOW, sent_at=SENT)
    assert b.seqs == (1, 2, 3, 4) and b.invalid is None     # the centre corrects its time


def test_rejected_events_are_kept_out_of_the_outbox_and_never_sent_again(cfg, store, recorder, clock):
    record(recorder, clock, 6, followups=True)              # 6 responses + 2 follow-ups, seqs 1..8
    box = Outbox(store, cfg.kiosk_id)
    b = box.next_batch(4, 1 << 20, now=NOW, sent_at=SENT)   # seqs 1..4 out; 5..8 stay home
    ack = P.decode_ack(P.encode_ack(b.batch_id, [], rejected=[([2, 3, 7], "event x: value 9 out of range")]))
    assert box.mark_rejected([(r.ranges, r.reason) for r in ack.rejected], SENT) == 2   # 7 was never sent
    assert seqs_where(store, "rejected_at IS NOT NULL") == [2, 3]
    assert store.db.execute_sql("SELECT DISTINCT rejected_reason FROM response WHERE rejected_at IS NOT NULL"
                                ).fetchall() == [("event x: value 9 out of range",)]
    assert store.rejected_count() == 2 and box.depth() == 6 and store.outbox_depth() == 6
    # Requeued (a reconnect, a restart): everything but the rejected goes again, and only once.
    assert box.requeue() == 2
    again = []
    while (nb := box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT)) is not None:
        again.extend(nb.seqs)
    assert again == [1, 4, 5, 6, 7, 8]
    assert box.mark_acked(P.seq_ranges(again), SENT) == 6
    assert box.empty() and box.depth() == 0 and store.rejected_count() == 2
    # An ack naming refused seqs (a confused or hostile centre) does not take them back.
    assert box.mark_acked([(2, 3)], SENT) == 0 and store.rejected_count() == 2
    assert store.oldest_unacked() is None
    # Kept, never deleted: the rows are all still there.
    assert seqs_where(store, "1") == list(range(1, 9))


def test_inflight_forgets_acked_and_expires_the_rest():
    f = Inflight()
    f.add("a", [1, 2, 3], at=0.0)
    f.add("b", [4, 5], at=5.0)
    f.ack(P.Ack("a", ((1, 2),)))
    assert len(f) == 2 and f.events == 3
    f.ack(P.Ack("x", ((3, 4),)))                             # an ack of an older send counts
    assert f.events == 1
    assert f.expired(now=9.0, timeout=10.0) == []
    assert f.expired(now=15.0, timeout=10.0) == [5] and len(f) == 0
    f.add("c", [6, 7, 8], at=20.0)
    f.ack(P.Ack("c", (), (P.Rejected(((7, 7),), "r"),)))    # rejected counts as settled
    assert f.events == 2 and f.unacked("c") == [6, 8] and len(f) == 1      # still in flight
    f.forget("c")
    assert len(f) == 0 and f.unacked("c") == []


def test_batch_events_are_exactly_the_records_to_event(cfg, store, recorder, clock):
    from kiosk.store import FollowUp, Response
    r = recorder.record("visit", 1)
    recorder.record_followup(r.id, ["queue", "staff"], 'Kön var lång – "väldigt"\nå ä ö 😀')
    recorder.record("visit", 4)                         # within the repeat window: flagged
    clock.synced = False
    clock.advance(30)
    recorder.record("recommend", 0, language="nb")
    box = Outbox(store, cfg.kiosk_id)
    b = box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT)
    sent = json.loads(b.payload)["events"]
    expected = sorted([x.to_event() for x in Response.select()] + [x.to_event() for x in FollowUp.select()],
                      key=lambda e: e["seq"])
    assert sent == expected
    assert [list(e) for e in sent] == [list(e) for e in expected]       # same key order too
    assert any(e.get("filtered") == "repeat" for e in sent) and sent[-1]["clock_synced"] is False
    assert P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload, now=NOW).events[1].comment.endswith("😀")


def test_a_comment_the_card_damaged_goes_with_the_rest_with_its_replacement_character(cfg, store, recorder, clock):
    """A byte of a comment damaged on the card (not UTF-8): Python's sqlite3 could not decode the
    event's JSON, so no batch could be taken at all and the kiosk sent nothing until someone ran
    `kiosk repair --force` on it. The damaged event goes with the others, the damaged characters
    as U+FFFD (as `kiosk export` writes them); the batch names where (table and column, never the
    text), once; the connection reads text strictly again after."""
    record(recorder, clock, 9, followups=True)            # 9 responses + 3 follow-ups, seqs 1..12
    damaged = store.db.execute_sql("SELECT seq FROM followup ORDER BY seq LIMIT 1 OFFSET 1").fetchone()[0]
    store.db.execute_sql("UPDATE followup SET comment = CAST(X'4BC3' AS TEXT) WHERE seq = ?", (damaged,))
    box = Outbox(store, cfg.kiosk_id)
    first = box.next_batch(damaged, 1 << 20, now=NOW, sent_at=SENT)          # up to the damaged one
    rest = box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT)
    events = [e for b in (first, rest) for e in P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload,
                                                                now=NOW).events]
    assert [e.seq for e in events] == list(range(1, 13))
    assert [e.comment for e in events if e.type == "followup"] == ["x" * 150, "K\ufffd", "x" * 150]
    assert first.damaged == ((damaged, "followup.comment"),) and rest.damaged == ()
    assert seqs_where(store, "sent_at IS NULL") == []
    # Sent again (an ack timeout): sent as before, not said again.
    box.requeue([damaged])
    again = box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT)
    assert again.seqs == (damaged,) and b"K\xef\xbf\xbd" in again.payload and again.damaged == ()
    # Only the outbox's read is tolerant: elsewhere the cell is still an error.
    with pytest.raises(Exception, match="Could not decode"):
        store.db.execute_sql("SELECT comment FROM followup").fetchall()


def test_a_question_id_the_card_damaged_goes_too_and_only_it_is_refused(cfg, store, recorder, clock):
    """A damaged question id goes as the other damaged text does: the centre refuses that event
    alone (the kiosk keeps it, marked refused) and takes the rest of its batch."""
    record(recorder, clock, 5)
    store.db.execute_sql("UPDATE response SET question_id = CAST(X'76C3' AS TEXT) WHERE seq = 3")
    b = Outbox(store, cfg.kiosk_id).next_batch(100, 1 << 20, now=NOW, sent_at=SENT)
    assert b.seqs == (1, 2, 3, 4, 5) and b.damaged == ((3, "response.question_id"),)
    with pytest.raises(P.EventsRefused) as refused:
        P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload, now=NOW)
    assert refused.value.seqs == (3,) and "question_id" in refused.value.reason


@pytest.mark.parametrize("cell, named", [(b'["queu', False), (b'["q\xc3', True), (b'["q\xffeue"]', True)],
                         ids=["not-json", "not-json-nor-utf8", "a-code-not-utf8"])
def test_a_reasons_cell_the_card_damaged_goes_with_the_rest_and_only_its_event_is_refused(
        cfg, store, recorder, clock, cell, named):
    """A follow-up's reasons the card damaged so they are no longer JSON: SQLite's json() failed
    the outbox's whole read ("malformed JSON") at every try, so the kiosk delivered nothing from
    that follow-up on. The cell now goes as the text it holds (a JSON string; a damaged byte as
    U+FFFD, named), with every event after it; the centre refuses that event alone, naming
    reasons, and takes the rest. A reason code with a damaged byte in valid JSON goes so too."""
    record(recorder, clock, 6, followups=True)             # 6 responses + 2 follow-ups, seqs 1..8
    seq = store.db.execute_sql("SELECT MAX(seq) FROM followup").fetchone()[0]
    con = sqlite3.connect(cfg.db_path)                     # as the card left it, not through the store
    with con:
        con.execute("UPDATE followup SET reasons = CAST(? AS TEXT) WHERE seq = ?", (cell, seq))
    con.close()
    b = Outbox(store, cfg.kiosk_id).next_batch(100, 1 << 20, now=NOW, sent_at=SENT)
    assert b.seqs == tuple(range(1, 9)) and b.invalid is None
    assert b.damaged == (((seq, "followup.reasons"),) if named else ())
    sent = {e["seq"]: e for e in json.loads(b.payload)["events"]}
    assert sent[seq]["reasons"] == (cell.decode("utf-8", "replace") if cell[-1:] != b"]" else ["q\ufffdeue"])
    with pytest.raises(P.EventsRefused) as refused:
        P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload, now=NOW)
    assert refused.value.seqs == (seq,) and "reasons" in refused.value.reason


@pytest.mark.parametrize("column", ["comment", "reasons", "boot_id", "monotonic_ns", "recorded_at"])
def test_a_cell_the_card_turned_into_a_blob_goes_with_the_rest_and_only_its_event_is_refused(
        cfg, store, recorder, clock, column):
    """One bit of a record's header (text and blob differ in the lowest bit of a cell's type)
    makes a cell a BLOB: json_object refused the outbox's whole read ("JSON cannot hold BLOB
    values") at every try, so the kiosk delivered nothing from that event on. The cell now goes
    as text (a byte not UTF-8 as U+FFFD, named) with every event after it; the centre takes a
    comment so read and refuses any other such event alone. A recorded_at so (the outbox reads
    it apart, to check the time: a TypeError comparing bytes with text escaped the sync agent at
    every turn) fails the kiosk's own check, so its event travels alone after the others."""
    record(recorder, clock, 6, followups=True)             # 6 responses + 2 follow-ups, seqs 1..8
    seq = store.db.execute_sql("SELECT MAX(seq) FROM followup").fetchone()[0]
    con = sqlite3.connect(cfg.db_path)                     # as the card left it, not through the store
    with con:
        con.execute(f"UPDATE followup SET {column} = X'4BC3' WHERE seq = ?", (seq,))
    con.close()
    box = Outbox(store, cfg.kiosk_id)
    b = box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT)
    if column == "recorded_at":
        assert b.seqs == tuple(range(1, seq)) and b.invalid is None and b.damaged == ()
        b = box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT)
        assert b.seqs == (seq,) and "recorded_at" in b.invalid
        assert b.damaged == ((seq, "followup.recorded_at"),)
        assert box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT).seqs == tuple(range(seq + 1, 9))
    else:
        assert b.seqs == tuple(range(1, 9)) and b.damaged == ((seq, f"followup.{column}"),)
    assert {e["seq"]: e for e in json.loads(b.payload)["events"]}[seq][column] == "K\ufffd"
    if column == "comment":
        assert len(P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload, now=NOW).events) == 8
        return
    with pytest.raises(P.EventsRefused) as refused:
        P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload, now=NOW)
    assert refused.value.seqs == (seq,) and column in refused.value.reason


@pytest.mark.parametrize("cell", ["X'4BC3'", "'4x'", "4.5"], ids=["blob", "text", "real"])
def test_an_event_whose_seq_the_card_damaged_holds_back_nothing(cfg, store, recorder, clock, cell):
    """A seq the card made other than an integer: mixed with the integers, the outbox's sort and
    marks raised a TypeError at every try, and nothing after it went. Acks name seqs, so that
    event cannot go (it stays in the outbox, counted); every other goes, in order."""
    record(recorder, clock, 6, followups=True)             # 6 responses + 2 follow-ups, seqs 1..8
    con = sqlite3.connect(cfg.db_path)                     # as the card left it, not through the store
    with con:
        con.execute(f"UPDATE response SET seq = {cell} WHERE seq = 3")
    con.close()
    box = Outbox(store, cfg.kiosk_id)
    got = []
    while (b := box.next_batch(3, 1 << 20, now=NOW, sent_at=SENT)) is not None:
        got.append(b.seqs)
    assert got == [(1, 2, 4), (5, 6, 7), (8,)] and box.depth() == 8


@pytest.mark.parametrize("cell", ["CAST(X'31C3' AS TEXT)", "X'31'"], ids=["not-utf8", "blob"])
def test_the_oldest_unacked_time_passes_over_a_cell_the_card_damaged(cfg, store, recorder, clock, cell):
    """The oldest unacked time (the agent's status, the staff screen's figures): a recorded_at not
    UTF-8 failed the read (out of the agent's turn, which ended it), and with only BLOBs it came
    back as bytes. Read as the outbox reads text (U+FFFD: the status says its age is not known);
    a BLOB is no time."""
    record(recorder, clock, 3)
    second = store.db.execute_sql("SELECT recorded_at FROM response WHERE seq = 2").fetchone()[0]
    con = sqlite3.connect(cfg.db_path)                     # as the card left it, not through the store
    with con:
        con.execute(f"UPDATE response SET recorded_at = {cell} WHERE seq = 1")
    con.close()
    assert store.oldest_unacked() == ("1\ufffd" if "C3" in cell else second)
    store.db.execute_sql("UPDATE response SET acked_at = 'x' WHERE seq > 1")
    assert store.oldest_unacked() == ("1\ufffd" if "C3" in cell else None)


def test_a_batch_names_the_anchor_of_each_boot_whose_unsynced_events_it_holds(cfg, store, recorder, clock):
    """Split by size, a boot's unsynced answers go before its synced ones, yet each batch names
    the boot's anchor (its first synced answer after them), so the centre judges them as if they
    went together (kiosk.anchors); the running boot's, with no synced answer yet, is its clock
    now once synced. A batch of synced answers only, or of a boot that never synced, has none:
    what every centre reads."""
    from kiosk.anchors import live_anchor
    box = Outbox(store, cfg.kiosk_id)
    record(recorder, clock, 2)                                  # seqs 1-2, synced
    only_synced = box.next_batch(2, 1 << 20, now=NOW, sent_at=SENT)
    assert b'"anchors"' not in only_synced.payload
    clock.synced = False
    clock._boot = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"        # rebooted offline: fake-hwclock's time
    record(recorder, clock, 3)                                  # seqs 3-5
    clock.step(NOW)                                             # NTP puts it right
    clock.synced = True
    record(recorder, clock, 2)                                  # seqs 6-7: the anchor is 6
    first_synced = store.db.execute_sql("SELECT recorded_at, monotonic_ns FROM response WHERE seq = 6").fetchone()
    clock._boot, clock.synced = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", False   # again, never synced yet
    record(recorder, clock, 2)                                  # seqs 8-9
    got = []
    while (b := box.next_batch(2, 1 << 20, now=NOW, sent_at=SENT)) is not None:
        got.append((b.seqs, P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload, now=NOW).anchors))
        if b.seqs[-1] == 9:
            assert b'"anchors"' not in b.payload
    a = P.Anchor("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", *first_synced)
    assert got == [((3, 4), (a,)), ((5, 6), (a,)), ((7, 8), ()), ((9,), ())]
    box.requeue()
    clock.synced = True
    live = live_anchor(clock.boot_id(), clock.clock_synced(), P.iso_ms(clock.now()), clock.monotonic_ns())
    b = box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT, live=live)
    assert P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload, now=NOW).anchors == (a, live)
    # Over the byte budget, the batch is cut after the anchors are named: they still go.
    box.requeue()
    b = box.next_batch(100, 1500, now=NOW, sent_at=SENT, live=live)
    assert len(b.payload) <= 1500 and P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload, now=NOW).anchors


@pytest.mark.parametrize("column, cell", [
    ("recorded_at", "'2026-11-23T1X:00:00.000Z'"), ("recorded_at", "'2026-13-23T12:00:00.000Z'"),
    ("recorded_at", "X'32303236'"), ("recorded_at", "CAST(X'32C3' AS TEXT)"),
    ("monotonic_ns", "'12x'"), ("monotonic_ns", "X'3132'"), ("monotonic_ns", "-1"), ("boot_id", "X'61'")],
    ids=["flipped-byte", "no-real-date", "blob", "not-utf8", "text-ns", "blob-ns", "negative-ns", "blob-boot"])
def test_an_anchor_row_the_card_damaged_is_not_named_the_next_synced_answer_of_its_boot_is(
        cfg, store, recorder, clock, column, cell):
    """The boot's first synced answer, damaged by the card, was named as its anchor as it was:
    the centre refused every batch naming it as a whole (dead-lettered, no ack), the kiosk named
    it again at every try, and delivery stopped for good. An anchor off the contract is not
    named: the boot's next synced answer is (as good a reading of its clock), or none; the
    damaged answer itself is refused alone, and every other goes."""
    boot = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
    clock.synced, clock._boot = False, boot
    record(recorder, clock, 3)                                  # seqs 1-3, unsynced
    clock.step(NOW)
    clock.synced = True
    record(recorder, clock, 3)                                  # seqs 4-6: the anchor was 4
    second = P.Anchor(boot, *store.db.execute_sql("SELECT recorded_at, monotonic_ns FROM response"
                                                  " WHERE seq = 5").fetchone())
    con = sqlite3.connect(cfg.db_path)                          # as the card left it, not through the store
    with con:
        con.execute(f"UPDATE response SET {column} = {cell} WHERE seq = 4")
    con.close()
    box = Outbox(store, cfg.kiosk_id)

    def decode(b):
        return P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload, now=NOW)

    assert decode(box.next_batch(3, 1 << 20, now=NOW, sent_at=SENT)).anchors == (second,)
    rest = box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT)
    with pytest.raises(P.EventsRefused) as refused:             # the damaged answer alone
        decode(rest)
    assert refused.value.seqs == (4,)
    # Its boot's only synced answer damaged: no anchor, and the batch goes all the same.
    store.db.execute_sql("DELETE FROM response WHERE seq > 4")
    box.requeue()
    assert decode(box.next_batch(3, 1 << 20, now=NOW, sent_at=SENT)).anchors == ()


X_BOOT, Y_BOOT, Z_BOOT = ("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
                          "cccccccc-cccc-4ccc-8ccc-cccccccccccc")


def anchors_named(cfg, store, live=None) -> tuple:
    """The anchors the next batch of the whole outbox names (sent again from the start)."""
    box = Outbox(store, cfg.kiosk_id)
    box.requeue()
    b = box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT, live=live)
    return P.decode_batch(P.events_topic(cfg.kiosk_id), b.payload, now=NOW).anchors


def test_a_boot_that_synced_and_recorded_nothing_after_keeps_its_anchor_past_a_reboot(cfg, store, recorder, clock):
    """A boot whose clock synced after its answers, with no answer after (nobody tapped, the
    broker was away), power cut: its anchor was only the agent's reading of the clock then, in
    memory, and after the reboot its answers went with none; the centre kept them uncorrected
    (a review: 30 days off, from fake-hwclock). The agent now keeps it in meta, and a batch
    names it for that boot; the running boot's own live anchor still goes beside it."""
    from kiosk.anchors import keep_anchor, live_anchor
    clock.synced, clock._boot = False, X_BOOT
    record(recorder, clock, 3)                                  # seqs 1-3, held for the sync
    clock.step(NOW)
    clock.synced = True
    x = live_anchor(X_BOOT, True, P.iso_ms(clock.now()), clock.monotonic_ns())
    keep_anchor(store.db, x)
    clock.advance(60)
    keep_anchor(store.db, live_anchor(X_BOOT, True, P.iso_ms(clock.now()), clock.monotonic_ns()))
    clock._boot, clock.synced, clock._mono = Y_BOOT, False, 5_000_000_000     # rebooted
    record(recorder, clock, 2)                                  # seqs 4-5
    assert anchors_named(cfg, store) == (x,)                    # the first kept: nearest the answers
    clock.synced = True
    y = live_anchor(Y_BOOT, True, P.iso_ms(clock.now()), clock.monotonic_ns())
    assert anchors_named(cfg, store, live=y) == (x, y)


def test_a_synced_follow_up_is_its_boots_anchor(cfg, store, recorder, clock):
    """The centre reads any synced event of a boot as its clock: a follow-up given after the
    clock synced, to an answer given before, is named as the boot's anchor."""
    clock.synced, clock._boot = False, X_BOOT
    r = recorder.record("visit", 2)                             # seq 1, unsynced
    clock.step(NOW)
    clock.synced = True
    clock.advance(5)
    f = recorder.record_followup(r.id, ["queue"])               # seq 2, synced
    clock._boot, clock.synced = Y_BOOT, False
    record(recorder, clock, 1)
    row = store.db.execute_sql("SELECT recorded_at, monotonic_ns FROM followup WHERE id = ?", (f.id,)).fetchone()
    assert anchors_named(cfg, store) == (P.Anchor(X_BOOT, *row),)


@pytest.mark.parametrize("value", ["'not json'", "X'7B7D'", "CAST(X'7BC3' AS TEXT)", "'[1]'",
                                   """'{"recorded_at": "2026-11-23T12:00:00.000Z", "monotonic_ns": "12x"}'""",
                                   """'{"recorded_at": "2026-13-23T12:00:00.000Z", "monotonic_ns": 12}'""",
                                   """'{"recorded_at": "2026-11-23T12:00:00.000Z", "monotonic_ns": -1}'"""],
                         ids=["text", "blob", "not-utf8", "list", "text-ns", "no-real-date", "negative-ns"])
def test_a_kept_anchor_the_card_damaged_is_not_named(cfg, store, recorder, clock, value):
    """A kept anchor is read as the card left it and judged as the others (`P.valid_anchor`):
    one off the contract is not named (the centre refused every batch naming one), and the
    batch goes without it, as before anchors were kept."""
    from kiosk.anchors import KEPT
    clock.synced, clock._boot = False, X_BOOT
    record(recorder, clock, 2)
    con = sqlite3.connect(cfg.db_path)                          # as the card left it, not through the store
    with con:
        con.execute(f"INSERT INTO meta (key, value) VALUES (?, {value})", (KEPT + X_BOOT,))
    con.close()
    clock._boot = Y_BOOT
    assert anchors_named(cfg, store) == ()


def test_kept_anchors_are_forgotten_once_no_unsynced_event_of_their_boot_waits(cfg, store, recorder, clock):
    """One row per boot, and only while an unsynced event of it waits for the centre's ack (a
    refused one included: `kiosk refused retry` sends it again); the running boot's stays."""
    from kiosk.anchors import KEPT, keep_anchor, live_anchor

    def keep(boot):
        clock._boot, clock.synced = boot, True
        keep_anchor(store.db, live_anchor(boot, True, P.iso_ms(clock.now()), clock.monotonic_ns()))

    def kept() -> list[str]:
        return [r[0][len(KEPT):] for r in store.db.execute_sql(
            "SELECT key FROM meta WHERE key LIKE 'clock.anchor.%' ORDER BY key")]

    clock.synced, clock._boot = False, X_BOOT
    record(recorder, clock, 2, followups=True)                  # seq 1 answer, 2 its follow-up, 3 answer
    keep(X_BOOT)
    keep(Y_BOOT)                                                # Y recorded nothing unsynced
    assert kept() == [X_BOOT, Y_BOOT]
    store.db.execute_sql("UPDATE response SET acked_at = ? WHERE seq = 1", (SENT,))
    store.db.execute_sql("UPDATE response SET acked_at = ?, rejected_at = ? WHERE seq = 3", (SENT, SENT))
    keep(Z_BOOT)
    assert kept() == [X_BOOT, Z_BOOT]                           # X's follow-up still waits
    store.db.execute_sql("UPDATE followup SET acked_at = ?", (SENT,))
    keep(Z_BOOT)
    assert kept() == [Z_BOOT]


def test_the_sync_agent_keeps_its_boots_anchor_the_first_time_it_sees_the_clock_synced(cfg, store, recorder,
                                                                                       clock):
    """Offline too (the broker away is when it matters), once a run: the clock read then. A card
    that takes no write stops nothing; it is tried again."""
    from kiosk.anchors import KEPT, kept_anchor
    from kiosk.exc import DiskFull
    from kiosk.sync_agent import SyncAgent
    from tests.test_retention_kiosk import NoBroker
    clock.synced, clock._boot = False, X_BOOT
    record(recorder, clock, 2)
    now_s = [0.0]
    agent = SyncAgent(cfg, store, client_factory=lambda cid: NoBroker(), clock=clock, password="x",
                      monotonic=lambda: now_s[0])
    agent.step()
    assert kept_anchor(store.db, X_BOOT) is None
    clock.step(NOW)
    clock.synced = True
    writes = store.db.execute_sql

    def full(sql, *a, **k):
        if "INSERT OR IGNORE INTO meta" in sql:
            raise DiskFull("no room")
        return writes(sql, *a, **k)

    store.db.execute_sql = full
    try:
        now_s[0] = 1.0
        agent.step()                                            # raised nothing
        assert kept_anchor(store.db, X_BOOT) is None
    finally:
        del store.db.execute_sql
    at = (P.iso_ms(clock.now()), clock.monotonic_ns())
    now_s[0] = 3.0
    agent.step()
    assert kept_anchor(store.db, X_BOOT) == P.Anchor(X_BOOT, *at)
    clock.advance(30)
    now_s[0] = 5.0
    store.db.execute_sql(f"DELETE FROM meta WHERE key = '{KEPT}{X_BOOT}'")
    agent.step()                                                # once a run
    assert kept_anchor(store.db, X_BOOT) is None


def test_the_running_boots_unsynced_answers_wait_for_its_clock_a_few_minutes_at_most(cfg, store, recorder, clock):
    """Until the clock syncs no anchor can be named: this boot's unsynced answers, and what comes
    after them, wait (`Hold`), in the boot's first `longest_s` only: a boot older than that
    whose clock has not synced has no NTP (a laptop's demo waited for good), and an earlier boot's
    clock cannot sync any more. Nothing is marked sent or lost meanwhile."""
    from kiosk.anchors import hold_for
    clock._boot, clock.synced = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", False
    record(recorder, clock, 2)                                  # seqs 1-2: an earlier boot's
    clock._boot = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
    record(recorder, clock, 3)                                  # seqs 3-5: this boot's, 10 s apart
    box = Outbox(store, cfg.kiosk_id)

    def take(longest_s: float):
        hold = hold_for(clock.boot_id(), clock.clock_synced(), clock.monotonic_ns(), longest_s)
        return box.next_batch(100, 1 << 20, now=NOW, sent_at=SENT, hold=hold)

    assert take(300).seqs == (1, 2) and take(300) is None and box.unsent_count() == 3
    assert take(25).seqs == (3, 4, 5)        # the boot is 31 s old, its clock not synced: no NTP
    record(recorder, clock, 3)                                  # seqs 6-8
    clock.synced = True
    assert take(300).seqs == (6, 7, 8) and box.unsent_count() == 0
    clock.synced = False
    clock._mono = 2_000_000_000                                 # a new boot, 2 s old
    clock._boot = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
    record(recorder, clock, 3)                                  # seqs 9-11, 10 s apart
    assert take(300) is None and box.unsent_count() == 3
    assert take(0).seqs == (9, 10, 11)                          # sync.clock_wait_s = 0: never wait
    box.requeue([9, 10, 11])
    clock.synced = True
    assert take(300).seqs == (9, 10, 11) and box.unsent_count() == 0
