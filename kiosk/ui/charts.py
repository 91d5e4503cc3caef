"""The staff screen's answers-by-hour bar chart, drawn with canvas instructions.

`hour_window` (pure) picks which hours to show; `HourChart` draws bars and hour ticks.
"""

from __future__ import annotations

from typing import Sequence

from kivy.clock import Clock
from kivy.graphics import Color, Line, Rectangle
from kivy.properties import ListProperty, NumericProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.ui import palette


def hour_window(counts: Sequence[int], first: int = 7, last: int = 21) -> tuple[int, int]:
    """Hours [start, end) to draw: the usual opening day, widened to any hour with answers."""
    busy = [h for h, c in enumerate(counts) if c]
    start = min([first] + busy)
    end = max([last + 1] + [h + 1 for h in busy])
    return start, end


class HourChart(Widget):
    """Bars of answers per hour; tick labels every three hours; the busiest count on top."""

    counts = ListProperty([0] * 24)
    font_size = NumericProperty(12)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._labels: list[Label] = []
        # Layout moves the chart several times a frame: draw it (and make its labels) once.
        self._redraw_soon = Clock.create_trigger(self.redraw, -1)
        self.bind(pos=self._redraw_soon, size=self._redraw_soon, counts=self._redraw_soon,
                  font_size=self._redraw_soon)

    def redraw(self, *_a) -> None:
        for lab in self._labels:
            self.remove_widget(lab)
        self._labels = []
        self.canvas.before.clear()
        if self.width < 10 or self.height < 10:
            return
        counts = list(self.counts) + [0] * (24 - len(self.counts))
        start, end = hour_window(counts)
        n = end - start
        tick_h = self.font_size * 1.6
        top_pad = self.font_size * 1.6
        plot_h = max(1.0, self.height - tick_h - top_pad)
        slot = self.width / n
        peak = max(counts[start:end]) or 1
        with self.canvas.before:
            Color(*palette.LINE)
            Line(points=[self.x, self.y + tick_h, self.right, self.y + tick_h], width=1)
            for i, h in enumerate(range(start, end)):
                c = counts[h]
                if not c:
                    continue
                bh = plot_h * c / peak
                Color(*(palette.ACCENT if c == peak else palette.CHART))
                Rectangle(pos=(self.x + i * slot + slot * 0.15, self.y + tick_h), size=(slot * 0.7, bh))
        for i, h in enumerate(range(start, end)):
            if h % 3:
                continue
            self._add_label(f"{h:02d}", self.x + i * slot + slot / 2, self.y, tick_h)
        busiest = counts.index(max(counts[start:end]), start, end) if any(counts[start:end]) else None
        if busiest is not None:
            i = busiest - start
            bh = plot_h * counts[busiest] / peak
            self._add_label(str(counts[busiest]), self.x + i * slot + slot / 2, self.y + tick_h + bh, top_pad)

    def _add_label(self, text: str, cx: float, y: float, h: float) -> None:
        w = self.font_size * 2.6
        x = min(max(self.x, cx - w / 2), self.right - w)
        lab = Label(text=text, font_size=self.font_size, color=palette.INK_MUTED,
                    size=(w, h), pos=(x, y), halign="center", valign="middle")
        lab.text_size = lab.size
        self._labels.append(lab)
        self.add_widget(lab)
