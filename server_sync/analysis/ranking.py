"""Site ranking with empirical-Bayes shrinkage toward the chain average (a SiteRanking).

A site's headline metric m_i (Happy Index or NPS, n_i answers) is pulled toward the chain mean
mu in proportion to how noisy it is:  shrunk_i = mu + w_i (m_i - mu),  w_i = tau² / (tau² + s²/n_i),
where s² is the per-answer variance pooled over the chain and tau² the between-site variance,
estimated by the method of moments for an unbalanced one-way random-effects model. A site with
five answers stays near the average; a site with thousands keeps its own figure. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from server_sync.analysis.metrics import SMALL_SAMPLE, Tally, primary, sum_tallies, unit_variance
from server_sync.analysis.stats import z_quantile


@dataclass(frozen=True)
class SiteRank:
    site_id: str
    rank: int
    n: int
    raw: float | None
    shrunk: float
    low: float
    high: float
    weight: float

    def as_dict(self, names: Mapping[str, str] | None = None) -> dict:
        return {"rank": self.rank, "site_id": self.site_id, "name": (names or {}).get(self.site_id, self.site_id),
                "n": self.n, "raw": _r(self.raw), "shrunk": _r(self.shrunk), "low": _r(self.low),
                "high": _r(self.high), "weight": _r(self.weight, 3), "small": self.n < SMALL_SAMPLE}


def _r(x: float | None, d: int = 2) -> float | None:
    return None if x is None else round(x, d)


def between_site_variance(means: list[float], ns: list[int], s2: float, mu: float) -> float:
    """Method-of-moments tau² for an unbalanced one-way random-effects model (>= 0)."""
    k, total = len(ns), sum(ns)
    if k < 2 or total <= 0:
        return 0.0
    q = sum(n * (m - mu) ** 2 for m, n in zip(means, ns))
    denom = total - sum(n * n for n in ns) / total
    return max(0.0, (q - (k - 1) * s2) / denom) if denom > 0 else 0.0


def rank_sites(tallies: Mapping[str, Tally], scale: str, bound: tuple[float, float] | None = None) -> list[SiteRank]:
    """Rank sites by the shrunk headline metric (best first); sites without answers are left out."""
    sites = {s: t for s, t in tallies.items() if t.n > 0}
    if not sites:
        return []
    chain = sum_tallies(sites.values(), scale)
    mu = primary(chain).value
    s2 = _pooled_unit_variance(sites, chain)
    ids = sorted(sites)
    means = [primary(sites[s]).value for s in ids]
    ns = [sites[s].n for s in ids]
    tau2 = between_site_variance(means, ns, s2, mu)
    lo_b, hi_b = bound or ((-100.0, 100.0) if scale == "nps11" else (0.0, 100.0))
    z = z_quantile(0.975)
    ranked = []
    for s, m, n in zip(ids, means, ns):
        v = s2 / n
        w = tau2 / (tau2 + v) if tau2 + v > 0 else 0.0
        shrunk = mu + w * (m - mu)
        sd = math.sqrt(w * v) if w > 0 else math.sqrt(tau2)
        ranked.append((shrunk, s, m, n, w, sd))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    return [SiteRank(s, i + 1, n, m, shrunk, max(lo_b, shrunk - z * sd), min(hi_b, shrunk + z * sd), w)
            for i, (shrunk, s, m, n, w, sd) in enumerate(ranked)]


def _pooled_unit_variance(sites: Mapping[str, Tally], chain: Tally) -> float:
    if chain.scale == "nps11":
        # Per-answer variance of the promoter(+1)/detractor(-1) score, pooled within sites.
        num = den = 0.0
        for t in sites.values():
            if t.n >= 2:
                pp, pm = t.promoters / t.n, t.detractors / t.n
                num += (pp + pm - (pp - pm) ** 2) * t.n * 1e4
                den += t.n - 1
        return num / den if den > 0 else (unit_variance(chain) or 0.0)
    num = den = 0.0
    for t in sites.values():
        uv = unit_variance(t)
        if uv is not None:
            num += uv * (t.n - 1)
            den += t.n - 1
    return num / den if den > 0 else (unit_variance(chain) or 0.0)
