"""The metrics' definitions, shared by the kiosk's staff statistics and the centre's analysis:
a `Tally` of one group of answers on one scale (n, sum and sum of squares of the values, top-two
and negative counts: what the rollups store) and the three figures it gives:
- Happy Index 0-100: the mean of the answers on the scale's Happy Index line (`Scale.happy_points`);
- CSAT %: the share of the top two answers (9-10 on nps11);
- NPS: % promoters (9-10) minus % detractors (0-6).
Point values only; the centre adds intervals and tests (server_sync.analysis.metrics). Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Iterable, Mapping

from server_sync.protocol.scales import SCALES, is_negative, is_top2


@dataclass(frozen=True)
class Tally:
    """Sufficient statistics of one group of answers on one scale."""
    scale: str
    n: int = 0
    sum_v: int = 0
    sum_v2: int = 0
    top2: int = 0
    negative: int = 0

    @classmethod
    def from_counts(cls, scale: str, counts: Mapping[int, int]) -> "Tally":
        n = sum(counts.values())
        return cls(scale, n, sum(v * c for v, c in counts.items()),
                   sum(v * v * c for v, c in counts.items()),
                   sum(c for v, c in counts.items() if is_top2(scale, v)),
                   sum(c for v, c in counts.items() if is_negative(scale, v)))

    def __add__(self, other: "Tally") -> "Tally":
        if other.n and self.n and other.scale != self.scale:
            raise ValueError(f"cannot add answers on {self.scale} and {other.scale}")
        return Tally(self.scale if self.n else other.scale, self.n + other.n, self.sum_v + other.sum_v,
                     self.sum_v2 + other.sum_v2, self.top2 + other.top2, self.negative + other.negative)

    def __sub__(self, other: "Tally") -> "Tally":
        return Tally(self.scale, self.n - other.n, self.sum_v - other.sum_v, self.sum_v2 - other.sum_v2,
                     self.top2 - other.top2, self.negative - other.negative)

    @property
    def promoters(self) -> int:
        return self.top2 if self.scale == "nps11" else 0

    @property
    def detractors(self) -> int:
        return self.negative if self.scale == "nps11" else 0

    def value_variance(self) -> float | None:
        """Sample variance (n-1) of the raw values."""
        if self.n < 2:
            return None
        return max(0.0, (self.sum_v2 - self.sum_v * self.sum_v / self.n) / (self.n - 1))

    def value_counts(self) -> tuple[int, ...]:
        """How many answers had each of the scale's values (`Scale.values` order), recovered from
        the sufficient statistics: on the smiley scales n, Σv, Σv², the negative and the top-two
        counts have one solution (at most five faces, five equations). ValueError on nps11
        (eleven values; its groups are `promoters`, `detractors` and the rest) or when the
        statistics are not those of any answers."""
        scale = SCALES[self.scale]
        if not scale.smiley:
            raise ValueError(f"{self.scale}: the values' counts are not in its statistics")
        rows, denominator = _recovery(self.scale)
        statistics = (self.n, self.sum_v, self.sum_v2, self.negative, self.top2)
        solved = [sum(a * b for a, b in zip(row, statistics)) for row in rows]
        counts, rest = solved[:len(scale.values)], solved[len(scale.values):]
        if any(r != 0 for r in rest) or any(c < 0 or c % denominator for c in counts):
            raise ValueError(f"no answers on {self.scale} have these statistics: {self}")
        return tuple(c // denominator for c in counts)

    def happy_index(self) -> float | None:
        """The Happy Index (smiley scales; None without answers or on nps11)."""
        scale = SCALES.get(self.scale)
        if scale is None or not scale.smiley or self.n == 0:
            return None
        return (self.sum_v / self.n - scale.lowest) / (scale.highest - scale.lowest) * 100

    def csat(self) -> float | None:
        return self.top2 / self.n * 100 if self.n else None

    def nps(self) -> float | None:
        if self.scale != "nps11" or self.n == 0:
            return None
        return (self.promoters - self.detractors) / self.n * 100


def sum_tallies(tallies: Iterable[Tally], scale: str) -> Tally:
    out = Tally(scale)
    for t in tallies:
        out = out + t
    return out


@cache
def _recovery(scale_name: str) -> tuple[tuple[tuple[int, ...], ...], int]:
    """The linear map from a smiley scale's statistics (n, Σv, Σv², negative, top two) to its
    values' counts, solved once per scale (exact Gauss-Jordan on the five equations, the row
    operations kept in an identity beside them): integer rows and a common denominator D, such
    that row i · statistics / D is the i-th value's count and the rows after the values' must give
    0 (the statistics of some answers). Solving the system anew for every tally cost a
    millisecond (Fractions), half of a change test's time."""
    scale = SCALES[scale_name]
    values = scale.values
    equations = [[1] * len(values), list(values), [v * v for v in values],
                 [int(scale.is_negative(v)) for v in values], [int(scale.is_top2(v)) for v in values]]
    rows = [[Fraction(x) for x in eq] + [Fraction(int(i == j)) for j in range(len(equations))]
            for i, eq in enumerate(equations)]
    for col in range(len(values)):
        pivot = next(r for r in range(col, len(rows)) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        rows[col] = [x / rows[col][col] for x in rows[col]]
        for r in range(len(rows)):
            if r != col and rows[r][col] != 0:
                rows[r] = [x - rows[r][col] * y for x, y in zip(rows[r], rows[col])]
    transform = [row[len(values):] for row in rows]
    denominator = math.lcm(*(x.denominator for row in transform for x in row))
    return tuple(tuple(int(x * denominator) for x in row) for row in transform), denominator
