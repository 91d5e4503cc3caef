"""Text cut to fit its box, so that no label is drawn past its box or its panel.

Two cuts, each at word boundaries where it can (inside a word only when one word alone is too
wide), marked with an ellipsis:

- `fit_tail`: the end of a text (the comment being typed: its newest words and the cursor stay
  in view, the beginning gives way, "…" in front);
- `fit_head`: the beginning of a text between a fixed prefix and suffix (a comment or alert on
  the staff screen: “text…” Mon 11:00, in the language's quotation marks).

Both take `fits(text) -> bool`, true up to some length of the text and false beyond it, and
search for the longest text it accepts. `TextBox` is that test for a Kivy label: it lays the
text out as the label will (Kivy's core label, no texture is made) at a given width, and
accepts it when it is no taller than a height and no word is wider than the width (a wider
word would be split mid-word). `font_for_words` is the other way to fit: a smaller font, until
the longest word of a short text fits its width; `font_for_all`, one such font for several
(a screen's reason chips). The pure functions import no Kivy.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

ELLIPSIS = "…"


def _last_true(candidates: Sequence[int], ok: Callable[[int], bool]) -> int | None:
    """The last candidate `ok` accepts, `ok` being true for a first run of them (binary search)."""
    lo, hi, best = 0, len(candidates) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if ok(candidates[mid]):
            best, lo = candidates[mid], mid + 1
        else:
            hi = mid - 1
    return best


def _word_starts(text: str) -> list[int]:
    return [0] + [i + 1 for i, ch in enumerate(text) if ch.isspace() and i + 1 < len(text)
                  and not text[i + 1].isspace()]


def fit_tail(text: str, fits: Callable[[str], bool]) -> str:
    """`text`, or as much of its end as fits after an ellipsis: whole words where one fits."""
    if fits(text):
        return text

    def tail(start: int) -> str:
        return ELLIPSIS + text[start:].lstrip()
    # Later starts give shorter tails: search the starts from the last backwards.
    starts = [s for s in _word_starts(text) if s > 0][::-1]
    best = _last_true(starts, lambda s: fits(tail(s)))
    if best is None:                   # the last word alone is too wide or too tall
        chars = list(range(len(text) - 1, 0, -1))
        best = _last_true(chars, lambda s: fits(tail(s)))
    return tail(best) if best is not None else ELLIPSIS


def fit_head(text: str, fits: Callable[[str], bool], prefix: str = "", suffix: str = "") -> str:
    """`prefix + text + suffix`, or with as much of the beginning of `text` as fits, ended by
    an ellipsis: whole words where one fits, else the first word cut."""
    whole = prefix + text + suffix
    if fits(whole):
        return whole

    def head(end: int) -> str:
        return prefix + text[:end].rstrip() + ELLIPSIS + suffix
    ends = [s - 1 for s in _word_starts(text) if s > 0]
    best = _last_true(ends, lambda e: fits(head(e)))
    if best is None:                   # the first word alone is too wide
        first = ends[0] if ends else len(text)
        best = _last_true(list(range(1, first)), lambda e: fits(head(e)))
    return head(best) if best is not None else prefix + ELLIPSIS + suffix


class TextBox:
    """Lays text out as `label` does at `width` px: how tall it is, whether it fits."""

    def __init__(self, label: Any, width: float) -> None:
        from kivy.core.text import Label as CoreLabel
        opts = dict(label._label.options)
        opts.pop("text", None)
        opts.update(text_size=(max(1.0, width), None), shorten=False, max_lines=0)
        self.width = max(1.0, width)
        self._core = CoreLabel(text="", **opts)
        self._pad = opts["padding"][0] + opts["padding"][2]

    def height(self, text: str) -> float:
        """The height `text` takes (0 for no text)."""
        if not text:
            return 0.0
        self._core.text = text
        return float(self._core.render()[1])

    def line_height(self) -> float:
        return self.height("Åg")

    def fits(self, text: str, height: float) -> bool:
        """No taller than `height`, and no word wider than the box (Kivy would split it)."""
        if self.height(text) > height + 0.5:
            return False
        return all(self._core.get_extents(word)[0] + self._pad <= self.width + 0.5 for word in text.split())

    def lines(self, n: int) -> Callable[[str], bool]:
        """The test for `fit_*`: at most `n` lines."""
        h = n * self.line_height()
        return lambda t: self.fits(t, h)



def words_fit(label: Any, width: float, font_size: float) -> bool:
    """Every word of `label`'s text fits `width` px at `font_size`, as the label lays it out
    (Kivy splits a wider word mid-word: "Kundtjänstmedarbetar|nas")."""
    from kivy.core.text import Label as CoreLabel
    opts = dict(label._label.options)
    opts.pop("text", None)
    opts["font_size"] = font_size
    pad = opts["padding"][0] + opts["padding"][2]
    core = CoreLabel(text="", **opts)
    return all(core.get_extents(word)[0] + pad <= width + 0.5 for word in label.text.split())


def font_for_words(label: Any, width: float, largest: float, least: float) -> float:
    """The largest font size, from `largest` down to `least` in steps of a pixel, at which
    every word of `label`'s text fits `width` px (`words_fit`); `least` if none does."""
    size = largest
    while size > least:
        if words_fit(label, width, size):
            return size
        size = max(least, size - 1)
    return least


def font_for_all(labels: Sequence[Any], largest: float, least: float) -> float:
    """One font size for all `labels`: the largest, from `largest` down to `least`, at which
    every word of each fits its label's text width (`font_for_words`); `least` if none does."""
    size = largest
    for label in labels:
        # A later label can only lower the size: its search starts at the size found so far.
        size = font_for_words(label, label.text_size[0], size, least)
    return size
