"""Answers a kiosk records before its installation day (a Pi prepared and tried out ahead, a smiley
tapped to check it) are a tryout: stored and kept, but not counted in its store's figures: not in
the rollups (hourly, daily, reasons), the BI views, the raw figures nor the comments. Ingest decides
by the day it knows, by the best known time (an unsynced answer again once its time is corrected);
a day given or changed later re-decides what is stored (`kiosk installs-on`, which says how many
answers it set aside or counted again; a day past is taken), and so does a new time zone of the
site. Only since the kiosk was placed at its site: what it recorded at a stay before counts. Every count equals a recount from the stored rows. On SQLite and PostgreSQL, through the
real ingest and commands."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from server_sync.analysis import raw_figures
from server_sync.analysis.queries import ReportFilter
from server_sync.central import registry, rollups
from server_sync.central.dialect import writer_transaction
from server_sync.ingest import Ingest
from server_sync.web.queries import CommentFilter, comments
from tests.central.wire import batch, followup, response
from tests.fixtures.cli import central

ZONE = ZoneInfo("Europe/Stockholm")
ROLLUPS = ("rollup_hourly", "rollup_daily", "rollup_monthly", "rollup_chain_hourly", "rollup_reason_daily",
           "rollup_reason_monthly")


def _utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(timezone.utc)


@pytest.fixture
def chain(central_db, tmp_path):
    """s1 and s2 in Stockholm; k1 at s1 to be installed in three days (the CLI takes a past day
    only for a kiosk that has reported since, so the days are real ones), k2 at s1 with none; an
    ingest whose clock is a week ahead."""
    db = central_db
    today = datetime.now(ZONE).date()
    day = today + timedelta(days=3)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for s in ("s1", "s2"):
        registry.add_site(db, s, f"Store {s}", "Europe/Stockholm", now)
    for k in ("k1", "k2"):
        with db.atomic():
            registry.add_kiosk(db, k, "s1", now)
    with db.atomic():
        registry.set_installs_on(db, "k1", day.isoformat(), now)
    return day, Ingest(db, clock=lambda: datetime.now(timezone.utc) + timedelta(days=7))


def _naive_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _excluded(db) -> dict[int, str | None]:
    return dict(db.execute_sql("SELECT seq, excluded FROM response WHERE kiosk_id = 'k1'").fetchall())


def _tables(db) -> dict[str, list]:
    out = {}
    for t in ROLLUPS:
        cols = [c for c in (r[0] for r in db.execute_sql(f"SELECT * FROM {t} LIMIT 0").description)]
        out[t] = sorted(tuple(str(v) for v in r) for r in db.execute_sql(
            f"SELECT {', '.join(cols)} FROM {t}").fetchall())
    return out


def _recounted_alike(db) -> None:
    """The rollups ingest and the recounts kept equal the ones counted afresh from the raw rows."""
    kept = _tables(db)
    with writer_transaction(db, "kiosk:k1"):
        for s in ("s1", "s2"):
            rollups.rebuild_site(db, s)
    assert _tables(db) == kept


def test_answers_before_the_day_are_kept_and_not_counted(central_db, chain):
    db = central_db
    day, ingest = chain
    eve = response(1, at=_utc(day, 7, 59), value=1)                     # the installer's test, at 07:59
    ahead = response(2, at=_utc(day - timedelta(days=2), 14), value=1)  # tried out two days ahead
    served = response(3, at=_utc(day, 8), value=4)                      # the store's first customer
    other = response(4, at=_utc(day - timedelta(days=2), 14), value=2, kiosk="k2")   # no day: counts
    ingest.handle(*batch([eve, ahead, served]))
    ingest.handle(*batch([other], kiosk="k2"))
    ingest.handle(*batch([followup(5, eve["id"], reasons=("queue",), comment="test test"),
                          followup(6, served["id"], reasons=("staff",), comment="Trevlig personal")]))
    assert _excluded(db) == {1: "tryout", 2: "tryout", 3: None}
    assert db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0] == 4       # all kept
    assert db.execute_sql("SELECT SUM(n) FROM rollup_daily").fetchone()[0] == 2
    assert db.execute_sql("SELECT SUM(n) FROM rollup_hourly WHERE kiosk_id = 'k1'").fetchone()[0] == 1
    assert db.execute_sql("SELECT reason, n FROM rollup_reason_daily").fetchall() == [("staff", 1)]
    assert db.execute_sql("SELECT COUNT(*) FROM v_answers").fetchone()[0] == 2
    assert db.execute_sql("SELECT reason FROM v_followup_reasons").fetchall() == [("staff",)]
    f = ReportFilter(("s1",), date_from=(day - timedelta(days=3)).isoformat(), date_to=day.isoformat())
    assert {k[0]: t.n for k, t in raw_figures.site_tallies(db, f, ZONE).items()} == {"s1": 2}
    listed, _more = comments(db, CommentFilter(sites=("s1",)))
    assert [c["comment"] for c in listed] == ["Trevlig personal"]
    _recounted_alike(db)
    # A re-send is a duplicate, not a conflict: `excluded` is the centre's, not the kiosk's.
    again = ingest.handle(*batch([eve, ahead, served]))
    assert (again.accepted.duplicates, again.accepted.conflicts) == (3, 0)


def test_a_day_given_or_changed_later_re_decides_what_is_stored(central_db, central_url, chain, capsys):
    db = central_db
    day, ingest = chain
    with db.atomic():
        registry.set_installs_on(db, "k1", None, _naive_now())
    answers = [response(1, at=_utc(day - timedelta(days=1), 15), value=1),
               response(2, at=_utc(day, 12), value=3),
               response(3, at=_utc(day + timedelta(days=1), 9), value=4)]
    ingest.handle(*batch(answers))
    ingest.handle(*batch([followup(4, answers[1]["id"], reasons=("queue",))]))
    assert _excluded(db) == {1: None, 2: None, 3: None}
    capsys.readouterr()
    # The day given after the tryout came in: what was recorded before it is set aside.
    assert central("--db", central_url, "kiosk", "installs-on", "k1", day.isoformat()) == 0
    assert f"1 answer(s) kiosk k1 recorded before {day} 08:00 are set aside" in capsys.readouterr().err
    assert _excluded(db) == {1: "tryout", 2: None, 3: None}
    _recounted_alike(db)
    # Put off a day: the answer of the old day and its reason go too; said in the JSON as well.
    later = (day + timedelta(days=1)).isoformat()
    assert central("--db", central_url, "kiosk", "installs-on", "k1", later, "--json") == 0
    out = capsys.readouterr()
    assert '"tryouts_set_aside": 1' in out.out and "1 answer(s)" in out.err
    assert _excluded(db) == {1: "tryout", 2: "tryout", 3: None}
    assert db.execute_sql("SELECT COUNT(*) FROM rollup_reason_daily").fetchone()[0] == 0
    _recounted_alike(db)
    # The same day again changes nothing; none counts everything again.
    assert central("--db", central_url, "kiosk", "installs-on", "k1", later) == 0
    assert "answer(s)" not in capsys.readouterr().err
    assert central("--db", central_url, "kiosk", "installs-on", "k1", "none") == 0
    assert "2 answer(s) of kiosk k1 set aside as a tryout count again" in capsys.readouterr().err
    assert _excluded(db) == {1: None, 2: None, 3: None}
    assert db.execute_sql("SELECT SUM(n) FROM rollup_daily").fetchone()[0] == 3
    _recounted_alike(db)


def test_an_unsynced_answer_is_decided_again_by_its_corrected_time(central_db, chain):
    """A Pi without a clock after a power cut: its answer is first placed at the time its clock
    said (1970, before the day: set aside); the boot's synced event places it on the day."""
    db = central_db
    day, ingest = chain
    synced_at = _utc(day, 10)
    mono_sync = 10_000_000_000_000
    lost = response(1, at=datetime(1970, 1, 1, 0, 5, tzinfo=timezone.utc), synced=False, value=1,
                    mono=mono_sync - 3600 * 10**9)                 # an hour before the synced one: 09:00
    ingest.handle(*batch([lost]))
    ingest.handle(*batch([followup(2, lost["id"], reasons=("queue",), synced=False, mono=mono_sync - 3500 * 10**9,
                                   at=datetime(1970, 1, 1, 0, 6, tzinfo=timezone.utc))]))
    assert _excluded(db) == {1: "tryout"}
    assert db.execute_sql("SELECT COUNT(*) FROM rollup_daily").fetchone()[0] == 0
    ingest.handle(*batch([response(3, at=synced_at, mono=mono_sync, value=4)]))
    assert _excluded(db) == {1: None, 3: None}
    assert db.execute_sql("SELECT SUM(n) FROM rollup_daily").fetchone()[0] == 2
    assert db.execute_sql("SELECT reason, n FROM rollup_reason_daily").fetchall() == [("queue", 1)]
    _recounted_alike(db)


def test_a_moved_kiosks_answers_from_its_former_site_are_not_its_new_sites_tryout(central_db, central_url,
                                                                                   chain, capsys):
    """The day is the site's it stands at: answers it recorded at the store it left count there
    (site_history), whenever they arrive and whatever day it gets at its new one."""
    db = central_db
    day, ingest = chain
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with db.atomic():
        registry.set_installs_on(db, "k1", None, _naive_now())
        registry.move_kiosk(db, "k1", "s2", now + timedelta(days=5))     # after the answers below
    assert central("--db", central_url, "kiosk", "installs-on", "k1", day.isoformat()) == 0
    held = response(1, at=_utc(day - timedelta(days=1), 15), value=1)    # recorded at s1, sent late
    ingest.handle(*batch([held]))
    assert _excluded(db) == {1: None}
    assert central("--db", central_url, "kiosk", "installs-on", "k1", (day + timedelta(days=1)).isoformat()) == 0
    assert _excluded(db) == {1: None} and "answer(s)" not in capsys.readouterr().err
    assert db.execute_sql("SELECT site_id, SUM(n) FROM rollup_daily GROUP BY site_id").fetchall() == [("s1", 1)]
    _recounted_alike(db)


def test_only_answers_since_the_kiosk_was_placed_there_follow_its_day_as_it_stands(central_db, central_url, chain,
                                                                                   capsys):
    """k1 served s1, was moved to s2 and back: what it recorded at s1 before it came back counts
    whatever day it gets. Cleared once it is installed, the day's tryouts count again (said); the
    day given back, past now, sets them aside again, and an answer of the tryout that arrives late
    is decided as the stored ones."""
    db = central_db
    day, ingest = chain
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    served = response(1, at=datetime.now(timezone.utc) - timedelta(days=30), value=4)
    with db.atomic():
        registry.set_installs_on(db, "k1", None, _naive_now())
    ingest.handle(*batch([served]))
    with db.atomic():
        registry.move_kiosk(db, "k1", "s2", now - timedelta(days=20))
        registry.move_kiosk(db, "k1", "s1", now - timedelta(days=10))      # placed at s1 again
    tried = response(2, at=datetime.now(timezone.utc) - timedelta(days=5), value=1)
    ingest.handle(*batch([tried]))
    assert central("--db", central_url, "kiosk", "installs-on", "k1", day.isoformat()) == 0
    assert "1 answer(s) kiosk k1 recorded before" in capsys.readouterr().err
    assert _excluded(db) == {1: None, 2: "tryout"}
    assert central("--db", central_url, "kiosk", "installs-on", "k1", "none") == 0
    assert "1 answer(s) of kiosk k1 set aside as a tryout count again" in capsys.readouterr().err
    assert _excluded(db) == {1: None, 2: None}
    yesterday = (datetime.now(ZONE).date() - timedelta(days=1)).isoformat()
    with db.atomic():                                     # it has reported since (installed)
        db.execute_sql(f"INSERT INTO kiosk_status (kiosk_id, online, last_seen, payload) VALUES ('k1', {db.param},"
                       f" {db.param}, '{{}}')", (True, _naive_now()))
    assert central("--db", central_url, "kiosk", "installs-on", "k1", yesterday) == 0
    assert "1 answer(s) kiosk k1 recorded before" in capsys.readouterr().err
    ingest.handle(*batch([response(3, at=datetime.now(timezone.utc) - timedelta(days=4), value=1),
                          response(4, at=datetime.now(timezone.utc), value=3),
                          response(5, at=datetime.now(timezone.utc) - timedelta(days=25), value=2)]))  # 1st stay
    assert _excluded(db) == {1: None, 2: "tryout", 3: "tryout", 4: None, 5: None}
    assert db.execute_sql("SELECT SUM(n) FROM rollup_daily").fetchone()[0] == 3
    _recounted_alike(db)


def test_a_sites_new_time_zone_moves_its_kiosks_installation_hour(central_db, central_url, chain, capsys):
    """s1 registered in UTC by mistake: 08:00 on k1's day was 08:00 UTC, so an answer at 08:30 in
    Stockholm (06:30 or 07:30 UTC) was a tryout; in Stockholm it is after 08:00 and counts. The
    times are the store's own (they were UTC's: in summer time 06:30 UTC was 08:30 in Stockholm, and
    the test failed seven months a year: a review)."""
    db = central_db
    day, ingest = chain
    assert central("--db", central_url, "site", "update", "s1", "--timezone", "UTC", "--no-progress") == 0
    early = response(1, at=_utc(day, 8, 30), value=2)        # before 08:00 UTC in CET and CEST
    earlier = response(2, at=_utc(day, 7, 30), value=1)      # before 08:00 in either zone
    ingest.handle(*batch([early, earlier]))
    ingest.handle(*batch([followup(3, early["id"], reasons=("queue",))]))
    assert _excluded(db) == {1: "tryout", 2: "tryout"}
    assert central("--db", central_url, "site", "update", "s1", "--timezone", "Europe/Stockholm",
                   "--no-progress") == 0
    assert _excluded(db) == {1: None, 2: "tryout"}
    assert db.execute_sql("SELECT reason, n FROM rollup_reason_daily").fetchall() == [("queue", 1)]
    _recounted_alike(db)


def test_an_upgraded_centre_sets_aside_the_tryouts_it_stored_before(central_db, chain):
    """Before m0053 every answer counted, a day given or not: the migration decides for what is
    stored and counts the sites again (its data step, on a store as it was)."""
    from server_sync.central.migrations import m0053_response_excluded
    db = central_db
    day, ingest = chain
    ingest.handle(*batch([response(1, at=_utc(day - timedelta(days=1), 15), value=1),
                          response(2, at=_utc(day, 9), value=4)]))
    ingest.handle(*batch([response(3, at=_utc(day - timedelta(days=1), 15), value=2, kiosk="k2")], kiosk="k2"))
    with writer_transaction(db, "kiosk:k1"):
        db.execute_sql("UPDATE response SET excluded = NULL")         # as stored before the upgrade
        rollups.rebuild_site(db, "s1")
    assert db.execute_sql("SELECT SUM(n) FROM rollup_daily").fetchone()[0] == 3
    with writer_transaction(db, "kiosk:k1"):
        assert m0053_response_excluded.backfill(db) == {"s1"}
        rollups.rebuild_site(db, "s1")
    assert _excluded(db) == {1: "tryout", 2: None}
    assert db.execute_sql("SELECT SUM(n) FROM rollup_daily").fetchone()[0] == 2
    _recounted_alike(db)


def test_a_time_correction_across_the_placement_decides_as_a_new_answer_would(central_db, chain):
    """k1 was brought back a day ago, its day to come. An answer recorded six days ago by a clock
    that had not synced, reading 12 hours ago: stored as a tryout; the boot's synced event places
    it before the placement, where the day decides nothing: it counts, as it would had the synced
    event come first (a review: it stayed a tryout)."""
    from server_sync.central.registry import set_active
    db = central_db
    _day, ingest = chain
    now = _naive_now()
    set_active(db, "k1", False, now - timedelta(days=2))
    set_active(db, "k1", True, now - timedelta(days=1))
    mono_sync = 10_000_000_000_000
    synced_at = datetime.now(timezone.utc) - timedelta(days=6) + timedelta(hours=1)
    wrong = response(1, at=datetime.now(timezone.utc) - timedelta(hours=12), synced=False, value=1,
                     mono=mono_sync - 3600 * 10**9)
    ingest.handle(*batch([wrong]))
    assert _excluded(db) == {1: "tryout"}
    ingest.handle(*batch([response(2, at=synced_at, mono=mono_sync, value=4)]))
    assert _excluded(db) == {1: None, 2: None}
    assert db.execute_sql("SELECT SUM(n) FROM rollup_daily").fetchone()[0] == 2
    _recounted_alike(db)
