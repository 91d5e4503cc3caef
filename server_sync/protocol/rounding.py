"""How a figure is rounded for a reader, on the kiosk's staff view and everywhere the centre
shows one: to the nearest, a half away from zero, on the figure as written (its shortest decimal
form). 56.25 is 56.3, −43.75 is −43.8, 2.675 is 2.68: as a person rounds, and as a spreadsheet
shows the downloaded figure. Python's `round` and `format` round the binary value, a half to
even: 56.25 was "56,2" on a page whose download Excel shows as 56.3 (an independent check). Pure.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def rounded(x: float, digits: int) -> Decimal:
    """`x` to `digits` decimals, a half away from zero (Decimal's ROUND_HALF_UP is away from zero
    for a negative too). Formatting the result at `digits` decimals writes it as it is. `x` must
    be finite (a Decimal infinity cannot be quantized)."""
    return Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
