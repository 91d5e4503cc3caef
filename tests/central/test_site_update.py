"""`kiosk-central site update`: a site registered in the wrong time zone is given the right one,
and its figures are then those of a site registered in that zone from the start (every rollup
keyed by its local day, hour or month, the chain's included), on SQLite and PostgreSQL; its
name just changes; its opening hours decide which silent kiosks the fleet flags; mistakes are
`error:` lines, never a traceback."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from server_sync.analysis.fleet import fleet
from server_sync.analysis.opening import HOURS_FIX
from server_sync.central import registry
from server_sync.central.db import connect
from server_sync.central.dialect import writer_transaction
from server_sync.central.intake import kiosk_lock
from server_sync.central.site_update import writer_locks
from server_sync.cli import main
from server_sync.exc import StoredSettingError
from server_sync.ingest import Ingest
from tests.central.wire import NOW, batch, followup, response
from tests.fixtures.cli import central, said_error

TABLES = ("rollup_hourly", "rollup_daily", "rollup_monthly", "rollup_chain_hourly", "rollup_reason_daily",
          "rollup_reason_monthly")
CLOCK = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
# Near midnight in Stockholm (the 30th's last minutes, the 1st's first: a new month there) and
# in New York (the 30th's last minutes, the 1st's first), in UTC.
TIMES = [datetime(2026, 11, 30, 22, 50), datetime(2026, 11, 30, 23, 10), datetime(2026, 12, 1, 4, 50),
         datetime(2026, 12, 1, 5, 10)]


def messages() -> list[tuple[str, bytes]]:
    """Answers of s1 (kiosks k1, k2) and s2 (k3) at each time, one filtered, and follow-ups with
    reasons to answers on either side of both midnights."""
    by_kiosk: dict[str, list[dict]] = {"k1": [], "k2": [], "k3": []}
    for i, at in enumerate(TIMES):
        for j, (kiosk, site) in enumerate((("k1", "s1"), ("k2", "s1"), ("k3", "s2"))):
            events = by_kiosk[kiosk]
            events.append(response(len(events) + 1, kiosk=kiosk, site=site, value=1 + (i + j) % 4,
                                   at=at.replace(tzinfo=timezone.utc)))
    k1 = by_kiosk["k1"]
    k1.append(response(len(k1) + 1, at=TIMES[1].replace(tzinfo=timezone.utc), value=1, filtered="repeat"))
    for answer, reasons in ((k1[1], ("queue",)), (k1[2], ("staff", "price")), (k1[3], ("queue",))):
        k1.append(followup(len(k1) + 1, answer["id"], reasons=reasons, at=CLOCK))
    return [batch(events, kiosk=kiosk) for kiosk, events in by_kiosk.items()]


def store(url: str, s1_zone: str, sent: list[tuple[str, bytes]]):
    db = connect(url)
    for site, zone in (("s1", s1_zone), ("s2", "Europe/Stockholm")):
        registry.add_site(db, site, f"Store {site}", zone, NOW.replace(tzinfo=None))
    for kiosk, site in (("k1", "s1"), ("k2", "s1"), ("k3", "s2")):
        with db.atomic():
            registry.add_kiosk(db, kiosk, site, NOW.replace(tzinfo=None))
    ingest = Ingest(db, clock=lambda: CLOCK)
    for topic, payload in sent:
        assert ingest.handle(topic, payload).kind == "batch"
    return db


def rollups_of(db) -> dict[str, list[tuple]]:
    return {t: sorted(tuple(str(v) for v in row) for row in db.execute_sql(f"SELECT * FROM {t}").fetchall())
            for t in TABLES}


@pytest.fixture
def fresh_url(central_url, tmp_path, request):
    """A second empty store on the engine of `central_url`."""
    if central_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    from tests.fixtures.postgres import fresh_database
    with fresh_database(request.getfixturevalue("pg_server")) as url:
        yield url


def test_a_new_time_zone_gives_the_figures_of_a_site_registered_in_it(central_url, fresh_url, capsys):
    """Also while an ingestor is storing a batch of the site's: the update waits for it, then
    counts it in the new zone too."""
    sent = messages()
    late = batch([response(9, at=TIMES[2].replace(tzinfo=timezone.utc), value=2)])
    db = store(central_url, "Europe/Stockholm", sent)
    expected_db = store(fresh_url, "America/New_York", sent + [late])
    other = connect(central_url)
    try:
        before, expected = rollups_of(db), rollups_of(expected_db)
        for table in ("rollup_reason_daily", "rollup_reason_monthly"):     # the reasons' days and months move
            assert before[table] != expected[table], table
        done: list[int] = []
        update = threading.Thread(target=lambda: done.append(
            main(["--db", central_url, "site", "update", "s1", "--timezone", "America/New_York"])))
        with writer_transaction(other, kiosk_lock("k1")):       # an ingestor busy with k1's batch
            update.start()
            update.join(0.3)
            assert update.is_alive(), "the update did not wait for the ingest of the site's kiosk"
            assert Ingest(other, clock=lambda: CLOCK).handle(*late).kind == "batch"
        update.join(30)
        assert done == [0]
        out = capsys.readouterr().out
        assert "time zone Europe/Stockholm -> America/New_York; its rollups recounted from 9 answers" in out, out
        assert rollups_of(db) == expected
        # A kiosk moved away keeps the site's answers it recorded: its ingest is locked out too.
        with db.atomic():
            registry.move_kiosk(db, "k2", "s2")
        assert writer_locks(db, "s1") == {"kiosk:k1", "kiosk:k2"}
    finally:
        for each in (db, expected_db, other):
            each.close()


def test_a_name_changes_alone_and_a_zone_edited_by_hand_is_set_again(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = store(url, "Europe/Stockholm", messages())
    try:
        counted = rollups_of(db)
        assert central("--db", url, "site", "update", "s1", "--name", "  Södermalm ", "--json") == 0
        said = json.loads(capsys.readouterr().out)
        assert (said["name"], said["renamed"], said["rezoned"]) == ("Södermalm", True, False)
        assert registry.site(db, "s1")["name"] == "Södermalm" and rollups_of(db) == counted
        # What the stored-setting error names as the fix recounts the site from its answers.
        with db.atomic():
            db.execute_sql("UPDATE site SET timezone = 'Mars/Olympus' WHERE id = 's1'")
        assert "site update SITE --timezone ZONE" in str(pytest.raises(Exception, registry.site_zones, db).value)
        assert central("--db", url, "site", "update", "s1", "--timezone", "Europe/Stockholm") == 0
        assert "Mars/Olympus -> Europe/Stockholm" in capsys.readouterr().out and rollups_of(db) == counted
    finally:
        db.close()


def test_update_mistakes_are_error_lines(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert central("--db", url, "site", "add", "s1", "--name", "S") == 0
    for argv, message in [(["s1", "--timezone", "Mars/Olympus"], "--timezone: unknown time zone 'Mars/Olympus'"),
                          (["s1", "--timezone", ""], "argument --timezone: unknown time zone ''"),
                          # The centre's own zone, whatever it is, would count a store's answers in it.
                          (["s1", "--timezone", "localtime"], "argument --timezone: unknown time zone 'localtime'"),
                          (["s1", "--name", " "], "argument --name: must not be empty"),
                          (["nope", "--name", "X"], "unknown site 'nope'; add it first"),
                          (["bad/id", "--name", "X"], "site id must be 1-64 letters"),
                          (["s1", "--hours", "mon-fri 8-21"], "argument --hours: no hours for sat, sun: give every "
                                                              "day its hours or 'closed'"),
                          (["s1", "--hours", "daily 8-21, sun 10-18"], "argument --hours: sun is given twice"),
                          (["s1", "--hours", "mon-sat 8-21, sun 18-10"], "argument --hours: 'sun 18-10': sun 18-10 "
                                                                         "runs past midnight into mon's opening at 8"),
                          (["s1"], "nothing to change: give --name, --timezone or --hours")]:
        capsys.readouterr()
        assert central("--db", url, "site", "update", *argv) == 2, argv
        out, err = capsys.readouterr()
        assert said_error(err, message) and out == "", err
    db = connect(url)
    try:
        assert registry.site(db, "s1") == {"id": "s1", "name": "S", "timezone": "Europe/Stockholm"}
    finally:
        db.close()


def test_opening_hours_set_by_command_decide_which_silent_kiosks_the_fleet_flags(tmp_path, capsys):
    """A kiosk never seen since Sunday 06:00 in Stockholm: by the chain's hours (Sundays 10-17) it
    is silent for 5 open hours on Sunday afternoon; once the store is closed on Sundays it is not,
    until Monday's opening. Hours edited by hand name this command as their fix, and it mends them."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert central("--db", url, "site", "add", "s1", "--name", "S", "--hours", "daily 8-21") == 0
    assert "open daily 8-21) registered" in capsys.readouterr().out
    sunday = datetime(2026, 11, 22, 5, 0, tzinfo=timezone.utc)                # 06:00 in Stockholm
    db = connect(url)
    try:
        registry.add_kiosk(db, "k1", "s1", sunday.replace(tzinfo=None))
        afternoon, monday_noon = sunday + timedelta(hours=9), sunday + timedelta(days=1, hours=6)

        def silent(now):
            (row,) = fleet(db, now)
            return row["flagged"], row["silent_open_hours"]

        assert silent(afternoon) == (True, 7.0)                                      # 8-15
        assert central("--db", url, "site", "update", "s1", "--hours", "default") == 0
        out = capsys.readouterr().out
        assert "opening hours daily 8-21 -> mon-fri 8-21, sat 9-18, sun 10-17 (chain default)" in out, out
        assert silent(afternoon) == (True, 5.0)
        assert central("--db", url, "site", "update", "s1", "--hours", "Mon-Sat 8-21, Sun closed", "--json") == 0
        said = json.loads(capsys.readouterr().out)
        assert (said["hours"], said["hours_default"], said["hours_changed"]) == ("mon-sat 8-21, sun closed", False,
                                                                                 True)
        assert silent(afternoon) == (False, 0.0)
        assert silent(monday_noon) == (True, 4.0)                                    # 8-12 on Monday
        assert central("--db", url, "site", "list", "--json") == 0
        (listed,) = json.loads(capsys.readouterr().out)
        assert (listed["hours"], listed["hours_default"], listed["hours_error"]) == ("mon-sat 8-21, sun closed", False,
                                                                                     None)
        with db.atomic():
            db.execute_sql("UPDATE site SET opening_hours = '{\"6\": [17, 10]}' WHERE id = 's1'")
        assert f"(set it again: {HOURS_FIX})" in str(pytest.raises(StoredSettingError, fleet, db, afternoon).value)
        assert central("--db", url, "site", "list") == 0                     # lists the site, says what is wrong
        assert """open '{"6": [17, 10]}' (not valid; set them again: kiosk-central site update s1 --hours SPEC)""" \
            in capsys.readouterr().out
        assert central("--db", url, "site", "update", "s1", "--hours", "default") == 0
        assert """opening hours '{"6": [17, 10]}' (not valid; set them""" in capsys.readouterr().out
        assert silent(afternoon) == (True, 5.0)
        assert db.execute_sql("SELECT opening_hours FROM site").fetchall() == [(None,)]
    finally:
        db.close()
