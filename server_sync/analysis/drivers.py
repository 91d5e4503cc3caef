"""Drivers of satisfaction from follow-up reasons (performance areas). Pure.

- Pareto: reasons by how many answers cite them, with share and cumulative share.
- Uplift: for each area, how much the headline metric would rise if its complaints went away,
  i.e. the negative answers citing it were not there: Happy Index from (sum - their values) /
  (n - their count); NPS with those detractors removed. An answer citing two areas counts in
  both, so uplifts overlap and do not add up.
- Best vs rest: how often each area is cited per 100 answers at the best-ranked quarter of
  sites against the rest, with a two-proportion z-test: what the best do differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from server_sync.analysis.metrics import SMILEY_POINTS, Tally, happy_index_scale, primary
from server_sync.analysis.stats import two_proportion_z


@dataclass(frozen=True)
class ReasonCount:
    """Answers citing a reason: all, negative ones, and the value sum of the negative ones."""
    n: int = 0
    negative: int = 0
    negative_sum_v: int = 0

    def __add__(self, o: "ReasonCount") -> "ReasonCount":
        return ReasonCount(self.n + o.n, self.negative + o.negative, self.negative_sum_v + o.negative_sum_v)


def sum_reasons(maps: Iterable[Mapping[str, ReasonCount]]) -> dict[str, ReasonCount]:
    out: dict[str, ReasonCount] = {}
    for m in maps:
        for r, c in m.items():
            out[r] = out.get(r, ReasonCount()) + c
    return out


def pareto(reasons: Mapping[str, ReasonCount]) -> list[dict]:
    total = sum(c.n for c in reasons.values())
    out, cum = [], 0
    for reason, c in sorted(reasons.items(), key=lambda kv: (-kv[1].n, kv[0])):
        if c.n <= 0:
            continue
        cum += c.n
        out.append({"reason": reason, "n": c.n, "negative": c.negative, "share": round(100 * c.n / total, 2),
                    "cumulative": round(100 * cum / total, 2)})
    return out


def without_complaints(t: Tally, c: ReasonCount) -> Tally:
    """The tally as if the negative answers citing the reason had not been given."""
    if t.scale == "nps11":
        return Tally(t.scale, t.n - c.negative, 0, 0, t.top2, t.negative - c.negative)
    # Squares are not kept per reason; the Happy Index only needs n and the value sum.
    return Tally(t.scale, t.n - c.negative, t.sum_v - c.negative_sum_v, 0, t.top2, t.negative - c.negative)


def uplift(t: Tally, reasons: Mapping[str, ReasonCount]) -> list[dict]:
    """Per reason: metric now, metric without its complaints, the difference (best first)."""
    now = primary(t).value
    if now is None:
        return []
    out = []
    for reason, c in reasons.items():
        rest = without_complaints(t, c)
        if rest.n <= 0 or c.negative <= 0:
            continue
        if t.scale in SMILEY_POINTS:
            after = (rest.sum_v / rest.n - 1) * happy_index_scale(t.scale)
        else:
            after = 100.0 * (rest.top2 - rest.negative) / rest.n
        out.append({"reason": reason, "complaints": c.negative, "current": round(now, 2),
                    "without": round(after, 2), "uplift": round(after - now, 2)})
    out.sort(key=lambda r: (-r["uplift"], r["reason"]))
    return out


def best_vs_rest(ranked_sites: list[str], answers: Mapping[str, int],
                 site_reasons: Mapping[str, Mapping[str, ReasonCount]], best_share: float = 0.25) -> dict:
    """Reasons per 100 answers: the top `best_share` of `ranked_sites` (best first) vs the rest."""
    k = max(1, int(round(len(ranked_sites) * best_share))) if len(ranked_sites) >= 2 else 0
    best, rest = ranked_sites[:k], ranked_sites[k:]
    if not best or not rest:
        return {"best_sites": best, "rest_sites": len(rest), "reasons": []}
    nb, nr = sum(answers.get(s, 0) for s in best), sum(answers.get(s, 0) for s in rest)
    rb = sum_reasons(site_reasons.get(s, {}) for s in best)
    rr = sum_reasons(site_reasons.get(s, {}) for s in rest)
    rows = []
    for reason in sorted(set(rb) | set(rr)):
        xb, xr = rb.get(reason, ReasonCount()).n, rr.get(reason, ReasonCount()).n
        test = two_proportion_z(xr, nr, xb, nb) if nb and nr else None
        rows.append({"reason": reason, "best_per_100": round(100 * xb / nb, 2) if nb else None,
                     "rest_per_100": round(100 * xr / nr, 2) if nr else None,
                     "difference": round(100 * (xb / nb - xr / nr), 2) if nb and nr else None,
                     "p_value": round(test.p_value, 4) if test else None,
                     "significant": bool(test and test.significant())})
    rows.sort(key=lambda r: (r["difference"] if r["difference"] is not None else 0.0, r["reason"]))
    return {"best_sites": best, "rest_sites": len(rest), "best_answers": nb, "rest_answers": nr, "reasons": rows}
