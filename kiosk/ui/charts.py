"""The staff screen's small trend: one bar per day, its score above it, the weekday below.

`bar_heights` (pure) turns scores into bar heights; `TrendChart` draws them with canvas
instructions and a label per bar. Today's bar is the accent colour, the others a quieter one.
"""

from __future__ import annotations

from typing import Sequence

from kivy.clock import Clock
from kivy.graphics import Color, Line, Rectangle
from kivy.properties import BooleanProperty, ListProperty, NumericProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.ui import palette


def bar_heights(scores: Sequence[float | None], nps: bool) -> list[float]:
    """Each day's bar as a share of the plot height: a 0-100 score as it is, an NPS
    (-100..100) from its bottom; a day without answers has no bar (0)."""
    out = []
    for s in scores:
        if s is None:
            out.append(0.0)
        else:
            share = (s + 100) / 200 if nps else s / 100
            out.append(min(1.0, max(0.02, share)))
    return out


class TrendChart(Widget):
    """Bars for the days in `scores` (oldest first); `labels` under them; the last is today."""

    scores = ListProperty([])
    labels = ListProperty([])
    nps = BooleanProperty(False)
    font_size = NumericProperty(16)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._labels: list[Label] = []
        # Layout moves the chart several times a frame: draw it (and make its labels) once.
        self._redraw_soon = Clock.create_trigger(self.redraw, -1)
        self.bind(pos=self._redraw_soon, size=self._redraw_soon, scores=self._redraw_soon,
                  labels=self._redraw_soon, nps=self._redraw_soon, font_size=self._redraw_soon)

    def redraw(self, *_a) -> None:
        for lab in self._labels:
            self.remove_widget(lab)
        self._labels = []
        self.canvas.before.clear()
        n = len(self.scores)
        if not n or self.width < 10 or self.height < 10:
            return
        text_h = self.font_size * 1.35
        plot_h = max(1.0, self.height - 2 * text_h)
        slot = self.width / n
        base = self.y + text_h
        with self.canvas.before:
            Color(*palette.LINE)
            Line(points=[self.x, base, self.right, base], width=1)
            for i, h in enumerate(bar_heights(self.scores, self.nps)):
                if h:
                    Color(*(palette.ACCENT if i == n - 1 else palette.CHART))
                    Rectangle(pos=(self.x + i * slot + slot * 0.2, base), size=(slot * 0.6, plot_h * h))
        heights = bar_heights(self.scores, self.nps)
        for i, score in enumerate(self.scores):
            cx = self.x + i * slot + slot / 2
            if i < len(self.labels):
                self._add_label(self.labels[i], cx, self.y, text_h, slot)
            self._add_label("–" if score is None else f"{score:.0f}", cx, base + plot_h * heights[i], text_h, slot)

    def _add_label(self, text: str, cx: float, y: float, h: float, w: float) -> None:
        lab = Label(text=text, font_size=self.font_size, color=palette.INK_MUTED,
                    size=(w, h), pos=(cx - w / 2, y), halign="center", valign="middle")
        lab.text_size = lab.size
        self._labels.append(lab)
        self.add_widget(lab)
