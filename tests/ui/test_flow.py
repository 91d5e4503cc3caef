"""The kiosk screen flow as pure logic (no Kivy): screens, timeouts on the injected clock,
follow-up drafts, language reset, staff entry and PIN lockout; rows checked in the database."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import pytest

from kiosk import pin, stats
from kiosk.ui import flow as F
from kiosk.ui.flow import KioskFlow
from seeds.demo import DEMO_PIN


@pytest.fixture
def flashes():
    return []


@pytest.fixture
def kf(cfg, recorder, clock, flashes) -> KioskFlow:
    return KioskFlow(cfg, recorder, clock, flash=flashes.append)


def rows(store, sql):
    return store.db.execute_sql(sql).fetchall()


def test_happy_answer_thanks_then_back_after_thank_you_s(kf, clock, cfg, store, flashes):
    assert kf.screen == F.QUESTION and kf.question.id == "visit"
    rec = kf.answer(4)
    assert kf.screen == F.THANKS and flashes == [3]
    assert rows(store, "SELECT value, source, language FROM response") == [(4, "touch", "sv")]
    clock.advance(cfg.ui.thank_you_s - 0.01)
    kf.tick()
    assert kf.screen == F.THANKS
    clock.advance(0.02)
    kf.tick()
    assert kf.screen == F.QUESTION
    assert rec.wants_followup is False


def test_one_tap_on_a_reason_sends_it(kf, store):
    rec = kf.answer(1)
    assert kf.screen == F.FOLLOWUP and kf.draft.negative
    kf.choose_reason("not-a-reason")
    assert kf.screen == F.FOLLOWUP
    kf.choose_reason("price")
    assert kf.screen == F.THANKS and kf.last_negative
    assert rows(store, "SELECT response_id, reasons, comment FROM followup") == [(rec.id, '["price"]', None)]


def test_where_a_question_takes_several_reasons_taps_choose_and_send_sends(cfg, recorder, clock, store):
    """`max_reasons = 2`: a tap toggles a reason, a third is not taken, Send sends the two."""
    q = dataclasses.replace(cfg.questions[0], max_reasons=2)
    kf = KioskFlow(dataclasses.replace(cfg, questions=(q,) + tuple(cfg.questions[1:])), recorder, clock)
    rec = kf.answer(1)
    first, second, third = q.reasons[:3]
    kf.choose_reason(first)
    assert kf.screen == F.FOLLOWUP and kf.draft.reasons == [first]
    kf.choose_reason(second)
    kf.choose_reason(third)                                   # two is the most: not taken
    assert kf.draft.reasons == [first, second]
    kf.choose_reason(first)                                   # a second tap takes it back
    kf.choose_reason(third)
    assert kf.screen == F.FOLLOWUP and kf.draft.reasons == [second, third]
    kf.send_followup()
    assert kf.screen == F.THANKS
    assert rows(store, "SELECT response_id, reasons, unsent FROM followup") == [
        (rec.id, json.dumps([second, third]), 0)]


def test_followup_idle_timeout_keeps_what_was_written(kf, clock, cfg, store):
    rec = kf.answer(1)
    kf.open_comment()
    kf.type_text("kön")
    kf.close_comment()
    clock.advance(cfg.followup.idle_timeout_s - 1)
    kf.tick()
    assert kf.seconds_left() == 1 and kf.screen == F.FOLLOWUP
    clock.advance(1)
    kf.tick()
    assert kf.screen == F.QUESTION
    # Kept, and marked as never sent: the customer walked away (the centre can tell them apart).
    assert rows(store, "SELECT response_id, reasons, comment, unsent FROM followup") == [(rec.id, "[]", "kön", 1)]


def test_only_a_follow_up_the_customer_sent_is_marked_sent(kf, clock, cfg, store):
    a = kf.answer(1)
    kf.choose_reason(kf.draft.question.reasons[0])             # one tap sends it
    clock.advance(max(cfg.ui.thank_you_s, cfg.filters.repeat_window_s) + 0.1)   # the next customer
    kf.tick()
    b = kf.answer(2)
    kf.open_comment()
    kf.type_text("dyrt")
    clock.advance(6)                                          # past the repeat window
    kf.answer(4)                                              # the next customer: b's draft was never sent
    got = dict(rows(store, "SELECT response_id, unsent FROM followup"))
    assert got == {a.id: 0, b.id: 1}


def test_a_happy_answer_is_not_a_complaint(kf):
    kf.answer(4)
    assert kf.screen == F.THANKS and not kf.last_negative


def test_touching_keeps_the_followup_open(kf, clock, cfg):
    kf.answer(2)
    for _ in range(3):
        clock.advance(cfg.followup.idle_timeout_s - 1)
        kf.touched()
        kf.tick()
    assert kf.screen == F.FOLLOWUP


def test_comment_is_capped_scrubbed_and_sent(kf, cfg, store):
    kf.answer(1)
    kf.open_comment()
    assert kf.screen == F.COMMENT
    kf.type_text("ring 070-123 45 67 ")
    kf.type_text("x" * 500)
    assert len(kf.draft.comment) == cfg.followup.max_comment_chars
    kf.backspace()
    kf.close_comment()
    kf.send_followup()
    assert kf.screen == F.THANKS
    (comment,) = rows(store, "SELECT comment FROM followup")[0]
    assert "070" not in comment and comment.startswith("ring")


def test_skip_keeps_what_was_written_marked_not_sent(kf, store, clock):
    """Only Send sends: Skip after a comment keeps it, marked not sent, as walking away does;
    Skip with nothing chosen or written stores nothing."""
    rec = kf.answer(1)
    kf.open_comment()
    kf.type_text("hm")
    kf.close_comment()
    kf.skip_followup()
    assert kf.screen == F.THANKS
    assert rows(store, "SELECT response_id, reasons, comment, unsent FROM followup") == [(rec.id, "[]", "hm", 1)]
    clock.advance(6)
    kf.answer(2)
    kf.skip_followup()
    assert kf.screen == F.THANKS
    assert rows(store, "SELECT COUNT(*) FROM followup") == [(1,)]


def test_new_answer_during_followup_keeps_the_previous_choice(kf, store, clock):
    first = kf.answer(1)
    kf.open_comment()
    kf.type_text("kö")
    clock.advance(6)
    kf.answer(4, source="button")
    assert kf.screen == F.THANKS
    assert rows(store, "SELECT response_id, comment FROM followup") == [(first.id, "kö")]


@pytest.mark.parametrize("again", [1, 4])
def test_a_second_press_during_the_followup_leaves_it_with_the_counted_answer(kf, cfg, store, clock,
                                                                             flashes, again):
    """The same button again (or another) within the repeat window is stored flagged and not
    counted: the follow-up stays open for the answer that is, and the reason given goes to it."""
    first = kf.answer(1, source="button")
    clock.advance(1.0)
    second = kf.answer(again, source="button")
    assert second.filtered == "repeat" and flashes == [0, again - 1]
    assert kf.screen == F.FOLLOWUP and kf.draft.response_id == first.id
    clock.advance(2)
    kf.choose_reason(first_reason := kf.draft.question.reasons[0])
    assert kf.screen == F.THANKS and kf.last_value == 1 and kf.last_negative
    assert rows(store, "SELECT r.value, r.filtered, f.reasons FROM response r "
                       "LEFT JOIN followup f ON f.response_id = r.id ORDER BY r.seq") == [
        (1, None, json.dumps([first_reason])), (again, "repeat", None)]
    summary = stats.staff_summary(cfg, store, clock.now(), "visit")
    assert summary["top_complaints"] == [{"code": first_reason, "n": 1}]


def test_an_answer_not_counted_asks_no_reason(kf, store, clock):
    """A press the repeat filter flags just after a follow-up was sent (the same customer again)
    opened a follow-up of its own: the reason given there went to an answer the staff view and
    the centre leave out, and was lost. It is thanked, not asked why."""
    first = kf.answer(1, source="button")
    kf.choose_reason(kf.draft.question.reasons[0])
    clock.advance(1.0)
    again = kf.answer(2, source="button")
    assert again.filtered == "repeat" and again.wants_followup
    assert kf.screen == F.THANKS and kf.draft is None
    assert rows(store, "SELECT response_id FROM followup") == [(first.id,)]


def test_language_switch_and_reset_after_idle(kf, clock, cfg, store):
    kf.set_language("en")
    kf.answer(4)
    assert rows(store, "SELECT language FROM response") == [("en",)]
    clock.advance(cfg.ui.thank_you_s + 0.1)
    kf.tick()
    clock.advance(cfg.ui.language_reset_s - cfg.ui.thank_you_s - 1)
    kf.tick()
    assert kf.language == "en"
    clock.advance(1.5)
    kf.tick()
    assert kf.language == cfg.default_language
    with pytest.raises(ValueError, match="'de'"):
        kf.set_language("de")


def test_schedule_rotates_the_question(kf, clock):
    assert kf.question.id == "visit"
    clock.set(datetime(2026, 11, 23, 19, 45, tzinfo=timezone.utc))   # 20:45 Stockholm, Monday
    kf.tick()
    assert kf.question.id == "pulse" and kf.question.audience == "employee"


def test_an_unsynced_clock_asks_the_default_customer_question_not_the_schedule(cfg, recorder, clock):
    """A Pi without RTC boots on fake-hwclock's time of its last shutdown: Tuesday 08:55 reads
    as Monday 20:47, the employee pulse's hour. Until the clock syncs its weekday and time say
    nothing: the kiosk asks the default customer question, and follows the schedule once synced."""
    clock.synced = False
    clock.step(datetime(2026, 11, 23, 19, 47, tzinfo=timezone.utc))      # "Monday 20:47"
    kf = KioskFlow(cfg, recorder, clock)
    assert kf.question.id == "visit" and kf.question.audience == "customer"
    clock.advance(60)
    kf.tick()
    assert kf.question.id == "visit"
    kf.answer(4)
    assert rows(recorder.store, "SELECT question_id FROM response") == [("visit",)]
    clock.advance(cfg.ui.thank_you_s + 60)
    kf.tick()
    clock.synced = True                                                   # synced at that time after all:
    kf.tick()                                                             # the schedule applies
    assert kf.question.id == "pulse"


def test_the_staff_view_opens_on_a_customer_question_while_the_pulse_is_asked(kf, clock):
    """The kiosk shows no figure of an employee question (kiosk.stats): opened while the pulse
    is asked, the staff view starts on the customers' question; the pulse is still reachable,
    to say why it shows nothing."""
    clock.set(datetime(2026, 11, 23, 19, 45, tzinfo=timezone.utc))   # 20:45 Stockholm, Monday
    kf.tick()
    assert kf.question.id == "pulse"
    kf.open_pin()
    for d in DEMO_PIN:
        kf.pin_digit(d)
    assert kf.pin_submit()
    assert kf.screen == F.STAFF and kf.staff_question_id == "visit"
    seen = [kf.staff_question_id]
    for _ in range(3):
        kf.next_staff_question()
        seen.append(kf.staff_question_id)
    assert seen == ["visit", "recommend", "pulse", "visit"]


def test_buttons_map_onto_smiley_scales_only(cfg, recorder, clock):
    kf = KioskFlow(cfg, recorder, clock)
    assert [kf.button_value(i) for i in range(4)] == [1, 2, 3, 4]
    assert kf.button_value(4) is None
    kf.question = cfg.question("recommend")
    assert kf.button_value(0) is None


def test_only_an_answer_a_button_gives_lights_a_led(cfg, recorder, clock, panel):
    """An NPS answer given by touch lights no LED: NPS 3 lit the happiest face's, 0 the saddest's
    (its place on the 0-10 scale taken for a button). A smiley answer lights its own button's."""
    kf = KioskFlow(cfg, recorder, clock, flash=panel.flash)
    kf.question = cfg.question("recommend")
    for value in (0, 3, 1, 2):
        clock.advance(6)
        kf.answer(value)
        assert max(panel.led_values()) < 1.0, (value, panel.led_values())    # no flash
    kf.cancel()
    kf.question = cfg.question("visit")
    clock.advance(6)
    kf.answer(3)
    assert panel.led_values() == [0.0, 0.0, 1.0, 0.0]


def test_corner_hold_opens_pin_and_lockout_is_enforced(kf, clock, cfg):
    kf.corner_down()
    clock.advance(cfg.ui.corner_hold_s - 0.1)
    kf.tick()
    assert kf.screen == F.QUESTION
    clock.advance(0.1)
    kf.tick()
    assert kf.screen == F.PIN
    kf.corner_up()
    for _ in range(cfg.staff.max_tries):
        for d in "0000":
            kf.pin_digit(d)
        assert not kf.pin_submit()
    # A short first lock (not staff.lockout_s: customers cannot shut staff out for minutes).
    assert kf.pin_locked_for() == pytest.approx(pin.FIRST_LOCK_S)
    for d in DEMO_PIN:
        kf.pin_digit(d)
    assert kf.pin_entry == "" and not kf.pin_submit() and kf.screen == F.PIN
    clock.advance(pin.FIRST_LOCK_S)
    kf.touched()
    kf.tick()
    for d in DEMO_PIN:
        kf.pin_digit(d)
    assert kf.pin_submit() and kf.screen == F.STAFF


def test_the_open_pad_is_redrawn_when_its_lock_ends(kf, clock, cfg):
    """Staff who wait at the locked pad see it unlock: the end of the lock is a visible change
    (the app redraws the pad on a new revision only), and the right PIN then opens the staff view."""
    kf.open_pin()
    for _ in range(cfg.staff.max_tries):
        for d in "0000":
            kf.pin_digit(d)
        kf.pin_submit()
    lock = kf.pin_locked_for()
    assert lock > 0
    clock.advance(lock - 0.5)
    kf.touched()                                 # staff keep tapping the dead keys
    kf.tick()
    rev = kf.revision
    kf.tick()
    assert kf.revision == rev                    # nothing new while it stays locked
    clock.advance(0.5)
    kf.tick()
    assert kf.pin_locked_for() == 0 and kf.screen == F.PIN
    assert kf.revision > rev                     # unlocked: the pad is drawn anew, keys live again
    rev = kf.revision
    kf.tick()
    assert kf.revision == rev                    # once
    for d in DEMO_PIN:
        kf.pin_digit(d)
    assert kf.pin_submit() and kf.screen == F.STAFF


def test_corner_release_early_cancels(kf, clock, cfg):
    kf.corner_down()
    clock.advance(1)
    kf.corner_up()
    clock.advance(cfg.ui.corner_hold_s)
    kf.tick()
    assert kf.screen == F.QUESTION


def test_staff_view_closes_after_idle_and_buttons_still_count(kf, clock, cfg, store):
    kf.open_pin()
    for d in DEMO_PIN:
        kf.pin_digit(d)
    assert kf.pin_submit()
    assert kf.answer(3, source="touch") is None             # no smileys on the staff screen
    rev = kf.revision
    assert kf.answer(3, source="button") is not None         # the panel's LED already thanked
    assert kf.revision > rev                                  # the staff view re-reads its stats
    assert kf.screen == F.STAFF
    kf.next_staff_question()
    assert kf.staff_question_id == "recommend"
    clock.advance(cfg.staff.idle_s)
    kf.tick()
    assert kf.screen == F.QUESTION
    assert rows(store, "SELECT source FROM response") == [("button",)]


def test_no_pin_configured_never_opens_staff(cfg, recorder, clock):
    from dataclasses import replace
    c = replace(cfg, staff=replace(cfg.staff, pin_hash=""))
    kf = KioskFlow(c, recorder, clock)
    kf.open_pin()
    for d in DEMO_PIN:
        kf.pin_digit(d)
    assert not kf.pin_submit() and kf.screen == F.PIN and not kf.pin_failed


def test_a_keyboard_at_the_pin_pad_types_takes_back_checks_and_cancels(kf):
    """The demo's keyboard at the pad (kiosk.ui.pin_keys): digits, the numeric keypad's too, type
    the PIN; Backspace takes the last one back (only at the pad); Enter and Escape are the pad's."""
    from kiosk.ui.pin_keys import BACK, CANCEL, DIGIT, SUBMIT, pin_pad_action
    assert [pin_pad_action(k, c) for k, c in ((ord("7"), "7"), (263, chr(263)), (13, "\r"), (271, None),
                                              (8, "\b"), (27, "\x1b"))] == [
        (DIGIT, "7"), (DIGIT, "7"), (SUBMIT, ""), (SUBMIT, ""), (BACK, ""), (CANCEL, "")]
    assert pin_pad_action(ord("q"), "q") is None and pin_pad_action(ord("g"), "g") is None
    kf.pin_backspace()
    assert kf.screen == F.QUESTION and kf.pin_entry == ""
    kf.open_pin()
    for d in "129":
        kf.pin_digit(d)
    kf.pin_backspace()
    assert kf.pin_entry == "12"
    kf.pin_backspace(), kf.pin_backspace(), kf.pin_backspace()
    assert kf.pin_entry == "" and kf.screen == F.PIN


def test_pin_checked_off_thread_after_cancel_does_not_open_staff(kf):
    kf.open_pin()
    for d in DEMO_PIN:
        kf.pin_digit(d)
    entry = kf.pin_take()
    assert entry == DEMO_PIN and kf.pin_checking and kf.pin_take() is None
    ok = kf.pin_guard.check(entry)       # what the app's worker thread does
    kf.cancel()
    assert not kf.pin_checked(ok)
    assert kf.screen == F.QUESTION and not kf.pin_checking


def test_a_pin_check_that_fails_is_a_verdict_and_a_closed_pad_checks_nothing(cfg, recorder, clock):
    """A damaged staff.pin_hash (an older kiosk's file) once raised on the worker thread: no
    verdict came and the pad stayed busy, its keys dead, until a restart. Now any failure is a
    PIN not accepted, closing the pad ends its check, and a late verdict for it does nothing."""
    bad = dataclasses.replace(cfg.staff, pin_hash=pin.hash_pin(DEMO_PIN)[:-2])
    kf = KioskFlow(dataclasses.replace(cfg, staff=bad), recorder, clock)
    kf.open_pin()
    for d in DEMO_PIN:
        kf.pin_digit(d)
    assert not kf.pin_submit() and kf.pin_failed and not kf.pin_checking

    class Failing(pin.PinGuard):
        def check(self, entry: str) -> bool:
            raise OSError("the card went away")
    assert F.pin_verdict(Failing(cfg.staff.pin_hash), DEMO_PIN) is False

    kf = KioskFlow(cfg, recorder, clock)
    kf.open_pin()
    for d in DEMO_PIN:
        kf.pin_digit(d)
    entry, pad = kf.pin_take(), kf.screen_serial
    assert entry and kf.pin_checking
    kf.cancel()                          # closed before the verdict came
    assert not kf.pin_checking
    kf.open_pin()
    for d in "5555":
        kf.pin_digit(d)
    assert kf.pin_take() == "5555"       # the new pad checks its own PIN
    assert not kf.pin_checked(F.pin_verdict(kf.pin_guard, entry), pad)
    assert kf.screen == F.PIN and kf.pin_checking      # the late verdict changed nothing
    assert not kf.pin_checked(F.pin_verdict(kf.pin_guard, "5555"), kf.screen_serial)
    assert kf.pin_failed and not kf.pin_checking


def test_empty_pin_is_not_a_wrong_try(kf):
    kf.open_pin()
    assert not kf.pin_submit()
    assert not kf.pin_failed and kf.pin_guard.tries_left == 5


def test_no_touch_acts_in_the_moment_a_screen_appears(kf, clock):
    """The guard time after every screen change: a double tap's second tap (150-250 ms) is not
    taken by the screen the first tap opened; a customer who has read the screen is."""
    clock.advance(5)
    assert kf.accepts_touch()                      # the question screen, shown for a while
    serial = kf.screen_serial
    kf.answer(1)
    assert kf.screen == F.FOLLOWUP and kf.screen_serial == serial + 1
    for after in (0.0, 0.15, 0.18, 0.25):
        clock.advance(after - kf.screen_age())
        assert not kf.accepts_touch(), after
    clock.advance(F.TOUCH_GUARD_S + 0.01 - kf.screen_age())
    assert kf.accepts_touch()
    kf.open_comment()                              # a screen change guards again
    assert not kf.accepts_touch() and kf.screen_serial == serial + 2
    kf.type_text("a")                              # a change on the same screen does not
    clock.advance(F.TOUCH_GUARD_S + 0.01)
    kf.type_text("b")
    assert kf.accepts_touch()


def test_a_pin_pad_nobody_types_on_gives_the_question_back_soon(kf, clock, cfg):
    """A corner held by chance (or a locked pad) keeps customers out for seconds only; a PIN
    being typed keeps the pad for the staff idle time."""
    kf.open_pin()
    clock.advance(F.PIN_UNTOUCHED_S - 0.1)
    kf.tick()
    assert kf.screen == F.PIN
    clock.advance(0.1)
    kf.tick()
    assert kf.screen == F.QUESTION
    kf.open_pin()
    kf.pin_digit("1")
    clock.advance(cfg.staff.idle_s - 1)
    kf.tick()
    assert kf.screen == F.PIN
    for _ in range(cfg.staff.max_tries):        # locked: the question is back soon again
        for d in "0000":
            kf.pin_digit(d)
        kf.pin_submit()
    assert kf.pin_locked_for() > 0
    clock.advance(F.PIN_UNTOUCHED_S)
    kf.tick()
    assert kf.screen == F.QUESTION


def test_wrong_pins_long_ago_are_not_held_against_a_typo(clock):
    """The count of wrong PINs starts again after `lockout_s` without one, as the lock's runs do:
    a customer's four tries on Monday do not lock the pad at a clerk's first typo on Friday."""
    from kiosk.pin import PinGuard, hash_pin
    guard = PinGuard(hash_pin("2468", iterations=1000), max_tries=5, lockout_s=300,
                     monotonic=lambda: clock.monotonic_ns() / 1e9)
    for _ in range(4):
        assert not guard.check("1111")
    assert guard.tries_left == 1 and guard.locked_for() == 0
    clock.advance(299)
    assert guard.tries_left == 1                 # still within lockout_s of the last wrong one
    clock.advance(4 * 86400)
    assert guard.tries_left == 5                 # what the pad shows before the next try
    assert not guard.check("2486")               # the typo
    assert guard.locked_for() == 0 and guard.tries_left == 4
    assert guard.check("2468")


def three_tries_guard(clock) -> pin.PinGuard:
    """A guard of PIN 2468 locking after 3 wrong PINs, for up to 300 s, on the test's clock."""
    return pin.PinGuard(pin.hash_pin("2468", iterations=1000), max_tries=3, lockout_s=300,
                        monotonic=lambda: clock.monotonic_ns() / 1e9)


def locks_of_runs(guard, clock, runs: int, guess_s: float = 0.0) -> list[int]:
    """The lock each run of 3 wrong PINs (`guess_s` apart) brings, the next run as it ends."""
    locks = []
    for _ in range(runs):
        for _ in range(3):
            assert not guard.check("1111")
            clock.advance(guess_s)
        locks.append(round(guard.locked_for()))
        clock.advance(guard.locked_for())
    return locks


def test_the_lock_grows_from_seconds_and_is_forgiven(clock):
    guard = three_tries_guard(clock)
    assert locks_of_runs(guard, clock, 6) == [pin.FIRST_LOCK_S, 30, 60, 120, 240, 300]
    clock.advance(300)                           # a long quiet while: back to a short lock
    assert locks_of_runs(guard, clock, 1) == [pin.FIRST_LOCK_S]
    assert guard.check("2468") and guard.next_lock_s() == pin.FIRST_LOCK_S


def test_a_guesser_who_goes_on_stays_locked_long(clock):
    """The quiet that forgives is counted from the end of the lock: a lock of `lockout_s`
    forgave itself as it ended (counted from the last wrong PIN), and a guesser's locks went
    back to 15 s after each 300."""
    guard = three_tries_guard(clock)
    # A guess every 2 s while the pad takes them, the next run as soon as the lock ends.
    assert locks_of_runs(guard, clock, 9, guess_s=2) == [13, 28, 58, 118, 238, 298, 298, 298, 298]
    clock.advance(299)                           # not quiet for lockout_s since the lock ended
    assert locks_of_runs(guard, clock, 1) == [300]
    clock.advance(300)                           # quiet for lockout_s after it: forgiven
    assert locks_of_runs(guard, clock, 1) == [pin.FIRST_LOCK_S]


def test_a_card_known_full_is_told_before_a_tap_is_lost(cfg, recorder, clock, monkeypatch):
    """Staff and customers hear of a full card from the card itself (a statvfs: at the start,
    every CARD_CHECK_S on the question screen and in the staff view, and as the staff view
    opens), not only after a customer's answer was refused; room again clears it."""
    from kiosk import store as kiosk_store
    from kiosk.exc import DamagedDatabase, DiskFull
    free = {"bytes": 0}
    looked = []
    monkeypatch.setattr(kiosk_store, "free_bytes", lambda path: looked.append(path) or free["bytes"])
    kf = KioskFlow(cfg, recorder, clock)
    assert isinstance(kf.problem, DiskFull) and kf.not_stored            # known at the start
    assert kf.store_problem is None                                       # no answer was lost
    free["bytes"] = 10 ** 9
    clock.advance(F.CARD_CHECK_S)
    kf.tick()
    assert kf.problem is None and not kf.not_stored                       # room again: cleared
    free["bytes"] = 0
    rev, n = kf.revision, len(looked)
    for _ in range(10):                                                   # not a statvfs every frame
        clock.advance(0.1)
        kf.tick()
    assert kf.problem is None and len(looked) == n
    clock.advance(F.CARD_CHECK_S)
    kf.tick()
    assert isinstance(kf.problem, DiskFull) and kf.revision > rev         # redrawn with the notice
    free["bytes"] = 10 ** 9
    kf.open_pin()
    for d in DEMO_PIN:
        kf.pin_digit(d)
    assert kf.pin_submit() and kf.screen == F.STAFF
    assert kf.problem is None                                             # looked as it opened
    free["bytes"] = 0
    clock.advance(F.CARD_CHECK_S)
    kf.tick()
    assert kf.screen == F.STAFF and isinstance(kf.problem, DiskFull)      # and while it is open
    kf.cancel()
    free["bytes"] = 10 ** 9
    for refusal in (DiskFull("full"), DamagedDatabase("damaged")):
        monkeypatch.setattr(recorder, "record", lambda *a, e=refusal, **k: (_ for _ in ()).throw(e))
        clock.advance(F.CARD_CHECK_S)
        kf.tick()
        assert kf.answer(4) is None and kf.problem is refusal
        clock.advance(F.CARD_CHECK_S)
        kf.tick()
        # Room again ends what the full card refused; a failed card's refusal stays till one is stored.
        assert kf.problem is (None if isinstance(refusal, DiskFull) else refusal)
