"""kiosk.checkdigits answers as python-stdnum does, on the inputs kiosk.scrub passes it."""

from __future__ import annotations

import random

from stdnum import luhn
from stdnum.no import fodselsnummer, kontonr
from stdnum.util import _char_map

from kiosk.checkdigits import _DIGIT_LOOKALIKES, luhn_valid, norwegian_account_valid, norwegian_id_valid

UNICODE_DIGITS = [chr(c) for c in range(0x110000) if chr(c).isdigit()]


def _digits(rnd: random.Random, n: int) -> str:
    """n ASCII digits, now and then one or two other Unicode digits among them."""
    s = [rnd.choice("0123456789") for _ in range(n)]
    for _ in range(rnd.choice([0, 0, 0, 1, 2]) if n else 0):
        s[rnd.randrange(n)] = rnd.choice(UNICODE_DIGITS)
    return "".join(s)


def test_lookalike_digits_are_stdnums():
    assert _DIGIT_LOOKALIKES == {k: v for k, v in _char_map.items() if v in "0123456789"}


def test_luhn_as_stdnum():
    rnd = random.Random(1)
    for _ in range(20000):
        x = _digits(rnd, rnd.choice([0, 1, 10, 12, 15, 16, 19]))
        assert luhn_valid(x) == luhn.is_valid(x), x


def test_norwegian_id_as_stdnum():
    rnd = random.Random(2)
    valid = 0
    for _ in range(20000):
        x = _digits(rnd, 9)
        if x.isascii() and rnd.random() < 0.8:          # mostly numbers with check digits
            c1 = fodselsnummer.calc_check_digit1(x)[-1]
            c2 = fodselsnummer.calc_check_digit2(x + c1)[-1]
            x += c1 + (c2 if rnd.random() < 0.9 else "0")
        else:
            x += _digits(rnd, 2)
        if rnd.random() < 0.15:                         # fullwidth and monospace digits
            x = "".join(rnd.choice([c, chr(0xFF10 + int(c)), chr(0x1D7F6 + int(c))]) if c.isascii() else c
                        for c in x)
        valid += fodselsnummer.is_valid(x)
        assert norwegian_id_valid(x) == fodselsnummer.is_valid(x), x
    assert valid > 500


def test_norwegian_account_as_stdnum():
    """On 11 digits (the scrubber passes no others; stdnum reads "0000" in front as a postgiro
    prefix and checks the 7 digits after it, a number the scrubber leaves alone)."""
    rnd = random.Random(3)
    valid = 0
    for _ in range(20000):
        x = _digits(rnd, 11)
        if x.startswith("0000"):
            continue
        valid += kontonr.is_valid(x)
        assert norwegian_account_valid(x) == kontonr.is_valid(x), x
    assert valid > 1000
