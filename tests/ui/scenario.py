"""The scripted UI scenario: runs the real kiosk app (`run_app`) in this process on the current
display and walks every flow with real touches, key presses and the mock GPIO pins.

Run as `python -m tests.ui.scenario --size 800x480 --data DIR --shots DIR --report FILE`
(tests/ui/test_app.py starts one per resolution under Xvfb). Time moves only through the
injected FakeClock (`clock.advance`), never by sleeping; the scenario waits for frames.
Every screen is photographed in every language; the layout of each is checked.
It writes a JSON report; the pytest side asserts on it and on the rows in the database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from datetime import datetime, timedelta, timezone
from pathlib import Path

# One scripted history: Monday 2026-11-23; the app starts at 12:00 Stockholm (11:00 UTC).
START = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)
NPS_AT = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)      # 17:00 local: NPS question
PULSE_AT = datetime(2026, 11, 23, 19, 45, tzinfo=timezone.utc)   # 20:45 local: staff pulse
AFTER_PULSE = datetime(2026, 11, 23, 20, 35, tzinfo=timezone.utc)  # 21:35 local: 'visit' again
STAFF_PIN = "1234"
SEED_COMMENTS = ("Lång kö i kassan", "Trevlig personal men för få i tjänst", "Hittade inte mjölken",
                 "Kassan stängde när jag kom")
PHONE_COMMENT = "Ring mig på 070-123 45 67, kön var alldeles för lång"
SPIN_FRAMES = 10      # frames a wait runs flat out before it sleeps between them
WAIT_SLEEP_S = 0.005
READ_S = 0.6          # the least time a person takes between a new screen and a tap on it
# Typed on the on-screen keyboard, with each language's own letter; "2" is typed, deleted, retyped.
COMMENT = {"sv": "kö 2", "nb": "kø 2", "en": "ok 2"}
# A site alert as the centre words it in each language (protocol.ALERT_TEXT_SINCE).
DIP_WORDING = {
    "sv": "”Hur var besöket?”: Nöjdindex 41,3 under dagen fram till larmet, 22,5 poäng under butikens vanliga 63,8 "
          "(n=38, p = 0,003); ”Kö och väntetid” angavs i 14 av 22 skäl vid uppföljning (vanligen 31\u00a0%)",
    "nb": "«Hvordan var besøket?»: Fornøydindeks 41,3 i løpet av dagen fram til varselet, 22,5 poeng under "
          "butikkens vanlige 63,8 (n=38, p = 0,003); «Kø og ventetid» oppgitt i 14 av 22 årsaker i oppfølgingen "
          "(vanligvis 31\u00a0%)",
    "en": "“How was your visit?” Happy Index 41.3 over the day up to the alert, 22.5 points below the site's usual "
          "63.8 (n=38, p = 0.003); “Queue and waiting time” cited in 14 of 22 follow-up reasons (usually 31%)"}
ALERT_WORDING = {
    "sv": "”Hur var besöket?”: Nöjdindex 12,0 poäng lägre i dag än de senaste 28 dagarna under samma timmar "
          "(n=41, p = 0,004)",
    "nb": "«Hvordan var besøket?»: Fornøydindeks 12,0 poeng lavere i dag enn de siste 28 dagene i de samme "
          "timene (n=41, p = 0,004)",
    "en": "“How was your visit?” Happy Index down 12.0 points today against the last 28 days over the same "
          "hours (n=41, p = 0.004)"}


def scenario_config_mapping() -> dict:
    """The demo config plus an NPS slot in the afternoon, so every screen is reachable."""
    from seeds.demo import demo_config_mapping
    m = demo_config_mapping()
    m["schedule"] = [
        {"question": "pulse", "days": ["mon", "tue", "wed", "thu", "fri"], "from": "20:30", "to": "21:30"},
        {"question": "recommend", "days": ["mon"], "from": "17:00", "to": "20:30"},
        {"question": "visit"},
    ]
    m["ui"] = {"fullscreen": False}
    return m


SMILEY5 = {
    "id": "visit5", "version": 1, "scale": "smiley5", "audience": "customer",
    "text": {"sv": "Hur nöjd är du med ditt besök?", "nb": "Hvor fornøyd er du med besøket?",
             "en": "How happy are you with your visit?"},
    "reasons": ["queue", "staff", "availability", "price"], "max_reasons": 2, "comment": True,
}


def smiley5_config_mapping() -> dict:
    """A five-face kiosk: one smiley5 question and five buttons with their LEDs."""
    m = scenario_config_mapping()
    m["questions"] = [dict(SMILEY5)]
    m["schedule"] = [{"question": "visit5"}]
    m["gpio"] = {"buttons": [5, 6, 13, 19, 26], "leds": [12, 16, 20, 21, 25]}
    return m


def seed_history(cfg, store) -> None:
    """Eight days of simulated answers (source 'simulate') so the staff view has content."""
    import random
    from kiosk.capture import Recorder
    from kiosk.clock import FakeClock
    rng = random.Random(7)
    # Recorded during an earlier boot: its monotonic timeline is not the app's.
    c = FakeClock(START - timedelta(days=8), boot_id="11111111-1111-4111-8111-111111111111")
    rec = Recorder(cfg, store, c)
    for day in range(8):
        base = (START - timedelta(days=8 - day)).replace(hour=7, minute=0)
        c.set(base)
        for _ in range(40):
            c.advance(rng.uniform(300, 1100))
            if c.now().hour >= 20:
                break
            q = cfg.questions[0]                 # 'visit', or 'visit5' on the five-face kiosk
            weights = [1, 2, 5, 7] if len(q.values) == 4 else [1, 2, 3, 5, 7]
            r = rec.record(q.id, rng.choices(q.values, weights)[0], language="sv", source="simulate")
            if q.is_negative(r.value) and rng.random() < 0.7:
                # Why: the queue most often, then price, then the rest.
                why = rng.choices(q.reasons, [5, 1, 1, 3, 1, 1][:len(q.reasons)])[0]
                rec.record_followup(r.id, [why], rng.choice(SEED_COMMENTS) if rng.random() < 0.3 else None)
            if rng.random() < 0.3 and any(x.id == "recommend" for x in cfg.questions):
                c.advance(30)
                rec.record("recommend", rng.choice(range(11)), language="sv", source="simulate")
    c.set(START - timedelta(hours=2))
    rec.record(cfg.questions[0].id, cfg.questions[0].values[-1], source="simulate")
    # The latest comment carries a phone number: the kiosk scrubs it when it is recorded.
    c.advance(60)
    r = rec.record(cfg.questions[0].id, cfg.questions[0].values[0], language="sv", source="simulate")
    rec.record_followup(r.id, [cfg.questions[0].reasons[0]], PHONE_COMMENT)
    store.set_meta("sync.connected", "0")
    store.set_meta("sync.last_ack_at", "2026-11-23T10:40:00.000Z")
    store.set_meta("site.alerts", json.dumps([
        {"id": "a1", "site_id": cfg.site_id, "raised_at": "2026-11-23T09:00:00Z", "kind": "trend",
         "message": "'visit' happy_index down 12.0 points today against the last 28 days",
         "text": ALERT_WORDING},
        # An earlier one, a dip with a complaint (the longest kind), worded by the centre as it
        # words one (report.alert_text) for a site whose kiosks all read wording; one it sent
        # only in English shows that (tests/ui/test_locale.py).
        {"id": "a0", "site_id": cfg.site_id, "raised_at": "2026-11-23T08:15:00Z", "kind": "realtime",
         "message": DIP_WORDING["en"], "text": DIP_WORDING}]))


# Comments as long as customers write them (more than the staff view's COMMENT_CHARS), one a
# single long word: recorded just before the staff visits, so the view shows them as the latest.
LONG_COMMENTS = ("Kassan var stängd i över tjugo minuter och ingen personal fanns att fråga om hjälp",
                 "Självutcheckningskassornafungeradeinteallsidagheller",
                 "Personalen var trevlig men alldeles för få i tjänst på eftermiddagen när det var mest folk")


def seed_long_comments(cfg, store, now: datetime) -> None:
    """Three long comments on today's answers, newest last (an earlier boot's recorder)."""
    from kiosk.capture import Recorder
    from kiosk.clock import FakeClock
    c = FakeClock(now - timedelta(hours=3), boot_id="22222222-2222-4222-8222-222222222222")
    rec = Recorder(cfg, store, c)
    for text in LONG_COMMENTS:
        c.advance(120)
        r = rec.record(cfg.questions[0].id, cfg.questions[0].values[0], language="sv", source="simulate")
        rec.record_followup(r.id, [cfg.questions[0].reasons[0]], text)


def seed_staff_notes(cfg, store) -> None:
    """Both notes under the staff view's trend, its fullest panel: the question was on four
    faces until three days ago (answers on an earlier scale), and this morning's presses came
    too quick after another (not counted). Recorded during earlier boots."""
    from kiosk.capture import Recorder
    from kiosk.clock import FakeClock
    from kiosk.config import parse_config
    q = cfg.questions[0]
    m = smiley5_config_mapping()
    m["questions"] = [dict(SMILEY5, scale="smiley4")]
    m["gpio"] = {"buttons": [5, 6, 13, 19], "leds": [12, 16, 20, 21]}
    four = parse_config(m).with_data_dir(cfg.data_dir)
    c = FakeClock(START - timedelta(days=3), boot_id="55555555-5555-4555-8555-555555555555")
    rec = Recorder(four, store, c)
    for value in (4, 3, 4, 1, 4, 2, 4):
        c.advance(600)
        rec.record(q.id, value, language="sv", source="simulate")
    c = FakeClock(START - timedelta(hours=1), boot_id="66666666-6666-4666-8666-666666666666")
    rec = Recorder(cfg, store, c)
    for _ in range(4):
        c.advance(1)
        rec.record(q.id, q.values[-1], language="sv", source="simulate")


def in_one_row(buttons) -> bool:
    """Answer buttons side by side on one line, their values rising from left to right."""
    ys = {round(b.to_window(*b.pos)[1]) for b in buttons}
    xs = [b.to_window(*b.pos)[0] for b in sorted(buttons, key=lambda b: b.value)]
    return len(ys) == 1 and xs == sorted(xs)


class Scenario:
    def __init__(self, app_size: tuple[int, int], shots: Path, clock, pin_factory, cfg,
                 variant: str = "smiley4") -> None:
        self.variant = variant
        self.size = app_size
        self.res = f"{app_size[0]}x{app_size[1]}"
        self.shots = shots
        self.clock = clock
        self.pins = pin_factory
        self.cfg = cfg
        self.checks: list[dict] = []
        self.layout: list[dict] = []
        self.screens: list[str] = []
        self.timings: dict[str, float] = {}
        self.double_taps: list[str] = []      # response ids answered with a double tap

    # -- plumbing --------------------------------------------------------------------------
    @property
    def app(self):
        from kivy.app import App
        return App.get_running_app()

    def check(self, name: str, ok: bool, detail: object = "") -> bool:
        self.checks.append({"name": name, "ok": bool(ok), "detail": str(detail)})
        return bool(ok)

    def frames(self, n: int = 1):
        for _ in range(n):
            yield "frame"

    def until(self, cond, timeout_s: float = 3.0):
        """Pump frames until `cond()` holds (or a real-time safety limit passes)."""
        end = time.perf_counter() + timeout_s
        spins = 0
        while time.perf_counter() < end:
            if cond():
                return
            yield "frame"
            spins += 1
            if spins > SPIN_FRAMES:
                # Waiting on real time (a hold timer, a thread): frames come as fast as they
                # render, so a wait would otherwise take a whole core from the other tests.
                time.sleep(WAIT_SLEEP_S)
        self.check(f"waited in vain ({traceback.extract_stack(limit=3)[0].lineno})", False, self.screen())

    def screen(self) -> str:
        """The screen really shown: a switch completes on the next frame."""
        sm = self.app.sm
        cur = sm.current_screen
        if cur is None or cur.name != sm.current or sm.transition.is_active or cur.parent is None:
            return "switching"
        return cur.name

    def find(self, cls_name: str, root=None, **attrs):
        from tests.ui.layoutcheck import walk
        root = root or self.app.sm.current_screen
        out = [w for w in walk(root) if type(w).__name__ == cls_name
               and all(getattr(w, k, None) == v for k, v in attrs.items())]
        out.sort(key=lambda w: (-w.to_window(*w.center)[1], w.to_window(*w.center)[0]))
        return out


    def meshes_kept_as_lists(self) -> list[tuple[str, int]]:
        """(widget class, vertex count) of every Mesh in the kept screens whose vertices or
        indices are a Python list: Kivy keeps the object it was given for the mesh's life, at
        32 bytes a number instead of 4 (docs/ui.md, memory)."""
        from kivy.graphics import Mesh
        from tests.ui.layoutcheck import walk
        found: list[tuple[str, int]] = []

        def visit(group, owner: str) -> None:
            for ins in getattr(group, "children", None) or ():
                if isinstance(ins, Mesh) and (isinstance(ins.vertices, list) or isinstance(ins.indices, list)):
                    found.append((owner, len(ins.vertices) // 4))
                visit(ins, owner)
        for screen in self.app.sm.screens:
            for w in walk(screen):
                for canvas in (w.canvas.before, w.canvas, w.canvas.after):
                    visit(canvas, type(w).__name__)
        return found
    def tap(self, widget, hold_frames: int = 0):
        from kivy.tests.common import UnitTestTouch
        # A screen switch completes on the next frame; touch only what is really on screen.
        yield from self.until(lambda: widget.get_root_window() is not None
                              and not self.app.sm.transition.is_active)
        yield from self.frames(1)              # laid out (a frame without changes draws nothing)
        self.read_screen()
        x, y = widget.to_window(*widget.center)
        t = UnitTestTouch(x, y)
        t.touch_down()
        yield from self.frames(hold_frames)
        t.touch_up()
        yield from self.frames(1)

    def refused_answer(self, lang: str):
        """A tap the card cannot store (full): no thank-you, a calm notice in the hint's place."""
        from kiosk.exc import DiskFull
        recorder = self.app.flow.recorder

        def refuse(*_a, **_kw):
            raise DiskFull("the disk holding kiosk.db is full")
        recorder.record = refuse                      # this instance only, until the tap is done
        try:
            yield from self.gap()
            yield from self.tap(self.find("SmileyButton")[1])
        finally:
            del recorder.record
        hint = self.app.sm.current_screen.ids.hint.text
        self.check(f"{lang}: a refused answer: no thank-you, the notice instead",
                   self.screen() == "question" and hint == self.app.tr("answer_not_stored", lang),
                   (self.screen(), hint))
        yield from self.shot("question_not_stored")

    def double_tap(self, first, second_at: list[tuple[float, str]]) -> None:
        """A tap on `first`, then quick taps (seconds after the first, code of the reason chip
        whose place they land on) on what the first tap brought up: they must choose nothing."""
        from kivy.tests.common import UnitTestTouch
        yield from self.tap(first)
        screen = self.screen()
        self.check("double tap: the first tap opens the follow-up", screen == "followup", screen)
        if screen != "followup":
            return
        rid = self.app.flow.draft.response_id
        done = 0.0
        for after, code in second_at:
            self.clock.advance(after - done)
            done = after
            chip = [c for c in self.find("ReasonChip") if c.code == code][0]
            t = UnitTestTouch(*chip.to_window(*chip.center))
            t.touch_down()
            yield from self.frames(1)
            t.touch_up()
            yield from self.frames(1)
            chosen = [c.code for c in self.find("ReasonChip") if c.selected]
            self.check(f"double tap: a tap {after * 1000:.0f} ms after the answer chooses no reason",
                       not chosen and not self.app.flow.draft.reasons, chosen)
        self.double_taps.append(rid)
        # The customer walks away: the follow-up times out with nothing chosen, nothing stored.
        yield from self.advance(self.cfg.followup.idle_timeout_s + 0.1, then="question")

    def complaint_thanks(self, lang: str, shot: str = "thanks_complaint"):
        """The thank-you after a complaint: it is passed on, and no unhappy face again."""
        scr = self.app.sm.current_screen
        said = [w.text for w in (scr.ids.body, scr.ids.passed_on) if w.opacity]
        self.check(f"{lang}: after a complaint the thank-you says it is passed on",
                   self.screen() == "thanks" and said == [self.app.tr("thanks_passed_on", lang)], said)
        self.check(f"{lang}: after a complaint no face is echoed", scr.ids.face.opacity == 0)
        yield from self.frames(2)
        # The thanks in the middle, not under the empty half where a face would be.
        middle = (scr.ids.title.top + scr.ids.passed_on.y) / 2
        self.check(f"{lang}: the thanks after a complaint is in the middle of the screen",
                   abs(middle - scr.height / 2) < 0.1 * scr.height, (middle, scr.height))
        yield from self.shot(shot)

    def staff_readable(self, lang: str):
        """No text on the staff screen under 16 px on the 800x480 panel (16 * u elsewhere); the
        small-sample footnote only when a figure is starred."""
        yield from self.frames(1)
        scr = self.app.sm.current_screen
        small = sorted({round(w.font_size, 1) for w in self.find("Label", root=scr)
                        if w.text and w.font_size < 16 * self.app.u - 0.01})
        self.check(f"{lang}: staff text at least 16 px", not small, small)
        starred = [k for k, c in scr._cells.items() if c.text.endswith("*")]
        self.check(f"{lang}: the few-answers note only when something is starred",
                   bool(scr.ids.small_note.text) == bool(starred), (starred, scr.ids.small_note.text))

    def staff_answers_a_clerk(self, lang: str):
        """Today against the same time last week with the change; the 7-day trend; the top
        three reasons and the latest comments, scrubbed; plain words."""
        from kiosk.ui.screens import staff_table
        from kiosk.ui.texts import tr
        yield from self.frames(1)
        scr = self.app.sm.current_screen
        view = self.app.staff_view()
        want = staff_table(view["stats"], view["summary"], "visit", nps=False, percent=tr("percent_suffix", lang),
                           points=tr("points_suffix", lang))
        shown = {k: c.text for k, c in scr._cells.items()}
        self.check(f"{lang}: today, the same time last week and the change", shown == want and
                   want["change.n"] not in ("", "–"), (shown, want))
        self.check(f"{lang}: a 7-day trend", len(scr.ids.trend.scores) == 7
                   and scr.ids.trend.scores[-1] == view["summary"]["days"][-1]["score"], scr.ids.trend.scores)
        top = view["summary"]["top_complaints"]
        lines = scr.ids.reasons.text.splitlines()
        self.check(f"{lang}: the top three reasons, most chosen first", len(top) == 3 and len(lines) == 3
                   and lines[0] == f"1. {self.cfg.reasons[top[0]['code']][lang]}:\u00a0{top[0]['n']}", lines)
        comments = scr.ids.comments.text
        latest = [c["text"] for c in view["summary"]["comments"]]
        # In the language's quotation marks (sv ”…”, nb «…», en “…”).
        quote_open, quote_close = self.app.tr("quote_open", lang), self.app.tr("quote_close", lang)
        shown = [line[len(quote_open):].rsplit(quote_close, 1)[0] for line in comments.splitlines()]
        self.check(f"{lang}: comments in the language's quotation marks",
                   all(line.startswith(quote_open) for line in comments.splitlines()), comments)
        # Each whole, or its beginning cut at a word (a long word cut) to fit the panel.
        self.check(f"{lang}: the three latest comments, newest first, cut to fit", len(latest) == 3
                   and len(shown) == 3 and all(s == t or s.endswith("…") and t.startswith(s[:-1])
                                               for s, t in zip(shown, latest)), (comments, latest))
        words = " ".join(w.text for w in self.find("Label", root=scr))
        self.check(f"{lang}: plain words", "Happy Index" not in words and "CSAT" not in words
                   and "Filtrerade" not in words, words[:200])

    def staff_pulse_withheld(self, lang: str):
        """The employee question in the staff view: its text and why it shows no figure; no
        count, score, reason or comment of it (answers were given today)."""
        scr = self.app.sm.current_screen
        view = self.app.staff_view()
        self.check(f"{lang}: staff view on the pulse", view["question"].id == "pulse", view["question"].id)
        cells = {k: c.text for k, c in scr._cells.items()}
        self.check(f"{lang}: pulse: no count or score (dashes, not zeros)",
                   set(cells.values()) == {"–"} and all(c.text == "–" for c in scr._face_counts), cells)
        self.check(f"{lang}: pulse: no trend", not any(s is not None for s in scr.ids.trend.scores),
                   scr.ids.trend.scores)
        self.check(f"{lang}: pulse: why nothing is shown", scr.ids.explain.text
                   == self.app.tr("staff_employee_withheld", lang) and scr.ids.filtered.text == "",
                   (scr.ids.explain.text, scr.ids.filtered.text))
        self.check(f"{lang}: pulse: no reasons or comments",
                   scr.ids.reasons.text == "–" and scr.ids.comments.text == "–",
                   (scr.ids.reasons.text, scr.ids.comments.text))
        yield from self.frames(1)

    def read_screen(self) -> None:
        """A person needs a moment to see a new screen before touching it."""
        seen = self.app.flow.screen_age()
        if seen < READ_S:
            self.clock.advance(READ_S - seen)

    def key(self, char: str):
        from kivy.core.window import Window
        Window.dispatch("on_key_down", ord(char), 0, char, [])
        Window.dispatch("on_key_up", ord(char), 0)

    def advance(self, seconds: float, then: str | None = None):
        """Move the kiosk clock and let the app's clock tick run."""
        self.clock.advance(seconds)
        self.app._tick(0)                    # pump the app's timeout check now
        if then:
            yield from self.until(lambda: self.screen() == then)
        else:
            yield from self.frames(1)

    def gap(self):
        """A few seconds between two customers, so the repeat and burst filters stay quiet."""
        yield from self.advance(6.5)

    def shot(self, name: str):
        from kivy.core.window import Window
        from tests.ui.layoutcheck import layout_problems, walk
        # A tapped key stays "down" for Kivy's min_state_time (35 ms, real time) after the finger
        # lifts, and frames here come faster: the PIN pad's screenshot showed the keys just
        # pressed, which a person at the kiosk never sees. A finger still held keeps its key down.
        end = time.perf_counter() + 0.2
        while time.perf_counter() < end and any(getattr(w, "state", None) == "down" for w in walk(self.app.root)):
            yield "frame"
        yield from self.frames(2)
        lang = self.app.lang
        target = self.shots / self.res / lang / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        # The temp name is this process's own: two test workers that each run the same
        # resolution (test_app.py split across workers) took each other's temp file.
        tmp = Window.screenshot(name=f"{target.with_suffix('')}-{os.getpid()}-tmp.png")
        os.replace(tmp, target)
        self.screens.append(str(target))
        problems = layout_problems(self.app.root, Window.size)
        self.layout.append({"res": self.res, "lang": lang, "screen": name, "problems": problems})

    def pin_key(self, label: str):
        key = [k for k in self.find("PinKey") if k.text == label]
        yield from self.tap(key[0])

    def pin_ok(self):
        """Tap OK and wait for the verdict (the app checks the PIN off the UI thread)."""
        yield from self.pin_key(self.app.tr("pin_ok", self.app.lang))
        yield from self.until(lambda: not self.app.flow.pin_checking)
        yield from self.frames(1)

    def press(self, key: int, codepoint: str | None = None):
        """A key without a character of its own (Enter, Backspace, Escape) as SDL2 sends it."""
        from kivy.core.window import Window
        Window.dispatch("on_key_down", key, 0, codepoint, [])
        Window.dispatch("on_key_up", key, 0)
        yield from self.frames(1)

    def pin_typed_on_the_keyboard(self):
        """With the PIN pad open, the demo's documented PIN typed on the keyboard: 1234 and Enter
        recorded four customer answers (the digits pressed the mock buttons) and left the pad empty
        (a review). Now digits go to the pad, Backspace takes one back, Enter checks it, Escape
        closes the pad as its cancel does (and quits the demo elsewhere: Kivy's exit_on_escape)."""
        answers = self.app.store.db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0]
        for ch in "1239":
            self.key(ch)
        self.key("\b")                                      # what SDL2 sends for Backspace (8)
        self.key("4")
        yield from self.frames(1)
        self.check("PIN typed on the keyboard goes to the pad", self.app.flow.pin_entry == STAFF_PIN,
                   self.app.flow.pin_entry)
        self.clock.advance(0.5)
        for _ in range(10):                                  # a mock button held by a key lets go after 0.1 s
            time.sleep(0.03)
            yield "frame"
        recorded = self.app.store.db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0] - answers
        self.check("digits typed at the PIN pad record no answer", recorded == 0 and self.screen() == "pin",
                   (recorded, self.screen()))
        yield from self.press(13, "\r")
        yield from self.until(lambda: self.screen() == "staff")
        self.check("Enter checks the typed PIN -> staff view", self.screen() == "staff", self.screen())
        yield from self.tap([b for b in self.find("PillButton") if b.text == self.app.tr("staff_close", self.app.lang)][0])
        yield from self.until(lambda: self.screen() == "question")
        yield from self.corner_hold()
        for n in (5, 6):                                     # the numeric keypad's digits: 261, 262
            yield from self.press(256 + n, chr(256 + n))
        self.check("the numeric keypad's digits go to the pad", self.app.flow.pin_entry == "56",
                   self.app.flow.pin_entry)
        yield from self.press(27, "\x1b")
        yield from self.until(lambda: self.screen() == "question")
        self.check("Escape at the PIN pad -> question, as its cancel", self.screen() == "question", self.screen())

    def pin_unlocks_while_open(self):
        """Staff wait at the locked pad, tapping its dead keys, until the lock ends: the keys
        come alive again at once and the right PIN opens the staff view (the pad stayed locked,
        its countdown stuck at 0:01, until it was closed and opened again)."""
        yield from self.corner_hold()
        for _ in range(self.cfg.staff.max_tries):
            for d in "9999":
                yield from self.pin_key(d)
            yield from self.pin_ok()
        flow = self.app.flow
        self.check("locked again, staff stay at the pad", flow.pin_locked_for() > 0, flow.pin_locked_for())
        while flow.pin_locked_for() > 0 and self.screen() == "pin":
            yield from self.pin_key("5")                     # a dead key: only the pad's idle time starts again
            yield from self.advance(min(4.0, flow.pin_locked_for()))
        yield from self.frames(1)
        keys = [(k.text, k.disabled) for k in self.find("PinKey") if k.disabled]
        self.check("the lock ends with the pad open: every key is live again", self.screen() == "pin" and not keys,
                   (self.screen(), keys, self.app.sm.current_screen.ids.message.text))
        for d in STAFF_PIN:
            yield from self.pin_key(d)
        yield from self.pin_ok()
        yield from self.until(lambda: self.screen() == "staff")
        self.check("right PIN on the pad the lock ended on -> staff view", self.screen() == "staff", self.screen())
        if self.screen() == "staff":
            yield from self.tap([b for b in self.find("PillButton")
                                 if b.text == self.app.tr("staff_close", self.app.lang)][0])
        else:
            yield from self.advance(self.cfg.staff.idle_s + 0.1)
        yield from self.until(lambda: self.screen() == "question")

    def corner_hold(self):
        from kivy.tests.common import UnitTestTouch
        self.read_screen()
        t = UnitTestTouch(6, self.app.root.height - 6)
        t.touch_down()
        yield from self.frames(1)
        self.check("corner: short hold does nothing", self.screen() in ("question", "thanks"))
        yield from self.advance(self.cfg.ui.corner_hold_s - 0.5)
        self.check("corner: not open before the hold time", self.screen() in ("question", "thanks"))
        yield from self.advance(0.55, then="pin")
        t.touch_up()
        yield from self.frames(1)

    def layout_check_can_fail(self):
        """Plant an overlap, a clipped label and a word too wide: the checker must see each."""
        from kivy.core.window import Window
        from kivy.uix.label import Label

        from kiosk.ui.controls import PillButton
        from kiosk.ui.keyboard import KeyGrid
        from tests.ui.layoutcheck import layout_problems
        root = self.app.root
        planted = [PillButton(text="a", size_hint=(None, None), size=(100, 60), pos=(300, 200)),
                   KeyGrid(language="sv", backspace_label="Radera", font_size=18,
                           size_hint=(None, None), size=(90, 120), pos=(500, 10)),
                   PillButton(text="b", size_hint=(None, None), size=(100, 60), pos=(350, 220)),
                   Label(text="far too long for this box " * 4, size_hint=(None, None), size=(80, 20),
                         pos=(10, 10)),
                   Label(text="Supercalifragilistic", size_hint=(None, None), size=(60, 80),
                         pos=(10, 100), text_size=(60, None))]
        for w in planted:
            root.add_widget(w)
        yield from self.frames(2)
        found = layout_problems(root, Window.size)
        for w in planted:
            root.remove_widget(w)
        self.check("layout check sees a planted overlap", "overlap: PillButton('a') and PillButton('b') (50x40 px)" in found, found)
        self.check("layout check sees a clipped label", any(p.startswith("clipped") for p in found), found)
        self.check("layout check sees a broken word", any(p.startswith("word broken") for p in found), found)
        self.check("layout check sees a key label wider than its key",
                   any(p.startswith("clipped text: Key('Radera')") for p in found), found)
        yield from self.frames(1)

    def choose_language(self, lang: str):
        pill = [b for b in self.find("PillButton") if getattr(b, "language", None) == lang]
        yield from self.tap(pill[0])
        self.check(f"language switch to {lang}", self.app.lang == lang, self.app.lang)

    # -- the walk --------------------------------------------------------------------------
    def run(self):
        cfg = self.cfg
        yield from self.until(lambda: self.app is not None and self.app.sm.current == "question")
        yield from self.frames(3)              # the first layout passes
        yield from self.layout_check_can_fail()
        self.check("starts on the question screen", self.screen() == "question")
        self.check("default language", self.app.lang == cfg.default_language, self.app.lang)
        q = self.app.flow.question
        self.check("scheduled question at noon is 'visit'", q.id == "visit", q.id)

        # Customer flow, every language: question, positive answer, thank-you, back.
        for lang in cfg.languages:
            yield from self.choose_language(lang)
            yield from self.shot("question")
            faces = self.find("SmileyButton")
            self.check("four smiley buttons", len(faces) == 4, len(faces))
            self.check(f"{lang}: the faces in one row, most negative on the left", in_one_row(faces),
                       [(round(f.x), round(f.y)) for f in faces])
            yield from self.refused_answer(lang)
            yield from self.gap()
            from kivy.tests.common import UnitTestTouch
            touch = UnitTestTouch(*faces[-1].to_window(*faces[-1].center))
            touch.touch_down()
            self.check(f"{lang}: the touched face responds at once", faces[-1].pressed)
            yield from self.frames(1)
            touch.touch_up()
            yield from self.frames(1)
            self.check(f"{lang}: happy answer -> thank-you", self.screen() == "thanks", self.screen())
            yield from self.shot("thanks")
            yield from self.advance(cfg.ui.thank_you_s - 0.5)
            self.check(f"{lang}: thank-you still shown before {cfg.ui.thank_you_s}s", self.screen() == "thanks")
            yield from self.advance(0.6, then="question")
            self.check(f"{lang}: back to the question after thank-you", self.screen() == "question", self.screen())
            hint = self.app.sm.current_screen.ids.hint.text
            self.check(f"{lang}: an answer stored again: the notice is gone",
                       hint == self.app.tr("tap_hint", lang), hint)

            # Negative answer: follow-up with chips; a comment, then one tap on a reason sends both.
            yield from self.gap()
            yield from self.tap(self.find("SmileyButton")[0])
            self.check(f"{lang}: unhappy answer -> follow-up", self.screen() == "followup", self.screen())
            chips = self.find("ReasonChip")
            self.check(f"{lang}: 4-6 reason chips", 4 <= len(chips) <= 6, len(chips))
            # Another language relabels the chips there are (made and dropped for every switch,
            # they fragment the heap: docs/ui.md). The earlier ones are held, so no id is reused.
            if getattr(self, "_chips_before", None) is not None:
                self.check(f"{lang}: the same chips, relabelled", {id(c) for c in chips} ==
                           {id(c) for c in self._chips_before}, len(chips))
            self._chips_before = chips
            labels = {c.code: c.text for c in chips}
            self.check(f"{lang}: chip labels from the catalogue",
                       labels.get("queue") == cfg.reasons["queue"][lang], labels)
            send = self.app.sm.current_screen._send
            self.check(f"{lang}: no Send button while there is nothing to send", send.parent is None)
            self.check(f"{lang}: no disabled button on the follow-up",
                       not [b.text for b in self.find("PillButton") if b.disabled], "")
            yield from self.shot("followup")
            yield from self.tap(self.app.sm.current_screen.ids.comment_button)
            self.check(f"{lang}: comment screen", self.screen() == "comment", self.screen())
            yield from self.shot("comment_empty")
            narrow = [(k.text, round(k.width)) for k in self.find("Key") if k.width < 48]
            self.check(f"{lang}: keyboard keys at least 48 px wide", not narrow, narrow)
            if lang == cfg.languages[0]:
                # A comment of spaces is nothing to send: no Send, and the hint does not offer it.
                yield from self.tap([k for k in self.find("Key") if k.key_value == " "][0])
                yield from self.tap([b for b in self.find("PillButton")
                                     if b.text == self.app.tr("comment_done", lang)][0])
                hint = self.app.sm.current_screen.ids.hint.text
                self.check(f"{lang}: a comment of spaces: no Send, none offered",
                           self.app.sm.current_screen._send.parent is None
                           and hint == self.app.tr("followup_hint", lang), hint)
                yield from self.tap(self.app.sm.current_screen.ids.comment_button)
                yield from self.tap([k for k in self.find("Key") if k.key_value == "\b"][0])
                self.check(f"{lang}: the space deleted", self.app.flow.draft.comment == "",
                           self.app.flow.draft.comment)
            if lang == cfg.languages[0]:
                # Advance the kiosk clock part of the idle time: typing keeps the screen alive.
                yield from self.advance(cfg.followup.idle_timeout_s - 2)
            for ch in COMMENT[lang]:
                label = "space" if ch == " " else ch
                keys = [k for k in self.find("Key") if k.key_value == ch]
                if not self.check(f"{lang}: key {label!r} on the keyboard", bool(keys)):
                    continue
                yield from self.tap(keys[0])
                if lang == cfg.languages[0]:
                    yield from self.advance(1.5)
            self.check(f"{lang}: typing kept the comment screen open", self.screen() == "comment", self.screen())
            bs = [k for k in self.find("Key") if k.key_value == "\b"]
            typed = self.app.flow.draft.comment if self.app.flow.draft else None
            self.check(f"{lang}: comment typed", typed == COMMENT[lang], typed)
            yield from self.tap(bs[0])
            yield from self.tap([k for k in self.find("Key") if k.key_value == "2"][0])
            yield from self.shot("comment")
            yield from self.tap([b for b in self.find("PillButton") if b.text == self.app.tr("comment_done", lang)][0])
            self.check(f"{lang}: back on the follow-up", self.screen() == "followup", self.screen())
            send = self.app.sm.current_screen._send
            self.check(f"{lang}: Send shown once a comment is written", send.parent is not None
                       and not send.disabled)
            hint = self.app.sm.current_screen.ids.hint.text
            self.check(f"{lang}: the hint says what Send does", hint == self.app.tr("followup_hint_or_send", lang), hint)
            yield from self.shot("followup_with_comment")
            yield from self.tap([c for c in self.find("ReasonChip") if c.code == "queue"][0])
            self.check(f"{lang}: one tap on a reason -> thank-you", self.screen() == "thanks", self.screen())
            yield from self.complaint_thanks(lang)
            yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")
            self.check(f"{lang}: the comment keyboard is dropped once the question is back (made on use)",
                       not self.app.sm.has_screen("comment"), [s.name for s in self.app.sm.screens])
            listed = self.meshes_kept_as_lists()
            self.check(f"{lang}: the kept screens' meshes hold packed numbers, not Python lists",
                       not listed, listed[:5])

            # Skip: no follow-up row (the same in every language: once is enough).
            if lang != cfg.languages[0]:
                continue
            yield from self.gap()
            yield from self.tap(self.find("SmileyButton")[1])
            self.check(f"{lang}: second face is negative too", self.screen() == "followup", self.screen())
            yield from self.tap(self.app.sm.current_screen.ids.skip_button)
            self.check(f"{lang}: skip -> thank-you", self.screen() == "thanks", self.screen())
            yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")

            # A comment alone, sent from the comment screen itself.
            yield from self.gap()
            yield from self.tap(self.find("SmileyButton")[0])
            yield from self.tap(self.app.sm.current_screen.ids.comment_button)
            for ch in "ok":
                yield from self.tap([k for k in self.find("Key") if k.key_value == ch][0])
            yield from self.tap(self.app.sm.current_screen.ids.comment_send)
            self.check(f"{lang}: a comment is sent from the comment screen", self.screen() == "thanks",
                       self.screen())
            yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")

        # Idle timeout on the follow-up keeps what was written, with a visible countdown.
        yield from self.choose_language(cfg.languages[0])
        yield from self.gap()
        yield from self.tap(self.find("SmileyButton")[0])
        yield from self.tap(self.app.sm.current_screen.ids.comment_button)
        yield from self.tap([k for k in self.find("Key") if k.key_value == "x"][0])
        yield from self.tap([b for b in self.find("PillButton") if b.text == self.app.tr("comment_done", self.app.lang)][0])
        yield from self.advance(cfg.followup.idle_timeout_s - 3.5)
        shown = self.app.countdown
        self.check("follow-up countdown visible", shown == 4, shown)
        countdown_text = self.app.tr("countdown", self.app.lang, s=4)
        self.check("countdown label on screen",
                   any(getattr(w, "text", "") == countdown_text for w in self.find("Label")), countdown_text)
        yield from self.advance(4, then="question")
        self.check("follow-up idle timeout -> question", self.screen() == "question", self.screen())

        # A double tap on the unhappy face: the second tap lands where a reason chip appears.
        yield from self.gap()
        yield from self.double_tap(self.find("SmileyButton")[0], [(0.15, "price"), (0.18, "price")])

        # Language resets to the default after idle.
        yield from self.choose_language(cfg.languages[-1])
        yield from self.advance(cfg.ui.language_reset_s - 1)
        self.check("language kept before the reset time", self.app.lang == cfg.languages[-1], self.app.lang)
        yield from self.advance(1.5)
        yield from self.until(lambda: self.app.lang == cfg.default_language)
        self.check("language back to default after idle", self.app.lang == cfg.default_language, self.app.lang)

        # Physical buttons through the real panel: key '3' presses the mock pin.
        yield from self.advance(6)           # past the repeat-press window
        self.key("3")
        self.clock.advance(0.2)              # the press lasts 0.2 s on the kiosk clock
        yield from self.until(lambda: self.screen() == "thanks")
        self.check("key 3 -> button answer -> thank-you", self.screen() == "thanks", self.screen())
        yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")
        yield from self.gap()
        self.key("1")
        self.clock.advance(0.2)
        yield from self.until(lambda: self.screen() == "followup")
        self.check("key 1 -> button answer -> follow-up", self.screen() == "followup", self.screen())
        yield from self.advance(cfg.followup.idle_timeout_s + 0.1, then="question")

        # Staff gesture on the panel: both outer buttons held -> PIN pad; no answer recorded.
        lo, hi = cfg.gpio.buttons[0], cfg.gpio.buttons[-1]
        self.pins.pin(lo).drive_low()
        self.pins.pin(hi).drive_low()
        self.clock.advance(cfg.gpio.staff_hold_s + 0.1)
        yield from self.until(lambda: self.screen() == "pin")
        self.check("two outer buttons held -> PIN pad", self.screen() == "pin", self.screen())
        self.pins.pin(lo).drive_high()
        self.pins.pin(hi).drive_high()
        yield from self.frames(3)
        yield from self.tap([b for b in self.find("PillButton") if b.text == self.app.tr("cancel", self.app.lang)][0])
        self.check("cancel PIN -> question", self.screen() == "question", self.screen())

        # The demo's g key holds the same two mock buttons for the hold time: the staff gesture.
        self.key("g")
        self.clock.advance(cfg.gpio.staff_hold_s + 0.1)
        yield from self.until(lambda: self.screen() == "pin")
        self.check("key g -> staff gesture -> PIN pad", self.screen() == "pin", self.screen())
        yield from self.until(lambda: self.pins.pin(lo).state and self.pins.pin(hi).state,
                              timeout_s=cfg.gpio.staff_hold_s + 3)
        yield from self.pin_typed_on_the_keyboard()

        # PIN lockout: five wrong tries lock the pad for a short while, shown; a locked pad
        # gives the question back soon (customers cannot lock staff out for minutes).
        for run, lang in enumerate(cfg.languages):
            yield from self.choose_language(lang)
            yield from self.corner_hold()
            self.check(f"{lang}: corner hold -> PIN pad", self.screen() == "pin", self.screen())
            for _ in range(cfg.staff.max_tries):
                for d in "9999":
                    yield from self.pin_key(d)
                yield from self.pin_ok()
            msg = self.app.sm.current_screen.ids.message.text
            first = lang == cfg.languages[0]
            seconds = 15 * 2 ** run                    # each run of wrong PINs doubles the lock
            lock = f"{seconds // 60}:{seconds % 60:02d}"
            self.check(f"{lang}: locked for {lock} after {cfg.staff.max_tries} wrong PINs", lock in msg, msg)
            from kiosk.ui import palette
            # (read, not kept: a key held by this generator would keep the PIN pad alive)
            ok_look = [(k.disabled, tuple(k.disabled_color)) for k in self.find("PinKey")
                       if k.text == self.app.tr("pin_ok", lang)][0]
            self.check(f"{lang}: the locked OK key keeps its light label (dark grey on teal was unreadable)",
                       ok_look == (True, tuple(palette.ON_ACCENT)), ok_look)
            yield from self.shot("pin_locked")
            if first:
                for d in STAFF_PIN:
                    yield from self.pin_key(d)
                yield from self.pin_ok()
                self.check("right PIN refused while locked", self.screen() == "pin", self.screen())
            from kiosk.ui.flow import PIN_UNTOUCHED_S
            yield from self.advance(PIN_UNTOUCHED_S - 1)
            self.check("locked PIN pad still shown a moment", self.screen() == "pin", self.screen())
            yield from self.advance(1.5, then="question")
            self.check("a locked PIN pad gives the question back", self.screen() == "question", self.screen())
            yield from self.advance(seconds)                 # the lock is over
        yield from self.choose_language(cfg.languages[0])
        yield from self.pin_unlocks_while_open()
        # A corner held by chance: the question is back in seconds, not after staff.idle_s.
        yield from self.corner_hold()
        yield from self.advance(PIN_UNTOUCHED_S + 0.5, then="question")
        self.check("an untouched PIN pad gives the question back", self.screen() == "question",
                   self.screen())

        # NPS question in the afternoon (schedule), every language.
        self.clock.set(NPS_AT)
        yield from self.until(lambda: self.app.flow.question.id == "recommend")
        self.check("schedule switches to the NPS question", self.app.flow.question.id == "recommend",
                   self.app.flow.question.id)
        for lang in cfg.languages:
            yield from self.choose_language(lang)
            nps = self.find("NpsButton")
            self.check(f"{lang}: NPS row 0-10", [int(b.value) for b in sorted(nps, key=lambda b: b.value)] == list(range(11)),
                       len(nps))
            small = [(int(b.value), round(b.width), round(b.height)) for b in nps
                     if min(b.width, b.height) < 48 * self.app.u]
            # 48 px is about 9 mm on the official 7" panel: a fingertip.
            self.check(f"{lang}: NPS keys at least 48 px each way", not small, small)
            rows = sorted({round(b.to_window(*b.pos)[1]) for b in nps}, reverse=True)
            by_row = [sorted((b for b in nps if round(b.to_window(*b.pos)[1]) == y), key=lambda b: b.x)
                      for y in rows]
            self.check(f"{lang}: NPS in one or two rows, in order", len(rows) <= 2 and
                       [int(b.value) for row in by_row for b in row] == list(range(11)), len(rows))
            # Two rows read as one keypad: the shorter centred under the full one (pushed right,
            # "6" stood under "1" with a gap under "0"; a visual review), and "very likely"
            # ends where its row does, under 10.
            mids = [round((row[0].to_window(row[0].x, 0)[0] + row[-1].to_window(row[-1].right, 0)[0]) / 2)
                    for row in by_row]
            self.check(f"{lang}: NPS rows centred on one another", max(mids) - min(mids) <= 1, mids)
            if len(by_row) == 2:
                high = self.app.sm.current_screen._nps_ends[1]
                ten = by_row[-1][-1]
                self.check(f"{lang}: NPS 'very likely' ends under 10",
                           abs(high.to_window(high.right, 0)[0] - ten.to_window(ten.right, 0)[0]) <= 1
                           and high.to_window(0, high.top)[1] <= ten.to_window(0, ten.y)[1] + 1,
                           (round(high.right), round(ten.right)))
            looks = {(tuple(b.bg), tuple(b.fg), tuple(b.outline)) for b in nps}
            self.check(f"{lang}: every NPS key looks the same (no detractor/promoter tint)",
                       len(looks) == 1, looks)
            yield from self.shot("question_nps")
            yield from self.gap()
            yield from self.tap([b for b in self.find("NpsButton") if b.value == 10][0])
            self.check(f"{lang}: NPS 10 -> thank-you", self.screen() == "thanks", self.screen())
            number = self.app.sm.current_screen.ids.number
            self.check(f"{lang}: thank-you echoes the NPS number", number.text == "10" and number.opacity == 1,
                       number.text)
            yield from self.shot("thanks_nps")
            yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")
        yield from self.gap()
        yield from self.tap([b for b in self.find("NpsButton") if b.value == 3][0])
        self.check("NPS 3 -> follow-up", self.screen() == "followup", self.screen())
        yield from self.tap(self.find("ReasonChip")[0])
        self.check("NPS 3: one tap on a reason -> thank-you", self.screen() == "thanks", self.screen())
        self.check("NPS 3: the thank-you does not echo a detractor's number",
                   self.app.sm.current_screen.ids.number.opacity == 0)
        yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")
        yield from self.gap()
        three = [b for b in self.find("NpsButton") if b.value == 3][0]
        codes = list(self.app.flow.question.reasons)
        yield from self.double_tap(three, [(0.15, codes[0]), (0.18, codes[-1])])

        # Employee pulse at closing time: marked as such, every language.
        self.clock.set(PULSE_AT)
        yield from self.until(lambda: self.app.flow.question.id == "pulse")
        for lang in cfg.languages:
            yield from self.choose_language(lang)
            yield from self.until(lambda: self.screen() == "question")
            scr = self.app.sm.current_screen
            if not self.check(f"{lang}: on the question screen", "badge" in scr.ids, (scr, list(scr.ids))):
                continue
            badge = scr.ids.badge
            self.check(f"{lang}: pulse question marked", badge.text == self.app.tr("staff_question_badge", lang)
                       and self.app.sm.current_screen.employee, badge.text)
            yield from self.shot("question_pulse")
        yield from self.gap()
        yield from self.tap(self.find("SmileyButton")[2])
        yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")

        # Staff view in every language; PIN by touch, closes after idle.
        seed_long_comments(cfg, self.app.store, self.clock.now())
        for i, lang in enumerate(cfg.languages):
            if i == 1:
                # Past the pulse's hour: the button pressed below answers the customers' question.
                self.clock.set(AFTER_PULSE)
                yield from self.until(lambda: self.app.flow.question.id == "visit")
            yield from self.choose_language(lang)
            yield from self.corner_hold()
            self.check(f"{lang}: corner -> PIN", self.screen() == "pin", self.screen())
            for d in "12":
                yield from self.pin_key(d)
            yield from self.shot("pin")
            for d in "34":
                yield from self.pin_key(d)
            yield from self.pin_ok()
            self.check(f"{lang}: right PIN -> staff view", self.screen() == "staff", self.screen())
            self.check(f"{lang}: the PIN pad is dropped once the staff view is shown",
                       not self.app.sm.has_screen("pin"), [s.name for s in self.app.sm.screens])
            yield from self.frames(2)
            yield from self.shot("staff")
            alerts = self.app.sm.current_screen.ids.alerts.text
            # Raised 09:00 UTC: 10:00 in Stockholm, the same day.
            want = "• " + self.app.tr("alert_trend", lang) + " " + self.app.tr("alert_at_today", lang, time="10:00")
            self.check(f"{lang}: site alert shown by its kind, in the language", alerts.startswith(want),
                       (alerts, want))
            first = alerts.splitlines()[0].removeprefix(want + ": ").removesuffix("…")
            self.check(f"{lang}: the alert's wording in the language (its beginning, cut to fit)",
                       len(first) > 15 and ALERT_WORDING[lang].startswith(first), (alerts, ALERT_WORDING[lang]))
            yield from self.staff_readable(lang)
            if i == 0:
                # The pulse is asked now, but its answers are a few colleagues': the view opens
                # on the customers' question, and no figure holds an employee answer.
                view = self.app.staff_view()
                self.check("staff view opens on the customers' question while the pulse is asked",
                           self.app.flow.question.id == "pulse" and view["question"].id == "visit",
                           view["question"].id)
                shown = [p["questions"] for p in view["stats"]["periods"].values()]
                self.check("staff view: the pulse in no figure", not any("pulse" in q for q in shown),
                           [list(q) for q in shown])
                scr = self.app.sm.current_screen
                cells_before = {k: c.text for k, c in scr._cells.items()}
                faces_before = [c.text for c in scr._face_counts]
                last = self.app.flow.last_recorded
                self.key("4")                    # a colleague answers the pulse on the buttons
                self.clock.advance(0.2)
                yield from self.until(lambda: self.app.flow.last_recorded is not last)
                rec = self.app.flow.last_recorded
                self.check("staff view: the button answered the pulse", rec.question_id == "pulse"
                           and rec.value == 4, rec)
                yield from self.advance(10.5)    # past the view's re-read
                yield from self.frames(1)
                self.check("staff view: a pulse answer given while it is open shows nowhere",
                           {k: c.text for k, c in scr._cells.items()} == cells_before
                           and [c.text for c in scr._face_counts] == faces_before,
                           ({k: c.text for k, c in scr._cells.items()}, cells_before))
                del scr, view, rec               # the view is checked to be gone once closed
            if i == 1:
                # The sync agent (another process) reconnects and records the address it
                # reached the broker from: the open view shows both soon.
                line = self.app.sm.current_screen.ids.kiosk_line.text
                self.check("staff view: the address from the route look-up while the agent"
                           " has recorded none", "10.20.30.40" not in line and "IP\u00a0" in line, line)
                # A physical button pressed while the view is open: counted at once, in the
                # same cells (today's answers: 1 -> 2, the fourth face: 0 -> 1).
                scr = self.app.sm.current_screen
                cells_before, faces_before = dict(scr._cells), list(scr._face_counts)
                n_before, fourth_before = int(scr._cells["today.n"].text.rstrip("*")), int(scr._face_counts[3].text)
                self.key("4")
                self.clock.advance(0.2)
                yield from self.until(lambda: scr._face_counts[3].text == str(fourth_before + 1))
                self.check("staff table updates in place when an answer comes in",
                           scr._cells == cells_before and scr._face_counts == faces_before
                           and scr._cells["today.n"].text.rstrip("*") == str(n_before + 1),
                           ({k: c.text for k, c in scr._cells.items()}, n_before))
                self.app.store.set_meta("sync.connected", "1")
                self.app.store.set_meta("net.local_ip", "10.20.30.40")
                yield from self.advance(10.5)
                yield from self.frames(1)
                state = self.app.sm.current_screen.ids.sync_state.text
                self.check("staff view re-reads sync health while open",
                           state.startswith(self.app.tr("staff_connected", lang)), state)
                line = self.app.sm.current_screen.ids.kiosk_line.text
                self.check("staff view shows the address the sync agent recorded",
                           "10.20.30.40" in line, line)
                self.app.store.set_meta("sync.connected", "0")
                # What staff must act on comes first: answers the card could not store, and
                # answers the centre refused for good (kept here, named in its ack).
                # The card full, as its own statvfs tells (`LocalStore.full_now`), no tap refused.
                from kiosk.exc import DiskFull
                self.app.store.full_now = lambda: DiskFull("the disk is full")
                refuse = ("UPDATE response SET send_count = 1, rejected_at = ?, rejected_reason = ?"
                          " WHERE seq = (SELECT MIN(seq) FROM response)")
                self.app.store.db.execute_sql(refuse, ("2026-11-23T12:00:00.000Z", "site_id 'x' is not …"))
                yield from self.advance(10.5)
                yield from self.frames(1)
                alerts = self.app.sm.current_screen.ids.alerts.text
                self.check("staff view: answers not saved and answers not accepted come first",
                           alerts.splitlines() == ["• " + self.app.tr("staff_disk_full", lang),
                                                   "• " + self.app.tr("staff_refused", lang, n=1)], alerts)
                yield from self.staff_readable(lang)
                yield from self.shot("staff_problems")
                del self.app.store.full_now
                self.app.flow.check_card()
                self.app.store.db.execute_sql("UPDATE response SET rejected_at = NULL, rejected_reason = NULL")
            # The customers' question: reasons, comments, today against last week.
            self.check("staff view on the customers' question", self.app.flow.staff_question_id == "visit",
                       self.app.flow.staff_question_id)
            yield from self.staff_answers_a_clerk(lang)
            yield from self.shot("staff_visit")
            yield from self.staff_readable(lang)
            yield from self.tap([b for b in self.find("PillButton")
                                 if b.text == self.app.tr("staff_next_question", lang)][0])
            self.check("next question", self.app.flow.staff_question_id == "recommend",
                       self.app.flow.staff_question_id)
            yield from self.frames(2)
            yield from self.shot("staff_nps")
            yield from self.staff_readable(lang)
            yield from self.tap([b for b in self.find("PillButton")
                                 if b.text == self.app.tr("staff_next_question", lang)][0])
            yield from self.frames(2)
            yield from self.staff_pulse_withheld(lang)
            yield from self.shot("staff_pulse")
            yield from self.staff_readable(lang)
            if i == 0:
                yield from self.advance(cfg.staff.idle_s - 1)
                self.check("staff view open before idle", self.screen() == "staff")
                yield from self.advance(1.5, then="question")
                self.check("staff view closes after idle", self.screen() == "question", self.screen())
                # Seldom shown screens are dropped once the question is back (made again on use).
                self.check("staff view and PIN pad dropped after closing",
                           not self.app.sm.has_screen("staff") and not self.app.sm.has_screen("pin"),
                           [s.name for s in self.app.sm.screens])
                import gc
                gc.collect()
                alive = [type(o).__name__ for o in gc.get_objects()
                         if type(o).__name__ in ("StaffScreen", "PinScreen")]
                self.check("the dropped staff view and PIN pad are really gone", not alive, alive)
            else:
                yield from self.tap([b for b in self.find("PillButton") if b.text == self.app.tr("staff_close", lang)][0])
                self.check(f"{lang}: close staff view", self.screen() == "question", self.screen())

        yield from self.live_config()

    def run_smiley5(self):
        """A five-face kiosk: the faces, every language, touch and button answers, the staff table."""
        cfg = self.cfg
        yield from self.until(lambda: self.app is not None and self.app.sm.current == "question")
        yield from self.frames(3)
        self.check("five faces: question is visit5", self.app.flow.question.id == "visit5",
                   self.app.flow.question.id)
        for lang in cfg.languages:
            yield from self.choose_language(lang)
            yield from self.shot("question5")
            faces = self.find("SmileyButton")
            self.check(f"{lang}: five faces in one row, most negative on the left", in_one_row(faces))
            self.check(f"{lang}: five smiley buttons, most negative first",
                       [int(f.value) for f in sorted(faces, key=lambda f: f.index)] == [1, 2, 3, 4, 5],
                       [int(f.value) for f in faces])
            # Every face its own shape: five distinct shapes on screen.
            from kiosk.ui.smiley import face_shape
            shapes = {face_shape(int(f.index), int(f.points)) for f in faces}
            self.check(f"{lang}: five different face shapes", len(shapes) == 5 and
                       all(int(f.points) == 5 for f in faces), len(shapes))
        yield from self.choose_language(cfg.default_language)
        # Touch answers: each face in turn, thank-you (the same face again) or follow-up.
        for value in (5, 3, 1):
            yield from self.gap()
            face = [f for f in self.find("SmileyButton") if int(f.value) == value][0]
            yield from self.tap(face)
            if value == 5:
                self.check("five faces: happiest -> thank-you", self.screen() == "thanks", self.screen())
                thanks_face = self.app.sm.current_screen.ids.face
                self.check("five faces: thank-you shows the chosen face",
                           int(thanks_face.points) == 5 and int(thanks_face.index) == 4 and thanks_face.opacity == 1,
                           (thanks_face.points, thanks_face.index))
                yield from self.shot("thanks5")
                yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")
            elif value == 1:
                self.check("five faces: most negative -> follow-up", self.screen() == "followup", self.screen())
                # This question takes two reasons: taps choose them, Send appears and sends.
                screen = self.app.sm.current_screen
                self.check("two reasons: no Send before a choice", screen.ids.send_button.parent is None)
                chips = {c.code: c for c in self.find("ReasonChip")}
                yield from self.tap(chips["queue"])
                yield from self.tap(chips["price"])
                self.check("two reasons: both chosen, still on the follow-up",
                           self.screen() == "followup" and chips["queue"].selected and chips["price"].selected,
                           (self.screen(), [c.code for c in chips.values() if c.selected]))
                self.check("two reasons: Send shown", screen.ids.send_button.parent is not None)
                yield from self.shot("followup_two_reasons5")
                yield from self.tap(screen.ids.send_button)
                yield from self.complaint_thanks(self.app.lang, shot="thanks_complaint5")
                yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")
            else:
                yield from self.until(lambda: self.screen() in ("thanks", "followup"))
                if self.screen() == "followup":
                    yield from self.tap(self.app.sm.current_screen.ids.skip_button)
                yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")
        # The fifth physical button answers 5 through the panel (key '5' presses its mock pin).
        yield from self.gap()
        self.key("5")
        self.clock.advance(0.2)
        yield from self.until(lambda: self.screen() == "thanks")
        self.check("five faces: button 5 -> thank-you", self.screen() == "thanks", self.screen())
        yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")
        # Staff table: a column per face; both notes under the trend (seed_staff_notes), in
        # every language: the trend keeps its bars (at 480x800 they were 1 px lines).
        for lang in cfg.languages:
            yield from self.choose_language(lang)
            yield from self.corner_hold()
            for d in STAFF_PIN:
                yield from self.pin_key(d)
            yield from self.pin_ok()
            self.check(f"{lang}: five faces: staff view", self.screen() == "staff", self.screen())
            yield from self.frames(2)
            scr = self.app.sm.current_screen
            table_faces = self.find("SmileyFace", root=scr.ids.faces)
            self.check(f"{lang}: five faces: today's answers for each of the five faces", len(table_faces) == 5,
                       len(table_faces))
            notes = scr.ids.filtered.text.splitlines()
            self.check(f"{lang}: five faces: both notes under the trend", notes == [
                self.app.tr("staff_filtered", lang, n=3), self.app.tr("staff_earlier_scale", lang, n=7)], notes)
            yield from self.shot("staff5")
            yield from self.tap([b for b in self.find("PillButton") if b.text == self.app.tr("staff_close", lang)][0])
            self.check(f"{lang}: five faces: staff view closed", self.screen() == "question", self.screen())

    def live_config(self):
        """The sync agent saves a newer pushed config: not applied mid follow-up, then on the
        idle question screen within a check interval, and answers go to the new question."""
        from kiosk.pushed import save_pushed
        from seeds.catalogue import QUESTIONS
        cfg = self.cfg
        self.clock.set(START)                    # back to noon: 'visit', a smiley question
        yield from self.until(lambda: self.app.flow.question.id == "visit")
        yield from self.gap()
        yield from self.tap(self.find("SmileyButton")[0])
        self.check("live config: negative answer -> follow-up", self.screen() == "followup", self.screen())
        q = dict(QUESTIONS["checkout"], version=3)
        save_pushed(cfg.data_dir, {"version": 9, "questions": [q], "schedule": []})
        yield from self.advance(6)
        self.check("live config: not switched during a follow-up", self.screen() == "followup"
                   and self.app.flow.cfg.config_version == cfg.config_version, self.app.flow.cfg.config_version)
        yield from self.advance(cfg.followup.idle_timeout_s, then="question")
        yield from self.advance(0.2)
        yield from self.until(lambda: self.app.flow.question.id == "checkout")
        self.check("live config: new question shown on the idle question screen",
                   self.app.flow.question.id == "checkout" and self.app.flow.cfg.config_version == 9,
                   self.app.flow.question.id)
        label = self.app.sm.current_screen.ids.get("question_text")
        want = q["text"][self.app.lang]
        self.check("live config: new question text on screen", label is not None and label.text == want,
                   (getattr(label, "text", None), want))
        yield from self.gap()
        yield from self.tap(self.find("SmileyButton")[-1])
        self.check("live config: answer -> thank-you", self.screen() == "thanks", self.screen())
        rec = self.app.flow.last_recorded
        self.check("live config: answer recorded on the new question",
                   rec is not None and rec.question_id == "checkout" and rec.value == 4, rec)
        yield from self.advance(cfg.ui.thank_you_s + 0.1, then="question")


class Driver:
    """Steps a scenario generator one Kivy frame at a time, then stops the app."""

    def __init__(self, scenario: Scenario, report: Path) -> None:
        self.sc = scenario
        self.gen = scenario.run() if scenario.variant == "smiley4" else scenario.run_smiley5()
        self.report = report
        self.error: str | None = None

    def start(self) -> None:
        from kivy.clock import Clock
        Clock.schedule_once(self.step, 0)

    def step(self, _dt) -> None:
        from kivy.clock import Clock
        try:
            next(self.gen)
        except StopIteration:
            self.finish()
            return
        except Exception:
            self.error = traceback.format_exc()
            self.finish()
            return
        Clock.schedule_once(self.step, 0)

    def finish(self) -> None:
        self.report.write_text(json.dumps({
            "res": self.sc.res, "checks": self.sc.checks, "layout": self.sc.layout,
            "screens": self.sc.screens, "error": self.error, "timings": self.sc.timings,
            "double_taps": self.sc.double_taps,
        }, indent=1))
        from kivy.app import App
        App.get_running_app().stop()


def main(argv: list[str] | None = None, *, scenario_class: type[Scenario] = Scenario,
         mapping=None, seed: bool = True) -> int:
    """Run the app driven by a scenario (another file's: its class, config and no seeded history)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--shots", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--variant", choices=("smiley4", "smiley5"), default="smiley4")
    a = ap.parse_args(argv)
    if "KIVY_HOME" not in os.environ:          # not setdefault: its argument would make a directory each run
        home = tempfile.TemporaryDirectory(prefix="kivy-home-")      # removed when this process ends
        os.environ["KIVY_HOME"] = home.name
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ["KIVY_NO_ARGS"] = "1"
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from kiosk.clock import FakeClock
    from kiosk.config import parse_config
    from kiosk.store import LocalStore
    from kiosk.ui.app import run_app

    mapping = mapping or (smiley5_config_mapping if a.variant == "smiley5" else scenario_config_mapping)
    cfg = parse_config(mapping()).with_data_dir(Path(a.data))
    store = LocalStore(cfg.db_path)
    if seed:
        seed_history(cfg, store)
        if a.variant == "smiley5":
            seed_staff_notes(cfg, store)
    clock = FakeClock(START)
    pins = MockFactory(pin_class=MockPWMPin)
    size = tuple(int(x) for x in a.size.split("x"))
    sc = scenario_class(size, Path(a.shots), clock, pins, cfg, variant=a.variant)
    driver = Driver(sc, Path(a.report))
    from kivy.clock import Clock
    Clock._max_fps = 0                       # frames as fast as they render: the test waits for frames
    driver.start()
    try:
        return run_app(cfg, clock=clock, pin_factory=pins, store=store, size=size,
                       config_base=mapping())
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
