"""The kiosk table's state: a kiosk whose last status said online but that nobody heard from for
hours of opening time (fleet's `silent`) read "ansluten" in green beside "tyst under öppettid" and
a last-seen 13 days back. fleet.summary already does not count it as reporting; the row now says
it is unknown and since when it has not been heard, in the page's language and not green."""

from __future__ import annotations

import re

import pytest

from server_sync.web import render


def _kiosk(online: bool | None, silent: bool, last_seen: str | None = "2026-11-20T09:00:00+00:00") -> dict:
    return {"kiosk_id": "k1", "site_id": "s1", "site_name": "Malmö 1", "timezone": "Europe/Stockholm",
            "active": True, "awaited": False, "installs_on": None, "online": online, "silent": silent, "flagged": silent, "last_seen": last_seen,
            "flag_kind": "silent" if silent else None, "flag": "silent during opening hours" if silent else None,
            "outbox_depth": 0, "clock_synced": True, "config_version": 3, "config_error": None, "rejected": None,
            "disk_free_mb": 900, "oldest_unacked_s": 0}


def _state_cell(html: str) -> str:
    start = html.index('<td data-label="', html.index("</a></td>") + 1)
    return html[start:html.index("</td>", start)]


@pytest.mark.parametrize("lang, said", [("sv", "okänd – inte hörd sedan"), ("nb", "ukjent – ikke hørt siden"),
                                        ("en", "unknown – not heard since")])
def test_a_silent_kiosk_whose_status_said_online_is_not_shown_as_connected(lang, said):
    cell = _state_cell(render.page("web/kiosk_table.html", lang, kiosks=[_kiosk(True, True)]))
    assert said in cell and "2026-11-20 10:00 CET" in re.sub(r"<[^>]+>", "", cell)
    assert render.text("online", lang) not in cell and 'class="ok"' not in cell


def test_a_kiosk_heard_from_still_reads_online_in_green():
    cell = _state_cell(render.page("web/kiosk_table.html", "sv", kiosks=[_kiosk(True, False)]))
    assert '<span class="ok">ansluten</span>' in cell


def _flag_cell(html: str) -> str:
    start = html.index('<td data-label="Flagga"')
    return html[start:html.index("</td>", start)]


def test_each_flag_is_worded_for_what_it_is_and_a_deactivated_kiosk_says_so():
    """The flag column said "aldrig hörd" (never seen) for any flag but silence: a kiosk holding
    refused answers, which reported a minute ago, read as never seen (a review)."""
    kiosk = dict(_kiosk(True, False), flagged=True)
    for kind, extra, said in (("held", {"rejected": 3}, "har 3 svar som centralen avvisat"),
                              ("disk", {"disk_free_mb": 12}, "minneskortet nästan fullt: 12 MB ledigt"),
                              ("backlog", {"oldest_unacked_s": 3 * 3600}, "svar har inte nått centralen på 3,0 h"),
                              ("never", {}, "aldrig hörd"),
                              ("config", {"config_error": "config 3 refused: bad schedule"},
                               "avvisade konfigurationen som centralen skickade")):
        cell = _flag_cell(render.page("web/kiosk_table.html", "sv", kiosks=[dict(kiosk, flag_kind=kind, **extra)]))
        assert said in cell, (kind, cell)
    gone = _state_cell(render.page("web/kiosk_table.html", "sv", kiosks=[dict(_kiosk(True, False), active=False)]))
    assert "avaktiverad" in gone and "ansluten" not in gone


@pytest.mark.parametrize("lang, said", [("sv", "installeras 2026-12-14"), ("nb", "installeres 2026-12-14"),
                                        ("en", "to be installed 2026-12-14")])
def test_a_kiosk_awaited_until_its_installation_day_says_so_and_is_not_flagged(lang, said):
    awaited = dict(_kiosk(None, False, last_seen=None), awaited=True, installs_on="2026-12-14")
    html = render.page("web/kiosk_table.html", lang, kiosks=[awaited])
    assert said in _state_cell(html) and 'class="flagged"' not in html
