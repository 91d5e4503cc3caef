"""Layout checks on a live Kivy widget tree: clipped labels, widgets outside their container
and overlapping touch targets.

Used by the UI scenario at every resolution, language and screen. A label is clipped when its
rendered texture is larger than its box (or its box leaves the window); a widget is outside
its container when its box reaches past its parent's (a panel's lines pushed over its edge by
more than it holds: each label may fit its own box and the window, and still be drawn on
another panel or a button); two enabled buttons overlap when their boxes intersect (one inside
the other, e.g. nested, is not counted).
"""

from __future__ import annotations

from typing import Iterable

from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.widget import Widget

TOLERANCE = 1.0   # px: texture sizes round up


def _visible(w: Widget) -> bool:
    node = w
    while node is not None:
        if getattr(node, "opacity", 1) <= 0.01:
            return False
        parent = node.parent
        if parent is node:
            break
        node = parent
    return w.width > 0.5 and w.height > 0.5


def walk(root: Widget) -> Iterable[Widget]:
    stack = [root]
    while stack:
        w = stack.pop()
        yield w
        stack.extend(w.children)


def window_box(w: Widget) -> tuple[float, float, float, float]:
    x0, y0 = w.to_window(w.x, w.y)
    x1, y1 = w.to_window(w.right, w.top)
    return x0, y0, x1, y1


def describe(w: Widget) -> str:
    text = getattr(w, "text", "")
    return f"{type(w).__name__}({text!r})" if text else type(w).__name__


def layout_problems(root: Widget, window_size: tuple[float, float]) -> list[str]:
    problems: list[str] = []
    W, H = window_size
    buttons: list[Widget] = []
    for w in walk(root):
        if not _visible(w):
            continue
        x0, y0, x1, y1 = window_box(w)
        parent = w.parent
        if isinstance(parent, Widget) and parent is not w and _visible(parent):
            px0, py0, px1, py1 = window_box(parent)
            if x0 < px0 - TOLERANCE or y0 < py0 - TOLERANCE or x1 > px1 + TOLERANCE or y1 > py1 + TOLERANCE:
                problems.append(f"outside its container: {describe(w)} at {x0:.0f},{y0:.0f}-{x1:.0f},{y1:.0f},"
                                f" {describe(parent)} at {px0:.0f},{py0:.0f}-{px1:.0f},{py1:.0f}")
        if isinstance(w, Label) and w.text.strip():
            tw, th = w.texture_size
            if tw > w.width + TOLERANCE or th > w.height + TOLERANCE:
                problems.append(f"clipped text: {describe(w)} needs {tw:.0f}x{th:.0f}, has {w.width:.0f}x{w.height:.0f}")
            if x0 < -TOLERANCE or y0 < -TOLERANCE or x1 > W + TOLERANCE or y1 > H + TOLERANCE:
                problems.append(f"off screen: {describe(w)} at {x0:.0f},{y0:.0f}-{x1:.0f},{y1:.0f}")
            broken = _broken_word(w)
            if broken:
                problems.append(f"word broken: {describe(w)}: {broken!r} is wider than {w.text_size[0]:.0f}")
            need = _unclipped_height(w)
            if need is not None and need > w.height + TOLERANCE:
                problems.append(f"cut text: {describe(w)} needs height {need:.0f}, has {w.height:.0f}")
        own = getattr(w, "layout_problems", None)
        if callable(own):                 # a widget that draws its children's text itself
            problems += own()
        if isinstance(w, ButtonBehavior) and not w.disabled:
            if x0 < -TOLERANCE or y0 < -TOLERANCE or x1 > W + TOLERANCE or y1 > H + TOLERANCE:
                problems.append(f"off screen: {describe(w)} at {x0:.0f},{y0:.0f}-{x1:.0f},{y1:.0f}")
            buttons.append(w)
    boxes = [(b, window_box(b)) for b in buttons]
    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1:]:
            if _ancestor(a, b) or _ancestor(b, a):
                continue
            ix = min(ba[2], bb[2]) - max(ba[0], bb[0])
            iy = min(ba[3], bb[3]) - max(ba[1], bb[1])
            if ix > TOLERANCE and iy > TOLERANCE:
                problems.append(f"overlap: {describe(a)} and {describe(b)} ({ix:.0f}x{iy:.0f} px)")
    return problems


def _core(w: Label, text: str, text_size):
    from kivy.core.text import Label as CoreLabel
    opts = dict(w._label.options)
    opts["text_size"] = text_size
    opts["shorten"] = False
    opts.pop("text", None)
    core = CoreLabel(text=text, **opts)
    core.refresh()
    return core


def _broken_word(w: Label) -> str | None:
    """A word wider than the wrapping width: Kivy would split it mid-word."""
    ts = w.text_size
    if not ts or not ts[0]:
        return None
    core = _core(w, "", (None, None))
    pad = w.padding[0] + w.padding[2] if len(w.padding) == 4 else 2 * w.padding[0]
    for word in w.text.split():
        if core.get_extents(word)[0] + pad > ts[0] + TOLERANCE:
            return word
    return None


def _unclipped_height(w: Label) -> float | None:
    """For a label with a fixed text box (or shortening), the height its whole text needs."""
    ts = w.text_size
    if not (getattr(w, "shorten", False) or (ts and ts[1] is not None)):
        return None
    core = _core(w, w.text, (ts[0] if ts and ts[0] else None, None))
    return core.content_height


def _ancestor(a: Widget, b: Widget) -> bool:
    node = b.parent
    while node is not None and node is not node.parent:
        if node is a:
            return True
        node = node.parent
    return False
