"""Colours and sizes of the kiosk UI: one calm palette, colour-blind safe smiley hues.

Pure data; never imports Kivy. Colours are RGBA tuples in 0..1.
"""

from __future__ import annotations


def hex_rgba(code: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    code = code.lstrip("#")
    return (int(code[0:2], 16) / 255, int(code[2:4], 16) / 255, int(code[4:6], 16) / 255, alpha)


BACKGROUND = hex_rgba("#F6F3EC")      # warm paper
SURFACE = hex_rgba("#FFFFFF")
INK = hex_rgba("#26323A")             # text
INK_MUTED = hex_rgba("#66737C")
ACCENT = hex_rgba("#2E6F73")          # calm teal: primary buttons, selected chips
ACCENT_SOFT = hex_rgba("#D7E8E6")
LINE = hex_rgba("#DDD7CB")
EMPLOYEE = hex_rgba("#5B4B8A")        # the staff-question badge
WARNING = hex_rgba("#B5543B")
OK = hex_rgba("#3C8D5A")
FACE_INK = hex_rgba("#2B2B33")

# Smiley fills, most negative first. Hue and lightness both change, and every face also has
# its own mouth and eye shape, so no one needs to tell red from green.
_SMILEY4 = ("#E07A5F", "#F2B872", "#A8C97F", "#5FAF8C")
_SMILEY5 = ("#E07A5F", "#F2B872", "#EBD77A", "#A8C97F", "#5FAF8C")


def smiley_colour(index: int, points: int) -> tuple[float, float, float, float]:
    table = _SMILEY5 if points == 5 else _SMILEY4
    return hex_rgba(table[max(0, min(index, len(table) - 1))])


def smiley_rim(index: int, points: int) -> tuple[float, float, float, float]:
    """A darker edge of the same hue, so faces read as discs on the paper background."""
    r, g, b, a = smiley_colour(index, points)
    return (r * 0.72, g * 0.72, b * 0.72, a)


def nps_colour(value: int) -> tuple[float, float, float, float]:
    if value <= 6:
        return hex_rgba("#F3D5CB")
    if value <= 8:
        return hex_rgba("#F5E6C4")
    return hex_rgba("#CFE6DA")
