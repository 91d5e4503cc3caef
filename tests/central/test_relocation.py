"""A kiosk moved to another store (`kiosk-central kiosk move`) before its outbox drained: the
answers it recorded at the old store go in, counted there; what names a site it never stood at,
or was recorded well outside its stay there, is refused as before. When an answer was recorded is
its best known time: an unsynced clock's corrected from its boot, or unknown. SQLite and
PostgreSQL; the last test through a real broker, ingest and kiosks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from server_sync import protocol
from server_sync.central import registry
from server_sync.central.event_rows import as_datetime
from server_sync.central.site_history import Stay, may_have_stood_at
from server_sync.central.site_update import writer_locks
from server_sync.ingest import Ingest
from tests.central.fleet import TestKiosk, make_kiosk
from tests.fixtures.cli import broker_files, central, said_error
from tests.central.wire import MONO0, NOW, T0, batch, count, register_fleet, response

MOVED = NOW.replace(tzinfo=None) + timedelta(hours=1)      # k1: s1 -> s2 (naive UTC, as the store keeps)


def move(db, kiosk: str, site: str, at) -> None:
    with db.atomic():
        registry.move_kiosk(db, kiosk, site, at)


def counted(db) -> dict[str, int]:
    return dict(db.execute_sql("SELECT site_id, SUM(n) FROM rollup_hourly GROUP BY site_id").fetchall())


def stored(db) -> dict[str, int]:
    return dict(db.execute_sql("SELECT site_id, COUNT(*) FROM response GROUP BY site_id").fetchall())


def refusal(out) -> tuple[list, str]:
    (_topic, payload), = out.publish
    ack = protocol.decode_ack(payload)
    return [r.ranges for r in ack.rejected], " ".join(r.reason for r in ack.rejected)


# Boots of k1: at s1, its clock not synced at first (a Pi has no RTC, and the app does not wait
# for NTP); at s2 after the move; and one elsewhere (a review: answers of the first were refused
# for good after the move, and `kiosk refused retry` could not help).
AT_S1 = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
AT_S2 = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
ELSEWHERE = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
BOOT_B = "dddddddd-dddd-4ddd-8ddd-dddddddddddd"


def unsynced(seq: int, site: str, boot: str, said: str) -> dict:
    """An answer recorded before its boot's clock synced, the kiosk's clock reading `said`."""
    return dict(response(seq, site=site, synced=False, boot=boot), recorded_at=said)


def test_answers_recorded_before_a_move_go_in_and_count_at_the_old_site(central_db):
    db = central_db
    register_fleet(db)
    move(db, "k1", "s2", MOVED)
    assert "kiosk:k1" in writer_locks(db, "s1")        # a new zone of s1 waits for k1's late answers
    ingest = Ingest(db, clock=lambda: NOW + timedelta(days=2))
    late = [response(1, site="s1", at=T0),                                 # recorded before it was registered
            response(2, site="s1", at=MOVED.replace(tzinfo=NOW.tzinfo) + timedelta(hours=2)),  # the move typed early
            response(3, site="s2", at=MOVED.replace(tzinfo=NOW.tzinfo) + timedelta(hours=5))]  # at the new store
    out = ingest.handle(*batch(late))
    assert out.kind == "batch" and out.accepted.new == 3 and out.changed_sites == {"s1", "s2"}
    assert stored(db) == counted(db) == {"s1": 2, "s2": 1}
    assert ingest.handle(*batch(late)).accepted.duplicates == 3            # a re-send is still one answer


def test_an_answer_naming_a_site_the_kiosk_was_not_at_then_is_refused(central_db):
    db = central_db
    register_fleet(db)
    with db.atomic():
        registry.add_site(db, "s3", "Store s3", "Europe/Stockholm", NOW.replace(tzinfo=None))
    move(db, "k1", "s2", MOVED)
    move(db, "k1", "s3", MOVED + timedelta(days=5))
    ingest = Ingest(db, clock=lambda: NOW + timedelta(days=6))
    at = MOVED.replace(tzinfo=NOW.tzinfo)
    # At s2 from MOVED to MOVED + 5 days, a day either side: these go in.
    ok = ingest.handle(*batch([response(1, site="s1", at=at - timedelta(hours=1)),
                               response(2, site="s2", at=at + timedelta(days=1)),
                               response(3, site="s3", at=at + timedelta(days=5, hours=1))]))
    assert ok.kind == "batch" and ok.accepted.new == 3 and stored(db) == {"s1": 1, "s2": 1, "s3": 1}
    for seq, site, when, said in (
            (4, "s1", at + timedelta(days=1, hours=1), "nor was it when the answer was recorded"),  # left a day before
            (5, "s2", at - timedelta(days=1, hours=1), "nor was it when the answer was recorded"),  # before it came
            (6, "s4", at, "not the registered site 's3'"),                                        # never there
            # An unsynced clock at 1970 (which s1's first stay covers), its boot synced at s3 days
            # after k1 left s1: judged by its corrected time, not by what its clock said.
            (7, "s1", None, "nor was it when the answer was recorded")):
        answer, anchor = response(seq, site=site, at=when), response(seq + 10, site="s3")
        if when is None:
            answer = unsynced(seq, site, ELSEWHERE, "1970-01-01T00:00:05.000Z")
            anchor = response(seq + 10, site="s3", boot=ELSEWHERE, at=at + timedelta(days=5, hours=2))
        out = ingest.handle(*batch([answer, anchor]))
        assert out.kind == "dead_letter" and out.rejected == 1
        ranges, reason = refusal(out)
        assert ranges == [((seq, seq),)] and said in reason and f"site_id {site!r}" in reason, reason
    assert count(db, "SELECT COUNT(*) FROM response") == 3 and counted(db) == {"s1": 1, "s2": 1, "s3": 1}
    # A refused batch stores nothing: not even the anchor of its boot (read before the check).
    assert count(db, f"SELECT COUNT(*) FROM clock_anchor WHERE boot_id = {db.param}", (ELSEWHERE,)) == 0


def test_a_move_to_the_same_site_keeps_no_stay(central_db):
    db = central_db
    register_fleet(db)
    move(db, "k1", "s1", MOVED)
    assert count(db, "SELECT COUNT(*) FROM kiosk_site_history") == 0
    move(db, "k1", "s2", MOVED)
    row = db.execute_sql("SELECT kiosk_id, site_id, moved_in_at FROM kiosk_site_history").fetchall()
    assert row == [("k1", "s1", None)]


_CAME = datetime(2026, 6, 1)                     # k: at s1 since its start, moved to s2 on 1 June
_STAYS = [Stay("s1", None, _CAME)]


@pytest.mark.parametrize("site, at, expected", [
    ("s1", _CAME - timedelta(days=30), True),
    ("s2", _CAME - timedelta(days=30), False),
    ("s2", _CAME + timedelta(days=3), True),
    ("s1", _CAME + timedelta(days=3), False),
    ("s1", _CAME + timedelta(hours=12), True),     # within the margin either side of the move:
    ("s2", _CAME - timedelta(hours=12), True),     # both
    ("s1", None, True),                            # an unsynced clock's time: any site it stood at
    ("s2", None, True),
    ("s3", None, False),
])
def test_where_a_kiosk_may_have_stood_when_it_recorded(site, at, expected):
    """What erasure goes by for a follow-up whose answer has not arrived (central.retention)."""
    assert may_have_stood_at(site, "s2", _STAYS, at) is expected


def at_new_store(first_seq: int, n: int) -> list[dict]:
    return [response(first_seq + i, site="s2", boot=AT_S2, at=MOVED.replace(tzinfo=NOW.tzinfo) + timedelta(hours=3, minutes=i))
            for i in range(n)]


def time_status(db, site: str) -> dict[str, int]:
    return dict(db.execute_sql(f"SELECT time_status, COUNT(*) FROM response WHERE site_id = {db.param}"
                               " GROUP BY time_status", (site,)).fetchall())


@pytest.mark.parametrize("said", ["1970-01-01T00:02:05.000Z",          # a Pi that lost its saved time
                                  "2026-11-23T07:00:00.000Z",          # fake-hwclock's: near enough
                                  "2026-12-20T09:00:00.000Z"])         # or after the stay at s1 ended
def test_answers_recorded_at_the_old_site_before_the_clock_ever_synced_go_in_there(central_db, said):
    """No synced event of their boot: when they were recorded is unknown, so they go in for any
    site the kiosk stood at, counted at the one they name; a site it never stood at (a copied card,
    a wrong kiosk.site) is still refused."""
    db = central_db
    register_fleet(db)
    with db.atomic():
        registry.add_site(db, "s3", "Store s3", "Europe/Stockholm", NOW.replace(tzinfo=None))
    move(db, "k1", "s2", MOVED)
    ingest = Ingest(db, clock=lambda: NOW + timedelta(days=1))
    held = [unsynced(seq, "s1", AT_S1, said) for seq in range(1, 21)] + at_new_store(21, 20)
    out = ingest.handle(*batch(held))
    assert out.kind == "batch" and out.accepted.new == 40 and out.changed_sites == {"s1", "s2"}, out.reason
    assert stored(db) == counted(db) == {"s1": 20, "s2": 20}
    assert time_status(db, "s1") == {"uncorrected": 20}
    for seq, site in ((41, "s3"), (42, "s4")):
        out = ingest.handle(*batch([unsynced(seq, site, ELSEWHERE, said), response(seq + 10, site="s2", boot=AT_S2)]))
        assert out.kind == "dead_letter" and out.rejected == 1
        ranges, reason = refusal(out)
        assert ranges == [((seq, seq),)] and f"site_id {site!r} is not the registered site 's2'" in reason, reason
    assert stored(db) == counted(db) == {"s1": 20, "s2": 20}


@pytest.mark.parametrize("synced_first", [False, True], ids=["same batch", "synced ones stored first"])
def test_answers_recorded_at_the_old_site_before_ntp_synced_are_judged_by_their_corrected_time(central_db,
                                                                                              synced_first):
    """One boot at s1: 5 taps before NTP synced (the clock at fake-hwclock's saved time, well
    after the move as registered), 10 after, the centre out of reach; then the move. The 5 are
    corrected from the boot's first synced answer, in the batch or stored (the kiosk sends
    again what was not refused, then `kiosk refused retry` the rest), and go in at s1."""
    db = central_db
    register_fleet(db)
    move(db, "k1", "s2", MOVED)
    ingest = Ingest(db, clock=lambda: NOW + timedelta(days=1))
    before = [unsynced(seq, "s1", AT_S1, "2026-12-20T22:00:00.000Z") for seq in range(1, 6)]
    synced = [response(seq, site="s1", boot=AT_S1, at=MOVED.replace(tzinfo=NOW.tzinfo) - timedelta(hours=5, minutes=-seq))
              for seq in range(6, 16)]
    if synced_first:
        assert ingest.handle(*batch(synced)).accepted.new == 10
        out = ingest.handle(*batch(before + at_new_store(16, 5)))
    else:
        out = ingest.handle(*batch(before + synced + at_new_store(16, 5)))
    assert out.kind == "batch" and out.reason is None and out.changed_sites == {"s1", "s2"}, out.reason
    assert stored(db) == counted(db) == {"s1": 15, "s2": 5}
    assert time_status(db, "s1") == {"synced": 10, "corrected": 5}
    first = db.execute_sql("SELECT MIN(recorded_at) FROM response WHERE site_id = 's1'").fetchone()[0]
    assert as_datetime(first) == datetime(2026, 11, 23, 8, 5, 55)        # 5 s before the first synced one



@pytest.mark.parametrize("split", ["same batch", "unsynced ones first", "synced ones refused first"])
def test_a_boot_after_the_move_is_judged_by_its_anchor_however_its_answers_are_batched(central_db, split):
    """kiosk.site left at s1 (or a copied card) after the move: a boot records 5 taps before NTP
    synced (the clock at fake-hwclock's saved time, inside the stay at s1), then 10 after. The
    synced ones are refused; the 5 are too, however the kiosk batched them: a batch carries the
    anchor of each boot whose answers are in it (a review: split by `sync.batch_max_events`, or
    sent again alone after the synced ones were refused, they went in and counted at s1)."""
    db = central_db
    register_fleet(db)
    move(db, "k1", "s2", MOVED)
    ingest = Ingest(db, clock=lambda: NOW + timedelta(days=3))
    before = [unsynced(seq, "s1", AT_S1, "2026-11-23T07:00:00.000Z") for seq in range(1, 6)]
    synced = [response(seq, site="s1", boot=AT_S1, at=MOVED.replace(tzinfo=NOW.tzinfo) + timedelta(days=2, minutes=seq))
              for seq in range(6, 16)]
    anchors = [protocol.Anchor(AT_S1, synced[0]["recorded_at"], synced[0]["monotonic_ns"])]
    if split == "same batch":
        outs = [ingest.handle(*batch(before + synced, anchors=anchors))]
    elif split == "unsynced ones first":
        outs = [ingest.handle(*batch(before, anchors=anchors)), ingest.handle(*batch(synced, anchors=anchors))]
    else:
        outs = [ingest.handle(*batch(synced, anchors=anchors)), ingest.handle(*batch(before, anchors=anchors))]
    assert [out.kind for out in outs] == ["dead_letter"] * len(outs)
    assert sum(out.rejected for out in outs) == 15
    assert "nor was it when the answer was recorded" in refusal(outs[0])[1]
    assert stored(db) == counted(db) == {}
    # Answers naming s2 go in (kiosk.site put right), the same boot's unsynced ones too.
    at_s2 = [unsynced(16, "s2", AT_S1, "2026-11-23T07:00:00.000Z"),
             response(17, site="s2", boot=AT_S1, at=MOVED.replace(tzinfo=NOW.tzinfo) + timedelta(days=2, hours=1))]
    ok = ingest.handle(*batch(at_s2, anchors=anchors))
    assert ok.kind == "batch" and ok.accepted.new == 2 and stored(db) == {"s2": 2}, ok.reason


def test_an_anchor_is_stored_and_corrects_like_a_synced_answer(central_db):
    """A batch's anchor for a boot without a synced answer at the centre is kept (`clock_anchor`):
    the boot's unsynced answers, in this batch or stored before, are corrected by it; a later
    anchor of the same boot changes nothing; an anchor of a boot the batch holds nothing of is
    not kept; one whose time no synced clock reads is ignored."""
    db = central_db
    register_fleet(db)
    ingest = Ingest(db, clock=lambda: NOW + timedelta(days=1))
    said = "2026-01-01T00:00:00.000Z"
    assert ingest.handle(*batch([unsynced(1, "s1", AT_S1, said)])).accepted.new == 1   # an old kiosk's batch
    assert time_status(db, "s1") == {"uncorrected": 1}
    at = NOW.replace(microsecond=0)
    out = ingest.handle(*batch([unsynced(2, "s1", AT_S1, said)], anchors=[
        protocol.Anchor(AT_S1, protocol.iso_ms(at), MONO0 + 12_000_000_000),
        protocol.Anchor(ELSEWHERE, protocol.iso_ms(at), MONO0)]))
    assert out.kind == "batch" and out.accepted.new == 1 and out.accepted.corrected == 1, out.reason
    assert time_status(db, "s1") == {"corrected": 2}
    times = [as_datetime(t) for t, in db.execute_sql("SELECT recorded_at FROM response ORDER BY seq").fetchall()]
    assert times == [at.replace(tzinfo=None) - timedelta(seconds=11), at.replace(tzinfo=None) - timedelta(seconds=10)]
    assert db.execute_sql("SELECT boot_id FROM clock_anchor").fetchall() == [(AT_S1,)]
    out = ingest.handle(*batch([unsynced(3, "s1", AT_S1, said)], anchors=[
        protocol.Anchor(AT_S1, protocol.iso_ms(at + timedelta(hours=3)), MONO0 + 12_000_000_000)]))
    assert out.kind == "batch" and count(db, "SELECT COUNT(*) FROM clock_anchor") == 1
    out = ingest.handle(*batch([unsynced(4, "s1", BOOT_B, said)], anchors=[
        protocol.Anchor(BOOT_B, protocol.iso_ms(NOW + timedelta(days=3)), MONO0)]))
    assert out.kind == "batch" and time_status(db, "s1") == {"corrected": 3, "uncorrected": 1}
    assert count(db, "SELECT COUNT(*) FROM clock_anchor") == 1



def _kiosk(tmp_path, broker, kiosk_id: str, site_id: str, clock) -> TestKiosk:
    """The kiosk `kiosk_id` configured for `site_id` (its store kept across calls), on `clock`."""
    from kiosk.capture import Recorder
    k = make_kiosk(tmp_path, broker, kiosk_id, site_id)
    return TestKiosk(k.cfg, k.store, Recorder(k.cfg, k.store, clock), clock)


@pytest.mark.broker
def test_a_kiosk_rebooted_offline_then_moved_delivers_what_it_recorded_at_the_old_site(broker, central, ingestors,
                                                                                       tmp_path):
    """The reviewer's kiosks: k1 rebooted at s1 without network, its clock never synced there; k2's
    clock synced after 5 taps at s1. Both unplugged, carried to s2, moved in the register
    (`kiosk move`) and in kiosk.site, synced: every answer goes in, those of s1 counted at s1."""
    from kiosk.clock import FakeClock
    from server_sync.cli import main as central_cli
    url, db = central
    ingestors(url, broker)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    k1 = _kiosk(tmp_path, broker, "k1", "s1", FakeClock(now - timedelta(hours=6), synced=False, boot_id=AT_S1))
    k1.record(20)
    k2_clock = FakeClock(datetime(2026, 1, 3, 22, 0, tzinfo=timezone.utc), synced=False, boot_id=AT_S1)
    k2 = _kiosk(tmp_path, broker, "k2", "s1", k2_clock)
    k2.record(5)
    k2_clock.step(now - timedelta(hours=5))           # NTP puts it right: monotonic time goes on
    k2_clock.synced = True
    k2.record(10)
    for k in (k1, k2):
        k.store.close()
        assert central_cli(["--db", url, "kiosk", "move", k.cfg.kiosk_id, "--site", "s2",
                            "--acl-file", str(broker.acl_file)]) == 0
    for kiosk_id in ("k1", "k2"):
        k = _kiosk(tmp_path, broker, kiosk_id, "s2", FakeClock(now - timedelta(hours=1), boot_id=AT_S2))
        k.record(5)
        agent = k.agent()
        assert agent.run(once=True, timeout=30) and agent.counters.events_rejected == 0
        assert k.store.rejected_count() == 0 and k.store.outbox_depth() == 0
        k.store.close()
    by_kiosk = db.execute_sql("SELECT kiosk_id, site_id, time_status, COUNT(*) FROM response"
                              " GROUP BY kiosk_id, site_id, time_status ORDER BY 1, 2, 3").fetchall()
    assert by_kiosk == [("k1", "s1", "uncorrected", 20), ("k1", "s2", "synced", 5),
                        ("k2", "s1", "corrected", 5), ("k2", "s1", "synced", 10), ("k2", "s2", "synced", 5)]
    assert counted(db) == {"s1": 35, "s2": 10}


def test_a_move_typed_days_before_the_kiosk_was_carried_over_is_dated_when_it_was(central_db):
    """The office typed `kiosk move` on day D, the technician carried the kiosk over on D+2;
    meanwhile, offline at s1, it recorded answers there on D+1.5: refused, and `kiosk refused
    retry` was refused again (a review: kiosk 38, central 8). The refusal names the fix, the move
    dated when the kiosk moved; after it the retry goes in, counted at s1."""
    db = central_db
    register_fleet(db)
    move(db, "k2", "s2", MOVED)
    ingest = Ingest(db, clock=lambda: NOW + timedelta(days=3))
    day = MOVED.replace(tzinfo=NOW.tzinfo)
    offline = [response(seq, kiosk="k2", site="s1", at=day + timedelta(days=1, hours=12, minutes=seq))
               for seq in range(1, 31)]
    out = ingest.handle(*batch(offline, kiosk="k2"))
    assert out.kind == "dead_letter" and out.rejected == 30
    _ranges, reason = refusal(out)
    assert "nor was it when the answer was recorded" in reason, reason
    assert "kiosk-central kiosk move k2 --site s2 --at 'YYYY-MM-DD HH:MM'" in reason, reason
    with db.atomic():
        stay = registry.date_move(db, "k2", MOVED + timedelta(days=2), NOW.replace(tzinfo=None) + timedelta(days=3))
    assert stay.moved_out_at == MOVED
    out = ingest.handle(*batch(offline, kiosk="k2"))                       # `kiosk refused retry`
    assert out.kind == "batch" and out.accepted.new == 30 and out.changed_sites == {"s1", "s2"}, out.reason
    assert stored(db) == counted(db) == {"s1": 30}
    # A move it never stood at the old site for is still refused, saying nothing of dating it.
    out = ingest.handle(*batch([response(31, kiosk="k1", site="s2")], kiosk="k1"))
    assert out.kind == "dead_letter" and "--at" not in refusal(out)[1]


def history(db) -> list[tuple]:
    return [(k, s, None if came is None else as_datetime(came), as_datetime(left)) for k, s, came, left in
            db.execute_sql("SELECT kiosk_id, site_id, moved_in_at, moved_out_at FROM kiosk_site_history"
                           " ORDER BY kiosk_id, moved_out_at").fetchall()]


def placed(db, kiosk: str) -> datetime:
    return as_datetime(db.execute_sql(f"SELECT placed_at FROM kiosk WHERE id = {db.param}", (kiosk,)).fetchone()[0])


def test_kiosk_move_at_dates_a_move_and_corrects_the_last_one(central_url, tmp_path, capsys):
    """`kiosk move ID --site SITE --at TIME`: moved then (the site's time, or UTC said); given for
    the site the kiosk stands at, its last move is dated again. Never in the future, never before
    the kiosk's previous move; a time that cannot be read is the command line's error."""
    from server_sync.central.db import connect
    db = connect(central_url)
    register_fleet(db)
    acl = broker_files(tmp_path)[2:]
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0, tzinfo=None)
    typed = now - timedelta(days=3)
    assert central("--db", central_url, "kiosk", "move", "k2", "--site", "s2", "--at",
                   f"{typed:%Y-%m-%d %H:%M} UTC", *acl) == 0
    out = capsys.readouterr().out
    assert f"kiosk k2 moved from site s1 to s2 at {typed:%Y-%m-%d %H:%M} UTC;" in out, out
    assert history(db) == [("k2", "s1", None, typed)] and placed(db, "k2") == typed
    # Carried over a day later than typed: said in s2's own time (Stockholm's).
    really = now - timedelta(days=2)
    local = really.replace(tzinfo=timezone.utc).astimezone(ZoneInfo("Europe/Stockholm"))
    assert central("--db", central_url, "kiosk", "move", "k2", "--site", "s2", "--at",
                   f"{local:%Y-%m-%d %H:%M}", "--json", *acl) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["moved"] is False and said["moved_at"] == f"{really:%Y-%m-%d %H:%M}" and said["was"] == f"{typed:%Y-%m-%d %H:%M}"
    assert history(db) == [("k2", "s1", None, really)] and placed(db, "k2") == really
    assert central("--db", central_url, "kiosk", "move", "k2", "--site", "s2", "--at",
                   f"{now - timedelta(days=1):%Y-%m-%dT%H:%M}Z", *acl) == 0
    assert "kiosk k2's move from site s1 to s2 is now dated " in capsys.readouterr().out
    for argv, message in (
            (("k2", "--site", "s2", "--at", f"{now + timedelta(hours=2):%Y-%m-%d %H:%M} UTC"), "is in the future"),
            (("k2", "--site", "s1", "--at", f"{now - timedelta(days=2):%Y-%m-%d %H:%M} UTC"),
             f"is not after kiosk k2's previous move ({now - timedelta(days=1):%Y-%m-%d %H:%M} UTC)"),
            (("k1", "--site", "s1", "--at", f"{now:%Y-%m-%d %H:%M} UTC"), "kiosk k1 has stood at site s1 since it was"),
            (("k1", "--site", "s2", "--at", "yesterday"), "argument --at: 'yesterday' is not a time"),
            (("k1", "--site", "s2", "--at", "2026-02-30 10:00"), "argument --at: '2026-02-30' is not a date"),
            (("k1", "--site", "s2", "--at", "2026-02-03 24:00"), "argument --at: '2026-02-03 24:00' is not a time")):
        assert central("--db", central_url, "kiosk", "move", *argv, *acl) == 2, argv
        err = capsys.readouterr().err
        assert said_error(err, message), err
    assert history(db) == [("k2", "s1", None, now - timedelta(days=1))]
    assert registry.kiosk(db, "k1")["site_id"] == "s1"
    db.close()


@pytest.mark.broker
def test_a_move_typed_early_is_put_right_with_at_and_the_kiosk_retries(broker, central, ingestors, tmp_path, capsys):
    """The reviewer's kiosk through a real broker, ingest and sync agent: the move typed two days
    before the technician carried it over; offline at s1 meanwhile, it recorded 30 answers there,
    refused and held. Dated right (`kiosk move --at`), `kiosk refused retry` sends them in."""
    from kiosk.clock import FakeClock
    from server_sync.cli import main as central_cli
    url, db = central
    ingestors(url, broker)
    acl = ["--acl-file", str(broker.acl_file)]
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    k2 = _kiosk(tmp_path, broker, "k2", "s1", FakeClock(now - timedelta(days=2, hours=6), boot_id=AT_S1))
    k2.record(3)
    assert k2.agent().run(once=True, timeout=30)
    assert central_cli(["--db", url, "kiosk", "move", "k2", "--site", "s2", "--at",
                        f"{now - timedelta(days=2):%Y-%m-%d %H:%M} UTC", *acl]) == 0
    k2.clock.set(now - timedelta(hours=12))
    k2.record(30)                                   # still at s1, offline
    k2.store.close()
    k2 = _kiosk(tmp_path, broker, "k2", "s2", FakeClock(now - timedelta(hours=1), boot_id=AT_S2))
    k2.record(5)
    agent = k2.agent()
    assert agent.run(once=True, timeout=30) and agent.counters.events_rejected == 30
    reason, = k2.store.refused_by_reason()
    assert "kiosk-central kiosk move k2 --site s2 --at 'YYYY-MM-DD HH:MM'" in reason, reason
    capsys.readouterr()
    assert central_cli(["--db", url, "kiosk", "move", "k2", "--site", "s2", "--at",
                        f"{now - timedelta(hours=2):%Y-%m-%d %H:%M} UTC", *acl]) == 0
    assert "is now dated" in capsys.readouterr().out
    assert k2.store.retry_refused() == 30
    agent = k2.agent()
    assert agent.run(once=True, timeout=30) and agent.counters.events_rejected == 0 and k2.store.rejected_count() == 0
    k2.store.close()
    assert stored(db) == counted(db) == {"s1": 33, "s2": 5}
