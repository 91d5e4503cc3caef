"""The change interval's ends found by false position (`roots.false_position`, the speed trick)
are the plain bisection's (`roots.bisection`) within 1e-11 of the scale here, on the side the test
does not reject, in about a third of the evaluations; and both find the crossing of functions that
are steep, flat, curved or infinite at the far end. (Where the statistic's own round-off is larger,
a fitted mean next to 0 or 1 at a crossing, the two can land up to some 1e-9 apart, both inside:
an independent review found 4e-9 at one answer against two, c = 1, of 101,078 ends.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

from server_sync.analysis.change_interval import score_z, sides
from server_sync.analysis.roots import bisection, false_position


def _ends(rng: np.random.Generator, pairs: int):
    """(function, inside, outside) of random change intervals' ends: sides of 1 to 1,000 answers
    on three and four values, critical values around the usual ones."""
    for i in range(pairs):
        values = [0, 1 / 3, 2 / 3, 1] if i % 2 else [0, 0.5, 1]
        n_b, n_a = (int(n) for n in rng.choice([1, 2, 3, 5, 10, 30, 100, 1000], 2))
        before, after = sides(list(rng.multinomial(n_b, rng.dirichlet([0.4] * len(values)))),
                              list(rng.multinomial(n_a, rng.dirichlet([0.4] * len(values)))), values)
        for c in (1.96, 2.5, float(rng.uniform(0.5, 4.0))):
            for way in (-1.0, 1.0):
                edge = way * (1.0 - 1e-12)
                if abs(score_z(before, after, edge)) >= c:
                    yield (lambda d, b=before, a=after, c=c: abs(score_z(b, a, d)) - c,
                           after.mean - before.mean, edge)


def test_false_position_finds_the_bisections_ends_of_change_intervals_in_a_third_of_the_steps():
    rng = np.random.default_rng(20261205)
    calls = {"bisection": 0, "false_position": 0}
    worst, ends = 0.0, 0
    for below, inside, outside in _ends(rng, 1500):
        def counted(way):
            def f(x):
                calls[way] += 1
                return below(x)
            return f
        plain = bisection(counted("bisection"), inside, outside)
        fast = false_position(counted("false_position"), inside, outside)
        assert below(fast) < 0.0 and below(plain) < 0.0
        worst, ends = max(worst, abs(fast - plain)), ends + 1
    assert ends > 5000 and worst < 1e-11, (ends, worst)
    assert calls["false_position"] < calls["bisection"] / 2.5, calls


@pytest.mark.parametrize("f, root", [
    (lambda x: x ** 9 - 0.5, 0.5 ** (1 / 9)),                  # flat, then steep
    (lambda x: math.tan(x * math.pi / 2) - 3.0, 2 / math.pi * math.atan(3.0)),   # without bound at 1
    (lambda x: 1e9 * (x - 0.3), 0.3),                          # steep line
    (lambda x: math.inf if x > 0.9 else x - 0.25, 0.25),       # infinite beyond a point
    (lambda x: -1.0 if x < 0.7 else 1.0, 0.7),                 # a step
], ids=["power", "tan", "steep", "infinite", "step"])
def test_both_find_the_crossing_from_either_side(f, root):
    for inside, outside, g in ((0.0, 1.0, f), (1.0, 0.0, lambda x: f(1.0 - x))):
        expected = root if inside == 0.0 else 1.0 - root
        for find in (bisection, false_position):
            x = find(g, inside, outside)
            assert g(x) < 0.0 and abs(x - expected) < 1e-11, (find.__name__, x, expected)
