"""The fleet's summary line: a kiosk whose last status said online but that nobody heard from
for hours of opening time is not counted as reporting (the web said "2 of 2 kiosks reporting ·
2 silent during opening hours")."""

from __future__ import annotations

from server_sync.analysis.fleet import summary


def _row(online: bool | None, silent: bool) -> dict:
    return {"online": online, "silent": silent, "flagged": silent, "clock_synced": True, "outbox_depth": 0,
            "rejected": None}


def test_a_silent_kiosk_is_not_counted_as_reporting_whatever_its_last_status_said():
    rows = [_row(True, False), _row(True, True), _row(False, False), _row(None, True)]
    said = summary(rows)
    assert (said["kiosks"], said["online"], said["flagged"]) == (4, 1, 2)
