"""Site ranking with empirical-Bayes shrinkage toward the chain average, the answer-weighted mean
of the sites ranked (a SiteRanking).

A site's headline metric m_i (Happy Index or NPS, n_i answers) is pulled toward the chain mean
mu in proportion to how noisy it is:  shrunk_i = mu + w_i (m_i - mu),  w_i = tau² / (tau² + s²/n_i),
where s² is the per-answer variance pooled over the chain and tau² the between-site variance,
estimated by the method of moments for an unbalanced one-way random-effects model. A site with
five answers stays near the average; a site with thousands keeps its own figure. Sites are
ranked by the shrunk value.

Every site's interval is the union of two 95 % intervals: its own (`metrics.primary`, the
interval of its figure everywhere else in the report) and the empirical-Bayes interval of the
shrunk value (Morris 1983, "Parametric empirical Bayes inference: theory and applications",
JASA 78:47-55), with B_i = 1 - w_i: var_i = w_i·s²/n_i + B_i²·Var(mu) + (2/(k-3))·B_i²·(m_i - mu)².
The empirical-Bayes interval alone covers 95 % only on average over a chain's sites: it is
centred on a value pulled toward the mean, so it misses the sites far from it more often (it held
the truly best and worst site 65-95 % of the time in simulation), and with no spread in the
answers (every answer the top face) it had zero width. The site's own interval covers its true value whatever that is,
at the edges of the scale too, and is never zero-width, so the union does as well, and it holds
the shrunk value. Simulated coverage: docs/analysis.md, tests/analysis/test_ranking_coverage.py.
Only sites with at least `min_n` answers are ranked (the rest are listed, unranked); a ranked
site whose interval overlaps the leader's is "no detectable difference" from it; with the
previous period's ranking each site gets its rank change, and whether the intervals can tell
that move from chance (`rank_change_verdict`): where every site is within the leader's
intervals, places swap from period to period by chance alone (a review found ranks moving by 9
places in a chain of 14 sites that no interval could tell apart). Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from server_sync.analysis.metrics import SMALL_SAMPLE, Tally, primary, sum_tallies, unit_variance
from server_sync.analysis.stats import KEPT_DIGITS, kept, z_quantile

MIN_RANKED_N = SMALL_SAMPLE        # default: fewer answers than this are listed, not ranked
LEADER, SAME_AS_LEADER, BELOW_LEADER, NOT_RANKED = "leader", "no_detectable_difference", "below_leader", "not_ranked"
# What a rank change says (SiteRank.rank_change_verdict); NOT_RANKED when the site is not ranked now.
MOVED, WITHIN_NOISE, KEPT, NOT_RANKED_BEFORE = "moved", "within_noise", "kept_place", "not_ranked_before"


@dataclass(frozen=True)
class SiteRank:
    site_id: str
    rank: int | None                 # None: too few answers to rank (see min_n)
    n: int
    raw: float | None
    shrunk: float
    low: float
    high: float
    weight: float
    vs_leader: str = NOT_RANKED      # LEADER, SAME_AS_LEADER, BELOW_LEADER or NOT_RANKED
    previous: SiteRank | None = None   # the site in the previous period's ranking (ranked or not)

    @property
    def previous_rank(self) -> int | None:
        return self.previous.rank if self.previous is not None else None

    @property
    def rank_change(self) -> int | None:
        """Places moved up since the previous period (negative: down)."""
        if self.rank is None or self.previous_rank is None:
            return None
        return self.previous_rank - self.rank

    @property
    def rank_change_verdict(self) -> str:
        """MOVED when the intervals back the move: the site moved up into the leader's group (from
        below the leader) or down out of it, or its own interval lies wholly above last period's
        as it moved up (below as it moved down), by the same overlap rule as `vs_leader`. Any
        other move is WITHIN_NOISE: the places of sites the intervals cannot tell apart swap by
        chance. KEPT for no move; NOT_RANKED_BEFORE, NOT_RANKED when there is no rank to compare."""
        if self.rank is None:
            return NOT_RANKED
        change, before = self.rank_change, self.previous
        if change is None or before is None:
            return NOT_RANKED_BEFORE
        if change == 0:
            return KEPT
        was_below, is_below = before.vs_leader == BELOW_LEADER, self.vs_leader == BELOW_LEADER
        crossed = (was_below and not is_below) if change > 0 else (is_below and not was_below)
        own = self.low > before.high if change > 0 else self.high < before.low
        return MOVED if crossed or own else WITHIN_NOISE

    def as_dict(self, names: Mapping[str, str] | None = None) -> dict:
        before = self.previous if self.previous_rank is not None else None
        return {"rank": self.rank, "site_id": self.site_id, "name": (names or {}).get(self.site_id, self.site_id),
                "n": self.n, "raw": _r(self.raw), "shrunk": _r(self.shrunk), "low": _r(self.low),
                "high": _r(self.high), "weight": _r(self.weight, 3), "small": self.n < SMALL_SAMPLE,
                "vs_leader": self.vs_leader, "previous_rank": self.previous_rank,
                # What rank_change_verdict was decided on: last period's group and interval.
                "previous_vs_leader": before.vs_leader if before else None,
                "previous_shrunk": _r(before.shrunk) if before else None,
                "previous_low": _r(before.low) if before else None,
                "previous_high": _r(before.high) if before else None,
                "rank_change": self.rank_change, "rank_change_verdict": self.rank_change_verdict}


def _r(x: float | None, d: int = KEPT_DIGITS) -> float | None:
    return None if x is None else kept(x, d)


def between_site_variance(means: list[float], ns: list[int], s2: float, mu: float) -> float:
    """Method-of-moments tau² for an unbalanced one-way random-effects model (>= 0)."""
    k, total = len(ns), sum(ns)
    if k < 2 or total <= 0:
        return 0.0
    q = sum(n * (m - mu) ** 2 for m, n in zip(means, ns))
    denom = total - sum(n * n for n in ns) / total
    return max(0.0, (q - (k - 1) * s2) / denom) if denom > 0 else 0.0


def rank_sites(tallies: Mapping[str, Tally], scale: str, bound: tuple[float, float] | None = None, *,
               min_n: int = MIN_RANKED_N, previous: Mapping[str, SiteRank] | None = None) -> list[SiteRank]:
    """Rank sites by the shrunk headline metric (best first; equal values share a rank); sites
    with answers but fewer than `min_n` come last, unranked. `previous`: site -> its row of the
    previous period's ranking. Sites without answers are left out."""
    sites = {s: t for s, t in tallies.items() if t.n > 0}
    if not sites:
        return []
    chain = sum_tallies(sites.values(), scale)
    mu = primary(chain).value
    s2 = _pooled_unit_variance(sites, chain)
    ids = sorted(sites)
    own = {s: primary(sites[s]) for s in ids}      # each site's figure with its own interval
    means = [own[s].value for s in ids]
    ns = [sites[s].n for s in ids]
    tau2 = between_site_variance(means, ns, s2, mu)
    k = len(ids)
    # Variance of mu as computed: the answer-weighted chain mean, sum(n_j m_j) / N (not that of
    # the precision-weighted mean, which is smaller when the sites differ).
    total = sum(ns)
    var_mu = sum(n * n * (tau2 + s2 / n) for n in ns) / (total * total)
    # Morris's (1983) term for the shrinkage factor being estimated: Var(B̂) ≈ 2B²/(k-3). It is
    # undefined below four sites; there the four-site value, 2B², stands in as a floor.
    b_spread = 2.0 / max(k - 3, 1)
    lo_b, hi_b = bound or ((-100.0, 100.0) if scale == "nps11" else (0.0, 100.0))
    z = z_quantile(0.975)
    rows = []
    for s, m, n in zip(ids, means, ns):
        v = s2 / n
        w = tau2 / (tau2 + v) if tau2 + v > 0 else 0.0
        shrunk = mu + w * (m - mu)
        b = 1.0 - w
        # Given B, the site's own noise and the chain mean's; then the error in B, which moves
        # most the sites far from the mean. Without the last the intervals covered 89-93 %.
        sd = math.sqrt(w * v + b * b * var_mu + b_spread * b * b * (m - mu) ** 2)
        # That interval covers on average over the sites; the site's own covers the site itself,
        # the best and the worst too, and is never zero-width: the union keeps both promises.
        low, high = min(own[s].low, shrunk - z * sd), max(own[s].high, shrunk + z * sd)
        rows.append((s, m, n, w, shrunk, max(lo_b, low), min(hi_b, high)))
    ranked = sorted((r for r in rows if r[2] >= min_n), key=lambda r: (-round(r[4], 6), r[0]))
    unranked = sorted((r for r in rows if r[2] < min_n), key=lambda r: (-r[2], r[0]))
    out: list[SiteRank] = []
    leader_low = ranked[0][5] if ranked else None
    rank = 0
    for i, (s, m, n, w, shrunk, low, high) in enumerate(ranked):
        if i == 0 or round(shrunk, 6) != round(ranked[i - 1][4], 6):
            rank = i + 1                                    # competition ranking: 1, 1, 3
        vs = LEADER if rank == 1 else (SAME_AS_LEADER if high >= leader_low else BELOW_LEADER)
        out.append(SiteRank(s, rank, n, m, shrunk, low, high, w, vs, (previous or {}).get(s)))
    out += [SiteRank(s, None, n, m, shrunk, low, high, w, NOT_RANKED, (previous or {}).get(s))
            for s, m, n, w, shrunk, low, high in unranked]
    return out


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
