"""A keyboard at the staff PIN pad: which of the pad's own actions a key press is.

The demo drives the panel's mock buttons from the keyboard (1-4, g); with the PIN pad open the
same digits must type the PIN instead, or the demo's documented PIN recorded four answers and
the pad stayed empty. Kivy's key codes, as its SDL2 window sends them.
"""

from __future__ import annotations

ENTER, KEYPAD_ENTER, BACKSPACE, ESCAPE = 13, 271, 8, 27
KEYPAD_DIGITS = {256 + n: str(n) for n in range(10)}       # numpad0 … numpad9

DIGIT, SUBMIT, BACK, CANCEL = "digit", "submit", "back", "cancel"


def pin_pad_action(key: int, codepoint: str | None) -> tuple[str, str] | None:
    """(action, digit) for a key pressed at the PIN pad, or None: not the pad's key (q still
    quits the demo, g is the staff gesture again)."""
    if codepoint is not None and len(codepoint) == 1 and codepoint in "0123456789":
        return DIGIT, codepoint
    if key in KEYPAD_DIGITS:
        return DIGIT, KEYPAD_DIGITS[key]
    if key in (ENTER, KEYPAD_ENTER):
        return SUBMIT, ""
    if key == BACKSPACE:
        return BACK, ""
    if key == ESCAPE:
        return CANCEL, ""
    return None
