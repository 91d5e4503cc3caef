"""Check digits for the comment scrubber (kiosk.scrub): Luhn, the Norwegian fødselsnummer and
Norwegian account number.

They answer exactly as python-stdnum's `luhn.is_valid`, `no.fodselsnummer.is_valid` and
`no.kontonr.is_valid` (11 digits) do
(tests/test_checkdigits.py compares them on the inputs the scrubber passes: Unicode digits), but
without importing stdnum: every stdnum module loads `stdnum.util`, which imports pydoc and
looks up ~200 Unicode character names at import (1.1 MB resident in the kiosk's process for
two ten-line algorithms). stdnum stays for the IBAN check, whose country registry it carries;
kiosk.scrub imports it only when a comment holds something shaped like an IBAN.
Pure: no I/O; the birth-date check reads today's date, as stdnum's does.
"""

from __future__ import annotations

import datetime

ASCII_DIGITS = "0123456789"

# The Unicode digits stdnum's `clean` maps to ASCII before a fødselsnummer is checked
# (`stdnum.util._char_map`): fullwidth digits and the five mathematical digit alphabets
# (bold, double-struck, sans-serif, sans-serif bold, monospace), each 0-9 in a row.
_DIGIT_LOOKALIKES = {chr(0xFF10 + d): str(d) for d in range(10)}
_DIGIT_LOOKALIKES.update({chr(0x1D7CE + 10 * alphabet + d): str(d) for alphabet in range(5) for d in range(10)})


def luhn_valid(number: str) -> bool:
    """True when `number` is ASCII digits whose Luhn checksum is 0 (stdnum's luhn.is_valid)."""
    if not number or any(c not in ASCII_DIGITS for c in number):
        return False
    values = [int(c) for c in reversed(number)]
    total = sum(values[::2]) + sum(sum(divmod(v * 2, 10)) for v in values[1::2])
    return total % 10 == 0


def norwegian_id_valid(digits: str) -> bool:
    """`digits` (characters for which str.isdigit() holds, as kiosk.scrub passes them) are a
    Norwegian fødselsnummer or D-number: 11 digits, both mod-11 check digits, a birth date
    that exists and is not in the future. Look-alike digits read as ASCII, as in stdnum's
    `fodselsnummer.is_valid` (which also drops separators; digits have none)."""
    number = _eleven_ascii_digits(digits)
    if not number or number[-2] != _mod11(number, (3, 7, 6, 1, 8, 9, 4, 5, 2)):
        return False
    if number[-1] != _mod11(number, _LAST_MOD11):
        return False
    born = _birth_date(number)
    return born is not None and born <= datetime.date.today()


def norwegian_account_valid(digits: str) -> bool:
    """`digits` (as for `norwegian_id_valid`) are a Norwegian bank account number (kontonummer):
    11 digits, the last the mod-11 check digit of the ten before it, weighted as a
    fødselsnummer's last (stdnum's `no.kontonr.is_valid` on 11 digits)."""
    number = _eleven_ascii_digits(digits)
    return bool(number) and number[-1] == _mod11(number, _LAST_MOD11)


_LAST_MOD11 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _eleven_ascii_digits(digits: str) -> str:
    """`digits` with look-alike digits read as ASCII; "" unless that makes 11 ASCII digits."""
    number = "".join(_DIGIT_LOOKALIKES.get(c, c) for c in digits)
    return number if len(number) == 11 and all(c in ASCII_DIGITS for c in number) else ""


def _mod11(number: str, weights: tuple[int, ...]) -> str:
    return str((11 - sum(w * int(n) for w, n in zip(weights, number))) % 11)


def _birth_date(number: str) -> datetime.date | None:
    """The birth date a fødselsnummer encodes (None: an FH-number, no century, no such day)."""
    day, month, year = int(number[0:2]), int(number[2:4]), int(number[4:6])
    individual = int(number[6:9])
    if day >= 80:                       # FH-number: no date by design
        return None
    if day > 40:                        # D-number
        day -= 40
    if month > 40:                      # H-number
        month -= 40
    if individual < 500:
        year += 1900
    elif individual < 750 and year >= 54:
        year += 1800
    elif individual < 1000 and year < 40:
        year += 2000
    elif 900 <= individual < 1000 and year >= 40:
        year += 1900
    else:
        return None
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None
