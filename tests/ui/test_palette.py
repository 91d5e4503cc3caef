"""Everyone can read it: the contrast of every colour pair the screens draw (WCAG 2.1 AA), and
smiley faces whose order reads without telling hues apart."""

from __future__ import annotations

import pytest

from kiosk.ui import palette
from kiosk.ui.palette import CONTRAST_PAIRS, FACE_STEP, contrast, luminance, smiley_colour

# Colour vision deficiency at full severity, in linear RGB (Machado, Oliveira, Fernandes 2009).
CVD = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602),
                   (0.004733, 0.691367, 0.303900)),
}


def test_the_contrast_of_every_pair_meets_wcag_aa():
    low = [(what, round(contrast(fg, bg), 2), minimum) for what, fg, bg, minimum in CONTRAST_PAIRS
           if contrast(fg, bg) < minimum]
    assert not low, low


def test_the_contrast_arithmetic_is_wcag_s():
    black, white = (0, 0, 0, 1), (1, 1, 1, 1)
    assert contrast(black, white) == pytest.approx(21.0)
    assert contrast(white, white) == pytest.approx(1.0)
    assert contrast(palette.hex_rgba("#767676"), white) == pytest.approx(4.54, abs=0.01)


def test_every_colour_of_the_palette_is_in_a_checked_pair():
    colours = {name: value for name, value in vars(palette).items()
               if name.isupper() and not name.startswith("_") and isinstance(value, tuple)
               and len(value) == 4}
    used = {c for _what, fg, bg, _m in CONTRAST_PAIRS for c in (fg, bg)}
    unchecked = [name for name, value in colours.items() if value not in used]
    assert not unchecked


def _simulated(c, matrix):
    def lin(v):
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    def srgb(v):
        v = min(1.0, max(0.0, v))
        return 12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055
    rgb = [lin(v) for v in c[:3]]
    return tuple(srgb(sum(m * v for m, v in zip(row, rgb))) for row in matrix) + (1.0,)


@pytest.mark.parametrize("points", [4, 5])
def test_faces_grow_lighter_from_negative_to_positive_in_clear_steps(points):
    fills = [smiley_colour(i, points) for i in range(points)]
    lums = [luminance(c) for c in fills]
    assert lums == sorted(lums)
    steps = [contrast(a, b) for a, b in zip(fills, fills[1:])]
    assert min(steps) >= FACE_STEP, steps
    # The order survives every colour vision deficiency: lightness, not hue, carries it.
    for kind, matrix in CVD.items():
        seen = [_simulated(c, matrix) for c in fills]
        lums = [luminance(c) for c in seen]
        assert lums == sorted(lums), kind
        assert min(contrast(a, b) for a, b in zip(seen, seen[1:])) >= 1.2, kind
