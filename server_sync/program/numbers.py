"""What a whole number is when a person types it (a command's argument, a web form or filter) or
edits it into a stored setting, said once: ASCII digits, a '-' before them only where a negative
number is asked for. `int()` also takes '1_000', ' 5', '+5' and other scripts' digits ('٢', and
str.isdigit() even '²', which int() refuses), and fails on more than 4,300 digits with words of
its own."""

from __future__ import annotations


def plain_whole_number(text: str, max_digits: int, *, signed: bool = False) -> int | None:
    """`text` as a whole number when it is one as described above with at most `max_digits`
    digits, else None (the caller says what was expected, in its own words)."""
    digits = text[1:] if signed and text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > max_digits:
        return None
    return int(text)
