"""A touch's action is for what it began on (`KioskFlow.seen`): the question touched, the
follow-up open. The flow as pure logic; the real app's held touches are in test_touches.py."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import pytest

from kiosk.ui import flow as F
from kiosk.ui.flow import KioskFlow


@pytest.fixture
def kf(cfg, recorder, clock) -> KioskFlow:
    return KioskFlow(cfg, recorder, clock)


def rows(store, sql):
    return store.db.execute_sql(sql).fetchall()


def test_a_touch_on_one_follow_up_chooses_nothing_on_the_next(kf, store, clock):
    first = kf.answer(1)
    on_first = kf.seen()                               # a finger comes down on a chip
    clock.advance(6)
    second = kf.answer(2, source="button")            # the panel: a new answer, a new follow-up
    assert kf.screen == F.FOLLOWUP and kf.draft.response_id == second.id
    for act in (lambda: kf.choose_reason("price", seen=on_first), lambda: kf.open_comment(seen=on_first),
                lambda: kf.type_text("x", seen=on_first), lambda: kf.send_followup(seen=on_first),
                lambda: kf.skip_followup(seen=on_first)):
        act()
        assert kf.screen == F.FOLLOWUP and kf.draft.response_id == second.id and not kf.draft.has_content()
    kf.choose_reason("price", seen=kf.seen())          # a touch on this follow-up does
    assert rows(store, "SELECT response_id, reasons FROM followup") == [(second.id, '["price"]')]
    assert first.id != second.id


def test_a_touch_from_another_screen_records_no_answer(kf, store, clock):
    on_question = kf.seen()                            # a finger on a face
    clock.advance(6)
    kf.answer(1, source="button")
    assert kf.answer(4, seen=on_question) is None      # the face's lift, now on the follow-up
    assert kf.screen == F.FOLLOWUP and kf.draft.value == 1
    assert rows(store, "SELECT value, source FROM response") == [(1, "button")]


def test_the_question_is_not_switched_under_a_finger(kf, clock, store):
    """The schedule's switch (to the employee pulse at 20:30) waits while a touch is down on the
    question screen; the answer is the touched question's, a customer's."""
    clock.set(datetime(2026, 11, 23, 19, 29, 59, tzinfo=timezone.utc))     # 20:29:59 Stockholm
    kf.tick()
    assert kf.question.id == "visit"
    touched = kf.seen()
    kf.hold(True)
    clock.advance(2)
    kf.tick()
    assert kf.question.id == "visit" and not kf.idle()
    assert kf.answer(4, seen=touched) is not None
    assert rows(store, "SELECT question_id, value FROM response") == [("visit", 4)]
    kf.hold(False)
    clock.advance(kf.cfg.ui.thank_you_s + 0.1)
    kf.tick()
    assert kf.question.id == "pulse"


def test_a_touch_held_too_long_no_longer_holds_the_question_and_then_acts_on_nothing(kf, clock, store):
    clock.set(datetime(2026, 11, 23, 19, 29, 59, tzinfo=timezone.utc))
    kf.tick()
    touched = kf.seen()
    kf.hold(True)
    clock.advance(F.HELD_TOUCH_MAX_S - 0.1)
    kf.hold(True)
    kf.tick()
    assert kf.question.id == "visit"
    clock.advance(0.1)
    kf.hold(True)
    kf.tick()
    assert kf.question.id == "pulse" and kf.idle()
    assert kf.screen_serial != touched.serial         # a new question is a new screen for touches
    assert kf.answer(4, seen=touched) is None
    assert rows(store, "SELECT COUNT(*) FROM response") == [(0,)]


def test_a_config_push_waits_for_the_finger(kf, cfg, recorder):
    kf.hold(True)
    assert not kf.idle()
    kf.hold(False)
    assert kf.idle()
    before = kf.seen()
    kf.reconfigure(cfg, recorder)
    assert kf.seen() != before                         # a touch from before the push acts on nothing
    assert kf.answer(4, seen=before) is None


def test_skip_keeps_chosen_reasons_marked_not_sent(cfg, recorder, clock, store):
    """Where a question takes several reasons, those chosen before Skip are kept (not sent)."""
    q = dataclasses.replace(cfg.questions[0], max_reasons=2)
    kf = KioskFlow(dataclasses.replace(cfg, questions=(q,) + tuple(cfg.questions[1:])), recorder, clock)
    rec = kf.answer(1)
    kf.choose_reason(q.reasons[0])
    kf.skip_followup()
    assert kf.screen == F.THANKS
    assert rows(store, "SELECT response_id, reasons, unsent FROM followup") == [
        (rec.id, json.dumps([q.reasons[0]]), 1)]
