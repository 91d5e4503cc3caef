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
from server_sync.workflow.kiosk_watch import (ADMINS, CLEAR_AFTER, FLAG_AFTER, STORE, Flag, Step, _admin_event,
                                              _for_admins, claim, flags, plan, watch)
from server_sync.workflow.people import set_email
from tests.central.wire import register_fleet

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)      # a Monday, 13:00 in Stockholm: open
PASSWORD = "correct horse battery"
LOOK = timedelta(minutes=5)


def _row(kiosk: str, kind: str | None, *, site: str = "s1", active: bool = True, seen: datetime | None = T0,
         closing: bool = False, online: bool = True) -> dict:
    return {"kiosk_id": kiosk, "site_id": site, "flag_kind": kind, "active": active, "heard_at_closing": closing,
            "online": online, "last_seen": seen.isoformat() if seen else None}


def _flag(kiosk: str, kind: str, since: datetime, *, site: str = "s1", told: str | None = None,
          audience: str | None = STORE, quiet: datetime | None = None, group: int | None = None,
          clear: datetime | None = None) -> Flag:
    return Flag(kiosk, site, kind, since, since, since + FLAG_AFTER, told, since if told else None,
                audience if told else None, quiet, group, clear)


def _ops(steps: list[Step]) -> dict[str, tuple[str, str | None]]:
    return {s.kiosk_id: (s.op, s.audience) for s in steps}


def test_a_flag_is_told_once_it_has_lasted_and_its_return_once_that_has_and_the_kiosk_is_heard():
    now = T0 + timedelta(hours=3)
    heard, unheard = now - timedelta(minutes=1), now - timedelta(minutes=40)
    state = [_flag("new", "disk", now - FLAG_AFTER + timedelta(minutes=1)),
             _flag("due", "disk", now - FLAG_AFTER),
             _flag("told", "disk", T0, told="disk"),
             _flag("clearing", "disk", T0, told="disk", clear=now - CLEAR_AFTER + timedelta(minutes=1)),
             _flag("cleared", "disk", T0, told="disk", clear=now - CLEAR_AFTER),
             _flag("one-status", "silent", T0, told="silent", clear=now - CLEAR_AFTER),
             _flag("blip", "backlog", now - timedelta(minutes=40), clear=now - CLEAR_AFTER),
             _flag("other-kind", "disk", T0, told="disk"),
             _flag("other-kind-lasted", "held", T0, told="disk"),
             _flag("back", "disk", T0, told="disk", clear=now - timedelta(minutes=5)),
             _flag("moved", "disk", T0, told="disk"),
             _flag("off", "disk", T0, told="disk"),
             _flag("removed", "disk", T0, told="disk"),
             _flag("in-turn", "disk", now - FLAG_AFTER)]
    rows = [_row("new", "disk"), _row("due", "disk"), _row("told", "disk"), _row("clearing", None, seen=heard),
            _row("cleared", None, seen=heard), _row("one-status", None, seen=unheard), _row("blip", None, seen=heard),
            _row("other-kind", "held"), _row("other-kind-lasted", "held"), _row("back", "disk"),
            _row("moved", "disk", site="s2"), _row("off", "disk", active=False), _row("fresh", "backlog"),
            _row("in-turn", "held")]
    steps = plan({f.kiosk_id: f for f in state}, rows, now)
    assert [(s.kiosk_id, s.op, s.audience) for s in steps] == [
        ("moved", "drop", None), ("off", "drop", None), ("removed", "drop", None),
        ("due", "tell", STORE), ("cleared", "recover", None), ("blip", "drop", None),
        ("other-kind", "rekind", None),                   # a new kind is told once it has lasted
        ("other-kind-lasted", "tell", STORE), ("back", "back", None), ("moved", "start", None),
        ("fresh", "start", None),
        ("in-turn", "rekind", None), ("in-turn", "tell", STORE)]   # kinds in turn: told as it is now
    # One status of a dying kiosk is no return: "one-status" waits until it is heard.
    assert _ops(plan({"told": state[2]}, [_row("told", None)], now)) == {"told": ("clearing", None)}


def test_many_kiosks_silent_since_the_same_moment_at_several_stores_go_to_the_admins():
    now = T0 + timedelta(hours=3)
    waited = {k: _flag(k, "silent", now - FLAG_AFTER, site="s2" if k == "k2" else "s1") for k in ("k1", "k2", "k3")}
    outage = [_row("k1", "silent", seen=T0), _row("k2", "silent", seen=T0 + timedelta(minutes=4), site="s2"),
              _row("k3", "silent", seen=T0 + timedelta(minutes=9)), _row("k4", None, seen=now)]
    assert _ops(plan(waited, outage, now)) == {"k1": ("tell", ADMINS), "k2": ("tell", ADMINS), "k3": ("tell", ADMINS)}
    # One store's kiosks all silent: its own router or power, for its manager.
    one_store = [dict(r, site_id="s1") for r in outage]
    alone = {k: f if f.site_id == "s1" else _flag(k, "silent", now - FLAG_AFTER) for k, f in waited.items()}
    assert {a for _op, a in _ops(plan(alone, one_store, now)).values()} == {STORE}
    # Two cannot tell a shared cause.
    two = {k: waited[k] for k in ("k1", "k2")}
    assert _ops(plan(two, outage[:2] + [_row("k3", None, seen=now)], now)) == {"k1": ("tell", STORE),
                                                                                "k2": ("tell", STORE)}
    # Kiosks switched off at closing last night (their wills came) are not silent together: three
    # that fail to start the next morning are three stores' to hear of. An outage near closing
    # leaves their statuses "online" (no will reaches a centre that is down): still one cause.
    closing = [dict(r, heard_at_closing=True, online=False) for r in outage[:3]]
    assert {a for _op, a in _ops(plan(waited, closing, now)).values()} == {STORE}
    outage_at_closing = [dict(r, heard_at_closing=True) for r in outage[:3]]
    assert {a for _op, a in _ops(plan(waited, outage_at_closing, now)).values()} == {ADMINS}
    # … but kiosks awake at night in closed stores are, when their silence began at 03:00.
    night = [dict(r, last_seen=(T0 - timedelta(hours=9)).isoformat()) for r in outage[:3]]
    assert {a for _op, a in _ops(plan(waited, night, now)).values()} == {ADMINS}
    # Told a full card before; silent now with the others: the outage's, not its store's.
    card = dict(waited, k1=Flag("k1", "s1", "silent", T0, T0 - timedelta(hours=5), T0, "disk", T0, STORE))
    assert _ops(plan(card, outage, now))["k1"] == ("tell", ADMINS)
    # Never heard from since registered: the admins' matter.
    assert _ops(plan({"k5": _flag("k5", "never", now - FLAG_AFTER)}, [_row("k5", "never", seen=None)], now)) == {
        "k5": ("tell", ADMINS)}
    # A backlog told to its store, then a copied card found (which the fleet ranks first): the
    # store's flag goes on as a backlog, not as over, nor as a twin.
    backlog = {"k6": _flag("k6", "backlog", now - timedelta(hours=1), told="backlog")}
    twin = dict(_row("k6", "twin"), store_flag_kind="backlog")
    assert plan(backlog, [twin], now) == []
    assert _ops(plan({}, [twin], now)) == {"k6": ("start", None)}
    assert [s.kiosk["flag_kind"] for s in plan({}, [twin], now)] == ["backlog"]
    assert plan({}, [dict(twin, store_flag_kind=None)], now) == []
    # A kiosk awaited (to be installed on a later day) loses the flag it had, quietly.
    assert _ops(plan({"k5": _flag("k5", "never", now - FLAG_AFTER, told="never", audience=ADMINS)},
                     [dict(_row("k5", None, seen=None), awaited=True)], now)) == {"k5": ("drop", None)}
    # … but one told as silent is told over at once, to whom it was told: not expected before its
    # day (it was told over only once heard, maybe days later).
    awaited = [dict(_row("k5", None), awaited=True)]
    steps = plan({"k5": _flag("k5", "silent", now - FLAG_AFTER, told="silent")}, awaited, now)
    assert _ops(steps) == {"k5": ("await", None)} and not _for_admins(steps[0])
    steps = plan({"k5": _flag("k5", "silent", now - FLAG_AFTER, told="silent", audience=ADMINS)}, awaited, now)
    assert _ops(steps) == {"k5": ("await", None)} and _admin_event(steps[0]) == "fleet.awaited"


def test_a_silence_told_to_the_admins_goes_to_its_store_once_half_of_its_group_is_back():
    now = T0 + timedelta(hours=4)
    k1 = _flag("k1", "silent", T0, told="silent", audience=ADMINS, quiet=T0, group=3)
    awhile, moment = now - timedelta(minutes=15), now - timedelta(minutes=2)

    def look(k2: datetime, k3: datetime, cleared: datetime | None = awhile, rows_kept: bool = True,
             others: tuple[dict, ...] = ()) -> bool:
        """Whether k1 is handed to its store, k2 and k3 last heard then (T0: silent since k1's
        silence began), their silences kept and gone since `cleared`."""
        told = {"k1": k1}
        if rows_kept:
            told |= {k: _flag(k, "silent", T0, told="silent", audience=ADMINS, quiet=T0, group=3, site=site,
                              clear=None if seen == T0 else cleared) for k, seen, site in (("k2", k2, "s2"), ("k3", k3, "s1"))}
        rows = [_row("k1", "silent", seen=T0), _row("k2", "silent" if k2 == T0 else None, seen=k2, site="s2"),
                _row("k3", "silent" if k3 == T0 else None, seen=k3), *others]
        return ("k1", "unshare") in [(s.kiosk_id, s.op) for s in plan(told, rows, now)]
    heard = now - timedelta(minutes=1)
    assert look(heard, heard)                                    # two of three back a while: its store's
    assert not look(heard, T0)                                   # one of three: still the outage's
    assert not look(heard, heard, cleared=moment)                # just reconnected: not back yet
    blip = now - timedelta(minutes=13)                            # a moment's connection, then silent again
    assert not look(blip, blip)
    assert look(heard, heard, rows_kept=False)                    # their returns told already: back all the same
    # One of the group put off to a later installation day is not expected: as good as back (its
    # own flag is told over: `await`).
    awaited = dict(_row("k3", None, seen=T0), awaited=True)
    told = {k: _flag(k, "silent", T0, told="silent", audience=ADMINS, quiet=T0, group=3, site=site)
            for k, site in (("k1", "s1"), ("k3", "s1"))}
    steps = plan(told, [_row("k1", "silent", seen=T0), _row("k2", None, seen=heard, site="s2"), awaited], now)
    assert _ops(steps) == {"k1": ("unshare", None), "k3": ("await", None)}
    # Kiosks that died on their own at other times are not its group's.
    assert look(heard, heard, others=(_row("k9", "silent", seen=T0 + timedelta(hours=1), site="s9"),
                                      _row("k10", "silent", seen=T0 + timedelta(hours=3), site="s10")))
    # Told alone, as the first of six silent since 03:00 (its store opened first); the others,
    # never told, report again: its store's.
    alone = _flag("k1", "silent", T0, told="silent", audience=ADMINS, quiet=T0, group=6)
    rows = [_row("k1", "silent", seen=T0)] + [_row(f"k{i}", None, seen=heard, site=f"s{i}") for i in range(2, 7)]
    assert _ops(plan({"k1": alone}, rows, now)) == {"k1": ("unshare", None)}


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


def _status(db, kiosk: str, seen: datetime, *, disk: int = 900, refused: str | None = None) -> None:
    p = db.param
    db.execute_sql("DELETE FROM kiosk_status WHERE kiosk_id = " + p, (kiosk,))
    db.execute_sql(f"INSERT INTO kiosk_status (kiosk_id, online, last_seen, disk_free_mb, clock_synced, config_error,"
                   f" payload) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, '{{}}')",
                   (kiosk, True, seen.astimezone(timezone.utc).replace(tzinfo=None), disk, True, refused))


REFUSING: dict[str, str] = {}      # what each kiosk reports refusing of a push, in `_heard`'s statuses


def _heard(db, at: datetime, *kiosks: str) -> None:
    for k in kiosks:
        _status(db, k, at - timedelta(minutes=1), refused=REFUSING.get(k))


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
    assert to == "sara@example.se" and subject == "Kundpuls: kiosk k2 i Store s1: tyst under öppettiden"
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
    assert "den var flaggad: tyst under öppettiden" in text and "Flaggad sedan: 2026-11-23 15:05 CET" in text
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
    # Ingest is back; k4 really is off. Its store hears of it once the others are back.
    back = T0 + timedelta(hours=3, minutes=5)
    looks = _looks(db, back, back + timedelta(hours=1), alive=("k1", "k2", "k3"))
    said = [(at - back, [(m[0], m[1]) for m in mails]) for at, (mails, _hooks) in looks]
    assert said == [
        # the others back for 10 minutes, then k4 still silent 10 minutes on
        (2 * FLAG_AFTER, [("nils@example.se", "Kundpuls: kiosk k4 i Store s2: stille i åpningstiden")]),
        (CLEAR_AFTER, [("anna@example.se", "Kundpuls: kiosks heard again: 3 (stores: 2)")])]


def _twin(db, kiosk: str, at: datetime) -> None:
    """Ingest found a second device answering as `kiosk` at `at` (central.twins)."""
    p = db.param
    db.execute_sql(f"INSERT INTO kiosk_twin (kiosk_id, first_seen_at, last_seen_at, seq, boot_id, other_boot_id)"
                   f" VALUES ({p}, {p}, {p}, 41, 'b2', 'b1') ON CONFLICT (kiosk_id) DO UPDATE SET"
                   " last_seen_at = excluded.last_seen_at", (kiosk, at.replace(tzinfo=None), at.replace(tzinfo=None)))


def test_a_kiosk_two_devices_answer_as_is_told_to_the_admins_and_so_is_its_end(chain):
    """A copied card: both devices have the kiosk's password, so its store cannot end it; the
    admins hear of it at once, with the command that gives the kiosk a new password (the copy is
    then shut out), and again once a day has passed without a second device (`fleet.twin_ended`,
    not "heard again": it never was silent). A sign after that is a new episode."""
    db = chain
    _twin(db, "k3", T0)
    [(at, (mails, hooks))] = _looks(db, T0, T0 + timedelta(hours=1))
    assert at == T0
    [(to, subject, text)] = mails                            # to anna, in English; not to nils, k3's manager
    assert (to, subject) == ("anna@example.se", "Kundpuls: kiosks with two devices answering as one: 1 (stores: 1)")
    assert "k3 (Store s2, last seen 2026-11-23 12:59 CET)" in text, text
    assert "\n    kiosk-central kiosk add k3 --site s2 --rotate-password" in text
    assert [h["event"] for h in hooks] == ["fleet.twin"]
    # No sign of a second device for a day: its end is told.
    later = T0 + timedelta(days=1)
    [(at, (mails, hooks))] = _looks(db, later - LOOK, later + timedelta(hours=1))
    assert at == later
    assert [(m[0], m[1]) for m in mails] == [("anna@example.se", "Kundpuls: kiosks answered by one device again: 1"
                                                                 " (stores: 1)")]
    assert [h["event"] for h in hooks] == ["fleet.twin_ended"] and flags(db) == {}
    # The copy back a week later: told again.
    again = T0 + timedelta(days=7)
    _twin(db, "k3", again)
    [(at, (_mails, hooks))] = _looks(db, again, again + timedelta(minutes=30))
    assert at == again and [h["event"] for h in hooks] == ["fleet.twin"]


def test_a_copied_card_is_the_admins_once_and_the_kiosks_silence_meanwhile_its_stores(chain):
    """The admins change k3's password on hearing of its copy; the kiosk is silent for 4 hours
    until the new one is on it, with the sign of the copy not yet a day old. Its store hears of
    the silence and of its end, once each; the admins hear of the copy once, and of its end."""
    db = chain
    _twin(db, "k3", T0)
    told = _looks(db, T0, T0 + timedelta(hours=4), alive=("k1", "k2", "k4"))
    told += _looks(db, T0 + timedelta(hours=4, minutes=5), T0 + timedelta(days=1, hours=1))
    said = [(m[0], m[1]) for _at, (mails, _hooks) in told for m in mails]
    assert said == [("anna@example.se", "Kundpuls: kiosks with two devices answering as one: 1 (stores: 1)"),
                    ("nils@example.se", "Kundpuls: kiosk k3 i Store s2: stille i åpningstiden"),
                    ("nils@example.se", "Kundpuls: kiosk k3 i Store s2 virker igjen"),
                    ("anna@example.se", "Kundpuls: kiosks answered by one device again: 1 (stores: 1)")], said
    events = [h["event"] for _at, (_mails, hooks) in told for h in hooks]
    assert events == ["fleet.twin", "kiosk.flagged", "kiosk.recovered", "fleet.twin_ended"]


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
    k = {"kiosk_id": "k2", "site_id": "s1", "flag_kind": "silent", "last_seen": T0.isoformat()}
    pending = _flag("k2", "silent", T0)
    told = _flag("k2", "silent", T0, told="silent")
    clearing = _flag("k2", "silent", T0, told="silent", clear=T0)
    for step in (Step("start", "k2", None, k), Step("tell", "k2", pending, k, STORE), Step("clearing", "k2", told, k),
                 Step("back", "k2", clearing, k), Step("clearing", "k2", told, k), Step("recover", "k2", clearing, k)):
        with db.atomic():
            assert claim(db, step, T0) is True, step.op
        with db.atomic():
            assert claim(db, step, T0) is False, step.op
    assert flags(db) == {}


def test_a_kiosk_back_with_a_moments_backlog_is_told_well_again(chain):
    """Told silent, it reconnects reporting its backlog for a look (its outbox not sent yet):
    its return is still told, once it has lasted."""
    db = chain
    _looks(db, T0, T0 + timedelta(hours=2, minutes=15), alive=("k1", "k3", "k4"))   # k2 told to sara
    _told(db)
    back = T0 + timedelta(hours=2, minutes=20)
    _heard(db, back, "k1", "k2", "k3", "k4")
    db.execute_sql("UPDATE kiosk_status SET oldest_unacked_s = 8000 WHERE kiosk_id = 'k2'")
    watch(db, back)
    looks = _looks(db, back + LOOK, back + timedelta(hours=1))
    assert [(when - back, [m[1] for m in mails]) for when, (mails, _h) in looks] == [
        (CLEAR_AFTER + LOOK, ["Kundpuls: kiosk k2 i Store s1 fungerar igen"])]


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


def test_an_upgraded_centre_keeps_what_it_told_of_a_copied_card(chain):
    """m0052 moves a twin told on the store's track (before it, `kiosk_flag`) to `kiosk_twin`: the
    next look tells the admins nothing again and nobody that the kiosk is well (a review)."""
    from server_sync.central.dialect import dialect_of
    from server_sync.central.migrations import m0052_kiosk_twin_told
    db = chain
    p = db.param
    _twin(db, "k3", T0)
    at = T0.replace(tzinfo=None)
    db.execute_sql(f"INSERT INTO kiosk_flag (kiosk_id, site_id, kind, kind_since, seen_since, due_at, told_kind,"
                   f" told_at, audience) VALUES ('k3', 's2', 'twin', {p}, {p}, {p}, 'twin', {p}, 'admins')", (at,) * 4)
    # k1's silence was told to its store, and a copy of its card found since (kind twin, not told yet).
    db.execute_sql(f"INSERT INTO kiosk_flag (kiosk_id, site_id, kind, kind_since, seen_since, due_at, told_kind,"
                   f" told_at, audience) VALUES ('k1', 's1', 'twin', {p}, {p}, {p}, 'silent', {p}, 'store')", (at,) * 4)
    for sql in m0052_kiosk_twin_told.STATEMENTS[2:]:
        db.execute_sql(dialect_of(db).ddl(sql))
    assert set(flags(db)) == {"k1"}
    assert [str(r[0])[:16] for r in db.execute_sql("SELECT told_at FROM kiosk_twin")] == ["2026-11-23 12:00"]
    # No second fleet.twin; the store that was told of k1's silence hears of its return.
    told = _looks(db, T0 + LOOK, T0 + timedelta(hours=2))
    assert [(h["event"], h["title"]) for _at, (_m, hooks) in told for h in hooks] == [("kiosk.recovered", "Kundpuls: kiosk k1 at Store s1 is working again")]


def test_a_copied_card_shut_out_by_deactivating_the_kiosk_is_not_told_again_when_it_is_back(chain):
    """The admins deactivate k3 on hearing of its copy and bring it back with a new password an
    hour later, the sign of the copy not a day old: nothing more is told (a review: told again)."""
    db = chain
    _twin(db, "k3", T0)
    assert [h["event"] for _at, (_m, hooks) in _looks(db, T0, T0 + LOOK) for h in hooks] == ["fleet.twin"]
    set_active(db, "k3", False, (T0 + timedelta(hours=1)).replace(tzinfo=None))
    assert _looks(db, T0 + timedelta(hours=1), T0 + timedelta(hours=2)) == []
    set_active(db, "k3", True, (T0 + timedelta(hours=2)).replace(tzinfo=None))
    assert _looks(db, T0 + timedelta(hours=2, minutes=5), T0 + timedelta(hours=3)) == []


def test_the_admins_list_of_kiosks_put_off_says_each_ones_day():
    """`fleet.awaited` lists each kiosk with the day it is to be installed, in the reader's words."""
    from server_sync.workflow.notices import _kiosk_list
    k = {"kiosk_id": "k3", "site_id": "s1", "site_name": "Åre", "last_seen": "2026-12-01T10:00:00",
         "timezone": "Europe/Stockholm", "installs_on": "2027-01-11"}
    assert _kiosk_list([k], "sv", day=True) == "k3 (Åre, senast hörd 2026-12-01 11:00 CET, installeras 2027-01-11)"
    assert _kiosk_list([k], "en").endswith("11:00 CET)")


def test_a_refused_config_is_not_told_to_the_store():
    """A kiosk that refused a pushed config is flagged in the fleet (`config`), but only whoever
    pushed configs can fix it (docs/notifications.md): to the store it is a kiosk without a flag."""
    now = T0 + timedelta(hours=3)
    row = dict(_row("k1", "config"), store_flag_kind=None)
    assert plan({}, [row], now) == []
    told = _flag("k1", "disk", T0, told="disk")           # its card was told; now only the config is wrong
    assert _ops(plan({"k1": told}, [row], now)) == {"k1": ("clearing", None)}


WHY = "config 3 refused: questions[0].scale: 'smiley5' is not one of: smiley4, nps11"


@pytest.fixture
def refusing():
    REFUSING.clear()
    yield REFUSING
    REFUSING.clear()


def test_a_refused_config_push_is_told_to_the_admins_once_with_its_reason_and_so_is_its_end(chain, refusing):
    """k3 refuses the config pushed to it (it runs its last good one): the admins hear of it at
    the next look, with the kiosk's reason, and its store not (it cannot fix a push); once, however
    long it lasts; a second push refused too is news; the kiosk taking a push is its end."""
    db = chain
    refusing["k3"] = WHY
    [(at, (mails, hooks))] = _looks(db, T0, T0 + timedelta(hours=1))
    assert at == T0
    [(to, subject, text)] = mails                              # anna; not nils, k3's store manager
    assert (to, subject) == ("anna@example.se", "Kundpuls: kiosks that refused the config pushed to them: 1 (stores: 1)")
    assert f"k3 (Store s2, last seen 2026-11-23 12:59 CET)\n    {WHY}" in text, text
    assert "kiosk-central config push" in text
    assert [h["event"] for h in hooks] == ["fleet.config"]
    assert f"k3 (Store s2, last seen 2026-11-23 12:59 CET)\n    {WHY}" in hooks[0]["text"]
    # A corrected push refused as well (another reason): told again.
    refusing["k3"] = WHY.replace("config 3", "config 4")
    [(_at, (mails, hooks))] = _looks(db, T0 + timedelta(hours=1, minutes=5), T0 + timedelta(hours=2))
    assert [m[0] for m in mails] == ["anna@example.se"] and "config 4 refused" in mails[0][2]
    # The next push taken: its end is told, once, to the same people.
    del refusing["k3"]
    back = T0 + timedelta(hours=2, minutes=5)
    [(at, (mails, hooks))] = _looks(db, back, back + timedelta(hours=1))
    assert at == back
    assert [(m[0], m[1]) for m in mails] == [("anna@example.se",
                                              "Kundpuls: kiosks that run a config pushed to them now: 1 (stores: 1)")]
    assert [h["event"] for h in hooks] == ["fleet.config_ended"]


def test_a_refusal_of_a_kiosk_silent_since_is_told_to_the_admins_and_its_silence_to_its_store(chain, refusing):
    """k3 refused a push and then fell silent: the fleet flags it silent (a silence ranks before a
    refused config); the admins still hear of the refusal, the store of the silence."""
    db = chain
    _status(db, "k3", T0, refused=WHY)
    told = _looks(db, T0, T0 + timedelta(hours=3), alive=("k1", "k2", "k4"))
    assert [(m[0], m[1]) for _at, (mails, _h) in told for m in mails] == [
        ("anna@example.se", "Kundpuls: kiosks that refused the config pushed to them: 1 (stores: 1)"),
        ("nils@example.se", "Kundpuls: kiosk k3 i Store s2: stille i åpningstiden")]


def test_a_refused_config_of_a_kiosk_deactivated_goes_quietly_and_two_workers_tell_it_once(chain, refusing):
    db = chain
    refusing["k3"] = WHY
    _heard(db, T0, "k3")
    watch(db, T0)
    watch(db, T0)                                   # a second worker, the same look: nothing more
    assert [h["event"] for h in _told(db)[1]] == ["fleet.config"]
    set_active(db, "k3", False, (T0 + timedelta(hours=1)).replace(tzinfo=None))
    assert _looks(db, T0 + timedelta(hours=1), T0 + timedelta(hours=2)) == []
    # Brought back, still refusing the push: told again (the admins took it out; it is news).
    set_active(db, "k3", True, (T0 + timedelta(hours=2)).replace(tzinfo=None))
    assert [h["event"] for _at, (_m, hooks) in _looks(db, T0 + timedelta(hours=2, minutes=5),
                                                       T0 + timedelta(hours=3)) for h in hooks] == ["fleet.config"]


def test_refusal_plan():
    from server_sync.workflow.kiosk_watch import Refusal, refusal_plan

    def row(kid, refused, active=True):
        return {"kiosk_id": kid, "active": active, "config_refused": refused, "config_error": refused}
    told = [Refusal("same", WHY, T0, None), Refusal("other", WHY, T0, None), Refusal("over", WHY, T0, T0),
            Refusal("fixed", WHY, T0, None), Refusal("off", WHY, T0, None), Refusal("off-over", WHY, T0, T0)]
    kiosks = [row("same", WHY), row("other", "config 4 refused: x"), row("over", WHY), row("fixed", None),
              row("off", WHY, active=False), row("off-over", WHY, active=False), row("new", WHY),
              row("new-off", WHY, active=False), row("fine", None),
              # heard only in a tryout before its day: no news, and not its end either
              dict(row("tryout", None), config_error=WHY)]
    assert refusal_plan(told + [Refusal("tryout", WHY, T0, None)], kiosks) == [
        ("other", "tell", "config 4 refused: x"), ("over", "tell", WHY), ("fixed", "end", None),
        ("off", "quiet", None), ("new", "tell", WHY)]
