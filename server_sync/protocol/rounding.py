"""How a figure is rounded for a reader, on the kiosk's staff view and everywhere the centre
shows one: to the nearest, a half away from zero, on the figure as written (its shortest decimal
form). 56.25 is 56.3, −43.75 is −43.8, 2.675 is 2.68: as a person rounds, and as a spreadsheet
shows the downloaded figure. Python's `round` and `format` round the binary value, a half to
even: 56.25 was "56,2" on a page whose download Excel shows as 56.3 (an independent check).
A figure kept to more decimals than are shown (`kept`: a report's four) is kept so that a reader's
figure, rounded from it, is the one rounded from the figure computed. Pure.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal


def rounded(x: float, digits: int) -> Decimal:
    """`x` to `digits` decimals, a half away from zero (Decimal's ROUND_HALF_UP is away from zero
    for a negative too). Formatting the result at `digits` decimals writes it as it is. `x` must
    be finite (a Decimal infinity cannot be quantized)."""
    return Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def kept(x: float, digits: int, shown: int) -> float:
    """`x` to `digits` decimals for a figure that is kept (a report's JSON and CSV) and read again
    at `shown` decimals or fewer (a page): the nearest, Python's `round`, unless that one sits on
    a half of a figure shown and reads otherwise than `x` does, then the next one toward `x`.
    97.04995863 kept as 97.05 read 97.1 at one decimal, `x` 97.0: it is kept as 97.0499. Within
    one unit of the last decimal either way, and never rounded twice for a reader. Pure."""
    if not math.isfinite(x):
        return x
    k = round(x, digits)
    if digits <= shown:
        return k                        # never shown finer than kept: nothing rounds it again
    # Only a kept figure that is itself a half of a figure shown (97.05, 60.5, 0.125) can read
    # otherwise than `x`: `x` is within half a unit of it, so on its side of every other half.
    if round(k * 10 ** digits) % (5 * 10 ** (digits - shown - 1)):
        return k
    if all(rounded(k, d) == rounded(x, d) for d in range(shown + 1)):
        return k
    return round(k + (10 ** -digits if x > k else -(10 ** -digits)), digits)
