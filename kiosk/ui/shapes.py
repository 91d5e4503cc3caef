"""Antialiased shapes as plain triangle meshes: discs, arcs, rounded rectangles, thick strokes.

Why not Kivy's own instructions: the window has no multisampling (on Mesa's software renderer
its buffers cost ~16 MB resident), so edges must be smoothed by the shapes themselves. Kivy's
Smooth* instructions do that with a second instruction per shape (and a stencil pass when the
colour is translucent), and on llvmpipe every draw call of a frame costs driver memory that
outlives the frame as heap fragmentation: the app measured ~5 MB more resident with Smooth*
faces and buttons than with these meshes. A shape here is a list of triangles whose rim is a
`feather`-wide band that fades to transparent through the 4x1 edge texture (alpha 0, 1, 1, 0
with linear filtering), and all parts of one colour go into one `Mesh` (`MeshBuilder`): a face
is four or five meshes, not twenty instructions.

The geometry functions are pure (lists of floats); only `edge_texture` and `MeshBuilder.draw`
touch Kivy.
"""

from __future__ import annotations

import math
from array import array
from typing import Sequence

FEATHER_PX = 1.0           # width of the fading rim; one pixel reads as a smooth edge
# Texture coordinates of the texel centres of the edge texture: transparent, opaque, opaque,
# transparent. Interior vertices sit between the two opaque texels.
U_OUT, U_IN, U_MID = 0.125, 0.375, 0.5
_U_LANES = (0.125, 0.375, 0.625, 0.875)

Geometry = tuple[list[float], list[int]]     # vertices (x, y, u, v)*, triangle indices


def ellipse_points(cx: float, cy: float, rx: float, ry: float, segments: int = 48,
                   start_deg: float = 0.0, end_deg: float = 360.0) -> list[float]:
    """Points on an ellipse; angles in degrees, 0 = up, clockwise (as Kivy's Ellipse).

    A full turn gives `segments` points (the first is not repeated); an arc gives its two
    end points and the centre is not included (`fill` closes the shape).
    """
    full = abs(end_deg - start_deg) >= 360.0
    count = segments if full else segments + 1
    pts: list[float] = []
    for i in range(count):
        a = math.radians(start_deg + (end_deg - start_deg) * i / segments)
        pts += [cx + rx * math.sin(a), cy + ry * math.cos(a)]
    return pts


def arc_segments(radius: float, degrees: float = 90.0, error_px: float = 0.25) -> int:
    """How many chords keep an arc of `radius` within `error_px` of round."""
    if radius <= error_px:
        return 1
    step = 2 * math.degrees(math.acos(1 - error_px / radius))
    return max(2, math.ceil(degrees / step))


def rounded_rect_points(x: float, y: float, w: float, h: float, radius: float,
                        corner_segments: int | None = None) -> list[float]:
    """The outline of a rounded rectangle, clockwise from the top-left corner's arc; as many
    chords per corner as keep it round (`arc_segments`) unless `corner_segments` is given."""
    r = max(0.0, min(radius, w / 2, h / 2))
    if r <= 0.5:
        return [x, y + h, x + w, y + h, x + w, y, x, y]
    if corner_segments is None:
        corner_segments = arc_segments(r)
    pts: list[float] = []
    corners = ((x + r, y + h - r, 270.0), (x + w - r, y + h - r, 0.0),
               (x + w - r, y + r, 90.0), (x + r, y + r, 180.0))
    for ccx, ccy, start in corners:
        for i in range(corner_segments + 1):
            a = math.radians(start + 90.0 * i / corner_segments)
            px, py = ccx + r * math.sin(a), ccy + r * math.cos(a)
            if pts and abs(pts[-2] - px) < 1e-6 and abs(pts[-1] - py) < 1e-6:
                continue                  # a fully rounded side: the arcs meet in one point
            pts += [px, py]
    if abs(pts[0] - pts[-2]) < 1e-6 and abs(pts[1] - pts[-1]) < 1e-6:
        del pts[-2:]
    return pts


def fill(boundary: Sequence[float], feather: float = FEATHER_PX) -> Geometry:
    """A convex polygon (closed outline, either winding) filled, its edge fading over `feather`.

    Vertices: the centroid, then per outline point an inner (opaque) and an outer (transparent)
    vertex half a feather inside and outside the outline, along the corner's bisector.
    """
    xy = list(zip(boundary[0::2], boundary[1::2]))
    n = len(xy)
    if n < 3:
        return [], []
    mx = sum(p[0] for p in xy) / n
    my = sum(p[1] for p in xy) / n
    verts = [mx, my, U_MID, 0.5]
    half = feather / 2
    for i, (x, y) in enumerate(xy):
        px, py = xy[i - 1]
        nx_, ny_ = xy[(i + 1) % n]
        # Outward normal of the corner: the sum of the two edge normals, pointed away from the
        # centroid (works for both windings).
        ex1, ey1 = x - px, y - py
        ex2, ey2 = nx_ - x, ny_ - y
        l1 = math.hypot(ex1, ey1) or 1.0
        l2 = math.hypot(ex2, ey2) or 1.0
        ox, oy = ey1 / l1 + ey2 / l2, -ex1 / l1 - ex2 / l2
        length = math.hypot(ox, oy)
        if length < 1e-9:
            ox, oy, length = x - mx, y - my, math.hypot(x - mx, y - my) or 1.0
        ox, oy = ox / length, oy / length
        if ox * (x - mx) + oy * (y - my) < 0:
            ox, oy = -ox, -oy
        verts += [x - ox * half, y - oy * half, U_IN, 0.5, x + ox * half, y + oy * half, U_OUT, 0.5]
    idx: list[int] = []
    for i in range(n):
        j = (i + 1) % n
        a_in, a_out = 1 + 2 * i, 2 + 2 * i
        b_in, b_out = 1 + 2 * j, 2 + 2 * j
        idx += [0, a_in, b_in, a_in, a_out, b_out, a_in, b_out, b_in]
    return verts, idx


def stroke(points: Sequence[float], width: float, feather: float = FEATHER_PX) -> Geometry:
    """A thick polyline (no caps): opaque over `width` less `feather`, fading `feather / 2`
    beyond each side. Four lanes of vertices across, texture u at the four texel centres."""
    half = width / 2
    offsets = (-(half + feather / 2), -max(0.0, half - feather / 2),
               max(0.0, half - feather / 2), half + feather / 2)
    xy = list(zip(points[0::2], points[1::2]))
    n = len(xy)
    verts: list[float] = []
    for i, (x, y) in enumerate(xy):
        x0, y0 = xy[max(0, i - 1)]
        x1, y1 = xy[min(n - 1, i + 1)]
        dx, dy = x1 - x0, y1 - y0
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length, dx / length
        for off, u in zip(offsets, _U_LANES):
            verts += [x + nx * off, y + ny * off, u, 0.5]
    idx: list[int] = []
    for i in range(n - 1):
        a, b = 4 * i, 4 * (i + 1)
        for lane in range(3):
            idx += [a + lane, a + lane + 1, b + lane, a + lane + 1, b + lane + 1, b + lane]
    return verts, idx


class MeshBuilder:
    """Collects the triangles of several shapes of one colour, drawn as one Mesh."""

    def __init__(self, feather: float = FEATHER_PX) -> None:
        self.feather = feather
        self.vertices: list[float] = []
        self.indices: list[int] = []

    def add(self, geometry: Geometry) -> MeshBuilder:
        verts, idx = geometry
        base = len(self.vertices) // 4
        self.vertices += verts
        self.indices += [base + i for i in idx]
        return self

    def disc(self, cx: float, cy: float, rx: float, ry: float | None = None,
             segments: int = 48, start_deg: float = 0.0, end_deg: float = 360.0) -> MeshBuilder:
        """A filled ellipse, or a pie slice (the arc closed through its two ends)."""
        pts = ellipse_points(cx, cy, rx, rx if ry is None else ry, segments, start_deg, end_deg)
        return self.add(fill(pts, self.feather))

    def rounded_rect(self, x: float, y: float, w: float, h: float, radius: float) -> MeshBuilder:
        if w <= 0 or h <= 0:
            return self
        return self.add(fill(rounded_rect_points(x, y, w, h, radius), self.feather))

    def line(self, points: Sequence[float], width: float, caps: bool = True) -> MeshBuilder:
        """A thick polyline, with round caps unless `caps` is False."""
        self.add(stroke(points, width, self.feather))
        if caps:
            r = width / 2
            for x, y in ((points[0], points[1]), (points[-2], points[-1])):
                self.disc(x, y, r, segments=12)
        return self

    def mesh(self):
        """The Kivy Mesh of everything added (None when empty). Made inside `with canvas:`, it
        is drawn in that canvas; otherwise add it to an InstructionGroup."""
        if not self.indices:
            return None
        return packed_mesh(self.vertices, self.indices, edge_texture())


def packed_mesh(vertices: Sequence[float], indices: Sequence[int], texture):
    """A Kivy Mesh of triangles with its vertices as C floats and its indices as unsigned shorts.

    Kivy's Mesh keeps the object it is given as well as its own copy: a list of Python floats
    is 32 bytes a number against 4, and the on-screen keyboard's and faces' meshes are kept for
    the app's life (about 1.5 MB of RSS at start).
    """
    from kivy.graphics import Mesh
    return Mesh(vertices=array("f", vertices), indices=array("H", indices), mode="triangles",
                texture=texture)


_edge: list = []


def edge_texture():
    """The 4x1 white texture whose alpha goes 0, 1, 1, 0 (made once, after the window)."""
    if not _edge:
        from kivy.graphics.texture import Texture
        tex = Texture.create(size=(4, 1), colorfmt="rgba")
        data = b"\xff\xff\xff\x00" + b"\xff\xff\xff\xff" * 2 + b"\xff\xff\xff\x00"

        def upload(t) -> None:
            t.blit_buffer(data, colorfmt="rgba", bufferfmt="ubyte")
        tex.add_reload_observer(upload)      # a lost GL context (not on a Pi) re-uploads it
        upload(tex)
        _edge.append(tex)
    return _edge[0]
