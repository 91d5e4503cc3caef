"""A scenario of text that must fit its box, on the real app: a comment typed past its limit,
and the staff view full of what it can hold (the longest comments, praise beside the complaints,
two site alerts, answers not saved and not accepted).

Run as `python -m tests.ui.fit_scenario --size 800x480 --data DIR --shots DIR --report FILE`
(tests/ui/test_fit.py starts it under Xvfb). The machinery is tests/ui/scenario.py's: its
`main` runs this walk in place of its own; its seeding (two long site alerts, an unconnected
sync with answers waiting) and `seed_long_comments` are the content.
"""

from __future__ import annotations

import sys

from tests.ui import scenario as S

# Typed on the on-screen keyboard, with each language's letters; longer than the 200 allowed.
TYPED = {"sv": "kön var lång och ingen kom fast jag väntade länge vid disken, ",
         "nb": "køen var lang og ingen kom selv om jeg ventet lenge ved disken, ",
         "en": "the queue was long and nobody came though i waited at the desk, "}
TYPED_CHARS = 215
LOOK_AT = (140, 175, 200, TYPED_CHARS)       # typed so far, where the box is looked at
# A custom question as long as one is written (about 120 characters), and reasons of long
# compound words (one a single word in sv and nb), as a chain's own catalogue may have them.
LONG_QUESTION = {
    "sv": "Hur nöjd är du med hjälpen du fick av vår personal vid kassan och i butiken i dag, och hittade du allt som du letade efter?",
    "nb": "Hvor fornøyd er du med hjelpen du fikk av de ansatte i kassen og i butikken i dag, og fant du alt du lette etter hos oss?",
    "en": "How satisfied are you with the help you got from our staff at the checkout and in the store today, and did you find it all?"}
LONG_REASONS = {
    "r1": {"sv": "Väntetiden i kassan och självutcheckningen", "nb": "Ventetid i kassen og ved selvbetjeningen",
           "en": "Waiting time at the tills and self-scan"},
    "r2": {"sv": "Kundtjänstmedarbetarnas bemötande", "nb": "Kundeservicemedarbeidernes vennlighet",
           "en": "Friendliness of customer service staff"},
    "r3": {"sv": "Städningen i butiken och på toaletterna", "nb": "Renhold i butikken og på toalettene her",
           "en": "Cleanliness of the store and the toilets"},
    "r4": {"sv": "Självutcheckningskassornas funktion", "nb": "Selvbetjeningskassenes funksjonalitet",
           "en": "Self-checkout machines not working well"},
}


def seed_praise(cfg, store, now) -> None:
    """Happy answers asked why (a question set to ask after every answer): three reasons of
    praise, the longest labels, beside the complaints."""
    from datetime import timedelta

    from kiosk.capture import Recorder
    from kiosk.clock import FakeClock
    q = cfg.questions[0]
    longest = sorted(q.reasons, key=lambda code: -max(len(t) for t in cfg.reasons[code].values()))[:3]
    c = FakeClock(now - timedelta(hours=4), boot_id="33333333-3333-4333-8333-333333333333")
    rec = Recorder(cfg, store, c)
    for i, code in enumerate(longest * 2 + longest[:1]):
        c.advance(60)
        r = rec.record(q.id, q.values[-1], language="sv", source="simulate")
        rec.record_followup(r.id, [code], None)


class FitScenario(S.Scenario):
    def run(self):
        yield from self.until(lambda: self.app is not None and self.app.sm.current == "question")
        yield from self.frames(3)
        yield from self.layout_check_sees_a_child_outside_its_container()
        for lang in self.cfg.languages:
            yield from self.choose_language(lang)
            yield from self.long_comment(lang)
        S.seed_long_comments(self.cfg, self.app.store, self.clock.now())
        seed_praise(self.cfg, self.app.store, self.clock.now())
        for lang in self.cfg.languages:
            yield from self.choose_language(lang)
            yield from self.full_staff_view(lang)
        for lang in self.cfg.languages:
            yield from self.choose_language(lang)
            yield from self.pin_pad_without_a_pin(lang)
        yield from self.long_question_and_reasons()
        yield from self.followup_without_a_comment()
        yield from self.followup_with_only_a_comment()

    def layout_check_sees_a_child_outside_its_container(self):
        """Plant a panel with more lines than it holds: each line fits its own box and the
        window, but the first ones are drawn above the panel."""
        from kivy.core.window import Window
        from kivy.uix.boxlayout import BoxLayout
        from kivy.uix.label import Label

        from tests.ui.layoutcheck import layout_problems
        panel = BoxLayout(orientation="vertical", size_hint=(None, None), size=(200, 90), pos=(100, 100))
        for i in range(5):
            panel.add_widget(Label(text=f"line {i}", size_hint_y=None, height=30))
        self.app.root.add_widget(panel)
        yield from self.frames(2)
        found = layout_problems(self.app.root, Window.size)
        self.app.root.remove_widget(panel)
        outside = [p for p in found if p.startswith("outside its container: Label('line")]
        self.check("layout check sees lines drawn outside their panel", len(outside) == 2, found)
        yield from self.frames(1)

    def long_comment(self, lang: str):
        """Typed past the limit: the box shows the end of the text and the cursor, whole lines;
        the characters left are counted near the limit, to 0 in the warning colour; what is
        stored is what was typed, cut at the limit."""
        from kivy.core.window import Window

        from kiosk.ui import palette
        from kiosk.ui.screens import COMMENT_LEFT_FROM
        from tests.ui.layoutcheck import layout_problems
        limit = self.cfg.followup.max_comment_chars
        text = (TYPED[lang] * 4)[:TYPED_CHARS]
        yield from self.gap()
        yield from self.tap(self.find("SmileyButton")[0])
        yield from self.tap(self.app.sm.current_screen.ids.comment_button)
        scr = self.app.sm.current_screen
        box, counter = scr.ids.comment_text, scr.ids.comment_left
        # The text is filled the keys' way (the app's key handler) up to where the box is about
        # to fill (the first language) or the count to start (the others); the rest is typed
        # with touches on the keys, up to the limit and past it.
        quick = 100 if lang == self.cfg.languages[0] else 165
        for ch in text[:quick]:
            self.app.comment_key(ch)
        keys = {k.key_value: k for k in self.find("Key")}
        for n, ch in enumerate(text[quick:], quick + 1):
            yield from self.tap(keys[ch])
            if n not in LOOK_AT and n != quick + 1:
                continue
            yield from self.frames(2)
            draft = self.app.flow.draft.comment
            self.check(f"{lang}: {n} typed, {len(draft)} kept", draft == text[:min(n, limit)], draft)
            shown = box.text
            end = shown.removeprefix("…").removesuffix("|")
            # What the label drew: the lines its text box holds.
            drawn = "".join(word.text for line in box._label._cached_lines for word in line.words)
            self.check(f"{lang}: {n} typed: the end of the text and the cursor in view",
                       drawn.rstrip().endswith("|") and shown.endswith("|") and draft.endswith(end)
                       and len(end) >= min(len(draft), 40) and (shown == draft + "|" or shown.startswith("…")),
                       (shown, drawn[-40:], draft))
            left = limit - len(draft)
            want = self.app.tr("comment_left", lang, n=left) if left <= COMMENT_LEFT_FROM else ""
            self.check(f"{lang}: {n} typed: characters left shown near the limit", counter.text == want,
                       (counter.text, want))
            if left == 0:
                self.check(f"{lang}: the limit reached, in the warning colour",
                           tuple(counter.color) == tuple(palette.WARNING), counter.color)
            problems = layout_problems(self.app.root, Window.size)
            self.check(f"{lang}: {n} typed: the comment screen's layout", not problems, problems)
            if n == limit:
                yield from self.shot("comment_limit")
        yield from self.tap([b for b in self.find("PillButton") if b.text == self.app.tr("comment_done", lang)][0])
        yield from self.tap([c for c in self.find("ReasonChip") if c.code == "queue"][0])
        self.check(f"{lang}: sent with a reason", self.screen() == "thanks", self.screen())
        stored = self.app.store.db.execute_sql(
            "SELECT f.comment FROM followup f JOIN response r ON r.id = f.response_id"
            " WHERE r.source = 'touch' ORDER BY f.seq DESC LIMIT 1").fetchone()[0]
        self.check(f"{lang}: stored as typed, cut at the limit", stored == text[:limit].strip(), stored)
        yield from self.advance(self.cfg.ui.thank_you_s + 0.1, then="question")

    def full_staff_view(self, lang: str):
        """The longest comments, two long site alerts, then the two problems staff must act on:
        every line inside its panel, the latest three comments, both alerts or both problems."""
        from kiosk.exc import DiskFull
        from kiosk.ui.fit import TextBox
        yield from self.corner_hold()
        for d in S.STAFF_PIN:
            yield from self.pin_key(d)
        yield from self.pin_ok()
        self.check(f"{lang}: staff view", self.screen() == "staff", self.screen())
        yield from self.frames(2)
        scr = self.app.sm.current_screen
        comments = scr.ids.comments.text.splitlines()
        # The praise's line leaves two or three of the latest comments room (by the language's
        # lengths), a line each.
        self.check(f"{lang}: the latest comments that fit beside the praise, the long ones cut",
                   len(comments) in (2, 3) and sum(c.count("…") for c in comments) >= 2, comments)
        praise = scr.ids.reasons.text.splitlines()[-1]
        self.check(f"{lang}: the praise beside the complaints, in one line, whole reasons",
                   praise.startswith(self.app.tr("staff_praise", lang, reasons=""))
                   and (praise.endswith(", …") or praise[-1].isdigit())      # no count cut off
                   and len(scr.ids.reasons.text.splitlines()) == 4
                   and TextBox(scr.ids.reasons, scr.ids.reasons.width).height(praise)
                   <= TextBox(scr.ids.reasons, scr.ids.reasons.width).line_height(), praise)
        alerts = scr.ids.alerts.text.splitlines()
        self.check(f"{lang}: both site alerts, cut to fit", len(alerts) == 2
                   and all(a.startswith("• ") and a.endswith("…") for a in alerts), alerts)
        yield from self.inside_the_panels(lang, "staff_full")
        # What staff must act on comes in full, in place of the alerts.
        self.app.store.full_now = lambda: DiskFull("the disk is full")      # as its statvfs tells
        db = self.app.store.db
        db.execute_sql("UPDATE response SET send_count = 1, rejected_at = ?, rejected_reason = ?"
                       " WHERE seq = (SELECT MIN(seq) FROM response)", ("2026-11-23T12:00:00.000Z", "refused"))
        yield from self.advance(10.5)
        yield from self.frames(2)
        notices = scr.ids.alerts.text.splitlines()
        want = ["• " + self.app.tr("staff_disk_full", lang), "• " + self.app.tr("staff_refused", lang, n=1)]
        self.check(f"{lang}: answers not saved and not accepted, in full", notices == want, notices)
        yield from self.inside_the_panels(lang, "staff_full_problems")
        del self.app.store.full_now
        self.app.flow.check_card()
        db.execute_sql("UPDATE response SET rejected_at = NULL, rejected_reason = NULL")
        yield from self.tap([b for b in self.find("PillButton") if b.text == self.app.tr("staff_close", lang)][0])
        self.check(f"{lang}: staff view closed", self.screen() == "question", self.screen())

    def pin_pad_without_a_pin(self, lang: str):
        """A kiosk with no staff PIN set up: the pad says so (in two lines in nb at 480x800),
        its title still inside its box."""
        import dataclasses

        from kiosk.capture import Recorder
        flow = self.app.flow
        if flow.pin_guard.enabled:               # the kiosk's config without a PIN, applied as a push is
            cfg = dataclasses.replace(flow.cfg, staff=dataclasses.replace(flow.cfg.staff, pin_hash=""))
            flow.reconfigure(cfg, Recorder(cfg, self.app.store, self.clock))
        yield from self.corner_hold()
        scr = self.app.sm.current_screen
        self.check(f"{lang}: no PIN set up: the pad says so", scr.ids.message.text == self.app.tr("pin_disabled", lang),
                   scr.ids.message.text)
        yield from self.shot("pin_no_pin")
        bad = self.layout[-1]["problems"]
        self.check(f"{lang}: pin_no_pin: nothing outside its box", not bad, bad)
        yield from self.tap([b for b in self.find("PillButton") if b.text == self.app.tr("cancel", lang)][0])
        self.check(f"{lang}: the pad without a PIN closed", self.screen() == "question", self.screen())

    def reconfigure(self, **visit) -> None:
        """The kiosk's config with its 'visit' question changed (as a push from the centre would)."""
        from kiosk.capture import Recorder
        from kiosk.config import parse_config
        m = S.scenario_config_mapping()
        m["reasons"] = dict(LONG_REASONS)          # added to the built-in catalogue
        for q in m["questions"]:
            if q["id"] == "visit":
                q.update(visit)
        cfg = parse_config(m).with_data_dir(self.cfg.data_dir)
        self.app.flow.reconfigure(cfg, Recorder(cfg, self.app.store, self.clock))

    def seed_long_reasons_and_notes(self) -> None:
        """Complaints with the long reasons today; answers on an earlier scale (five faces, three
        days ago) and presses too quick after another this morning: both notes under the trend."""
        from datetime import timedelta

        from kiosk.capture import Recorder
        from kiosk.clock import FakeClock
        from kiosk.config import parse_config
        store, now = self.app.store, self.clock.now()
        five = S.scenario_config_mapping()
        five["questions"] = [dict(q, scale="smiley5") for q in five["questions"] if q["id"] == "visit"]
        five["schedule"] = [{"question": "visit"}]
        five["gpio"] = {"buttons": [5, 6, 13, 19, 26], "leds": []}
        c = FakeClock(now - timedelta(days=3), boot_id="77777777-7777-4777-8777-777777777777")
        rec = Recorder(parse_config(five).with_data_dir(self.cfg.data_dir), store, c)
        for value in (5, 4, 5):
            c.advance(600)
            rec.record("visit", value, language="sv", source="simulate")
        cfg = self.app.flow.cfg
        c = FakeClock(now - timedelta(hours=2), boot_id="88888888-8888-4888-8888-888888888888")
        rec = Recorder(cfg, store, c)
        for code in ("r1", "r2", "r3", "r4") * 8:
            c.advance(60)
            r = rec.record("visit", 1, language="sv", source="simulate")
            rec.record_followup(r.id, [code], None)
        for _ in range(4):
            c.advance(1)
            rec.record("visit", 4, language="sv", source="simulate")

    def long_question_and_reasons(self):
        """A 120-character question with both notes under the trend: the staff view cuts the
        question to the lines its panel has room for (at 800x480 it was drawn over the header),
        each complaint's count stays with its reason; the follow-up's chips shrink their text
        until their longest word fits (split mid-word: "Kundtjänstmedarbetar|nas")."""
        from kiosk.ui.fit import ELLIPSIS, TextBox
        self.reconfigure(text=LONG_QUESTION, reasons=list(LONG_REASONS), version=2, followup="every")
        self.seed_long_reasons_and_notes()
        for lang in self.cfg.languages:
            yield from self.choose_language(lang)
            yield from self.corner_hold()
            for d in S.STAFF_PIN:
                yield from self.pin_key(d)
            yield from self.pin_ok()
            yield from self.until(lambda: self.screen() == "staff")
            yield from self.frames(2)
            scr = self.app.sm.current_screen
            question = scr.ids.question_text
            box = TextBox(question, question.width)
            self.check(f"{lang}: a long question cut to at most two lines",
                       question.text.endswith(ELLIPSIS) and LONG_QUESTION[lang].startswith(question.text[:-1])
                       and box.height(question.text) <= 2 * box.line_height() + 0.5, question.text)
            notes = scr.ids.filtered.text.splitlines()
            self.check(f"{lang}: long question: both notes under the trend", len(notes) == 2, notes)
            yield from self.counts_kept_with_their_reasons(lang)
            yield from self.inside_the_panels(lang, "staff_long_question")
            yield from self.tap([b for b in self.find("PillButton") if b.text == self.app.tr("staff_close", lang)][0])
            yield from self.until(lambda: self.screen() == "question")
            yield from self.long_reasons_on_chips(lang)

    def counts_kept_with_their_reasons(self, lang: str):
        """A complaint's count is not left alone on the next line under a long reason."""
        scr = self.app.sm.current_screen
        drawn = ["".join(w.text for w in line.words).strip() for line in scr.ids.reasons._label._cached_lines]
        self.check(f"{lang}: each complaint's count on the line of its reason",
                   len(drawn) >= 4 and not any(line.isdigit() for line in drawn), drawn)
        yield from self.frames(1)

    def long_reasons_on_chips(self, lang: str):
        """The chips' text is made smaller until every chip's longest word fits (not below 15 px at
        800x480), all chips at one size: a long compound word was split ("Kundtjänstmedarbetar|nas
        bemötande"), and then the chip that shrank alone read smaller than its neighbours."""
        from kivy.core.text import Label as CoreLabel
        yield from self.unhappy_answer(lang)
        yield from self.frames(1)
        least = 15 * self.app.u - 0.01
        bad = []
        for chip in self.find("ReasonChip"):
            core = CoreLabel(**{k: v for k, v in chip._label.options.items() if k != "text"})
            wide = max(core.get_extents(w)[0] for w in chip.text.split()) + 2 * chip.padding_x_px()
            if wide > chip.width + 1 or chip.font_size < least:
                bad.append((chip.text, round(chip.font_size, 1), round(wide), round(chip.width)))
        self.check(f"{lang}: every reason's longest word whole on its chip, text at least 15 px", not bad, bad)
        # One font for the screen's chips: each shrinking its own made one reason visibly smaller
        # than its neighbours (a visual review).
        sizes = {chip.text: round(chip.font_size, 2) for chip in self.find("ReasonChip")}
        self.check(f"{lang}: all reason chips share one font size", len(set(sizes.values())) == 1, sizes)
        yield from self.shot("followup_long_reasons")
        yield from self.tap(self.app.sm.current_screen.ids.skip_button)
        yield from self.advance(self.cfg.ui.thank_you_s + 0.1, then="question")

    def unhappy_answer(self, lang: str):
        """The next customer, in `lang`, taps the unhappiest face: the follow-up."""
        if self.app.lang != lang:
            yield from self.choose_language(lang)
        yield from self.gap()
        yield from self.tap(self.find("SmileyButton")[0])
        self.check(f"{lang}: the follow-up of {self.app.flow.question.id} v{self.app.flow.question.version}",
                   self.screen() == "followup", self.screen())
        yield from self.frames(1)

    def followup_without_a_comment(self):
        """A question that takes no comment: Skip has the button row to itself (the hidden
        comment button took its left half)."""
        self.reconfigure(version=3, comment=False)
        for lang in self.cfg.languages:
            yield from self.unhappy_answer(lang)
            scr = self.app.sm.current_screen
            row = scr.ids.actions
            self.check(f"{lang}: no comment: only Skip in the button row",
                       row.children == [scr.ids.skip_button]
                       and abs(scr.ids.skip_button.width - row.width) < 1,
                       [(type(b).__name__, b.text, round(b.width)) for b in row.children])
            yield from self.shot("followup_no_comment")
            yield from self.tap(scr.ids.skip_button)
            yield from self.advance(self.cfg.ui.thank_you_s + 0.1, then="question")

    def followup_with_only_a_comment(self):
        """A question with no reasons and a comment: the hints speak of the comment alone (they
        said "tap the one that fits best" above nothing), and the comment button is no longer a
        small one under a blank screen: a large primary button centred where the chips would be
        (at least a row's height, 48 dp touch target), Skip alone in the row. Once a comment is
        written the button stays there (to edit it) and Send, the primary action, joins Skip."""
        from kiosk.ui import palette
        self.reconfigure(version=4, reasons=[], comment=True)
        for lang in self.cfg.languages:
            yield from self.unhappy_answer(lang)
            scr = self.app.sm.current_screen
            self.check(f"{lang}: comment only: the hint asks for a comment",
                       scr.ids.hint.text == self.app.tr("followup_hint_comment", lang), scr.ids.hint.text)
            yield from self.comment_button_in_the_chip_area(lang, primary=True)
            yield from self.shot("followup_comment_only")
            self.check(f"{lang}: comment only, nothing written: no comment shown",
                       scr.ids.comment_preview.parent is None, scr.ids.comment_preview.text)
            yield from self.tap(scr.ids.comment_button)
            for ch in (TYPED[lang] * 4)[:self.cfg.followup.max_comment_chars]:
                self.app.comment_key(ch)
            yield from self.tap([b for b in self.find("PillButton") if b.text == self.app.tr("comment_done", lang)][0])
            scr = self.app.sm.current_screen
            self.check(f"{lang}: comment only: written, the hint says to send it",
                       self.screen() == "followup"
                       and scr.ids.hint.text == self.app.tr("followup_hint_send_comment", lang),
                       (self.screen(), scr.ids.hint.text))
            yield from self.comment_button_in_the_chip_area(lang, primary=False)
            yield from self.comment_shown_before_it_is_sent(lang)
            self.check(f"{lang}: comment only, written: Skip and Send in the row",
                       scr.ids.actions.children[::-1] == [scr.ids.skip_button, scr.ids.send_button]
                       and tuple(scr.ids.send_button.bg) == tuple(palette.ACCENT),
                       [b.text for b in scr.ids.actions.children[::-1]])
            yield from self.shot("followup_comment_only_written")
            yield from self.tap(scr.ids.send_button)
            yield from self.advance(self.cfg.ui.thank_you_s + 0.1, then="question")
        yield from self.followup_back_to_reasons()

    def comment_shown_before_it_is_sent(self, lang: str):
        """The comment written is shown above its button, quoted, its beginning in at most
        COMMENT_PREVIEW_LINES lines and "…" (it was shown nowhere before Send; a visual review)."""
        from kiosk.ui.fit import ELLIPSIS, TextBox
        from kiosk.ui.screens import COMMENT_PREVIEW_LINES
        scr = self.app.sm.current_screen
        preview, button = scr.ids.comment_preview, scr.ids.comment_button
        comment = self.app.flow.draft.comment
        opening, closing = self.app.tr("quote_open", lang), self.app.tr("quote_close", lang)
        # Whole where it fits (200 characters take three lines at 800x480), else its beginning.
        cut = preview.text.endswith(ELLIPSIS + closing)
        body = preview.text[len(opening):-len(closing) - (len(ELLIPSIS) if cut else 0)]
        box = TextBox(preview, preview.text_size[0])
        self.check(f"{lang}: comment only, written: the comment shown, quoted, cut to its lines",
                   preview.parent is not None and preview.text.startswith(opening + comment[:10])
                   and (comment.startswith(body) if cut else body == comment)
                   and box.height(preview.text) <= COMMENT_PREVIEW_LINES * box.line_height() + 0.5
                   and preview.y >= button.top,
                   (preview.text, comment, preview.parent is not None, round(preview.y), round(button.top)))
        yield from self.frames(1)

    def comment_button_in_the_chip_area(self, lang: str, primary: bool):
        """The comment button centred in the chips' area, at least a chip's size and never under
        48 dp; filled (primary) while nothing is written; Skip alone in the row below it."""
        from kiosk.ui import palette
        scr = self.app.sm.current_screen
        yield from self.frames(2)
        button, area, row = scr.ids.comment_button, scr.ids.chip_area, scr.ids.actions
        u = self.app.u
        centred = (abs(button.center_x - area.center_x) < 1.5 and abs(button.center_y - area.center_y) < 1.5
                   and button.parent is area.__self__)
        # A chip of the normal screen is a third (landscape) or half (portrait) of the width.
        cols = 3 if self.app.landscape else 2
        chip_w = (area.width - 12 * u * (cols - 1)) / cols
        large = button.width >= chip_w - 1 and button.height >= max(48, 2 * 64 * u) - 1
        filled = tuple(button.bg) == tuple(palette.ACCENT) if primary else tuple(button.bg) == tuple(palette.SURFACE)
        alone = (scr.ids.skip_button in row.children and button not in row.children
                 and (not primary or (row.children == [scr.ids.skip_button]
                                      and abs(scr.ids.skip_button.width - row.width) < 1)))
        self.check(f"{lang}: comment only{'' if primary else ', written'}: a large comment button centred"
                   f" in the chips' area{', filled' if primary else ''}, Skip in the row",
                   centred and large and filled and alone,
                   (type(button.parent).__name__, [round(v) for v in (*button.pos, *button.size)],
                    [round(v) for v in (*area.pos, *area.size)], round(chip_w), tuple(button.bg),
                    [b.text for b in row.children]))

    def followup_back_to_reasons(self):
        """The next question has reasons again: the comment button is back, first, outlined, in
        the row beside Skip, and the chips fill their area as before."""
        from kiosk.ui import palette
        self.reconfigure(version=5)
        for lang in self.cfg.languages:
            yield from self.unhappy_answer(lang)
            yield from self.frames(2)
            scr = self.app.sm.current_screen
            button, row = scr.ids.comment_button, scr.ids.actions
            chips = scr.ids.chips
            self.check(f"{lang}: reasons again: the comment button back in the row, outlined; the chips fill their area",
                       row.children[::-1] == [button, scr.ids.skip_button] and scr.ids.comment_preview.parent is None
                       and tuple(button.bg) == tuple(palette.SURFACE) and tuple(button.fg) == tuple(palette.ACCENT)
                       and len(chips.children) > 0 and abs(chips.height - scr.ids.chip_area.height) < 1,
                       ([b.text for b in row.children[::-1]], tuple(button.bg), len(chips.children)))
            yield from self.shot("followup_reasons_again")
            yield from self.tap(scr.ids.skip_button)
            yield from self.advance(self.cfg.ui.thank_you_s + 0.1, then="question")

    def inside_the_panels(self, lang: str, shot: str):
        from kivy.uix.label import Label

        from tests.ui.layoutcheck import walk, window_box
        scr = self.app.sm.current_screen
        out = []
        for panel in self.find("Panel", root=scr):
            box = window_box(panel)
            out += [(w.text[:30], [round(v) for v in window_box(w)], [round(v) for v in box])
                    for w in walk(panel) if isinstance(w, Label) and w.text
                    and (window_box(w)[3] > box[3] + 1 or window_box(w)[1] < box[1] - 1)]
        self.check(f"{lang}: {shot}: every line inside its panel", not out, out)
        yield from self.staff_readable(lang)
        yield from self.shot(shot)
        bad = self.layout[-1]["problems"]
        self.check(f"{lang}: {shot}: no clipped, cut or broken text, nothing outside its container", not bad, bad)


def main(argv: list[str] | None = None) -> int:
    return S.main(argv, scenario_class=FitScenario)      # scenario.main's machinery, this walk


if __name__ == "__main__":
    sys.exit(main())
