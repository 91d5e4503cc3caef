"""A rollout's kiosks registered ahead of it: given the day each is to be installed (`kiosk add
--installs-on`, `kiosk installs-on`), a kiosk is not silent before 08:00 that day at its site, and
one not reporting is awaited (listed, never flagged nor counted, `fleet` exits 0, the notify worker
tells nobody of it, a flag untold or told as never seen goes, and one told otherwise is told over
to those who were told); 2 open hours into the day, not heard,
it is flagged. A Pi prepared and tried out ahead, then boxed, is awaited the same. On SQLite and
PostgreSQL, through the commands, the real fleet view and the notify worker's look."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from server_sync.analysis.fleet import fleet, summary
from server_sync.central.db import connect
from server_sync.workflow.kiosk_watch import flags, watch
from tests.fixtures.cli import broker_files, central, said_error

ZONE = ZoneInfo("Europe/Stockholm")


def _kiosks(url: str, tmp_path) -> tuple[str, datetime]:
    """s1 (open daily 8-20 in Stockholm) with k1 to be installed in a week and k2 with no day,
    both registered three days ago; the day and its midnight at the site."""
    files = broker_files(tmp_path)
    day = (datetime.now(ZONE).date() + timedelta(days=7)).isoformat()
    assert central("--db", url, "site", "add", "s1", "--name", "Södermalm", "--hours", "daily 8-20") == 0
    assert central("--db", url, "kiosk", "add", "k1", "--site", "s1", "--installs-on", day, *files) == 0
    assert central("--db", url, "kiosk", "add", "k2", "--site", "s1", *files) == 0
    db = connect(url)
    try:
        with db.atomic():
            db.execute_sql("UPDATE kiosk SET registered_at = " + db.param,
                           (datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=3),))
    finally:
        db.close()
    return day, datetime.combine(date.fromisoformat(day), time(), ZONE)      # its midnight


def test_a_kiosk_awaited_until_its_day_is_listed_never_flagged_and_expected_from_then(central_url, tmp_path, capsys):
    day, midnight = _kiosks(central_url, tmp_path)
    capsys.readouterr()
    # k2 was expected from its registration: flagged; k1 is awaited.
    assert central("--db", central_url, "fleet", "--json") == 1
    said = json.loads(capsys.readouterr().out)
    k1, k2 = said["kiosks"]
    assert (k1["awaited"], k1["installs_on"], k1["flagged"]) == (True, day, False)
    assert (k2["awaited"], k2["installs_on"], k2["flag_kind"]) == (False, None, "never")
    assert (said["summary"]["kiosks"], said["summary"]["awaited"], said["summary"]["flagged"]) == (1, 1, 1)
    assert central("--db", central_url, "fleet") == 1
    out = capsys.readouterr().out
    assert f"awaited  due {day}" in out and "1 kiosks, 0 online, 1 flagged, 1 awaited (to be installed)" in out
    # k2's installation put off too: nothing is flagged, `fleet` exits 0, and nobody is told.
    assert central("--db", central_url, "kiosk", "installs-on", "k2", day) == 0
    said = capsys.readouterr()
    assert f"kiosk k2 is to be installed on {day}" in said.out and said.err == ""
    assert central("--db", central_url, "fleet") == 0
    assert "0 kiosks, 0 online, 0 flagged, 2 awaited (to be installed)" in capsys.readouterr().out
    db = connect(central_url)
    try:
        now = datetime.now(timezone.utc)
        assert watch(db, now).flagged == watch(db, now + timedelta(minutes=15)).flagged == 0 and flags(db) == {}
        # The day comes (08:00, its opening too): not heard from for 2 open hours, k1 is never seen.
        assert [r["flagged"] for r in fleet(db, midnight + timedelta(hours=9, minutes=55))] == [False, False]
        rows = fleet(db, midnight + timedelta(hours=10, minutes=5))
        assert [(r["awaited"], r["flag_kind"]) for r in rows] == [(False, "never"), (False, "never")]
        assert summary(rows)["awaited"] == 0
        # Prepared and tried out before its day on a card nearly full, then boxed: reporting, it
        # is online and flags nothing (the installer's, not yet its store's); gone (its Last Will
        # lost: the status still says online), it is awaited; on its day its tryout's status is no
        # news (not online, the card replaced since, say), and not heard from 2 open hours into
        # the day it is never seen (an installation's matter), not silent.
        heard = now - timedelta(minutes=1)
        p = db.param
        with db.atomic():
            db.execute_sql(f"INSERT INTO kiosk_status (kiosk_id, online, last_seen, disk_free_mb, payload)"
                           f" VALUES ({p}, {p}, {p}, 12, '{{\"rejected\": 3}}')", ("k1", True, heard.replace(tzinfo=None)))
        (k1, _k2) = fleet(db, now)
        assert (k1["awaited"], k1["online"], k1["flag_kind"]) == (False, True, None)
        (k1, _k2) = fleet(db, heard + timedelta(days=2))
        assert (k1["awaited"], k1["flagged"]) == (True, False)
        assert summary([k1])["awaited"] == 1
        rows = fleet(db, midnight + timedelta(hours=8, minutes=30))
        assert (rows[0]["awaited"], rows[0]["flagged"], rows[0]["online"]) == (False, False, None)
        assert summary(rows)["online"] == 0
        (k1, _k2) = fleet(db, midnight + timedelta(hours=10, minutes=5))
        assert (k1["flag_kind"], k1["silent_open_hours"]) == ("never", 2.08)
    finally:
        db.close()
    # A day a year off (tomorrow with the year mistyped) keeps it unwatched and uncounted: said,
    # with how far from the site's today; 300 days is not far yet.
    today = datetime.now(ZONE).date()
    for away, warned in ((300, False), (301, True), (366, True)):
        far = (today + timedelta(days=away)).isoformat()
        assert central("--db", central_url, "kiosk", "installs-on", "k2", far) == 0
        err = capsys.readouterr().err
        assert err == (f"kiosk-central: warning: {far} is {away} days away: until then kiosk k2 is not flagged "
                       "and what it records is counted in no figure (a mistyped year?)\n" if warned else ""), away
    # No day again: expected from its registration, three days ago.
    assert central("--db", central_url, "kiosk", "installs-on", "k2", "none", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"kiosk_id": "k2", "installs_on": None, "tryouts_set_aside": 0,
                                                   "tryouts_counted_again": 0}
    assert central("--db", central_url, "fleet", "--flagged", "--json") == 1
    flagged = {k["kiosk_id"]: k["flag_kind"] for k in json.loads(capsys.readouterr().out)["kiosks"]}
    assert flagged == {"k2": "never"}          # k1 reports on its nearly full card: not its store's yet


def test_installs_on_mistakes_are_error_lines_and_a_past_day_is_taken(central_url, tmp_path, capsys):
    _kiosks(central_url, tmp_path)
    capsys.readouterr()
    yesterday = (datetime.now(ZONE).date() - timedelta(days=1)).isoformat()
    for argv, message in ((("kiosk", "installs-on", "k9", "2027-01-11"), "no kiosk 'k9' is registered"),
                          (("kiosk", "installs-on", "k1", "2027-02-30"), "'2027-02-30' is not a date"),
                          (("kiosk", "installs-on", "k1", "next week"), "'next week' is not a date"),
                          (("kiosk", "add", "k3", "--site", "s1", "--installs-on", "1999-01-01",
                            "--password-file", str(tmp_path / "pw"), "--acl-file", str(tmp_path / "acl")),
                           "1999-01-01"),
                          # Begun, and it has not reported since: it would be never seen.
                          (("kiosk", "installs-on", "k1", yesterday), f"installation day {yesterday} has begun at site s1"),
                          (("kiosk", "add", "k3", "--site", "s1", "--installs-on", yesterday,
                            "--password-file", str(tmp_path / "pw"), "--acl-file", str(tmp_path / "acl")),
                           f"installation day {yesterday} has begun at site s1")):
        assert central("--db", central_url, *argv) == 2, argv
        err = capsys.readouterr().err
        assert said_error(err, message), (argv, err)
    # A day past is taken for a kiosk that has reported since (a day cleared once the kiosk was
    # installed, given back): it says so, and it hides no silence, so it warns of none.
    db = connect(central_url)
    try:
        with db.atomic():
            db.execute_sql(f"INSERT INTO kiosk_status (kiosk_id, online, last_seen, payload) VALUES ('k1', {db.param},"
                           f" {db.param}, '{{}}')", (True, datetime.now(timezone.utc).replace(tzinfo=None)))
    finally:
        db.close()
    assert central("--db", central_url, "kiosk", "installs-on", "k1", yesterday) == 0
    said = capsys.readouterr()
    assert f"kiosk k1 is installed on {yesterday} (the site's day, past)" in said.out and said.err == ""


def test_a_never_seen_kiosk_told_to_the_admins_and_then_put_off_is_told_again_when_its_new_day_comes(
        central_url, tmp_path, capsys):
    """Told as never seen, then given a later day: its flag goes quietly, and on that day, still not
    heard from, it is a new flag, told once it has lasted (a review: the old told flag kept it
    untold for good)."""
    day, midnight = _kiosks(central_url, tmp_path)
    assert central("--db", central_url, "notify", "webhook", "add", "ops", "--url", "http://127.0.0.1:9/hook") == 0
    db = connect(central_url)
    try:
        def told(at: datetime) -> list[str]:
            watch(db, at)
            events = [json.loads(r[0])["event"] for r in db.execute_sql("SELECT body FROM webhook_delivery ORDER BY id")]
            db.execute_sql("DELETE FROM webhook_delivery")
            return events
        now = datetime.now(timezone.utc)
        assert told(now) == [] and told(now + timedelta(minutes=10)) == ["fleet.never"]          # k2
        assert central("--db", central_url, "kiosk", "installs-on", "k2", day) == 0
        assert told(now + timedelta(minutes=15)) == [] and flags(db) == {}
        on_the_day = midnight + timedelta(hours=10, minutes=5)
        assert told(on_the_day) == [] and told(on_the_day + timedelta(minutes=10)) == ["fleet.never"]
    finally:
        db.close()


def test_a_day_on_a_kiosk_in_service_is_warned_of_and_a_move_forgets_it(central_url, tmp_path, capsys):
    day, _midnight = _kiosks(central_url, tmp_path)
    assert central("--db", central_url, "site", "add", "s2", "--name", "Malmö") == 0
    db = connect(central_url)
    try:
        with db.atomic():
            db.execute_sql(f"INSERT INTO kiosk_status (kiosk_id, online, last_seen, payload) VALUES"
                           f" ('k2', {db.param}, '2026-12-01 10:00:00', '{{}}')", (True,))
    finally:
        db.close()
    db = connect(central_url)
    try:
        # k2's silence was told to its store; k1's was about to be told, as never seen.
        p = db.param
        for kiosk, told in (("k2", "silent"), ("k1", None)):
            db.execute_sql(f"INSERT INTO kiosk_flag (kiosk_id, site_id, kind, kind_since, seen_since, due_at,"
                           f" told_kind, audience) VALUES ({p}, 's1', {p}, '2026-12-01 13:00:00', '2026-12-01 13:00:00',"
                           f" '2026-12-01 13:10:00', {p}, {p})", (kiosk, told or "never", told, told and "store"))
    finally:
        db.close()
    capsys.readouterr()
    assert central("--db", central_url, "kiosk", "installs-on", "k2", day) == 0
    err = capsys.readouterr().err
    assert err.startswith("kiosk-central: warning: kiosk k2 has reported (last heard 2026-12-01 10:00 UTC)"), err
    assert central("--db", central_url, "kiosk", "installs-on", "k1", day) == 0   # its day already: no change
    assert central("--db", central_url, "kiosk", "installs-on", "k1", "none") == 0
    assert central("--db", central_url, "notify", "webhook", "add", "ops", "--url", "http://127.0.0.1:9/hook") == 0
    db = connect(central_url)
    try:
        # k1 starts afresh; the store told of k2's silence hears at the next look that it is not
        # expected before its day, and its flag is over (it was told only once k2 was heard).
        assert set(flags(db)) == {"k2"}
        watch(db, datetime.now(timezone.utc))
        bodies = [json.loads(r[0]) for r in db.execute_sql("SELECT body FROM webhook_delivery ORDER BY id")]
        assert [(b["event"], b["title"]) for b in bodies if b["event"].startswith("kiosk.")] == [
            ("kiosk.awaited", f"Kundpuls: kiosk k2 at Södermalm is to be installed on {day}")]
        assert "k2" not in flags(db)
    finally:
        db.close()
    # Brought back with a new password and a day: warned the same.
    assert central("--db", central_url, "kiosk", "add", "k2", "--site", "s1", "--rotate-password", "--installs-on",
                   day, "--password-file", str(tmp_path / "pw"), "--acl-file", str(tmp_path / "acl")) == 0
    assert "kiosk-central: warning: kiosk k2 has reported" in capsys.readouterr().err
    # Moved to another store: the day was the old store's.
    assert central("--db", central_url, "kiosk", "move", "k1", "--site", "s2", "--acl-file", str(tmp_path / "acl")) == 0
    assert central("--db", central_url, "kiosk", "list", "--json") == 0
    listed = {k["id"]: k["installs_on"] for k in json.loads(capsys.readouterr().out.split("\n", 2)[-1])["kiosks"]}
    assert listed == {"k1": None, "k2": day}


def test_a_new_password_says_the_day_the_kiosk_keeps(central_url, tmp_path, capsys):
    """`kiosk add --rotate-password --json` said `"installs_on": null` for a kiosk with a day (a
    deactivated one brought back, or an active one), though the store keeps the day."""
    day, _midnight = _kiosks(central_url, tmp_path)
    files = broker_files(tmp_path)
    assert central("--db", central_url, "kiosk", "deactivate", "k1", *files) == 0
    capsys.readouterr()
    for kiosk, reactivated, kept in (("k1", True, day), ("k1", False, day), ("k2", False, None)):
        assert central("--db", central_url, "kiosk", "add", kiosk, "--site", "s1", "--rotate-password", "--json",
                       *files) == 0
        said = json.loads(capsys.readouterr().out)
        assert (said["reactivated"], said["installs_on"]) == (reactivated, kept), kiosk
    assert central("--db", central_url, "kiosk", "list", "--json") == 0
    assert {k["id"]: k["installs_on"] for k in json.loads(capsys.readouterr().out)["kiosks"]} == {"k1": day, "k2": None}


def test_a_day_begun_is_taken_only_for_a_kiosk_heard_since_its_0800(central_url, tmp_path):
    """Today at 10:00 at the site, today's day has begun: for a kiosk last heard yesterday (in
    service: it would become never seen, told to the admins, and its answers set aside) it is
    refused, naming when it was heard; heard at 09:00 (installed this morning), it is taken, and
    giving it again later is no change, never refused."""
    from server_sync.central import registry
    from server_sync.exc import CentralConfigError
    _kiosks(central_url, tmp_path)
    today = datetime.now(ZONE).date()
    at = lambda h: datetime.combine(today, time(h), ZONE).astimezone(timezone.utc).replace(tzinfo=None)  # noqa: E731
    db = connect(central_url)
    try:
        p = db.param
        with db.atomic():
            db.execute_sql(f"INSERT INTO kiosk_status (kiosk_id, online, last_seen, payload) VALUES ('k2', {p}, {p},"
                           " '{}')", (True, at(9) - timedelta(days=1)))
        try:
            with db.atomic():
                registry.set_installs_on(db, "k2", today.isoformat(), at(10))
            raise AssertionError("a day begun was taken for a kiosk not heard since")
        except CentralConfigError as e:
            assert f"installation day {today} has begun at site s1 (08:00; today there: {today})" in str(e)
            assert "was last heard" in str(e)
        with db.atomic():
            db.execute_sql(f"UPDATE kiosk_status SET last_seen = {p} WHERE kiosk_id = 'k2'", (at(9),))
            registry.set_installs_on(db, "k2", today.isoformat(), at(10))
            db.execute_sql(f"UPDATE kiosk_status SET last_seen = {p} WHERE kiosk_id = 'k2'", (at(9) - timedelta(days=1),))
            registry.set_installs_on(db, "k2", today.isoformat(), at(11))          # the same day: no change
        assert db.execute_sql("SELECT installs_on FROM kiosk WHERE id = 'k2'").fetchone()[0] == today.isoformat()
    finally:
        db.close()
