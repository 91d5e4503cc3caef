"""Colours of the kiosk UI and the contrast every pair of them must keep (WCAG 2.1 AA).

Text needs 4.5:1 against what it stands on, and a control's edge or a graphic that carries
meaning 3:1 (WCAG 1.4.3 and 1.4.11). `CONTRAST_PAIRS` lists every foreground / background pair
the screens use, with its minimum; tests/ui/test_palette.py computes each one, and checks that
no colour of this module is left out of the list.

The smiley faces carry their order without colour: each face has its own shape (kiosk.ui.smiley)
and the fills grow lighter from the most negative to the most positive face, each step at least
`FACE_STEP` in contrast, so the order reads in greyscale and for every colour vision.

Pure data and arithmetic; never imports Kivy. Colours are RGBA tuples in 0..1.
"""

from __future__ import annotations

RGBA = tuple[float, float, float, float]


def hex_rgba(code: str, alpha: float = 1.0) -> RGBA:
    code = code.lstrip("#")
    return (int(code[0:2], 16) / 255, int(code[2:4], 16) / 255, int(code[4:6], 16) / 255, alpha)


def luminance(c: RGBA) -> float:
    """Relative luminance (WCAG 2.1) of an opaque sRGB colour."""
    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])


def contrast(a: RGBA, b: RGBA) -> float:
    """The WCAG contrast ratio of two opaque colours, 1 to 21."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


TEXT = 4.5           # WCAG AA, text
GRAPHIC = 3.0        # WCAG AA, control edges and graphics that carry meaning
FACE_STEP = 1.3      # least contrast between two neighbouring faces' fills

BACKGROUND = hex_rgba("#F6F3EC")      # warm paper (the window's clear colour)
SURFACE = hex_rgba("#FFFFFF")         # cards, keys, unselected chips and pills
INK = hex_rgba("#26323A")             # text
INK_MUTED = hex_rgba("#5A6670")       # hints, captions, secondary text
ON_ACCENT = hex_rgba("#FFFFFF")       # text on an accent or badge fill
ACCENT = hex_rgba("#2E6F73")          # calm teal: primary buttons, selected chips, the busiest bar
LINE = hex_rgba("#857F74")            # the edge of every control that is not filled with ACCENT
CHART = hex_rgba("#5F8F8B")           # the other bars of the staff chart
EMPLOYEE = hex_rgba("#5B4B8A")        # the staff-question badge
WARNING = hex_rgba("#A2472F")         # a wrong PIN, a broker not reached, site alerts, a full comment
OK = hex_rgba("#2E7749")              # the broker reached
FACE_INK = hex_rgba("#2B2B33")        # eyes, brows and mouths
TONGUE = hex_rgba("#E8837A")          # inside the happiest face's grin (drawn on FACE_INK)

# Smiley fills, most negative first: red to green, and dark to light.
_SMILEY4 = ("#D04D38", "#E28533", "#DEBD36", "#AEEBB9")
_SMILEY5 = ("#D04D38", "#E07629", "#D5A81E", "#B3D277", "#C9EAD1")


def smiley_colour(index: int, points: int) -> RGBA:
    table = _SMILEY5 if points == 5 else _SMILEY4
    return hex_rgba(table[max(0, min(index, len(table) - 1))])


def smiley_rim(index: int, points: int) -> RGBA:
    """A darker edge of the same hue, dark enough to outline the face on the paper (3:1)."""
    r, g, b, a = smiley_colour(index, points)
    k = 0.72
    while contrast((r * k, g * k, b * k, a), BACKGROUND) < GRAPHIC and k > 0.2:
        k -= 0.02
    return (r * k, g * k, b * k, a)


def _faces() -> list[tuple[str, RGBA, RGBA, float]]:
    pairs = []
    for points in (4, 5):
        for i in range(points):
            fill = smiley_colour(i, points)
            pairs.append((f"smiley{points} face {i + 1}: features on the fill", FACE_INK, fill, GRAPHIC))
            pairs.append((f"smiley{points} face {i + 1}: rim on the paper", smiley_rim(i, points),
                          BACKGROUND, GRAPHIC))
    return pairs


# (what, foreground, background, minimum ratio): every pair the screens draw.
CONTRAST_PAIRS: list[tuple[str, RGBA, RGBA, float]] = [
    ("text on the paper", INK, BACKGROUND, TEXT),
    ("text on a card, key or chip", INK, SURFACE, TEXT),
    ("hints and captions on the paper", INK_MUTED, BACKGROUND, TEXT),
    ("hints on a card (comment box, staff panels)", INK_MUTED, SURFACE, TEXT),
    ("thank-you title, secondary button text", ACCENT, BACKGROUND, TEXT),
    ("secondary button text on its card", ACCENT, SURFACE, TEXT),
    ("text on a primary button or selected chip", ON_ACCENT, ACCENT, TEXT),
    ("staff-question badge", ON_ACCENT, EMPLOYEE, TEXT),
    ("PIN error, warnings on the paper", WARNING, BACKGROUND, TEXT),
    ("warnings on a staff panel", WARNING, SURFACE, TEXT),
    ("'connected' on a staff panel", OK, SURFACE, TEXT),
    ("edge of a chip, key, pill or NPS key on the paper", LINE, BACKGROUND, GRAPHIC),
    ("edge of a control on a card", LINE, SURFACE, GRAPHIC),
    ("primary button or selected chip on the paper", ACCENT, BACKGROUND, GRAPHIC),
    ("typed PIN dot", ACCENT, SURFACE, GRAPHIC),
    ("empty PIN place", LINE, SURFACE, GRAPHIC),
    ("busiest hour's bar", ACCENT, SURFACE, GRAPHIC),
    ("other hours' bars", CHART, SURFACE, GRAPHIC),
    ("tongue in the grin", TONGUE, FACE_INK, GRAPHIC),
    *_faces(),
]
