"""Where a function that rises from below a level to above it crosses the level, between a point
known to be below (`inside`) and one known to be at or above (`outside`): the end of an interval
made of the values a test does not reject (`change_interval`).

`bisection` is the plain version: it halves the bracket a fixed number of times.
`false_position` is a speed trick kept beside it, and tests/analysis/test_roots.py holds it to
the plain one: the false-position method with Anderson and Björck's weighting of an end kept
twice (Anderson & Björck 1973, "A new high order method of regula falsi type for computing a
root of an equation", BIT 13:253-264) reaches the same bracket width in about a third of the
evaluations (14-15 against 42 on change intervals, whose bisection was half of the change tests'
time). Both return a point whose value is still below the level, so an interval's end is always
one the test does not reject.
"""

from __future__ import annotations

import math
from typing import Callable

BISECTIONS = 42            # halvings of a bracket of width up to 2: within 1e-12
WIDTH = 2.0 ** -41         # the bisections' last bracket width on such a bracket, for `false_position`
MOST_STEPS = 200           # guesses before `false_position` only halves (a change interval took 56 at most)


def bisection(below: Callable[[float], float], inside: float, outside: float,
              steps: int = BISECTIONS) -> float:
    """The last point of `steps` halvings of [inside, outside] where below(x) < 0 (below:
    the function less the level; below(inside) < 0 <= below(outside))."""
    for _ in range(steps):
        mid = (inside + outside) / 2.0
        if below(mid) < 0.0:
            inside = mid
        else:
            outside = mid
    return inside


def false_position(below: Callable[[float], float], inside: float, outside: float,
                   width: float = WIDTH) -> float:
    """As `bisection`, until the bracket is narrower than `width`: each guess where the chord
    between the bracket's ends crosses 0; where the same end is kept twice in a row its value is
    scaled down by Anderson and Björck's factor 1 - f(new) / f(replaced) (a half where that is not
    positive), so that a curved function does not leave one end behind for ever; a halving where
    the chord gives no point inside the bracket or a value is not finite (a statistic growing
    without bound at the edge of the scale)."""
    f_in, f_out = below(inside), below(outside)
    kept = 0                   # 1: the outside end was kept last time, -1: the inside end
    for step in range(MOST_STEPS + 64):
        if abs(outside - inside) < width:
            break
        guess = (inside + outside) / 2.0
        if step < MOST_STEPS and math.isfinite(f_out) and f_out > f_in:
            chord = inside + (outside - inside) * (-f_in) / (f_out - f_in)
            if min(inside, outside) < chord < max(inside, outside):
                guess = chord
        value = below(guess)
        if value < 0.0:
            if kept == 1:
                f_out *= _scale(value, f_in)
            inside, f_in, kept = guess, value, 1
        else:
            if kept == -1:
                f_in *= _scale(value, f_out)
            outside, f_out, kept = guess, value, -1
    return inside


def _scale(new: float, replaced: float) -> float:
    """Anderson and Björck's weight of the kept end: 1 - f(new) / f(replaced), or a half."""
    m = 1.0 - new / replaced if replaced else 0.0
    return m if m > 0.0 else 0.5
