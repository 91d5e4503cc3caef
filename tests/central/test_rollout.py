"""A rollout's kiosks registered ahead of it: given the day each is to be installed (`kiosk add
--installs-on`, `kiosk installs-on`), a kiosk not heard from yet is awaited until that day begins
at its site (listed, never flagged nor counted, `fleet` exits 0, the notify worker tells nobody),
and flagged as never seen 2 open hours into it; once heard, the day says nothing. On SQLite and
PostgreSQL, through the commands and the real fleet view."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from server_sync.analysis.fleet import fleet, summary
from server_sync.central.db import connect
from server_sync.workflow.kiosk_watch import flags, watch
from tests.fixtures.cli import central, said_error

ZONE = ZoneInfo("Europe/Stockholm")


def _kiosks(url: str, tmp_path) -> tuple[str, datetime]:
    """s1 (open daily 8-20 in Stockholm) with k1 to be installed in a week and k2 with no day,
    both registered three days ago; the day and its midnight at the site."""
    files = ["--password-file", str(tmp_path / "pw"), "--acl-file", str(tmp_path / "acl")]
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
    return day, datetime.combine(date.fromisoformat(day), time(), ZONE)


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
    assert f"kiosk k2 is to be installed on {day}" in capsys.readouterr().out
    assert central("--db", central_url, "fleet") == 0
    assert "0 kiosks, 0 online, 0 flagged, 2 awaited (to be installed)" in capsys.readouterr().out
    db = connect(central_url)
    try:
        now = datetime.now(timezone.utc)
        assert watch(db, now).flagged == watch(db, now + timedelta(minutes=15)).flagged == 0 and flags(db) == {}
        # The day comes (08:00 is its opening): not heard from after 2 open hours, k1 is never seen.
        assert [r["flagged"] for r in fleet(db, midnight + timedelta(hours=9, minutes=55))] == [False, False]
        rows = fleet(db, midnight + timedelta(hours=10, minutes=5))
        assert [(r["awaited"], r["flag_kind"]) for r in rows] == [(False, "never"), (False, "never")]
        assert summary(rows)["awaited"] == 0
        # Heard before its day, then silent: the day says nothing once it has reported.
        heard = now - timedelta(hours=1)
        p = db.param
        with db.atomic():
            db.execute_sql(f"INSERT INTO kiosk_status (kiosk_id, online, last_seen, payload) VALUES ({p}, {p}, {p}, '{{}}')",
                           ("k1", True, heard.replace(tzinfo=None)))
        (k1, _k2) = fleet(db, now)
        assert (k1["awaited"], k1["installs_on"]) == (False, None)
        (k1, _k2) = fleet(db, heard + timedelta(days=2))
        assert k1["flag_kind"] == "silent"
    finally:
        db.close()
    # No day again: expected from its registration, three days ago.
    assert central("--db", central_url, "kiosk", "installs-on", "k2", "none", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"kiosk_id": "k2", "installs_on": None}
    assert central("--db", central_url, "fleet", "--flagged", "--json") == 1
    assert [k["kiosk_id"] for k in json.loads(capsys.readouterr().out)["kiosks"]] == ["k2"]


def test_installs_on_mistakes_are_error_lines(central_url, tmp_path, capsys):
    _kiosks(central_url, tmp_path)
    capsys.readouterr()
    for argv, message in ((("kiosk", "installs-on", "k9", "2027-01-11"), "no kiosk 'k9' is registered"),
                          (("kiosk", "installs-on", "k1", "2027-02-30"), "'2027-02-30' is not a date"),
                          (("kiosk", "installs-on", "k1", "next week"), "'next week' is not a date"),
                          (("kiosk", "add", "k3", "--site", "s1", "--installs-on", "1999-01-01",
                            "--password-file", str(tmp_path / "pw"), "--acl-file", str(tmp_path / "acl")),
                           "1999-01-01")):
        assert central("--db", central_url, *argv) == 2, argv
        err = capsys.readouterr().err
        assert said_error(err, message), (argv, err)
