"""The app's touch controls: rounded buttons, reason chips, NPS number keys, the staff corner.

Every control is a real Kivy button (ButtonBehavior), so tests press them with real touches.
Colours come from `kiosk.ui.palette`; text from the locale files via the app.
"""

from __future__ import annotations

from kivy.graphics import Color, Ellipse, RoundedRectangle
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.ui import palette


class PillButton(ButtonBehavior, Label):
    """A rounded, filled button with centred text that wraps instead of overflowing."""

    bg = ColorProperty(palette.ACCENT)
    fg = ColorProperty((1, 1, 1, 1))
    outline = ColorProperty((0, 0, 0, 0))
    radius = NumericProperty(14)
    selected = BooleanProperty(False)

    def __init__(self, **kw) -> None:
        kw.setdefault("halign", "center")
        kw.setdefault("valign", "middle")
        # A disabled key (locked PIN pad) still reads as a key, only quieter.
        kw.setdefault("disabled_color", (*palette.INK_MUTED[:3], 0.6))
        super().__init__(**kw)
        self.bind(pos=self._redraw, size=self._redraw, bg=self._redraw, state=self._redraw,
                  outline=self._redraw, radius=self._redraw, disabled=self._redraw,
                  fg=self._recolour)
        self.bind(size=self._wrap)
        self._recolour()
        self._wrap()
        self._redraw()

    def _wrap(self, *_a) -> None:
        self.text_size = (max(1, self.width - 2 * self.padding_x_px()), None)

    def padding_x_px(self) -> float:
        return min(16.0, self.width * 0.08)

    def _recolour(self, *_a) -> None:
        self.color = self.fg

    def _redraw(self, *_a) -> None:
        self.canvas.before.clear()
        r, g, b, a = self.bg
        if self.state == "down":
            r, g, b = r * 0.85, g * 0.85, b * 0.85
        if self.disabled:
            a *= 0.45
        with self.canvas.before:
            # An outline is a filled shape under an inset one: thick Lines cost a stencil pass.
            inset = 0.0
            if self.outline[3] > 0:
                Color(*self.outline)
                RoundedRectangle(pos=self.pos, size=self.size, radius=[self.radius])
                inset = 2.0
            Color(r, g, b, a)
            RoundedRectangle(pos=(self.x + inset, self.y + inset),
                             size=(max(0, self.width - 2 * inset), max(0, self.height - 2 * inset)),
                             radius=[max(0, self.radius - inset)])


class ReasonChip(PillButton):
    """One reason on the follow-up screen; `selected` toggles (multi-select)."""

    code = StringProperty("")

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.bind(selected=self._restyle)
        self._restyle()

    def _restyle(self, *_a) -> None:
        if self.selected:
            self.bg, self.fg, self.outline = palette.ACCENT, (1, 1, 1, 1), (0, 0, 0, 0)
        else:
            self.bg, self.fg, self.outline = palette.SURFACE, palette.INK, palette.LINE


class NpsButton(PillButton):
    """A number key 0-10 for an NPS question, tinted by detractor / passive / promoter."""

    value = NumericProperty(0)


class CornerZone(ButtonBehavior, Widget):
    """The invisible top-left corner: holding it opens the staff PIN pad (timed by the flow)."""

    flow_owner = ObjectProperty(None, allownone=True)

    def on_touch_down(self, touch) -> bool:
        if self.disabled or not self.collide_point(*touch.pos):
            return False
        touch.grab(self)
        if self.flow_owner is not None:
            self.flow_owner.corner_down()
        return True

    def on_touch_up(self, touch) -> bool:
        if touch.grab_current is self:
            touch.ungrab(self)
            if self.flow_owner is not None:
                self.flow_owner.corner_up()
            return True
        return False


class PinDots(Widget):
    """How many PIN digits are typed, as dots (never the digits); at least four places shown."""

    count = NumericProperty(0)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.bind(pos=self._redraw, size=self._redraw, count=self._redraw)
        self._redraw()

    def _redraw(self, *_a) -> None:
        self.canvas.clear()
        places = max(4, int(self.count))
        d = min(self.height * 0.32, self.width / (places * 2.2))
        gap = d * 1.1
        total = places * d + (places - 1) * gap
        x0 = self.center_x - total / 2
        y = self.center_y - d / 2
        with self.canvas:
            for i in range(places):
                Color(*(palette.ACCENT if i < self.count else palette.LINE))
                Ellipse(pos=(x0 + i * (d + gap), y), size=(d, d))
