"""An on-screen keyboard for the follow-up comment: letter rows per language, space, backspace.

Kivy's VKeyboard lacks å/ä/ö/æ/ø layouts we trust, so this is a plain grid of big keys.
It only reports keys (`on_key`); the flow decides what the text becomes.
"""

from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui import palette
from kiosk.ui.controls import PillButton

ROWS = {
    "sv": ("1234567890", "qwertyuiopå", "asdfghjklöä", "zxcvbnm,.?"),
    "nb": ("1234567890", "qwertyuiopå", "asdfghjkløæ", "zxcvbnm,.?"),
    "en": ("1234567890", "qwertyuiop", "asdfghjkl'", "zxcvbnm,.?"),
}
BACKSPACE = "\b"


class KeyGrid(BoxLayout):
    """Rows of keys; dispatches on_key(text) with a character, " " or BACKSPACE."""

    language = StringProperty("en")
    space_label = StringProperty("space")
    backspace_label = StringProperty("delete")
    font_size = NumericProperty(18)

    __events__ = ("on_key",)

    def __init__(self, **kw) -> None:
        kw.setdefault("orientation", "vertical")
        super().__init__(**kw)
        # kv sets language, labels and font size one after the other: build the keys once,
        # before the next frame, not once per property (45 keys each time).
        self._rebuild_soon = Clock.create_trigger(self.rebuild, -1)
        self.bind(language=self._rebuild_soon, space_label=self._rebuild_soon,
                  backspace_label=self._rebuild_soon, font_size=self._rebuild_soon)
        self._rebuild_soon()

    def rebuild(self, *_a) -> None:
        self.clear_widgets()
        gap = max(3.0, self.font_size * 0.25)
        self.spacing = gap
        rows = ROWS.get(self.language, ROWS["en"])
        widest = max(len(r) for r in rows)
        for row in rows:
            line = BoxLayout(spacing=gap)
            pad = (widest - len(row)) / 2
            if pad:
                line.add_widget(BoxLayout(size_hint_x=pad))
            for ch in row:
                line.add_widget(self._key(ch, ch))
            if pad:
                line.add_widget(BoxLayout(size_hint_x=pad))
            self.add_widget(line)
        last = BoxLayout(spacing=gap)
        last.add_widget(BoxLayout(size_hint_x=1.5))
        last.add_widget(self._key(self.space_label, " ", size_hint_x=6))
        last.add_widget(self._key(self.backspace_label, BACKSPACE, size_hint_x=1.5))
        self.add_widget(last)

    def _key(self, label: str, value: str, **kw) -> PillButton:
        b = PillButton(text=label, font_size=self.font_size, bg=palette.SURFACE, fg=palette.INK,
                       outline=palette.LINE, radius=8, **kw)
        b.key_value = value
        b.bind(on_release=lambda btn: self.dispatch("on_key", btn.key_value))
        return b

    def on_key(self, value: str) -> None:
        pass
