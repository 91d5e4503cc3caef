"""Satisfaction metrics from answer counts: Happy Index, CSAT, NPS. Pure functions, no I/O.

Definitions (the architecture's vocabulary):
- Happy Index 0-100: mean of smiley answers mapped linearly (4-point: 0, 33.3, 66.7, 100).
- CSAT %: share of the top two answers.
- NPS: % promoters (9-10) minus % detractors (0-6), on 0-10 questions.
Every function takes `{value: count}` and returns None when there are no answers.
"""

from __future__ import annotations

from typing import Mapping

SMILEY_POINTS = {"smiley4": 4, "smiley5": 5}


def total(counts: Mapping[int, int]) -> int:
    return sum(counts.values())


def happy_index(counts: Mapping[int, int], scale: str) -> float | None:
    points = SMILEY_POINTS.get(scale)
    n = total(counts)
    if points is None or n == 0:
        return None
    return sum((v - 1) / (points - 1) * 100 * c for v, c in counts.items()) / n


def csat(counts: Mapping[int, int], scale: str) -> float | None:
    n = total(counts)
    if n == 0:
        return None
    if scale == "nps11":
        top = counts.get(9, 0) + counts.get(10, 0)
    else:
        points = SMILEY_POINTS[scale]
        top = counts.get(points, 0) + counts.get(points - 1, 0)
    return top / n * 100


def nps(counts: Mapping[int, int]) -> float | None:
    n = total(counts)
    if n == 0:
        return None
    promoters = counts.get(9, 0) + counts.get(10, 0)
    detractors = sum(c for v, c in counts.items() if v <= 6)
    return (promoters - detractors) / n * 100
