"""Smiley faces drawn as vector art with Kivy canvas instructions.

Each point of the scale differs in shape, not only colour: the mouth goes from a deep frown
through a flat line to an open grin, and the eyes from worried (with brows) to closed happy
arcs. `face_shape` is the pure geometry; `SmileyFace` draws it; `SmileyButton` is the big touch
target on the question screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kivy.clock import Clock
from kivy.graphics import Color, Ellipse, Mesh
from kivy.properties import BooleanProperty, NumericProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.widget import Widget

from kiosk.ui import palette


@dataclass(frozen=True)
class FaceShape:
    """Geometry of one face, in units of the face radius."""
    mouth_curve: float      # >0 smile, <0 frown, 0 flat; ignored when `grin`
    grin: bool              # open mouth (filled half disc)
    eyes: str               # "dot", "oval" or "arc" (closed, happy)
    brows: bool             # worried brows


def face_shape(index: int, points: int) -> FaceShape:
    """The face for answer `index` (0 = most negative) on a `points`-point scale."""
    mood = -1.0 + 2.0 * index / (points - 1)
    if mood <= -0.99:
        return FaceShape(-0.30, False, "dot", True)
    if mood >= 0.99:
        return FaceShape(0.0, True, "arc", False)
    if abs(mood) < 0.01:
        return FaceShape(0.0, False, "dot", False)
    if mood < 0:
        return FaceShape(-0.14, False, "dot", False)
    return FaceShape(0.18 if points == 4 else 0.16, False, "oval", False)


def arc_points(cx: float, cy: float, radius: float, start_deg: float, end_deg: float,
               steps: int = 14) -> list[float]:
    """Points along a circle arc; angles in degrees, 0 = up, clockwise (as Kivy's Ellipse)."""
    pts: list[float] = []
    for i in range(steps + 1):
        a = math.radians(start_deg + (end_deg - start_deg) * i / steps)
        pts += [cx + radius * math.sin(a), cy + radius * math.cos(a)]
    return pts


def stroke_mesh(points: list[float], width: float) -> tuple[list[float], list[int]]:
    """A thick polyline as a triangle strip (vertices x, y, u, v; indices).

    Kivy's Line with width > 1 goes through the stencil buffer, which costs a full-screen pass
    per line on a software renderer; a mesh costs only its own pixels.
    """
    half = width / 2
    xy = list(zip(points[0::2], points[1::2]))
    verts: list[float] = []
    n = len(xy)
    for i, (x, y) in enumerate(xy):
        x0, y0 = xy[max(0, i - 1)]
        x1, y1 = xy[min(n - 1, i + 1)]
        dx, dy = x1 - x0, y1 - y0
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length * half, dx / length * half
        verts += [x + nx, y + ny, 0, 0, x - nx, y - ny, 0, 0]
    return verts, list(range(2 * n))


def stroke(points: list[float], width: float) -> None:
    """Draw a round-capped thick polyline in the current colour."""
    verts, idx = stroke_mesh(points, width)
    Mesh(vertices=verts, indices=idx, mode="triangle_strip")
    r = width / 2
    for x, y in ((points[0], points[1]), (points[-2], points[-1])):
        Ellipse(pos=(x - r, y - r), size=(width, width), segments=16)


def mouth_points(cx: float, cy: float, r: float, curve: float, steps: int = 16) -> list[float]:
    """A parabola through the mouth corners; corners rise for a smile and sink for a frown."""
    w = 0.40 * r
    base = cy - 0.30 * r
    pts: list[float] = []
    for i in range(steps + 1):
        t = -1.0 + 2.0 * i / steps
        pts += [cx + t * w, base + curve * r * (t * t - 0.5)]
    return pts


class SmileyFace(Widget):
    """A face for one answer; the face is a circle fitted into the widget, centred."""

    index = NumericProperty(0)      # 0 = most negative
    points = NumericProperty(4)
    pressed = BooleanProperty(False)
    selected = BooleanProperty(False)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        # Layout moves a face several times per frame; draw once, with the final geometry.
        self._redraw_soon = Clock.create_trigger(self.redraw, -1)
        self.bind(pos=self._redraw_soon, size=self._redraw_soon, index=self._redraw_soon,
                  points=self._redraw_soon, selected=self._redraw_soon)
        self.bind(pressed=self.redraw)      # a touched face responds in this very frame
        self.redraw()

    def redraw(self, *_a) -> None:
        self.canvas.clear()
        r = 0.45 * min(self.width, self.height)
        if r <= 1:
            return
        if self.pressed:
            r *= 1.08                           # the chosen face grows at once under the finger
        cx, cy = self.center
        # Few segments: a software renderer pays per triangle, and 64 already look round.
        shape = face_shape(int(self.index), int(self.points))
        ink = palette.FACE_INK
        with self.canvas:
            if self.pressed or self.selected:
                Color(*palette.ACCENT[:3], 0.28)
                Ellipse(pos=(cx - r * 1.1, cy - r * 1.1), size=(r * 2.2, r * 2.2), segments=64)
            Color(0, 0, 0, 0.08)                # soft shadow
            Ellipse(pos=(cx - r, cy - r - r * 0.06), size=(2 * r, 2 * r), segments=64)
            Color(*palette.smiley_rim(int(self.index), int(self.points)))
            Ellipse(pos=(cx - r, cy - r), size=(2 * r, 2 * r), segments=64)
            Color(*palette.smiley_colour(int(self.index), int(self.points)))
            rim = max(1.0, 0.035 * r)
            Ellipse(pos=(cx - r + rim, cy - r + rim), size=(2 * (r - rim), 2 * (r - rim)), segments=64)
            Color(*ink)
            ex, ey, lw = 0.33 * r, cy + 0.22 * r, max(1.2, 0.075 * r)
            for side in (-1, 1):
                x = cx + side * ex
                if shape.eyes == "arc":
                    stroke(arc_points(x, ey - 0.04 * r, 0.13 * r, -70, 70), lw)
                elif shape.eyes == "oval":
                    Ellipse(pos=(x - 0.08 * r, ey - 0.12 * r), size=(0.16 * r, 0.24 * r), segments=24)
                else:
                    Ellipse(pos=(x - 0.09 * r, ey - 0.09 * r), size=(0.18 * r, 0.18 * r), segments=24)
                if shape.brows:
                    # Worried brows: the inner ends rise.
                    stroke([x - side * 0.18 * r, ey + 0.30 * r, x + side * 0.10 * r, ey + 0.19 * r], lw * 0.8)
            if shape.grin:
                mr = 0.46 * r
                my = cy - 0.12 * r
                Ellipse(pos=(cx - mr, my - mr), size=(2 * mr, 2 * mr), angle_start=90, angle_end=270,
                        segments=40)
                Color(*palette.hex_rgba("#E8837A"))
                tr = 0.22 * r
                Ellipse(pos=(cx - tr, my - mr + 0.03 * r), size=(2 * tr, tr * 1.3),
                        angle_start=-90, angle_end=90, segments=24)
            else:
                stroke(mouth_points(cx, cy, r, shape.mouth_curve), lw)


class SmileyButton(ButtonBehavior, SmileyFace):
    """A face that is also a big touch target; the app binds `on_release` to record the answer."""

    value = NumericProperty(0)

    def on_state(self, _w, state: str) -> None:
        self.pressed = state == "down"
