"""Antialiased shape geometry (kiosk.ui.shapes): pure functions, no window needed."""

from __future__ import annotations

import math
import os

os.environ.setdefault("KIVY_NO_ARGS", "1")          # Kivy must not read pytest's arguments

import pytest  # noqa: E402

from kiosk.ui.shapes import (U_IN, U_MID, U_OUT, MeshBuilder, arc_segments, ellipse_points,  # noqa: E402
                             fill, rounded_rect_points, stroke)


def _xyu(verts):
    return [(verts[i], verts[i + 1], verts[i + 2]) for i in range(0, len(verts), 4)]


@pytest.mark.parametrize("clockwise", [True, False])
def test_a_filled_disc_fades_over_the_feather_across_its_edge(clockwise):
    pts = ellipse_points(50, 40, 30, 30, segments=48)
    if not clockwise:
        pts = [c for p in reversed(list(zip(pts[0::2], pts[1::2]))) for c in p]
    verts, idx = fill(pts, feather=1.0)
    xyu = _xyu(verts)
    assert xyu[0][2] == U_MID and math.hypot(xyu[0][0] - 50, xyu[0][1] - 40) < 1e-6
    inner = [math.hypot(x - 50, y - 40) for x, y, u in xyu[1::2]]
    outer = [math.hypot(x - 50, y - 40) for x, y, u in xyu[2::2]]
    assert all(u == U_IN for _x, _y, u in xyu[1::2]) and all(u == U_OUT for _x, _y, u in xyu[2::2])
    assert inner == pytest.approx([29.5] * 48, abs=0.01)
    assert outer == pytest.approx([30.5] * 48, abs=0.01)
    assert len(idx) == 9 * 48 and max(idx) == len(xyu) - 1


def test_a_half_disc_is_closed_through_its_diameter():
    pts = ellipse_points(0, 0, 10, 10, segments=8, start_deg=90, end_deg=270)
    assert len(pts) == 2 * 9
    assert (pts[0], pts[1]) == pytest.approx((10, 0)) and (pts[-2], pts[-1]) == pytest.approx((-10, 0))
    verts, idx = fill(pts)
    # Every outer (transparent) vertex lies outside the half disc, every inner one inside.
    for x, y, u in _xyu(verts)[1:]:
        inside = y <= 1e-9 and math.hypot(x, y) <= 10
        assert inside == (u == U_IN)


def test_rounded_rectangles_stay_in_their_box_and_round_enough():
    pts = rounded_rect_points(10, 20, 200, 60, 14)
    xy = list(zip(pts[0::2], pts[1::2]))
    assert all(10 - 1e-9 <= x <= 210 + 1e-9 and 20 - 1e-9 <= y <= 80 + 1e-9 for x, y in xy)
    assert len(xy) == 4 * (arc_segments(14) + 1)
    # A pill (radius >= half the height): the arcs meet, no point twice.
    pill = rounded_rect_points(0, 0, 100, 40, 50)
    pxy = list(zip(pill[0::2], pill[1::2]))
    assert len(set((round(x, 6), round(y, 6)) for x, y in pxy)) == len(pxy)
    assert rounded_rect_points(0, 0, 10, 10, 0) == [0, 10, 10, 10, 10, 0, 0, 0]


@pytest.mark.parametrize("radius", [3, 14, 60, 240])
def test_arc_segments_keep_the_chord_error_under_a_quarter_pixel(radius):
    n = arc_segments(radius)
    sagitta = radius * (1 - math.cos(math.radians(90 / n) / 2))
    assert sagitta <= 0.25 + 1e-9
    assert n == 2 or radius * (1 - math.cos(math.radians(90 / (n - 1)) / 2)) > 0.25


def test_a_stroke_is_opaque_over_its_width_and_fades_beyond():
    verts, idx = stroke([0, 0, 10, 0, 20, 0], 4, feather=1.0)
    xyu = _xyu(verts)
    assert len(xyu) == 12 and len(idx) == 2 * 3 * 6
    by_u = {}
    for _x, y, u in xyu:
        by_u.setdefault(u, set()).add(round(y, 6))
    assert by_u == {0.125: {-2.5}, 0.375: {-1.5}, 0.625: {1.5}, 0.875: {2.5}}


def test_mesh_builder_offsets_the_indices_of_each_shape():
    b = MeshBuilder().disc(0, 0, 5, segments=6).line([0, 0, 10, 0], 2, caps=False)
    n_disc = 1 + 2 * 6
    assert len(b.vertices) == 4 * (n_disc + 8)
    assert min(b.indices[9 * 6:]) == n_disc and max(b.indices) == n_disc + 7
    assert MeshBuilder().mesh() is None


def test_keyboard_labels_pack_into_shelves_without_overlap():
    from kiosk.ui.keyboard import compose_atlas, pack_shelves
    sizes = [(30, 20), (40, 22), (50, 18), (200, 25), (10, 10)]
    pos, height = pack_shelves(sizes, 128)
    boxes = [(x, y, x + w, y + h) for (x, y), (w, h) in zip(pos, sizes)]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert height == max(b[3] for b in boxes)
    # The pixels land where the positions say (rows top-down, 4 bytes a pixel).
    images = [(2, 2, bytes([1] * 16)), (3, 1, bytes([2] * 12))]
    buf, w, h, at = compose_atlas(images, 4)
    (x0, y0), (x1, y1) = at
    assert w >= 4 and len(buf) == w * h * 4
    assert buf[(y0 * w + x0) * 4] == 1 and buf[((y0 + 1) * w + x0 + 1) * 4] == 1
    assert buf[(y1 * w + x1 + 2) * 4] == 2
    assert buf.count(1) == 16 and buf.count(2) == 12
