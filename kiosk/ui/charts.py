"""The staff screen's small trend: one bar per day, its score above it, the weekday below.

`bar_span` (pure) turns a score into where its bar starts and ends; `TrendChart` draws them with
canvas instructions and a label per bar. Today's bar is the accent colour, the others a quieter
one. A 0-100 score stands on the bottom; an NPS (-100..100) grows from a zero line in the middle,
up when positive and down when negative: drawn from -100, an NPS of -88 was a short bar and -23
a taller one, read as the better day and the worse.
"""

from __future__ import annotations

from typing import Sequence

from kivy.clock import Clock
from kivy.graphics import Color, Line, Rectangle
from kivy.properties import AliasProperty, BooleanProperty, ListProperty, NumericProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.ui import palette
from kiosk.ui.texts import whole

LEAST = 0.02               # a bar this much of the plot at least, so that a day of 0 still shows
# The plot (the bars, without the lines of text above and under them) is at least this many lines
# of the chart's text tall: squeezed by the notes under it, a week's bars were 1 px lines.
MIN_PLOT_LINES = 1.5


def bar_span(score: float | None, nps: bool) -> tuple[float, float] | None:
    """Where a day's bar starts and ends, as shares of the plot height from its bottom: a 0-100
    score from 0 to score/100; an NPS from the zero line (0.5) to (score + 100) / 200, either
    way; a day without answers has no bar (None)."""
    if score is None:
        return None
    score = round(score)                    # as its label (texts.whole) says it: -0.4 is a 0 day
    if not nps:
        return 0.0, min(1.0, max(LEAST, score / 100))
    end = min(1.0, max(0.0, (score + 100) / 200))
    if abs(end - 0.5) < LEAST:
        end = 0.5 + (LEAST if score >= 0 else -LEAST)
    return min(0.5, end), max(0.5, end)


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

    def text_height(self) -> float:
        """The height of one line of the chart's text (a score, a weekday)."""
        return self.font_size * 1.35

    def text_lines(self) -> int:
        """Lines of text the chart keeps beside its plot: the weekdays and the scores above the
        bars; an NPS a line under the plot too (a negative day's score is written under its bar)."""
        return 3 if self.nps else 2

    def plot_height(self) -> float:
        return self.height - self.text_lines() * self.text_height()

    def _minimum_height(self) -> float:
        return (self.text_lines() + MIN_PLOT_LINES) * self.text_height()

    # The least height that keeps the bars readable: the staff view gives the chart no less
    # (its `size_hint_min_y`), and the panel holding it grows to hold it (480x800).
    minimum_height = AliasProperty(_minimum_height, bind=("font_size", "nps"), cache=True)

    def layout_problems(self) -> list[str]:
        """A plot too flat to read its bars (the UI tests check every screen for these)."""
        least = MIN_PLOT_LINES * self.text_height()
        if self.scores and self.plot_height() < least - 1:
            return [f"flat chart: TrendChart's bars have {self.plot_height():.0f} px, need {least:.0f}"]
        return []

    def redraw(self, *_a) -> None:
        for lab in self._labels:
            self.remove_widget(lab)
        self._labels = []
        self.canvas.before.clear()
        n = len(self.scores)
        if not n or self.width < 10 or self.height < 10:
            return
        text_h = self.text_height()
        plot_h = max(1.0, self.plot_height())
        slot = self.width / n
        base = self.y + text_h * (2 if self.nps else 1)
        spans = [bar_span(s, self.nps) for s in self.scores]
        zero = base + plot_h * (0.5 if self.nps else 0.0)
        with self.canvas.before:
            Color(*palette.LINE)
            Line(points=[self.x, zero, self.right, zero], width=1)
            for i, span in enumerate(spans):
                if span:
                    Color(*(palette.ACCENT if i == n - 1 else palette.CHART))
                    Rectangle(pos=(self.x + i * slot + slot * 0.2, base + plot_h * span[0]),
                              size=(slot * 0.6, plot_h * (span[1] - span[0])))
        for i, (score, span) in enumerate(zip(self.scores, spans)):
            cx = self.x + i * slot + slot / 2
            if i < len(self.labels):
                self._add_label(self.labels[i], cx, self.y, text_h, slot)
            if span is None:
                at = zero
            elif self.nps and round(score) < 0:
                at = base + plot_h * span[0] - text_h          # under a bar that goes down
            else:
                at = base + plot_h * span[1]
            self._add_label(whole(score), cx, at, text_h, slot)

    def _add_label(self, text: str, cx: float, y: float, h: float, w: float) -> None:
        lab = Label(text=text, font_size=self.font_size, color=palette.INK_MUTED,
                    size=(w, h), pos=(cx - w / 2, y), halign="center", valign="middle")
        lab.text_size = lab.size
        self._labels.append(lab)
        self.add_widget(lab)
