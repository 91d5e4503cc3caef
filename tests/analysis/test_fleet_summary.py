"""The fleet's summary line: a kiosk whose last status said online but that nobody heard from
for hours of opening time is not counted as reporting (the web said "2 of 2 kiosks reporting ·
2 silent during opening hours")."""

from __future__ import annotations

import json

import pytest

from server_sync.analysis.fleet import summary


def _row(online: bool | None, silent: bool) -> dict:
    return {"online": online, "silent": silent, "flagged": silent, "clock_synced": True, "outbox_depth": 0,
            "rejected": None}


def test_a_silent_kiosk_is_not_counted_as_reporting_whatever_its_last_status_said():
    rows = [_row(True, False), _row(True, True), _row(False, False), _row(None, True)]
    said = summary(rows)
    assert (said["kiosks"], said["online"], said["flagged"]) == (4, 1, 2)


def test_what_a_person_must_look_at_on_a_kiosk_that_reports_is_flagged_and_a_deactivated_one_is_not(tmp_path):
    """A review found these green: a card nearly full (every tap refused while the kiosk reports),
    answers not reaching the centre for hours while it reports, and a deactivated kiosk whose
    last status said online (its will refused once it was deactivated), counted as reporting for
    good. Held answers keep their flag."""
    from server_sync.analysis.fleet import fleet
    from server_sync.central.db import connect
    from server_sync.central.registry import set_active
    from tests.central.wire import NOW, register_fleet
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        register_fleet(db, kiosks=(("k1", "s1"), ("k2", "s1"), ("k3", "s2"), ("k4", "s2"), ("k5", "s2")))
        seen = NOW.replace(tzinfo=None)
        for kiosk, disk, payload, oldest in (("k1", 12, "{}", 0), ("k2", 900, '{"rejected": 3}', 0),
                                             ("k3", 900, "{}", 3 * 3600), ("k4", 900, "{}", 0), ("k5", 900, "{}", 60)):
            db.execute_sql("INSERT INTO kiosk_status (kiosk_id, online, last_seen, disk_free_mb, clock_synced,"
                           " oldest_unacked_s, payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (kiosk, True, seen, disk, True, oldest, payload))
        set_active(db, "k4", False, NOW)
        rows = {r["kiosk_id"]: r for r in fleet(db, NOW)}
        assert {k: (r["flag_kind"], r["flag"]) for k, r in rows.items()} == {
            "k1": ("disk", "disk nearly full: 12 MB free"),
            "k2": ("held", "holds 3 answers the centre refused"),
            "k3": ("backlog", "answers unacknowledged for 3.0 h"),
            "k4": (None, None), "k5": (None, None)}
        said = summary(list(rows.values()))
        assert (said["kiosks"], said["online"], said["flagged"]) == (4, 4, 3)
    finally:
        db.close()


def test_a_store_closed_for_a_holiday_does_not_flag_its_kiosks(tmp_path):
    """Its kiosk switched off at 13:05 on Christmas Eve: with the holidays kept apart in the site's
    hours (short on the 24th, closed on the 25th) nothing is flagged on Christmas Day; with the
    weekdays' hours alone it was, as every kiosk of the chain on every holiday (a review)."""
    from datetime import datetime, timezone

    from server_sync.analysis.fleet import fleet
    from server_sync.analysis.opening import parse_spec, stored_hours
    from server_sync.central.db import connect
    from tests.central.wire import register_fleet
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        register_fleet(db, sites=("s1",), kiosks=(("k1", "s1"),))
        db.execute_sql("INSERT INTO kiosk_status (kiosk_id, online, last_seen, payload) VALUES (?, ?, ?, ?)",
                       ("k1", False, datetime(2026, 12, 24, 12, 5), "{}"))            # 13:05 in Stockholm
        christmas_day = datetime(2026, 12, 25, 11, 0, tzinfo=timezone.utc)
        weekly = "mon-fri 8-21, sat 10-18, sun closed"
        for spec, flagged in ((weekly, True), (weekly + ", 2026-12-24 8-13, 2026-12-25 closed", False)):
            db.execute_sql("UPDATE site SET opening_hours = ? WHERE id = 's1'", (stored_hours(parse_spec(spec)),))
            [row] = fleet(db, christmas_day)
            assert row["flagged"] is flagged, (spec, row)
    finally:
        db.close()


def test_the_chains_holidays_keep_every_store_quiet_and_a_store_open_on_one_is_watched(tmp_path, capsys):
    """`site holidays` gives the whole chain its holidays at once; a site that opens on one
    (its own hours for the date) is watched that day."""
    from datetime import datetime, timezone

    from server_sync.analysis.fleet import fleet
    from server_sync.analysis.opening import parse_spec, stored_hours
    from server_sync.central.db import connect
    from server_sync.cli import main
    from tests.central.wire import register_fleet
    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = connect(url)
    try:
        register_fleet(db, sites=("s1", "s2"), kiosks=(("k1", "s1"), ("k2", "s2")))
        for k in ("k1", "k2"):
            db.execute_sql("INSERT INTO kiosk_status (kiosk_id, online, last_seen, payload) VALUES (?, ?, ?, ?)",
                           (k, False, datetime(2026, 12, 24, 12, 5), "{}"))             # 13:05 in Stockholm
        db.execute_sql("UPDATE site SET opening_hours = ? WHERE id = 's2'",
                       (stored_hours(parse_spec("mon-fri 8-21, sat 10-18, sun closed, 2026-12-25 10-16")),))
        christmas_day = datetime(2026, 12, 25, 15, 0, tzinfo=timezone.utc)
        assert {r["kiosk_id"]: r["flagged"] for r in fleet(db, christmas_day)} == {"k1": True, "k2": True}
        assert main(["--db", url, "site", "holidays", "2026-12-24 8-13, 2026-12-25 closed"]) == 0
        assert "the chain's holidays: 2026-12-24 8-13, 2026-12-25 closed" in capsys.readouterr().out
        assert {r["kiosk_id"]: r["flagged"] for r in fleet(db, christmas_day)} == {"k1": False, "k2": True}
        with pytest.raises(SystemExit) as e:
            main(["--db", url, "site", "holidays", "mon closed"])
        assert e.value.code == 2 and "error: argument SPEC: 'mon closed' is not DATE HOURS" in capsys.readouterr().err
        with pytest.raises(SystemExit) as e:                        # the centre's dates: 2000-2099
            main(["--db", url, "site", "holidays", "1999-12-24 closed"])
        assert "'1999-12-24 closed': 1999-12-24 is outside 2000-01-01 … 2099-12-31" in capsys.readouterr().err
        # SPEC is the whole list: the dates it leaves out are said to be gone, not dropped unseen.
        assert main(["--db", url, "site", "holidays", "2026-12-25 closed, 2026-12-31 10-15"]) == 0
        out = capsys.readouterr().out
        assert out.endswith("no longer holidays (SPEC is the whole list): 2026-12-24 8-13\n")
        assert main(["--db", url, "site", "holidays", "2026-12-24 8-13, 2026-12-25 closed", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["removed"] == [{"date": "2026-12-31", "hours": "10-15"}]
        db.execute_sql("UPDATE central_setting SET value = 'xmas' WHERE name = 'chain_holidays'")
        assert main(["--db", url, "fleet"]) == 2
        assert "chain_holidays" in capsys.readouterr().err
        # The notify worker's look still watches every site, without them.
        unreadable: list = []
        assert {r["kiosk_id"]: r["flagged"] for r in fleet(db, christmas_day, unreadable=unreadable)} == {
            "k1": True, "k2": True}
        assert [what for what, _why in unreadable] == ["chain_holidays"]
        # The repair the error names: SPEC sets them anew (reading the damaged list first stopped it).
        assert main(["--db", url, "site", "holidays", "2026-12-25 closed"]) == 0
        assert capsys.readouterr().out == "the chain's holidays: 2026-12-25 closed (a site's own hours for a date come first)\n"
    finally:
        db.close()


def test_a_status_stored_dated_year_1_is_read_as_silent_since_2020_not_a_failure(tmp_path):
    """A centre from before ingest refused it stored a retained status dated 0001-01-01 (a kiosk's
    credential can publish one): every view of the fleet failed with OverflowError (a security
    review), and a status dated year 2 took 17 s a look. Both read as silent since 2020."""
    from datetime import datetime, timezone

    from server_sync.analysis.fleet import fleet
    from server_sync.central.db import connect
    from tests.central.wire import NOW, register_fleet
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        register_fleet(db, sites=("s1",), kiosks=(("k1", "s1"), ("k2", "s1")))
        for kiosk, seen in (("k1", datetime(1, 1, 1)), ("k2", datetime(2, 1, 1))):
            db.execute_sql("INSERT INTO kiosk_status (kiosk_id, online, last_seen, clock_synced, payload)"
                           " VALUES (?, ?, ?, ?, ?)", (kiosk, True, seen, True, "{}"))
        rows = fleet(db, NOW.astimezone(timezone.utc))
        assert [(r["kiosk_id"], r["flag_kind"]) for r in rows] == [("k1", "silent"), ("k2", "silent")]
        assert rows[0]["silent_open_hours"] == rows[1]["silent_open_hours"] > 6 * 365 * 8
    finally:
        db.close()
