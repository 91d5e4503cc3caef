"""A scenario of text that must fit its box, on the real app: a comment typed past its limit.

Run as `python -m tests.ui.fit_scenario --size 800x480 --data DIR --shots DIR --report FILE`
(tests/ui/test_fit.py starts it under Xvfb). The machinery is tests/ui/scenario.py's: its
`main` runs this walk in place of its own.
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


class FitScenario(S.Scenario):
    def run(self):
        yield from self.until(lambda: self.app is not None and self.app.sm.current == "question")
        yield from self.frames(3)
        for lang in self.cfg.languages:
            yield from self.choose_language(lang)
            yield from self.long_comment(lang)

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


def main(argv: list[str] | None = None) -> int:
    S.Scenario = FitScenario              # scenario.main's machinery, this walk
    return S.main(argv)


if __name__ == "__main__":
    sys.exit(main())
