"""Smiley faces drawn as vector art with Kivy canvas instructions.

Each point of the scale differs in shape, not only colour: the mouth goes from a deep frown
through a flat line to an open grin, and the eyes from worried (with brows) to closed happy
arcs. `face_shape` is the pure geometry; `SmileyFace` draws it; `SmileyButton` is the big touch
target on the question screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from kivy.clock import Clock
from kivy.graphics import Color
from kivy.properties import BooleanProperty, NumericProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.widget import Widget

from kiosk.ui import palette
from kiosk.ui.shapes import MeshBuilder, ellipse_points


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
        index, points = int(self.index), int(self.points)
        with self.canvas:
            for colour, mesh in face_meshes(cx, cy, r, face_shape(index, points),
                                            palette.smiley_rim(index, points),
                                            palette.smiley_colour(index, points),
                                            glow=self.pressed or self.selected):
                Color(*colour)
                mesh.mesh()


def face_meshes(cx: float, cy: float, r: float, shape: FaceShape, rim_colour, fill_colour,
                glow: bool = False) -> list[tuple[tuple, MeshBuilder]]:
    """The face of radius `r` at (cx, cy) as (colour, mesh) pairs, back to front.

    One mesh per colour (glow, shadow, rim, fill, ink, tongue): few instructions per face.
    48 segments keep a 150 px circle within a third of a pixel of round.
    """
    layers: list[tuple[tuple, MeshBuilder]] = []
    if glow:
        layers.append(((*palette.ACCENT[:3], 0.28), MeshBuilder().disc(cx, cy, 1.1 * r)))
    layers.append(((0, 0, 0, 0.08), MeshBuilder().disc(cx, cy - 0.06 * r, r)))    # soft shadow
    rim = max(1.0, 0.035 * r)
    layers.append((rim_colour, MeshBuilder().disc(cx, cy, r)))
    layers.append((fill_colour, MeshBuilder().disc(cx, cy, r - rim)))
    ink = MeshBuilder()
    ex, ey, lw = 0.33 * r, cy + 0.22 * r, max(1.2, 0.075 * r)
    for side in (-1, 1):
        x = cx + side * ex
        if shape.eyes == "arc":
            ink.line(ellipse_points(x, ey - 0.04 * r, 0.13 * r, 0.13 * r, 14, -70, 70), lw)
        elif shape.eyes == "oval":
            ink.disc(x, ey, 0.08 * r, 0.12 * r, segments=20)
        else:
            ink.disc(x, ey, 0.09 * r, segments=20)
        if shape.brows:
            # Worried brows: the inner ends rise.
            ink.line([x - side * 0.18 * r, ey + 0.30 * r, x + side * 0.10 * r, ey + 0.19 * r], lw * 0.8)
    tongue = None
    if shape.grin:
        mr, my = 0.46 * r, cy - 0.12 * r
        ink.disc(cx, my, mr, segments=32, start_deg=90, end_deg=270)          # open mouth
        tr = 0.22 * r
        tongue = MeshBuilder().disc(cx, my - mr + 0.03 * r + 0.65 * tr, tr, 0.65 * tr,
                                    segments=16, start_deg=-90, end_deg=90)
    else:
        ink.line(mouth_points(cx, cy, r, shape.mouth_curve), lw)
    layers.append((palette.FACE_INK, ink))
    if tongue is not None:
        layers.append((palette.TONGUE, tongue))
    return layers


class SmileyButton(ButtonBehavior, SmileyFace):
    """A face that is also a big touch target; the app binds `on_release` to record the answer."""

    answers = True          # an answer key: two pressed at once count neither (KioskRoot)
    value = NumericProperty(0)

    def on_state(self, _w, state: str) -> None:
        self.pressed = state == "down"
