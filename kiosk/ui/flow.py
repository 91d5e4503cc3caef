"""What the kiosk screen shows and when: the customer and staff flows as a pure state machine.

`KioskFlow` decides the screen (question, follow-up, comment, thank-you, PIN pad, staff view),
the language, the follow-up draft and the PIN state, and runs every timeout from the injected
clock's monotonic time, so tests move time instead of sleeping. It records through the one
capture path (`Recorder`). It never imports Kivy, never touches a widget and never sleeps; the
app renders its state and calls `tick()` from the Kivy clock.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable

from kiosk.capture import Recorded, Recorder
from kiosk.clock import Clock
from kiosk.config import KioskConfig, Question, asked_question
from kiosk.exc import CaptureError, DiskFull, StoreError
from kiosk.filters import REPEAT
from kiosk.pin import PinGuard, StoredPinLock

log = logging.getLogger(__name__)

QUESTION = "question"
FOLLOWUP = "followup"
COMMENT = "comment"
THANKS = "thanks"
PIN = "pin"
STAFF = "staff"
_MAX_PIN_DIGITS = 12
# A touch this soon after a screen appeared is not meant for it: the second tap of a double tap
# lands 150-250 ms after the first, on whatever the first one brought up (a reason chip where the
# face was). Nobody reads a new screen and chooses on it this fast.
TOUCH_GUARD_S = 0.4
# A touch held on the question screen keeps its question there (no scheduled switch, no pushed
# config) for this long at most: a finger resting on a face is still choosing, a touch held longer
# is a stuck or leaning one, and must not keep the schedule waiting. When the question changes
# after all, the touch no longer acts (`Seen`).
HELD_TOUCH_MAX_S = 10.0
# The PIN pad gives the question back this soon when no PIN is being typed (a corner held by
# chance, a locked pad): the staff gesture must not keep customers from answering.
PIN_UNTOUCHED_S = 8.0
# The question screen and the staff view look this often whether the card is full (a statvfs,
# `LocalStore.full_now`), so that a full card is told before a customer's answer is refused.
CARD_CHECK_S = 5.0


def pin_verdict(guard: PinGuard, entry: str) -> bool:
    """The guard's verdict on a PIN, for `KioskFlow.pin_checked`; False when checking it failed
    in any way. Run off the UI thread (PBKDF2 is slow): the pad must hear a verdict whatever
    happens, or it stays busy, its keys dead and the kiosk never sleeping, until a restart."""
    try:
        return guard.check(entry)
    except Exception:
        log.exception("the PIN check failed: the pad shows the PIN as not accepted")
        return False


@dataclass
class FollowUpDraft:
    """What a customer has chosen so far on the follow-up screen."""
    response_id: str
    question: Question
    value: int
    negative: bool
    reasons: list[str] = field(default_factory=list)
    comment: str = ""

    def has_content(self) -> bool:
        return bool(self.reasons or self.comment.strip())


@dataclass(frozen=True)
class Seen:
    """What a touch beginning now is on (`KioskFlow.seen`): the screen (its `screen_serial`),
    the question shown and the follow-up open. The actions a touch asks for take it, and do
    nothing when the kiosk has moved on meanwhile: a touch acts on what it began on, or not at all."""
    serial: int
    question_id: str
    response_id: str | None


class KioskFlow:
    """The screen state of one kiosk. Single-threaded: call it from the UI thread only."""

    def __init__(self, cfg: KioskConfig, recorder: Recorder, clock: Clock, *,
                 flash: Callable[[int], None] | None = None) -> None:
        self.cfg = cfg
        self.recorder = recorder
        self.clock = clock
        self._flash = flash
        self.screen = QUESTION
        self.language = cfg.default_language
        self.question = self._scheduled_question()
        self.last_value: int | None = None           # the answer the thank-you screen echoes
        self.last_negative = False                   # ... unless it was a complaint
        self.last_recorded: Recorded | None = None
        self.store_problem: StoreError | None = None   # the last answer could not be stored, and why
        self.card_full: StoreError | None = None       # the card is known full (`check_card`)
        self.draft: FollowUpDraft | None = None
        self.pin_guard = self._pin_guard(cfg)
        self.pin_entry = ""
        self.pin_failed = False
        self.pin_checking = False                    # a PIN is being verified (PBKDF2 is slow)
        self.staff_question_id = self._first_staff_question()
        self.revision = 0                            # bumped on every visible change
        self.screen_serial = 0                       # bumped on every screen change, and a new question
        now = self.now_s()
        self._screen_since = now
        self._last_touch = now
        self._corner_since: float | None = None
        self._held_since: float | None = None        # a touch on this screen is down (`hold`)
        self._pad_locked = False                     # the open PIN pad was locked at the last tick
        self._card_checked = now
        self.check_card()

    # -- time ------------------------------------------------------------------------------
    def now_s(self) -> float:
        return self.clock.monotonic_ns() / 1e9

    def _changed(self) -> None:
        self.revision += 1

    def _pin_guard(self, cfg: KioskConfig) -> PinGuard:
        # The lock is kept in the kiosk's database: a power cycle does not lift it.
        return PinGuard(cfg.staff.pin_hash, cfg.staff.max_tries, cfg.staff.lockout_s, monotonic=self.now_s,
                        lock=StoredPinLock(self.recorder.store, wall=lambda: self.clock.now().timestamp()))

    def _go(self, screen: str) -> None:
        self.screen = screen
        self._screen_since = self.now_s()
        self.screen_serial += 1
        self._changed()

    def touched(self) -> None:
        """Any touch on the screen: idle timers start again."""
        self._last_touch = self.now_s()

    def seen(self) -> Seen:
        """What a touch beginning now would act on (the app keeps it with the touch)."""
        return Seen(self.screen_serial, self.question.id, self.draft.response_id if self.draft else None)

    def _stale(self, seen: Seen | None, action: str) -> bool:
        """True (and nothing is to be done) when `seen`, what the asking touch began on, is no
        longer shown; None: not asked by a touch (a physical button, a test)."""
        if seen is None or seen == self.seen():
            return False
        log.info("%s from a touch that began on %s, now %s: ignored", action, seen, self.seen())
        return True

    def hold(self, held: bool) -> None:
        """Whether a touch that began on the current screen is down now (the app says so before
        every `tick`): the question screen keeps its question meanwhile (HELD_TOUCH_MAX_S)."""
        if not held:
            self._held_since = None
        elif self._held_since is None:
            self._held_since = self.now_s()

    def held(self) -> bool:
        """A touch is down on this screen, and not for longer than HELD_TOUCH_MAX_S."""
        return self._held_since is not None and self.now_s() - self._held_since < HELD_TOUCH_MAX_S

    def quiet_for(self) -> float:
        """Seconds since the screen was last touched."""
        return self.now_s() - self._last_touch

    def screen_age(self) -> float:
        """Seconds since the current screen appeared."""
        return self.now_s() - self._screen_since

    def accepts_touch(self) -> bool:
        """Whether a touch beginning now may act on the current screen (see TOUCH_GUARD_S)."""
        return self.screen_age() >= TOUCH_GUARD_S

    def _scheduled_question(self) -> Question:
        return asked_question(self.cfg, self.clock.now(), self.clock.clock_synced())

    def deadline(self) -> float | None:
        """When the current screen times out (monotonic seconds), or None."""
        if self.screen == THANKS:
            return self._screen_since + self.cfg.ui.thank_you_s
        if self.screen in (FOLLOWUP, COMMENT):
            return self._last_touch + self.cfg.followup.idle_timeout_s
        if self.screen == PIN and (not self.pin_entry or self.pin_locked_for() > 0):
            return self._last_touch + PIN_UNTOUCHED_S
        if self.screen in (PIN, STAFF):
            return self._last_touch + self.cfg.staff.idle_s
        return None

    def seconds_left(self) -> int:
        """Whole seconds until the current screen times out (for the visible countdown)."""
        d = self.deadline()
        return 0 if d is None else max(0, math.ceil(d - self.now_s() - 1e-9))

    def check_card(self) -> None:
        """Look whether the card is full now (`LocalStore.full_now`): the staff view and the
        question screen say so (`problem`) before a customer's answer is refused, and stop once
        there is room again (an answer the full card refused is no reason to say so any longer;
        one a failed card refused is, until an answer is stored)."""
        self._card_checked = self.now_s()
        full = self.recorder.store.full_now()
        was = self.problem
        self.card_full = full
        if full is None and isinstance(self.store_problem, DiskFull):
            self.store_problem = None
        if (was is None) != (self.problem is None):
            self._changed()

    def tick(self) -> None:
        """Run due timeouts. Called often from the UI clock; cheap when nothing is due."""
        now = self.now_s()
        if self.screen in (QUESTION, STAFF) and now - self._card_checked >= CARD_CHECK_S:
            self.check_card()
        if self._corner_since is not None and now - self._corner_since >= self.cfg.ui.corner_hold_s:
            self._corner_since = None
            self.open_pin()
            return
        d = self.deadline()
        if d is not None and now >= d:
            if self.screen in (FOLLOWUP, COMMENT):
                self._commit_draft(sent=False)       # what was chosen so far is kept, marked unsent
            self._to_question()
            return
        # The end of a lock is a visible change: the open pad's keys come alive again.
        locked = self.screen == PIN and self.pin_locked_for() > 0
        if self._pad_locked and not locked and self.screen == PIN:
            self._changed()
        self._pad_locked = locked
        if self.screen == QUESTION:
            if (self.language != self.cfg.default_language
                    and now - self._last_touch >= self.cfg.ui.language_reset_s):
                self.language = self.cfg.default_language
                self._changed()
            q = self._scheduled_question()
            # Not under a finger: the answer being given is to the question it is touching.
            if q.id != self.question.id and not self.held():
                self.question = q
                self._go(QUESTION)                   # another question: a touch on the last one no longer acts

    def idle(self) -> bool:
        """On the question screen with nobody mid-gesture (a corner held, a finger on a face):
        a safe moment to change the config."""
        return self.screen == QUESTION and self._corner_since is None and not self.held()

    def reconfigure(self, cfg: KioskConfig, recorder: Recorder) -> None:
        """Switch to a new config (a push from the centre); call only when `idle()`."""
        if cfg.staff != self.cfg.staff:
            self.pin_guard = self._pin_guard(cfg)           # the same stored lock: it stays in force
        self.cfg = cfg
        self.recorder = recorder
        if self.language not in cfg.languages:
            self.language = cfg.default_language
        self.question = self._scheduled_question()
        self.staff_question_id = self._first_staff_question()
        self._go(self.screen)                        # new faces, new question: anew for touches

    def _to_question(self) -> None:
        self.draft = None
        self.pin_entry = ""
        self.pin_failed = False
        self.pin_checking = False                    # a verdict still to come is for a closed pad
        self.question = self._scheduled_question()
        self._go(QUESTION)

    # -- customer --------------------------------------------------------------------------
    def set_language(self, language: str) -> None:
        if language not in self.cfg.languages:
            raise ValueError(f"language {language!r} is not offered on this kiosk")
        self.touched()
        if language != self.language:
            self.language = language
            self._changed()

    def button_value(self, index: int) -> int | None:
        """The answer physical button `index` (0 = most negative) gives on the current question.

        Buttons map one-to-one onto a smiley scale with as many points as there are buttons;
        on other questions (NPS 0-10) they give no answer.
        """
        values = self.question.values
        if not self._on_buttons(self.question) or not 0 <= index < len(values):
            return None
        return values[index]

    def _on_buttons(self, q: Question) -> bool:
        """Whether the panel's buttons map one-to-one onto `q`'s scale (`button_value`)."""
        return len(q.values) == len(self.cfg.gpio.buttons)

    @property
    def problem(self) -> StoreError | None:
        """Why answers are not being stored, for the staff view: the last one was refused (a
        full or failed card) and none has been stored since, or the card is known full."""
        return self.store_problem or self.card_full

    @property
    def not_stored(self) -> bool:
        """The question screen tells customers answers cannot be stored now (`problem`)."""
        return self.problem is not None

    def answer(self, value: int, source: str = "touch", *, seen: Seen | None = None) -> Recorded | None:
        """Record an answer to the current question, then show follow-up or thank-you.
        `seen`: what the touch that gives it began on; nothing is recorded when that question
        (or that screen) is no longer the one shown."""
        if self.screen in (PIN, STAFF) and source != "button":
            return None
        if self._stale(seen, f"answer {value}"):
            return None
        q = self.question
        try:
            rec = self.recorder.record(q.id, value, language=self.language, source=source)
        except StoreError as e:
            # Not stored (a full or failed card): no thank-you, no LED; a short notice on the
            # question screen (`not_stored`) and the staff view says why.
            log.error("answer NOT recorded: %s", e)
            self.store_problem = e
            self._changed()
            return None
        self.last_recorded = rec
        self.store_problem = self.card_full = None   # stored: there was room (looked again in CARD_CHECK_S)
        # Only a stored answer lights its button's LED (touch or button alike): the LED says thanks.
        # An answer no button gives (NPS 0-10) lights none: its place on the scale is no button.
        if self._flash is not None and self._on_buttons(q):
            try:
                self._flash(q.values.index(value))
            except Exception:                        # an LED must never cost an answer
                log.exception("LED flash failed")
        if self.screen in (PIN, STAFF):
            self._changed()                          # the staff view counts it at once
            return rec                               # staff are busy; the LED said thanks
        self.touched()
        if self.draft is not None:
            if rec.filtered == REPEAT:
                # A second press (the same button again, or another within the repeat window)
                # is not counted; the follow-up stays with the answer that is, or the reason
                # given next would go to an answer the centre leaves out, and be lost.
                self._changed()
                return rec
            self._commit_draft(sent=False)           # a new answer ends the previous follow-up
        self.last_value = value
        self.last_negative = q.is_negative(value)
        # An answer not counted (flagged a repeat or a burst) is thanked, not asked why: a reason
        # given to it would go with it, left out of every figure.
        if rec.wants_followup and rec.filtered is None and (q.reasons or q.comment):
            self.draft = FollowUpDraft(rec.id, q, value, q.is_negative(value))
            self._go(FOLLOWUP)
        else:
            self.draft = None
            self._go(THANKS)
        return rec

    def choose_reason(self, code: str, *, seen: Seen | None = None) -> None:
        """One tap: the reason (with a comment typed so far) is sent and the customer thanked.
        Where the question takes several (`max_reasons` > 1) a tap toggles the reason instead,
        up to that many, and Send sends them. `seen` (the follow-up the touch began on), here and
        in every follow-up action: a touch acts on that follow-up only."""
        d = self.draft
        if d is None or code not in d.question.reasons or self._stale(seen, f"reason {code}"):
            return
        self.touched()
        if d.question.max_reasons <= 1:
            d.reasons = [code]
            self.send_followup()
        elif code in d.reasons:
            d.reasons.remove(code)
            self._changed()
        elif len(d.reasons) < d.question.max_reasons:
            d.reasons.append(code)
            self._changed()

    def open_comment(self, *, seen: Seen | None = None) -> None:
        if self.draft is not None and self.draft.question.comment and not self._stale(seen, "comment"):
            self.touched()
            self._go(COMMENT)

    def type_text(self, text: str, *, seen: Seen | None = None) -> None:
        if self.draft is None or self._stale(seen, "typing"):
            return
        self.touched()
        room = self.cfg.followup.max_comment_chars - len(self.draft.comment)
        if room > 0:
            self.draft.comment += text[:room]
            self._changed()

    def backspace(self, *, seen: Seen | None = None) -> None:
        if self.draft is not None and self.draft.comment and not self._stale(seen, "delete"):
            self.touched()
            self.draft.comment = self.draft.comment[:-1]
            self._changed()

    def close_comment(self, *, seen: Seen | None = None) -> None:
        if self.screen == COMMENT and not self._stale(seen, "back"):
            self.touched()
            self._go(FOLLOWUP)

    def send_followup(self, *, seen: Seen | None = None) -> None:
        """Send what was chosen and typed (nothing: nothing is stored) and say thank you; when
        it could not be stored, no thank-you (the thank-you says it is kept) but the question
        screen: with its "not saved" notice when the card refused it, as for an answer; without
        one when the recorder refused it (a reason a config pushed meanwhile no longer has: the
        card is fine, and the notice would send staff looking for a fault)."""
        if not self._stale(seen, "send"):
            self._end_followup(sent=True)

    def skip_followup(self, *, seen: Seen | None = None) -> None:
        """No more questions, thank you. Only Send sends: what was already chosen or written is
        kept, marked not sent, exactly as when the customer walks away (docs/ui.md); with nothing
        chosen or written nothing is stored."""
        if not self._stale(seen, "skip"):
            self._end_followup(sent=False)

    def _end_followup(self, *, sent: bool) -> None:
        stored = self._commit_draft(sent=sent)
        self.draft = None
        self._go(THANKS if stored else QUESTION)

    def _commit_draft(self, *, sent: bool) -> bool:
        """Store the draft; `sent`: the customer pressed send (else they walked away from it).
        False when there was something to store and it was not stored."""
        d, self.draft = self.draft, None
        if d is None or not d.has_content():
            return True
        try:
            self.recorder.record_followup(d.response_id, d.reasons, d.comment.strip() or None, unsent=not sent)
        except CaptureError:
            log.exception("follow-up not recorded")
            return False
        except StoreError as e:
            log.error("follow-up NOT recorded: %s", e)
            self.store_problem = e
            return False
        self.store_problem = self.card_full = None
        return True

    # -- staff -----------------------------------------------------------------------------
    def corner_down(self) -> None:
        if self.screen in (QUESTION, THANKS):
            self._corner_since = self.now_s()

    def corner_up(self) -> None:
        self._corner_since = None

    def open_pin(self) -> None:
        """The staff gesture: corner hold or the panel's two outer buttons."""
        if self.screen in (PIN, STAFF):
            return
        if self.screen in (FOLLOWUP, COMMENT):
            self._commit_draft(sent=False)
        self.draft = None
        self.pin_entry = ""
        self.pin_failed = False
        self.touched()
        self._go(PIN)

    def pin_locked_for(self) -> float:
        return self.pin_guard.locked_for()

    def pin_digit(self, digit: str) -> None:
        if self.screen != PIN or not digit.isdigit() or self.pin_locked_for() > 0:
            return
        self.touched()
        if len(self.pin_entry) < _MAX_PIN_DIGITS:
            self.pin_entry += digit
            self.pin_failed = False
            self._changed()

    def pin_backspace(self) -> None:
        """The last digit typed taken back (a keyboard's Backspace; the pad itself has Clear)."""
        if self.screen != PIN:
            return
        self.touched()
        self.pin_entry = self.pin_entry[:-1]
        self._changed()

    def pin_clear(self) -> None:
        self.touched()
        self.pin_entry = ""
        self._changed()

    def pin_submit(self) -> bool:
        """Check the typed PIN here and now (the app checks it off the UI thread instead)."""
        entry = self.pin_take()
        if entry is None:
            return False
        return self.pin_checked(pin_verdict(self.pin_guard, entry))

    def pin_take(self) -> str | None:
        """Hand over the typed PIN for checking (None: nothing to check now). The pad it was
        typed on is `screen_serial` now: give it to `pin_checked` with the verdict."""
        if self.screen != PIN or self.pin_checking:
            return None
        self.touched()
        entry, self.pin_entry = self.pin_entry, ""
        self._changed()
        if not entry:
            return None
        self.pin_checking = True
        return entry

    def pin_checked(self, ok: bool, pad: int | None = None) -> bool:
        """The verdict on the PIN handed over by `pin_take`; `pad`: the `screen_serial` it was
        typed on. A verdict for a pad closed meanwhile does nothing: the pad open now may be
        checking a PIN of its own."""
        if pad is not None and pad != self.screen_serial:
            log.info("a PIN verdict for a pad closed meanwhile: ignored")
            return False
        self.pin_checking = False
        if ok and self.screen == PIN:
            self.pin_failed = False
            self.staff_question_id = self._first_staff_question()
            self.check_card()                        # what staff must act on is read as it opens
            self._go(STAFF)
            return True
        self.pin_failed = self.screen == PIN and self.pin_guard.enabled and not ok
        self._changed()
        return False

    def cancel(self) -> None:
        """Leave the PIN pad or the staff view."""
        self._to_question()

    def _first_staff_question(self) -> str:
        """The question the staff view opens on: the one shown, unless it is asked of employees
        (whose answers the kiosk shows no figure of, kiosk.stats): then the first customer one."""
        if self.question.audience == "customer":
            return self.question.id
        return next((q.id for q in self.cfg.questions if q.audience == "customer"), self.question.id)

    def next_staff_question(self) -> None:
        self.touched()
        ids = [q.id for q in self.cfg.questions]
        i = ids.index(self.staff_question_id) if self.staff_question_id in ids else -1
        self.staff_question_id = ids[(i + 1) % len(ids)]
        self._changed()
