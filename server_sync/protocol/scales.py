"""The answer scales and their rules, declared once: which values a scale has, which count as
negative (the follow-up trigger, NPS detractors), which as the top two (CSAT, NPS promoters), and
where each value sits on the 0-100 Happy Index.

Everything else derives from here: the kiosk's follow-up trigger and local stats, the wire
validation, the centre's rollups (in Python, SQL and numpy) and its metrics. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    lowest: int
    highest: int
    negative_up_to: int          # values <= this are negative
    top_from: int                # values >= this are the top two (promoters on nps11)
    smiley: bool                 # answered with faces; has a Happy Index (else NPS)

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(range(self.lowest, self.highest + 1))

    @property
    def points(self) -> int:
        return self.highest - self.lowest + 1

    def is_negative(self, value: int) -> bool:
        return value <= self.negative_up_to

    def is_top2(self, value: int) -> bool:
        return value >= self.top_from

    def happy_points(self, value: int) -> float:
        """The value on the Happy Index's 0-100 line (4-point: 0, 33.3, 66.7, 100)."""
        return (value - self.lowest) / (self.highest - self.lowest) * 100

    @property
    def primary_metric(self) -> str:
        return "happy_index" if self.smiley else "nps"


SCALES: dict[str, Scale] = {s.name: s for s in (
    Scale("smiley4", 1, 4, negative_up_to=2, top_from=3, smiley=True),    # 1 very unhappy … 4 very happy
    Scale("smiley5", 1, 5, negative_up_to=2, top_from=4, smiley=True),
    Scale("nps11", 0, 10, negative_up_to=6, top_from=9, smiley=False),    # 0 … 10; 0-6 detractors
)}
SCALE_NAMES: tuple[str, ...] = tuple(SCALES)


def scale(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        raise KeyError(f"unknown scale {name!r}; expected one of {', '.join(SCALES)}") from None


def is_negative(scale_name: str, value: int) -> bool:
    return value <= SCALES[scale_name].negative_up_to


def is_top2(scale_name: str, value: int) -> bool:
    return value >= SCALES[scale_name].top_from


def sql_rule(rule: str, scale_column: str = "scale", value_column: str = "value") -> str:
    """A scale rule ('negative' or 'top2') as an SQL expression giving 1 or 0, for views and
    back-fills that classify stored answers the same way as the code."""
    parts = []
    for s in SCALES.values():
        cond = (f"{value_column} <= {s.negative_up_to}" if rule == "negative"
                else f"{value_column} >= {s.top_from}")
        parts.append(f"WHEN {scale_column} = '{s.name}' AND {cond} THEN 1")
    if rule not in ("negative", "top2"):
        raise ValueError(f"unknown scale rule {rule!r}")
    return f"(CASE {' '.join(parts)} ELSE 0 END)"
