"""A kiosk that needs a person reaches one: the notify worker's look at the fleet tells the store's
manager (in their language) and every webhook when a kiosk is flagged, once, and again when it is
well; a deactivated kiosk's flag goes quietly; when the centre hears no kiosk at all (ingest or the
broker down) the admins are told once and no store is told its kiosk is silent. On SQLite and
PostgreSQL, through the real store, fleet view and notify queue."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from server_sync.central.registry import set_active
from server_sync.cli import main
from server_sync.notify import queue
from server_sync.web.people import add_user
from server_sync.workflow import kiosk_watch
from server_sync.workflow.kiosk_watch import CENTRE_QUIET, Change, Hearing, changes, claim, claim_hearing, hearing, watch
from server_sync.workflow.people import set_email
from tests.central.wire import register_fleet

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)      # a Monday, 13:00 in Stockholm: open
PASSWORD = "correct horse battery"


def _row(kiosk: str, kind: str | None, *, active: bool = True, seen: datetime | None = T0, open_: bool = True) -> dict:
    return {"kiosk_id": kiosk, "flag_kind": kind, "active": active, "open": open_,
            "last_seen": seen.isoformat() if seen else None}


def test_what_changed_is_a_flag_that_appeared_changed_or_cleared():
    told = {"k1": "silent", "k2": "disk", "k3": "held", "gone": "silent"}
    rows = [_row("k1", "silent"), _row("k2", "held"), _row("k3", None), _row("k4", "never"),
            _row("k5", "silent", active=False), _row("k6", None)]
    got = {c.kiosk_id: (c.before, c.after, c.told) for c in changes(told, rows)}
    assert got == {"k2": ("disk", "held", True), "k3": ("held", None, True), "k4": (None, "never", True),
                   "gone": ("silent", None, False)}
    deactivated = {c.kiosk_id: (c.before, c.after, c.told)
                   for c in changes({"k5": "silent"}, [_row("k5", "silent", active=False)])}
    assert deactivated == {"k5": ("silent", None, False)}


def test_the_centre_is_deaf_only_while_stores_are_open_and_stays_so_until_a_kiosk_is_heard():
    three = [_row(k, None, seen=T0) for k in ("k1", "k2", "k3")]
    heard = hearing(None, three, T0 + timedelta(minutes=1))
    assert heard == Hearing("hearing", T0 + timedelta(minutes=1)) and not heard.judges_silence(T0 + timedelta(minutes=2))
    assert heard.judges_silence(T0 + timedelta(minutes=1) + CENTRE_QUIET)
    assert hearing(heard, three, T0 + timedelta(minutes=20)) is heard          # still hearing: since stays
    late = T0 + CENTRE_QUIET + timedelta(minutes=1)
    deaf = hearing(heard, three, late)
    assert deaf == Hearing("deaf", T0)
    closed = [_row(k, None, seen=T0, open_=False) for k in ("k1", "k2", "k3")]
    assert hearing(deaf, closed, late + timedelta(hours=9)) is deaf             # closing does not end it
    assert hearing(heard, closed, late) == Hearing("quiet", T0)                  # a night: kiosks may sleep
    assert hearing(heard, three[:2], late) == Hearing("quiet", T0)               # two kiosks cannot tell
    back = [_row("k1", None, seen=late + timedelta(hours=9))] + three[1:]
    assert hearing(deaf, back, late + timedelta(hours=9, minutes=1)) == Hearing("hearing", late + timedelta(hours=9,
                                                                                                         minutes=1))
    assert Hearing.read(deaf.stored()) == deaf and Hearing.read("nonsense") is None and Hearing.read(None) is None


@pytest.fixture
def chain(central_db, quick_password_hashes):
    """s1 (k1, k2: sara, sv) and s2 (k3, k4: nils, nb), open all week all day; anna an admin;
    every kiosk last heard at T0; a JSON webhook endpoint."""
    db = central_db
    register_fleet(db)
    db.execute_sql("UPDATE site SET opening_hours = '{\"0\": [0, 24], \"1\": [0, 24], \"2\": [0, 24], \"3\": [0, 24],"
                   " \"4\": [0, 24], \"5\": [0, 24], \"6\": [0, 24]}'")
    add_user(db, "sara", "store-manager", sites=["s1"], language="sv", password=PASSWORD)
    add_user(db, "nils", "store-manager", sites=["s2"], language="nb", password=PASSWORD)
    add_user(db, "anna", "admin", language="en", password=PASSWORD)
    for name in ("sara", "nils", "anna"):
        set_email(db, name, f"{name}@example.se")
    queue.add_endpoint(db, "office", "http://127.0.0.1:9/hook", "json", T0)
    for k in ("k1", "k2", "k3", "k4"):
        _status(db, k, T0)
    return db


def _status(db, kiosk: str, seen: datetime, *, disk: int = 900, online: bool = True) -> None:
    p = db.param
    db.execute_sql("DELETE FROM kiosk_status WHERE kiosk_id = " + p, (kiosk,))
    db.execute_sql(f"INSERT INTO kiosk_status (kiosk_id, online, last_seen, disk_free_mb, clock_synced, payload)"
                   f" VALUES ({p}, {p}, {p}, {p}, {p}, '{{}}')",
                   (kiosk, online, seen.astimezone(timezone.utc).replace(tzinfo=None), disk, True))


def _told(db) -> tuple[list[tuple[str, str, str]], list[dict]]:
    """What was queued, oldest first: mails as (to, subject, text) and webhook bodies."""
    mails = [tuple(r) for r in db.execute_sql("SELECT to_addr, subject, text_body FROM mail_outbox ORDER BY id")]
    hooks = [json.loads(r[0]) for r in db.execute_sql("SELECT body FROM webhook_delivery ORDER BY id")]
    db.execute_sql("DELETE FROM mail_outbox")
    db.execute_sql("DELETE FROM webhook_delivery")
    return mails, hooks


def test_a_silent_kiosk_is_told_to_its_store_manager_once_and_again_when_it_is_back(chain):
    db = chain
    assert watch(db, T0).flagged == 0                        # the centre starts hearing: nothing to tell
    assert _told(db) == ([], [])
    t1 = T0 + timedelta(hours=2, minutes=30)
    for k in ("k1", "k3", "k4"):
        _status(db, k, t1 - timedelta(minutes=1))            # k2 last heard at T0: 2.5 open hours ago
    told = watch(db, t1)
    assert (told.flagged, told.recovered, told.centre) == (1, 0, None)
    mails, hooks = _told(db)
    [(to, subject, text)] = mails
    assert to == "sara@example.se" and subject == "Kundpuls: kiosk k2 i Store s1: tyst under öppettid"
    assert "Senast hörd: 2026-11-23 13:00 CET" in text and "ström och nätverk" in text
    [hook] = hooks
    assert (hook["event"], hook["site_id"], hook["title"]) == ("kiosk.flagged", "s1",
                                                               "Kundpuls: kiosk k2 at Store s1: silent during opening hours")
    assert watch(db, t1 + timedelta(minutes=5)).flagged == 0 and _told(db) == ([], [])     # told once

    t2 = t1 + timedelta(minutes=10)
    _status(db, "k2", t2 - timedelta(minutes=1))
    _status(db, "k3", t2 - timedelta(minutes=1), disk=12)    # and nils's kiosk's card is nearly full
    told = watch(db, t2)
    assert (told.flagged, told.recovered) == (1, 1)
    mails, hooks = _told(db)
    assert {m[0]: m[1] for m in mails} == {"sara@example.se": "Kundpuls: kiosk k2 i Store s1 fungerar igen",
                                           "nils@example.se": "Kundpuls: kiosk k3 i Store s2: minnekortet nesten fullt:"
                                                              " 12 MB ledig"}
    recovered = next(m[2] for m in mails if m[0] == "sara@example.se")
    assert "den var flaggad: tyst under öppettid" in recovered and "Flaggad sedan: 2026-11-23 15:30 CET" in recovered
    assert sorted(h["event"] for h in hooks) == ["kiosk.flagged", "kiosk.recovered"]

    with db.atomic():
        set_active(db, "k3", False, t2)                      # replaced: its flag goes, nobody is told
    assert watch(db, t2 + timedelta(minutes=5)).recovered == 0 and _told(db) == ([], [])
    assert kiosk_watch.announced(db) == {}


def test_a_deaf_centre_tells_the_admins_once_and_no_store_that_its_kiosk_is_silent(chain):
    db = chain
    watch(db, T0)
    later = T0 + timedelta(hours=3)                          # ingest down since T0: every kiosk silent
    told = watch(db, later)
    assert (told.flagged, told.centre) == (0, "centre.deaf")
    mails, hooks = _told(db)
    assert [(m[0], m[1]) for m in mails] == [("anna@example.se", "Kundpuls: no kiosk heard since 2026-11-23 12:00 UTC")]
    assert [h["event"] for h in hooks] == ["centre.deaf"] and "4 kiosks' stores are open" in hooks[0]["text"]
    assert watch(db, later + timedelta(minutes=5)).centre is None and _told(db) == ([], [])

    back = later + timedelta(minutes=10)
    for k in ("k1", "k2", "k3"):                             # ingest is back; k4 really is off
        _status(db, k, back - timedelta(minutes=1))
    told = watch(db, back)
    assert (told.flagged, told.centre) == (0, "centre.hearing")   # k4 not judged before the others could report
    mails, hooks = _told(db)
    assert [m[1] for m in mails] == ["Kundpuls: the kiosks are heard again"] and [h["event"] for h in hooks] == [
        "centre.hearing"]
    for k in ("k1", "k2", "k3"):
        _status(db, k, back + CENTRE_QUIET)
    told = watch(db, back + CENTRE_QUIET)
    assert (told.flagged, told.centre) == (1, None)
    mails, _hooks = _told(db)
    assert [(m[0], m[1]) for m in mails] == [("nils@example.se", "Kundpuls: kiosk k4 i Store s2: stille i åpningstiden")]


def test_two_workers_at_once_tell_each_change_once(chain):
    """The steps two workers race on, each done twice on the real store: the second finds the
    row no longer what it read, and tells nothing."""
    db = chain
    change = Change("k2", None, "silent", None)
    with db.atomic():
        assert claim(db, change, T0) is True
    with db.atomic():
        assert claim(db, change, T0) is False
    cleared = Change("k2", "silent", None, None)
    with db.atomic():
        assert claim(db, cleared, T0) is True
    with db.atomic():
        assert claim(db, cleared, T0) is False
    first, deaf = Hearing("hearing", T0), Hearing("deaf", T0)
    with db.atomic():
        assert claim_hearing(db, None, first) is True
    with db.atomic():
        assert claim_hearing(db, None, first) is False
    with db.atomic():
        assert claim_hearing(db, first, deaf) is True
    with db.atomic():
        assert claim_hearing(db, first, deaf) is False


def test_the_worker_looks_at_the_fleet_and_delivers_what_it_found_in_the_same_round(central_url, chain, capsys):
    from tests.fixtures.webhooks import Receiver
    db = chain
    receiver = Receiver()
    try:
        db.execute_sql("UPDATE webhook_endpoint SET url = " + db.param, (receiver.url,))
        _status(db, "k1", datetime.now(timezone.utc), disk=12)
        assert main(["--db", central_url, "notify", "run", "--once"]) == 0
        assert "delivered 1 webhook(s)" in capsys.readouterr().out
        [(_headers, body)] = receiver.got
        assert json.loads(body)["event"] == "kiosk.flagged"
        assert main(["--db", central_url, "notify", "run", "--once", "--watch-every", "0"]) == 0
        assert "delivered 0 webhook(s)" in capsys.readouterr().out
    finally:
        receiver.close()
