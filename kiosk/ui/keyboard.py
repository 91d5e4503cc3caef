"""An on-screen keyboard for the follow-up comment: letter rows per language, space, backspace.

Kivy's VKeyboard lacks å/ä/ö/æ/ø layouts we trust, so this is a plain grid of big keys.
It only reports keys (`on_key`); the flow decides what the text becomes.

The keys are light widgets (`Key`: a touch target, no drawing of their own); `KeyGrid` draws
all of them in four meshes: outlines, faces, the pressed key's shade, and the labels from one
small texture atlas. As 45 buttons with their own label and shapes, the keyboard cost about
135 draw calls a frame; on Mesa's software renderer that memory stayed behind as a fragmented
heap after one customer had typed a comment (measured: +7.5-8.5 MB resident; now ~3 MB).
"""

from __future__ import annotations

from typing import Iterable

from kivy.clock import Clock
from kivy.graphics import Color, InstructionGroup
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.ui import palette
from kiosk.ui.shapes import MeshBuilder, packed_mesh

ROWS = {
    "sv": ("1234567890", "qwertyuiopå", "asdfghjklöä", "zxcvbnm,.?"),
    "nb": ("1234567890", "qwertyuiopå", "asdfghjkløæ", "zxcvbnm,.?"),
    "en": ("1234567890", "qwertyuiop", "asdfghjkl'", "zxcvbnm,.?"),
}
BACKSPACE = "\b"
KEY_RADIUS = 8.0
KEY_BORDER = 2.0
LABEL_PAD = 4.0           # px a label keeps from its key's sides
ATLAS_WIDTH = 512         # px; labels are packed in shelves this wide


class Key(ButtonBehavior, Widget):
    """One key: where it is, what it types (`key_value`) and its label (`text`)."""

    text = StringProperty("")
    key_value = StringProperty("")


def layout_rows(rows: Iterable[str], split: bool) -> list[str]:
    """The keyboard's rows of letters; `split` halves each row (the first half the longer),
    so that a narrow portrait panel still gets keys a finger can hit (48 px and more)."""
    out: list[str] = []
    for row in rows:
        if split:
            half = (len(row) + 1) // 2
            out += [row[:half], row[half:]]
        else:
            out.append(row)
    return out


def pack_shelves(sizes: Iterable[tuple[int, int]], width: int) -> tuple[list[tuple[int, int]], int]:
    """Place rectangles left to right in shelves `width` wide; their positions (from the top
    left) and the height used. A rectangle wider than `width` gets a shelf of its own."""
    positions: list[tuple[int, int]] = []
    x = y = shelf = 0
    for w, h in sizes:
        if x and x + w > width:
            x, y, shelf = 0, y + shelf + 1, 0
        positions.append((x, y))
        x += w + 1                      # a pixel of gap: linear filtering never bleeds
        shelf = max(shelf, h)
    return positions, y + shelf


def label_pixels(text: str, font_size: float, colour) -> tuple[int, int, bytes]:
    """Kivy's text rendering to RGBA bytes (width, height, rows top-down), no GL texture.

    A core label lays the text out in `refresh()` and hands its pixels to `texture.blit_data`
    in `render(real=True)`; a stand-in texture takes them instead of the GPU.
    """
    from kivy.core.text import Label as CoreLabel

    class _Take:
        data = None

        def blit_data(self, data) -> None:
            self.data = data
    core = CoreLabel(text=text, font_size=font_size, color=colour)
    core.refresh()
    take = _Take()
    core.texture = take
    core.render(real=True)
    if take.data is None:                       # nothing drawn (empty text)
        return 0, 0, b""
    return int(take.data.width), int(take.data.height), bytes(take.data.data)


def compose_atlas(images: list[tuple[int, int, bytes]], width: int) -> tuple[bytes, int, int, list]:
    """Copy RGBA images (w, h, top-down rows) into one top-down RGBA buffer.

    Returns the buffer, its width and height, and each image's (x, y) from the top left.
    """
    positions, height = pack_shelves([(w, h) for w, h, _ in images], width)
    width = max([width] + [x + w for (x, _y), (w, _h, _d) in zip(positions, images)])
    height = max(1, height)
    buf = bytearray(width * height * 4)
    for (x, y), (w, h, data) in zip(positions, images):
        for row in range(h):
            dst = ((y + row) * width + x) * 4
            buf[dst:dst + w * 4] = data[row * w * 4:(row + 1) * w * 4]
    return bytes(buf), width, height, positions


class KeyGrid(BoxLayout):
    """Rows of keys; dispatches on_key(text, touch) with a character, " " or BACKSPACE, and the
    touch that pressed the key."""

    language = StringProperty("en")
    space_label = StringProperty("space")
    backspace_label = StringProperty("delete")
    font_size = NumericProperty(18)
    split_rows = BooleanProperty(False)       # portrait: each row as two (see layout_rows)

    __events__ = ("on_key",)

    def __init__(self, **kw) -> None:
        kw.setdefault("orientation", "vertical")
        super().__init__(**kw)
        self._keys: list[Key] = []
        self._labels: dict[str, tuple[int, int, bytes]] = {}    # text -> rendered RGBA
        self._atlas = None
        self._atlas_at: dict[str, tuple[int, int]] = {}
        self._drawing = InstructionGroup()
        self.canvas.after.add(self._drawing)
        # kv sets language, labels and font size one after the other: build the keys once,
        # before the next frame, not once per property.
        self._rebuild_soon = Clock.create_trigger(self.rebuild, -1)
        self._redraw_soon = Clock.create_trigger(self.redraw, -1)
        self.bind(language=self._rebuild_soon, space_label=self._rebuild_soon,
                  split_rows=self._rebuild_soon,
                  backspace_label=self._rebuild_soon, font_size=self._rebuild_soon,
                  pos=self._redraw_soon, size=self._redraw_soon)
        self._rebuild_soon()

    # -- keys ----------------------------------------------------------------------------
    def rebuild(self, *_a) -> None:
        self.clear_widgets()
        self._keys = []
        gap = max(3.0, self.font_size * 0.25)
        self.spacing = gap
        rows = layout_rows(ROWS.get(self.language, ROWS["en"]), self.split_rows)
        widest = max(len(r) for r in rows)
        for row in rows:
            line = BoxLayout(spacing=gap)
            pad = (widest - len(row)) / 2
            if pad:
                line.add_widget(Widget(size_hint_x=pad))
            for ch in row:
                line.add_widget(self._key(ch, ch))
            if pad:
                line.add_widget(Widget(size_hint_x=pad))
            self.add_widget(line)
        last = BoxLayout(spacing=gap)
        last.add_widget(Widget(size_hint_x=1.5))
        last.add_widget(self._key(self.space_label, " ", size_hint_x=6))
        last.add_widget(self._key(self.backspace_label, BACKSPACE, size_hint_x=1.5))
        self.add_widget(last)
        self._render_labels()
        self._redraw_soon()

    def _key(self, label: str, value: str, **kw) -> Key:
        key = Key(text=label, key_value=value, **kw)
        key.bind(on_release=lambda k: self.dispatch("on_key", k.key_value, k.last_touch),
                 pos=self._redraw_soon, size=self._redraw_soon)
        key.bind(state=self.redraw)          # a pressed key darkens in the same frame
        self._keys.append(key)
        return key

    def on_key(self, value: str, touch: object = None) -> None:
        pass

    # -- drawing -------------------------------------------------------------------------
    def _render_labels(self) -> None:
        """Render every label once (CPU) and pack them into one small texture."""
        from kivy.graphics.texture import Texture
        self._labels = {}
        for key in self._keys:
            if key.text not in self._labels:
                self._labels[key.text] = label_pixels(key.text, self.font_size, palette.INK)
        texts = list(self._labels)
        buf, aw, ah, positions = compose_atlas([self._labels[t] for t in texts], ATLAS_WIDTH)
        atlas = Texture.create(size=(aw, ah), colorfmt="rgba")
        atlas.blit_buffer(buf, colorfmt="rgba", bufferfmt="ubyte")
        self._atlas = atlas
        self._atlas_at = dict(zip(texts, positions))

    def redraw(self, *_a) -> None:
        group = self._drawing
        group.clear()
        if not self._keys or self._atlas is None:
            return
        outlines, faces, pressed = MeshBuilder(), MeshBuilder(), MeshBuilder()
        labels: list[float] = []
        idx: list[int] = []
        aw, ah = self._atlas.size
        for key in self._keys:
            # No relative layout between the grid and its keys: same coordinate space.
            (x, y), (w, h) = key.pos, key.size
            if w < 2 or h < 2:
                continue
            outlines.rounded_rect(x, y, w, h, KEY_RADIUS)
            (pressed if key.state == "down" else faces).rounded_rect(
                x + KEY_BORDER, y + KEY_BORDER, w - 2 * KEY_BORDER, h - 2 * KEY_BORDER,
                KEY_RADIUS - KEY_BORDER)
            lw, lh, _ = self._labels[key.text]
            ax, ay = self._atlas_at[key.text]
            # Whole pixels, so the label is copied 1:1 from the atlas (no blur).
            lx, ly = round(x + (w - lw) / 2), round(y + (h - lh) / 2)
            u0, u1 = ax / aw, (ax + lw) / aw
            v_top, v_bottom = ay / ah, (ay + lh) / ah    # atlas rows are top-down
            base = len(labels) // 4
            labels += [lx, ly, u0, v_bottom, lx + lw, ly, u1, v_bottom,
                       lx + lw, ly + lh, u1, v_top, lx, ly + lh, u0, v_top]
            idx += [base, base + 1, base + 2, base, base + 2, base + 3]
        for colour, builder in ((palette.LINE, outlines), (palette.SURFACE, faces),
                                (tuple(c * 0.85 for c in palette.SURFACE[:3]) + (1.0,), pressed)):
            mesh = builder.mesh()
            if mesh is not None:
                group.add(Color(*colour))
                group.add(mesh)
        if idx:
            group.add(Color(1, 1, 1, 1))
            group.add(packed_mesh(labels, idx, self._atlas))

    def layout_problems(self) -> list[str]:
        """Keys whose label does not fit (the UI tests check every screen for these)."""
        out = []
        for key in self._keys:
            lw, lh, _ = self._labels.get(key.text, (0, 0, b""))
            if lw > key.width - 2 * LABEL_PAD or lh > key.height:
                out.append(f"clipped text: Key({key.text!r}) needs {lw}x{lh}, has {key.width:.0f}x{key.height:.0f}")
        return out
