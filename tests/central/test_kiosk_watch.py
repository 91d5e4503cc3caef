"""A kiosk that needs a person reaches one: the notify worker's look at the fleet tells the store's
manager (in their language) and every webhook when a kiosk's flag has lasted, once, and again when
it has been gone a while; a flag that comes and goes is told once; many kiosks silent since the same
moment (ingest, the broker or a network down) are told to the admins in one notice and to no store,
and a kiosk still silent once the others are heard again is told to its store then. On SQLite and
PostgreSQL, through the real store, fleet view and notify queue."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from server_sync.central.registry import move_kiosk, set_active
from server_sync.cli import main
from server_sync.notify import queue
from server_sync.web.people import add_user
from server_sync.workflow.kiosk_watch import (ADMINS, CLEAR_AFTER, FLAG_AFTER, STORE, Flag, Step, claim, flags, plan,
                                              watch)
from server_sync.workflow.people import set_email
from tests.central.wire import register_fleet

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)      # a Monday, 13:00 in Stockholm: open
PASSWORD = "correct horse battery"
LOOK = timedelta(minutes=5)


def _row(kiosk: str, kind: str | None, *, site: str = "s1", active: bool = True, seen: datetime | None = T0,
         open_: bool = True) -> dict:
    return {"kiosk_id": kiosk, "site_id": site, "flag_kind": kind, "active": active, "open": open_,
            "last_seen": seen.isoformat() if seen else None}


def _ops(steps: list[Step]) -> dict[str, tuple[str, str | None]]:
    return {s.kiosk_id: (s.op, s.audience) for s in steps}


def test_a_flag_is_told_once_it_has_lasted_and_its_return_once_that_has():
    now = T0 + timedelta(hours=3)
    new = Flag("k1", "s1", "disk", now - FLAG_AFTER + timedelta(minutes=1))
    due = Flag("k2", "s1", "disk", now - FLAG_AFTER)
    told = Flag("k3", "s1", "disk", T0, told_at=T0, audience=STORE)
    clearing = Flag("k4", "s1", "disk", T0, told_at=T0, audience=STORE, clear_since=now - CLEAR_AFTER + timedelta(minutes=1))
    cleared = Flag("k5", "s1", "disk", T0, told_at=T0, audience=STORE, clear_since=now - CLEAR_AFTER)
    untold_gone = Flag("k6", "s1", "disk", T0, clear_since=now - CLEAR_AFTER)
    rekind = Flag("k7", "s1", "disk", T0, told_at=T0, audience=STORE)
    back = Flag("k8", "s1", "disk", T0, told_at=T0, audience=STORE, clear_since=now - timedelta(minutes=5))
    moved = Flag("k9", "s1", "disk", T0, told_at=T0, audience=STORE)
    off = Flag("k10", "s1", "disk", T0, told_at=T0, audience=STORE)
    removed = Flag("gone", "s1", "disk", T0, told_at=T0, audience=STORE)
    state = {f.kiosk_id: f for f in (new, due, told, clearing, cleared, untold_gone, rekind, back, moved, off, removed)}
    rows = [_row("k1", "disk"), _row("k2", "disk"), _row("k3", "disk"), _row("k4", None), _row("k5", None),
            _row("k6", None), _row("k7", "held"), _row("k8", "disk"), _row("k9", "disk", site="s2"),
            _row("k10", "disk", active=False), _row("k11", "backlog")]
    steps = plan(state, rows, now)
    assert _ops(steps) == {"k2": ("tell", STORE), "k5": ("recover", None), "k6": ("drop", None), "k7": ("rekind", None),
                           "k8": ("back", None), "k9": ("start", None), "k10": ("drop", None),
                           "gone": ("drop", None), "k11": ("start", None)}
    assert "k1" not in _ops(steps) and "k3" not in _ops(steps) and "k4" not in _ops(steps)
    # The moved kiosk's flag at its old site goes first; its new site's starts afresh.
    assert [s.op for s in steps if s.kiosk_id == "k9"] == ["drop", "start"]
    assert _ops(plan({"k3": told}, [_row("k3", None)], now)) == {"k3": ("clearing", None)}
    # Not told yet and gone: forgotten once that lasts; back before, it keeps its first sight.
    blip = Flag("k1", "s1", "backlog", now - timedelta(minutes=5))
    assert _ops(plan({"k1": blip}, [_row("k1", None)], now)) == {"k1": ("clearing", None)}
    gap = Flag("k1", "s1", "disk", now - FLAG_AFTER, clear_since=now - timedelta(minutes=5))
    assert [s.op for s in plan({"k1": gap}, [_row("k1", "disk")], now)] == ["back", "tell"]


def test_many_kiosks_silent_since_the_same_moment_go_to_the_admins_and_a_lone_one_to_its_store():
    now = T0 + timedelta(hours=3)
    waited = {k: Flag(k, "s1", "silent", now - FLAG_AFTER) for k in ("k1", "k2", "k3")}
    outage = [_row("k1", "silent", seen=T0), _row("k2", "silent", seen=T0 + timedelta(minutes=4)),
              _row("k3", "silent", seen=T0 + timedelta(minutes=9)), _row("k4", None, seen=now)]
    assert {k: a for k, (_op, a) in _ops(plan(waited, outage, now)).items()} == {"k1": ADMINS, "k2": ADMINS, "k3": ADMINS}
    # Two cannot tell a shared cause; nor do kiosks asleep in closed stores since that time.
    two = {k: waited[k] for k in ("k1", "k2")}
    assert _ops(plan(two, outage[:2] + [_row("k3", None, seen=now)], now)) == {"k1": ("tell", STORE),
                                                                                "k2": ("tell", STORE)}
    asleep = [_row(f"z{i}", None, seen=T0, open_=False) for i in range(5)]
    assert _ops(plan({"k1": waited["k1"]}, [outage[0]] + asleep, now)) == {"k1": ("tell", STORE)}
    # Never heard from since registered: the admins' matter.
    never = {"k5": Flag("k5", "s1", "never", now - FLAG_AFTER)}
    assert _ops(plan(never, [_row("k5", "never", seen=None)], now)) == {"k5": ("tell", ADMINS)}
    # The others heard again, k1 still silent: its own silence now, to be told to its store.
    shared = {"k1": Flag("k1", "s1", "silent", T0, told_at=now, audience=ADMINS)}
    later = now + timedelta(minutes=20)
    assert _ops(plan(shared, [outage[0], _row("k2", None, seen=later), _row("k3", None, seen=later)],
                     later)) == {"k1": ("unshare", None)}
    # … but not while the others sleep, still unheard, in stores that have closed meanwhile.
    closed = [dict(r, open=False) for r in outage[:3]]
    assert "k1" not in _ops(plan(shared, closed, later))


@pytest.fixture
def chain(central_db, quick_password_hashes):
    """s1 (k1, k2: sara, sv) and s2 (k3, k4: nils, nb), open all week all day; anna an admin;
    every kiosk last heard at T0; a JSON webhook endpoint."""
    db = central_db
    register_fleet(db)
    db.execute_sql("UPDATE site SET opening_hours = '{\"0\": [0, 24], \"1\": [0, 24], \"2\": [0, 24], \"3\": [0, 24],"
                   " \"4\": [0, 24], \"5\": [0, 24], \"6\": [0, 24]}'")
    for name, role, lang, sites in (("sara", "store-manager", "sv", ["s1"]), ("nils", "store-manager", "nb", ["s2"]),
                                    ("anna", "admin", "en", [])):
        add_user(db, name, role, sites=sites, language=lang, password=PASSWORD)
        set_email(db, name, f"{name}@example.se")
    queue.add_endpoint(db, "office", "http://127.0.0.1:9/hook", "json", T0)
    for k in ("k1", "k2", "k3", "k4"):
        _status(db, k, T0)
    return db


def _status(db, kiosk: str, seen: datetime, *, disk: int = 900) -> None:
    p = db.param
    db.execute_sql("DELETE FROM kiosk_status WHERE kiosk_id = " + p, (kiosk,))
    db.execute_sql(f"INSERT INTO kiosk_status (kiosk_id, online, last_seen, disk_free_mb, clock_synced, payload)"
                   f" VALUES ({p}, {p}, {p}, {p}, {p}, '{{}}')",
                   (kiosk, True, seen.astimezone(timezone.utc).replace(tzinfo=None), disk, True))


def _heard(db, at: datetime, *kiosks: str) -> None:
    for k in kiosks:
        _status(db, k, at - timedelta(minutes=1))


def _told(db) -> tuple[list[tuple[str, str, str]], list[dict]]:
    """What was queued since the last call, oldest first: mails as (to, subject, text), webhook bodies."""
    mails = [tuple(r) for r in db.execute_sql("SELECT to_addr, subject, text_body FROM mail_outbox ORDER BY id")]
    hooks = [json.loads(r[0]) for r in db.execute_sql("SELECT body FROM webhook_delivery ORDER BY id")]
    db.execute_sql("DELETE FROM mail_outbox")
    db.execute_sql("DELETE FROM webhook_delivery")
    return mails, hooks


def _looks(db, start: datetime, end: datetime, alive=("k1", "k2", "k3", "k4")) -> list:
    """A look every 5 minutes from `start` to `end`, the `alive` kiosks reporting before each;
    what each look told (mails, webhooks), the empty ones left out."""
    out, at = [], start
    while at <= end:
        _heard(db, at, *alive)
        watch(db, at)
        told = _told(db)
        if told != ([], []):
            out.append((at, told))
        at += LOOK
    return out


def test_a_silent_kiosk_is_told_to_its_store_manager_once_and_again_when_it_has_been_back_a_while(chain):
    db = chain
    # k2 goes silent at T0 (13:00 in Stockholm); flagged over 2 open hours later (the look at
    # 2:05), told once that has lasted 10 minutes.
    [(at, (mails, hooks))] = _looks(db, T0, T0 + timedelta(hours=3), alive=("k1", "k3", "k4"))
    assert at == T0 + timedelta(hours=2, minutes=15)
    [(to, subject, text)] = mails
    assert to == "sara@example.se" and subject == "Kundpuls: kiosk k2 i Store s1: tyst under öppettid"
    assert "Senast hörd: 2026-11-23 13:00 CET" in text and "ström och nätverk" in text
    [hook] = hooks
    assert (hook["event"], hook["site_id"], hook["title"]) == ("kiosk.flagged", "s1",
                                                               "Kundpuls: kiosk k2 at Store s1: silent during opening hours")
    # Back at 15:05 UTC: told 30 minutes later, once, to the same people.
    back = T0 + timedelta(hours=3, minutes=5)
    [(at, (mails, hooks))] = _looks(db, back, back + timedelta(hours=2))
    assert at == back + CLEAR_AFTER
    [(to, subject, text)] = mails
    assert (to, subject) == ("sara@example.se", "Kundpuls: kiosk k2 i Store s1 fungerar igen")
    assert "den var flaggad: tyst under öppettid" in text and "Flaggad sedan: 2026-11-23 15:15 CET" in text
    assert [h["event"] for h in hooks] == ["kiosk.recovered"] and flags(db) == {}


def test_a_card_hovering_at_the_limit_is_told_once_and_a_short_backlog_not_at_all(chain):
    db = chain
    at, told = T0, []
    for i in range(24):                          # two hours, 49 and 51 MB in turn
        _heard(db, at, "k1", "k2", "k4")
        _status(db, "k3", at - timedelta(minutes=1), disk=49 if i % 2 == 0 else 51)
        watch(db, at)
        told += _told(db)[0]
        at += LOOK
    assert [(m[0], m[1]) for m in told] == [("nils@example.se",
                                             "Kundpuls: kiosk k3 i Store s2: minnekortet nesten fullt (49 MB ledig)")]
    # A kiosk back from a long outage reports its backlog for a moment: never told. The card,
    # above the limit since 13:55, is told well again half an hour later.
    db.execute_sql("UPDATE kiosk_status SET oldest_unacked_s = 3 * 3600 WHERE kiosk_id = 'k1'")
    watch(db, at)
    assert flags(db)["k1"].told_at is None
    looks = _looks(db, at + LOOK, at + timedelta(hours=1))
    assert [(when - at, [(m[0], m[1]) for m in mails]) for when, (mails, _h) in looks] == [
        (timedelta(minutes=25), [("nils@example.se", "Kundpuls: kiosk k3 i Store s2 virker igjen")])]
    assert flags(db) == {}


def test_an_outage_is_told_to_the_admins_once_and_a_kiosk_still_silent_after_it_to_its_store(chain):
    db = chain
    # Ingest is down from T0 for 3 hours: every kiosk silent since the same moment.
    looks = _looks(db, T0, T0 + timedelta(hours=3), alive=())
    [(at, (mails, hooks))] = looks
    assert at == T0 + timedelta(hours=2, minutes=15)
    [(to, subject, text)] = mails
    assert (to, subject) == ("anna@example.se", "Kundpuls: kiosks silent since about the same time: 4 (stores: 2)")
    assert "k4 (Store s2, last seen 2026-11-23 13:00 CET)" in text
    assert [h["event"] for h in hooks] == ["fleet.silent"]
    # Ingest is back; k4 really is off. Its store hears of it once the others are heard again.
    back = T0 + timedelta(hours=3, minutes=5)
    looks = _looks(db, back, back + timedelta(hours=1), alive=("k1", "k2", "k3"))
    said = [(at - back, [(m[0], m[1]) for m in mails]) for at, (mails, _hooks) in looks]
    assert said == [
        (FLAG_AFTER, [("nils@example.se", "Kundpuls: kiosk k4 i Store s2: stille i åpningstiden")]),
        (CLEAR_AFTER, [("anna@example.se", "Kundpuls: kiosks heard again: 3 (stores: 2)")])]


def test_the_central_server_down_tells_nobody_when_the_kiosks_come_back_within_minutes(chain):
    """Ingest and the notify worker down together for 3 hours: the first look after it finds the
    kiosks that have not reported yet flagged; they report before the flag has lasted."""
    db = chain
    watch(db, T0)
    restart = T0 + timedelta(hours=3)
    _heard(db, restart, "k1")
    assert watch(db, restart).flagged == 0
    assert _looks(db, restart + LOOK, restart + timedelta(hours=1)) == [] and flags(db) == {}


def test_a_deactivated_or_moved_kiosk_is_not_told_to_the_wrong_store(chain):
    db = chain
    _looks(db, T0, T0 + timedelta(hours=2, minutes=15), alive=("k1", "k3", "k4"))   # k2 told to sara
    assert flags(db)["k2"].audience == STORE
    with db.atomic():
        set_active(db, "k2", False, T0)
    at = T0 + timedelta(hours=3)
    assert watch(db, at).recovered == 0 and _told(db) == ([], []) and flags(db) == {}
    with db.atomic():
        set_active(db, "k2", True, at)
        move_kiosk(db, "k2", "s2", at.replace(tzinfo=None))
    # Brought back and moved to s2 at 15:00: silent from then, not from its last status weeks
    # ago (it may have been in a box meanwhile); told to nils once that lasts, sara never.
    looks = _looks(db, at, at + timedelta(hours=3), alive=("k1", "k3", "k4"))
    assert [(when - at, [(m[0], m[1]) for m in mails]) for when, (mails, _h) in looks] == [
        (timedelta(hours=2, minutes=15), [("nils@example.se", "Kundpuls: kiosk k2 i Store s2: stille i åpningstiden")])]


def test_a_site_whose_hours_cannot_be_read_leaves_the_others_watched(chain, caplog):
    db = chain
    db.execute_sql("UPDATE site SET opening_hours = '{\"9\": [8, 20]}' WHERE id = 's2'")
    _status(db, "k1", T0, disk=12)
    watch(db, T0)
    told = watch(db, T0 + FLAG_AFTER)
    assert told.flagged == 1 and told.unreadable == ["s2"]
    assert "kiosks of site s2 not watched: the stored opening_hours of site s2" in caplog.text


def test_two_workers_at_once_tell_each_change_once(chain):
    """Each step two workers race on, done twice on the real store: the second finds the row no
    longer what it decided on, and tells nothing."""
    db = chain
    k = {"kiosk_id": "k2", "site_id": "s1", "flag_kind": "silent"}
    start = Step("start", "k2", None, k)
    pending = Flag("k2", "s1", "silent", T0)
    told = Flag("k2", "s1", "silent", T0, told_at=T0, audience=STORE)
    clearing = Flag("k2", "s1", "silent", T0, told_at=T0, audience=STORE, clear_since=T0)
    for step in (start, Step("tell", "k2", pending, k, STORE), Step("clearing", "k2", told, k),
                 Step("back", "k2", clearing, k), Step("clearing", "k2", told, k), Step("recover", "k2", clearing, k)):
        with db.atomic():
            assert claim(db, step, T0) is True, step.op
        with db.atomic():
            assert claim(db, step, T0) is False, step.op
    assert flags(db) == {}


def test_the_worker_looks_at_the_fleet_and_delivers_what_it_found_in_the_same_round(central_url, chain, capsys):
    from tests.fixtures.webhooks import Receiver
    db = chain
    receiver = Receiver()
    try:
        db.execute_sql("UPDATE webhook_endpoint SET url = " + db.param, (receiver.url,))
        now = datetime.now(timezone.utc)
        _status(db, "k1", now, disk=12)
        with db.atomic():                       # the look 10 minutes ago saw the card
            claim(db, Step("start", "k1", None, {"kiosk_id": "k1", "site_id": "s1", "flag_kind": "disk"}),
                  now - FLAG_AFTER)
        assert main(["--db", central_url, "notify", "run", "--once", "--watch-every", "0"]) == 0
        assert "delivered 0 webhook(s)" in capsys.readouterr().out
        assert main(["--db", central_url, "notify", "run", "--once"]) == 0
        assert "delivered 1 webhook(s)" in capsys.readouterr().out
        [(_headers, body)] = receiver.got
        assert json.loads(body)["event"] == "kiosk.flagged"
    finally:
        receiver.close()
