"""Touches held while the kiosk moves on, run on the real app like tests/ui/scenario.py (real
touches, the mock GPIO pins, FakeClock): a touch acts only on what it began on (docs/ui.md).

- a finger on a reason chip while a panel button starts a new answer: the chip chooses nothing;
- two fingers on two faces at once: neither counts, nor a third while one of them is down;
- a finger on a face while a panel button answers: the button's answer only;
- a face held over the scheduled switch: the question stays until the finger lifts, and the
  answer is the touched question's; held past HELD_TOUCH_MAX_S the question changes and the
  lift records nothing;
- Skip after a written comment: the comment is kept, marked not sent;
- a config pushed while a face is held: applied only after the lift.

Run as `python -m tests.ui.touches --size 800x480 --data DIR --shots DIR --report FILE`
(tests/ui/test_touches.py starts it under Xvfb).
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone

from tests.ui import scenario
from tests.ui.scenario import START as NOON, Scenario, scenario_config_mapping

# Monday 2026-11-23 (Stockholm, UTC+1): 'visit' is asked until 17:00, 'recommend' (NPS)
# 17:00-18:00, 'visit' again, and the employee pulse from 20:30.
BEFORE_NPS = datetime(2026, 11, 23, 15, 59, 58, tzinfo=timezone.utc)
BEFORE_PULSE = datetime(2026, 11, 23, 19, 29, 58, tzinfo=timezone.utc)


def touches_config_mapping() -> dict:
    m = scenario_config_mapping()
    m["schedule"] = [
        {"question": "pulse", "days": ["mon", "tue", "wed", "thu", "fri"], "from": "20:30", "to": "21:30"},
        {"question": "recommend", "days": ["mon"], "from": "17:00", "to": "18:00"},
        {"question": "visit"},
    ]
    return m


class TouchScenario(Scenario):
    def finger(self, widget):
        """A finger put down on `widget` (lift it with `.touch_up()`)."""
        from kivy.tests.common import UnitTestTouch
        self.read_screen()
        x, y = widget.to_window(*widget.center)
        t = UnitTestTouch(x, y)
        t.touch_down()
        return t

    def lift(self, touch):
        touch.touch_up()
        yield from self.frames(2)

    def press_button(self, n: int):
        """Physical button n (1 = most negative) pressed and released through its mock pin."""
        pin = self.pins.pin(self.cfg.gpio.buttons[n - 1])
        self.key(str(n))
        self.clock.advance(0.2)
        yield from self.until(lambda: pin.state == 1)
        yield from self.frames(2)

    def walk_away(self):
        yield from self.advance(self.cfg.followup.idle_timeout_s + 0.1, then="question")

    def thanked(self):
        yield from self.advance(self.cfg.ui.thank_you_s + 0.1, then="question")

    def run(self):
        yield from self.until(lambda: self.app is not None and self.app.sm.current == "question")
        yield from self.frames(3)
        flow = self.app.flow

        # 1. A finger rests on a reason chip; a panel button starts a new answer meanwhile.
        yield from self.gap()
        yield from self.tap(self.find("SmileyButton")[0])
        first = flow.draft.response_id
        chip = [c for c in self.find("ReasonChip") if c.code == "price"][0]
        t = self.finger(chip)
        yield from self.frames(1)
        self.check("chip: pressed", chip.state == "down", chip.state)
        self.clock.advance(6)
        yield from self.press_button(2)
        d = flow.draft
        self.check("chip: the button's answer opens its own follow-up",
                   self.screen() == "followup" and d is not None and d.response_id != first and d.value == 2,
                   (self.screen(), d))
        self.check("chip: the held chip springs back when its follow-up is gone", chip.state == "normal",
                   chip.state)
        yield from self.lift(t)
        self.check("chip: its lift chooses nothing on the new follow-up",
                   self.screen() == "followup" and flow.draft.reasons == [] and not chip.selected,
                   (self.screen(), flow.draft and flow.draft.reasons))
        yield from self.walk_away()

        # 2. Two fingers on two faces at once: neither counts.
        yield from self.gap()
        faces = self.find("SmileyButton")
        n0 = flow.recorder.store.db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0]
        a = self.finger(faces[0])
        b = self.finger(faces[-1])
        yield from self.frames(1)
        self.check("two faces: neither shown pressed", not any(f.pressed for f in faces),
                   [f.pressed for f in faces])
        yield from self.shot("question_two_fingers")
        yield from self.lift(a)
        c = self.finger(faces[2])                  # a third while the second is still down
        yield from self.frames(1)
        self.check("two faces: a third finger while one is down does not count either",
                   not faces[2].pressed, [f.pressed for f in faces])
        yield from self.lift(b)
        yield from self.lift(c)
        n1 = flow.recorder.store.db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0]
        self.check("two faces: nothing recorded, the question stays", n1 == n0 and self.screen() == "question",
                   (n1 - n0, self.screen()))
        yield from self.advance(1)
        yield from self.tap(faces[-1])             # all lifted: the next tap counts
        self.check("two faces: once all are lifted a tap counts", self.screen() == "thanks", self.screen())
        yield from self.thanked()

        # 3. A finger on a face while a panel button answers.
        yield from self.gap()
        faces = self.find("SmileyButton")
        t = self.finger(faces[-1])
        yield from self.frames(1)
        yield from self.press_button(1)
        self.check("face and button: the button's answer opens the follow-up",
                   self.screen() == "followup" and flow.draft.value == 1, self.screen())
        self.check("face and button: the face springs back", not faces[-1].pressed)
        yield from self.lift(t)
        self.check("face and button: the face's lift records nothing, the follow-up stays",
                   self.screen() == "followup" and flow.draft.value == 1, self.screen())
        yield from self.walk_away()

        # 4. A face held over the scheduled switch to the NPS question.
        self.clock.set(BEFORE_NPS)
        yield from self.advance(0.1)
        self.check("switch: 'visit' before 17:00", flow.question.id == "visit", flow.question.id)
        yield from self.advance(1)
        faces = self.find("SmileyButton")
        t = self.finger(faces[-1])
        yield from self.frames(1)
        yield from self.advance(1.5)               # 17:00 passes under the finger
        self.check("switch: the question stays while a face is held",
                   flow.question.id == "visit" and faces[-1].pressed and self.find("SmileyButton") == faces,
                   flow.question.id)
        yield from self.shot("question_held_over_switch")
        yield from self.lift(t)
        rec = flow.last_recorded
        self.check("switch: recorded on the question touched",
                   rec is not None and (rec.question_id, rec.value) == ("visit", 4) and self.screen() == "thanks",
                   (rec, self.screen()))
        yield from self.thanked()
        self.check("switch: then the NPS question", flow.question.id == "recommend", flow.question.id)

        # ... and held past HELD_TOUCH_MAX_S over the switch to the employee pulse.
        from kiosk.ui.flow import HELD_TOUCH_MAX_S
        self.clock.set(BEFORE_PULSE)
        yield from self.advance(0.1)
        yield from self.advance(1)
        self.check("held: 'visit' before 20:30", flow.question.id == "visit", flow.question.id)
        faces = self.find("SmileyButton")
        t = self.finger(faces[-1])
        yield from self.frames(1)
        yield from self.advance(1)
        self.check("held: still 'visit' after 20:30 under the finger", flow.question.id == "visit",
                   flow.question.id)
        yield from self.advance(HELD_TOUCH_MAX_S)
        self.check("held: the pulse once the touch is held too long", flow.question.id == "pulse",
                   flow.question.id)
        self.check("held: the face springs back", not faces[-1].pressed)
        before = flow.last_recorded
        yield from self.lift(t)
        self.check("held: its lift records nothing",
                   flow.last_recorded is before and self.screen() == "question", (flow.last_recorded, self.screen()))

        # 5. Skip after a written comment: kept, marked not sent.
        self.clock.set(NOON)
        yield from self.until(lambda: flow.question.id == "visit")
        yield from self.gap()
        yield from self.tap(self.find("SmileyButton")[0])
        yield from self.tap(self.app.sm.current_screen.ids.comment_button)
        for ch in "kallt":
            yield from self.tap([k for k in self.find("Key") if k.key_value == ch][0])
        back = [b for b in self.find("PillButton") if b.text == self.app.tr("comment_done", self.app.lang)][0]
        yield from self.tap(back)
        yield from self.tap(self.app.sm.current_screen.ids.skip_button)
        self.check("skip after a comment: the thank-you", self.screen() == "thanks", self.screen())
        yield from self.thanked()

        # 6. A config pushed while a face is held: applied after the lift.
        from kiosk.pushed import save_pushed
        from seeds.catalogue import QUESTIONS
        yield from self.gap()
        version = flow.cfg.config_version
        t = self.finger(self.find("SmileyButton")[0])
        yield from self.frames(1)
        save_pushed(self.cfg.data_dir, {"version": 9, "questions": [dict(QUESTIONS["checkout"], version=3)],
                                        "schedule": []})
        yield from self.advance(6)
        yield from self.advance(1)
        self.check("push: not applied while a face is held",
                   flow.cfg.config_version == version and flow.question.id == "visit", flow.question.id)
        yield from self.lift(t)
        rec = flow.last_recorded
        self.check("push: the answer is the touched question's",
                   rec is not None and (rec.question_id, rec.value) == ("visit", 1), rec)
        yield from self.walk_away()
        yield from self.advance(6)
        yield from self.until(lambda: flow.question.id == "checkout")
        self.check("push: applied once the question screen is idle", flow.cfg.config_version == 9,
                   flow.cfg.config_version)


def main(argv: list[str] | None = None) -> int:
    return scenario.main(argv, scenario_class=TouchScenario, mapping=touches_config_mapping, seed=False)


if __name__ == "__main__":
    sys.exit(main())
