"""The app's touch controls: rounded buttons, reason chips and their grid, NPS number keys, the staff corner.

Every control is a real Kivy button (ButtonBehavior), so tests press them with real touches.
Colours come from `kiosk.ui.palette`; text from the locale files via the app. Rounded shapes
are antialiased triangle meshes (`kiosk.ui.shapes`): the window has no multisampling.
"""

from __future__ import annotations

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.graphics import Color, InstructionGroup
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.ui import palette
from kiosk.ui.shapes import MeshBuilder


class RoundedBackground:
    """Mixin for a widget: a rounded, antialiased background with an optional outline, drawn
    first in `canvas.before` (kv rules may add more after it). `radius` >= half the height
    gives a pill; on a square widget, a disc."""

    bg = ColorProperty((0, 0, 0, 0))
    outline = ColorProperty((0, 0, 0, 0))
    border_width = NumericProperty(2.0)
    radius = NumericProperty(0)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._backdrop = InstructionGroup()
        self.canvas.before.insert(0, self._backdrop)
        # A layout pass moves and resizes a widget several times: geometry redraws once, before
        # the next frame. A colour change (a press) redraws at once, in the same frame.
        soon = Clock.create_trigger(self.draw_backdrop, -1)
        self.bind(pos=soon, size=soon, border_width=soon, radius=soon,
                  bg=self.draw_backdrop, outline=self.draw_backdrop)
        self.draw_backdrop()

    def backdrop_colour(self) -> tuple:
        return tuple(self.bg)

    def draw_backdrop(self, *_a) -> None:
        group = self._backdrop
        group.clear()
        x, y, w, h = self.x, self.y, self.width, self.height
        # An outline is a filled shape under an inset one: a thick Line costs a stencil pass.
        inset = 0.0
        if self.outline[3] > 0:
            mesh = MeshBuilder().rounded_rect(x, y, w, h, self.radius).mesh()
            if mesh is not None:
                group.add(Color(*self.outline))
                group.add(mesh)
            inset = self.border_width
        colour = self.backdrop_colour()
        if colour[3] > 0:
            mesh = MeshBuilder().rounded_rect(x + inset, y + inset, w - 2 * inset, h - 2 * inset,
                                              max(0.0, self.radius - inset)).mesh()
            if mesh is not None:
                group.add(Color(*colour))
                group.add(mesh)


Factory.register("RoundedBackground", cls=RoundedBackground)


class RoundedLabel(RoundedBackground, Label):
    """A label on a rounded background (badges, the comment box, the NPS number disc)."""


class PillButton(RoundedBackground, ButtonBehavior, Label):
    """A rounded, filled button with centred text that wraps instead of overflowing."""

    bg = ColorProperty(palette.ACCENT)
    fg = ColorProperty(palette.ON_ACCENT)
    radius = NumericProperty(14)
    selected = BooleanProperty(False)

    def __init__(self, **kw) -> None:
        kw.setdefault("halign", "center")
        kw.setdefault("valign", "middle")
        # A disabled key (locked PIN pad) still reads as a key, only quieter.
        kw.setdefault("disabled_color", (*palette.INK_MUTED[:3], 0.6))
        super().__init__(**kw)
        self.bind(state=self.draw_backdrop, disabled=self.draw_backdrop, fg=self._recolour)
        self.bind(size=self._wrap)
        self._recolour()
        self._wrap()

    def _wrap(self, *_a) -> None:
        self.text_size = (max(1, self.width - 2 * self.padding_x_px()), None)

    def padding_x_px(self) -> float:
        return self.padding_for(self.width)

    @staticmethod
    def padding_for(width: float) -> float:
        """The room left and right of the text on a button `width` px wide."""
        return min(16.0, width * 0.08)

    def _recolour(self, *_a) -> None:
        self.color = self.fg

    def backdrop_colour(self) -> tuple:
        r, g, b, a = self.bg
        if self.state == "down":
            r, g, b = r * 0.85, g * 0.85, b * 0.85
        if self.disabled:
            a *= 0.45
        return (r, g, b, a)


class ReasonChip(PillButton):
    """One reason on the follow-up screen; `selected` toggles (multi-select). Its font size is
    its grid's (`ReasonGrid`), the same for every chip of the screen."""

    code = StringProperty("")

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.bind(selected=self._restyle)
        self._restyle()

    def _restyle(self, *_a) -> None:
        if self.selected:
            self.bg, self.fg, self.outline = palette.ACCENT, palette.ON_ACCENT, (0, 0, 0, 0)
        else:
            self.bg, self.fg, self.outline = palette.SURFACE, palette.INK, palette.LINE


class ReasonGrid(GridLayout):
    """The follow-up's reason chips in columns, all at one font size: `largest_font`, or smaller
    (to `least_font`) where a chip's longest word would not fit its line (long compound words,
    sv "Självutcheckningskassornas", were split mid-word). One size for all: each chip shrinking
    its own text made one reason read smaller than its neighbours (a visual review)."""

    largest_font = NumericProperty(21)
    least_font = NumericProperty(15)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._fitted = None
        self.bind(largest_font=self._trigger_layout, least_font=self._trigger_layout)

    def add_widget(self, widget, *args, **kw) -> None:
        # A relabelled chip (another language) keeps its size: no layout pass would follow.
        widget.bind(text=self._trigger_layout)
        super().add_widget(widget, *args, **kw)

    def remove_widget(self, widget, *args, **kw) -> None:
        widget.unbind(text=self._trigger_layout)
        super().remove_widget(widget, *args, **kw)

    def do_layout(self, *args) -> None:
        super().do_layout(*args)        # sizes the chips, and so their text widths
        from kiosk.ui.fit import font_for_all
        chips = self.children
        key = (tuple((c, c.text, c.text_size[0]) for c in chips), self.largest_font, self.least_font)
        if key == self._fitted:         # once per layout that changed something
            return
        self._fitted = key
        if any((c.text_size[0] or 0) <= 1 for c in chips):    # not laid out yet
            size = self.largest_font
        else:
            size = font_for_all(chips, self.largest_font, self.least_font)
        for chip in chips:
            chip.font_size = size


class NpsButton(PillButton):
    """A number key 0-10 for an NPS question; every key looks the same."""

    answers = True          # an answer key: two pressed at once count neither (KioskRoot)
    value = NumericProperty(0)


class CornerZone(ButtonBehavior, Widget):
    """The invisible top-left corner: holding it opens the staff PIN pad (timed by the flow)."""

    # Above the screens: a hold begun on the thank-you goes on when the question is back, and
    # its lift (which only ends the hold) must reach it (KioskRoot lets go of other touches).
    outlives_screens = True
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


class PinDots(RoundedBackground, Widget):
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
        typed, empty = MeshBuilder(), MeshBuilder()
        for i in range(places):
            (typed if i < self.count else empty).disc(x0 + i * (d + gap) + d / 2, self.center_y,
                                                       d / 2, segments=24)
        with self.canvas:
            for colour, mesh in ((palette.ACCENT, typed), (palette.LINE, empty)):
                Color(*colour)
                mesh.mesh()
