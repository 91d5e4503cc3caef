"""Drivers of satisfaction from follow-up reasons (performance areas). Pure.

- Pareto: reasons by how many negative answers cite them (complaints), with share and cumulative
  share; and, where happy customers are asked too, by how many of the other answers do (praise).
- Uplift: for each area, how much the headline metric would rise if its complaints went away,
  i.e. the negative answers citing it were not there: Happy Index from (sum - their values) /
  (n - their count); NPS with those detractors removed. An answer citing two areas counts in
  both, so uplifts overlap and do not add up.
- Best vs rest: how often each area is cited per 100 answers at the best-ranked quarter of
  sites against the rest, and what share of each group's reasons it is (the mix): what the best
  do differently. Reasons come with unhappy answers, and the best sites are best because they
  have fewer of those, so they cite nearly every area less per 100 answers; the mix says which
  areas make up less (or more: the shares add up to 1) of their complaints. Only the mix is
  tested: the best are chosen by the same answers the reasons come with, so per 100 answers
  there is no null a test could hold (where every site is alike in truth, the sites best by
  chance have fewer unhappy answers by chance, and a test called a reason in 30-100 % of chains
  at 20-200 sites), while their share of the complaints stays put. The mix's p-value is a
  permutation test over sites (`site_permutation_test`): sites differ in their reason mix for
  reasons of their own, so their answers are not independent draws from one best rate and one
  rest rate, and a test that took them as such (the two-proportion z) called 16-50 % of reasons
  significant at 5 % when the reasons had nothing to do with the rank. A reason is called
  significant by its p adjusted across the question's reasons (`step_down_min_p`). The test is
  like for like: the very unhappy may cite other areas than the merely unhappy, and the best have
  relatively fewer of the very unhappy, so each site's mentions are set against those its levels
  of unhappiness lead one to expect at the chain's mix (`complaints_by_face`, `expected_by_face`);
  otherwise the test called a reason in 71 % of chains of 200 sites whose customers cite alike at
  each face.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple, Sequence

from server_sync.analysis.metrics import SMILEY_POINTS, Tally, happy_index_scale, primary
from server_sync.analysis.stats import ALPHA, kept
from server_sync.protocol.scales import SCALES

PERMUTATIONS = 9999        # splits drawn when the sites allow more; p's standard error near 0.05: 0.002
STUDENTIZE_CITED_AT = 0.5  # the share of sites citing a reason for its difference to be studentized


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


def pareto(reasons: Mapping[str, ReasonCount], part: str = "complaints") -> list[dict]:
    """The reasons by how many answers cite them, with share and cumulative share: by the negative
    answers (`complaints`, what drives dissatisfaction) or by the others (`praise`). Where the kiosk
    asks why after every answer (`followup.mode = "every"`) a happy customer is asked what went
    well, and one Pareto of both read praise as complaints; with follow-ups after negative answers
    only (the default) the praise Pareto is empty."""
    count = {"complaints": lambda c: c.negative, "praise": lambda c: c.n - c.negative}[part]
    counts = {reason: count(c) for reason, c in reasons.items()}
    total = sum(counts.values())
    out, cum = [], 0
    for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n <= 0:
            continue
        cum += n
        out.append({"reason": reason, "n": n, "share": kept(100 * n / total),
                    "cumulative": kept(100 * cum / total)})
    return out


def complaints_by_face(c: ReasonCount, scale: str | None) -> tuple[int, ...]:
    """A reason's complaints (its mentions by negative answers) by how unhappy those were. On a
    scale whose negative answers are two faces (smiley4, smiley5): the lowest face's and the next
    face's (from the count and value sum of the negative ones: values lo and lo + 1 sum to
    lo·negative + the second's count); otherwise all of them as one (nps11's seven detractor
    values are not kept apart by the rollups)."""
    s = SCALES.get(scale) if scale else None
    if s is not None and s.negative_up_to - s.lowest == 1:
        second = c.negative_sum_v - s.lowest * c.negative
        return (c.negative - second, second)
    return (c.negative,)


def expected_by_face(mentions: Mapping[str, Sequence[Sequence[int]]]) -> dict[str, list[float]]:
    """Per site, each reason's mentions expected from how unhappy the site's answers citing reasons
    were, had it the chain's mix at each level (`mentions`: site -> [reason][level] counts, the
    chain being these sites): Σ over levels of the site's mentions at the level × the reason's
    share of all the sites' mentions at it (indirect standardization)."""
    sites = list(mentions)
    if not sites:
        return {}
    reasons, levels = len(mentions[sites[0]]), len(mentions[sites[0]][0]) if mentions[sites[0]] else 0
    at = [[sum(mentions[s][r][lv] for s in sites) for lv in range(levels)] for r in range(reasons)]
    level_total = [sum(at[r][lv] for r in range(reasons)) for lv in range(levels)]
    share = [[at[r][lv] / level_total[lv] if level_total[lv] else 0.0 for lv in range(levels)] for r in range(reasons)]
    out = {}
    for s in sites:
        site_level = [sum(mentions[s][r][lv] for r in range(reasons)) for lv in range(levels)]
        out[s] = [sum(site_level[lv] * share[r][lv] for lv in range(levels)) for r in range(reasons)]
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
        out.append({"reason": reason, "complaints": c.negative, "current": kept(now),
                    "without": kept(after), "uplift": kept(after - now)})
    out.sort(key=lambda r: (-r["uplift"], r["reason"]))
    return out


class SiteTest(NamedTuple):
    """`site_permutation_test`'s p-values, one per reason: each on its own, and adjusted for
    testing a question's reasons together."""
    p_values: list[float]
    adjusted: list[float]


def site_permutation_test(counts: Sequence[Sequence[int]], answers: Sequence[int], k_best: int,
                          resamples: int = PERMUTATIONS, seed: int = 0,
                          expected: Sequence[Sequence[float]] | None = None) -> SiteTest:
    """Two-sided p-values of the difference in pooled rate, counts[i][j] / answers[i] summed over
    the first `k_best` sites against the rest, one per column j (a reason), with the sites as the
    units: under no link between rank and rate every split of the sites into groups of these sizes
    is as likely (Fisher's randomization test). Every split when there are at most `resamples`
    (exact); otherwise `resamples` random ones, seeded, and p = (1 + as extreme) / (1 + resamples)
    (Phipson & Smyth 2010). Every site needs answers.

    With at least two sites in each group and a reason cited at `STUDENTIZE_CITED_AT` of the sites
    or more, its difference is studentized, over its standard error with the sites as clusters (each
    group's pooled rate's, Σ(x_i - rate·n_i)² / (Σn)² · k/(k - 1)): the permutation test of a
    studentized statistic stays about right, with enough sites, when the groups' sites spread
    differently (Janssen 1997; Chung & Romano 2013), as a reason's share of the mentions does when
    the best sites have fewer complaints to share out (the plain difference called 7.7 % of
    reasons significant at 5 % there, the studentized one 4.2 %). A reason cited at fewer sites is
    scaled instead by the standard error it would have if nothing differed, each site's count
    binomial around its expected one (Σ e_i(1 - e_i/n_i) / (Σn)² per group): set by the group's
    mentions, not by which sites cite. The plain difference, unscaled, read the best group's few
    mentions (the best have fewer complaints) as the rest's: at about 4 mentions a site it called
    a reason in 14-20 % of chains of 40-200 sites whose reasons had nothing to do with the rank
    (scaled: 2-6 %, about the same power).

    `adjusted`: the same splits read for all the reasons at once (`step_down_min_p`), so that
    where no reason follows the rank about one table in 20 shows a significant one, not one in
    four (six reasons; 4.2-7.1 % in an independent review, 8 to 200 sites).

    `expected` (per site and column, optional): the test is of counts - expected, each group's
    Σ(x - e) / Σn, e.g. the mentions a site's levels of unhappiness lead one to expect
    (`expected_by_face`); with e = rate·n for one chain-wide rate the test is the plain one."""
    import numpy as np      # the `central` extra; imported here, as the rest of the module needs none

    x, n = np.asarray(counts, dtype=float).reshape(len(answers), -1), np.asarray(answers, dtype=float)
    k = len(n)
    cited = (x > 0).mean(axis=0)
    # Each site's binomial variance of its counts where nothing differs (around the expected counts,
    # or the pooled rate's): what scales a reason's difference where the sites' own spread cannot.
    e = (np.asarray(expected, dtype=float).reshape(x.shape) if expected is not None
         else n[:, None] * (x.sum(axis=0) / max(n.sum(), 1.0))[None, :])
    null_var = np.clip(e * (1 - e / np.where(n > 0, n, 1.0)[:, None]), 0.0, None)
    if expected is not None:
        x = x - e
        # A site whose mentions are what its levels lead one to expect leaves rounding behind (1e-13),
        # which studentized is a difference like any other (p uniform beside a difference of 0.00).
        x[np.abs(x) < 1e-9 * np.maximum(n, 1.0)[:, None]] = 0.0

    # Per reason: both groups of two sites or more, and the reason cited at half the sites or more.
    # Where most sites never cite it, the standard error is set by which sites those are and how
    # large, not by the counts (one citing site: |t| depends on the sites' sizes alone), and the
    # test called 29-55 % of reasons cited at 1-4 of 20-40 sites significant where the best were
    # the largest sites (the plain difference: at most 1 %; scaled by its binomial standard
    # error, as now, 4.6 % in the test of it).
    studentize = (min(k_best, k - k_best) >= 2) & (cited >= STUDENTIZE_CITED_AT)
    columns = np.concatenate([x, x * x, x * n[:, None], null_var], axis=1)   # per site: x, x², x·n, v per reason
    per_site = np.stack([n, n * n], axis=1)
    totals, site_totals = columns.sum(axis=0), per_site.sum(axis=0)
    j = x.shape[1]

    def rate_and_variance(sums: "np.ndarray", site_sums: "np.ndarray", size: int) -> tuple["np.ndarray", "np.ndarray"]:
        """A group's pooled rate per split, and its variance with the sites as clusters:
        Σ(x_i - rate·n_i)² / (Σn)² · size / (size - 1), from the group's sums of x, x², x·n, n, n²."""
        sx, sxx, sxn = sums[:, :j], sums[:, j:2 * j], sums[:, 2 * j:3 * j]
        sn, snn = site_sums[:, :1], site_sums[:, 1:]
        rate = sx / sn
        resid = np.maximum(0.0, sxx - 2 * rate * sxn + rate * rate * snn)
        return rate, resid / (sn * sn) * size / max(size - 1, 1)

    def distances(best: "np.ndarray") -> "np.ndarray":            # best: (splits, k) of 0/1
        sums, site_sums = best @ columns, best @ per_site        # the rest's: the totals less these
        (rb, vb), (rr, vr) = (rate_and_variance(sums, site_sums, k_best),
                              rate_and_variance(totals - sums, site_totals - site_sums, k - k_best))
        se = np.sqrt(vb + vr)
        infinite = np.where(rb == rr, 0.0, np.inf)                   # no spread inside either group
        nb, nr = site_sums[:, :1], site_totals[0] - site_sums[:, :1]
        null_se = np.sqrt(sums[:, 3 * j:] / (nb * nb) + (totals[3 * j:] - sums[:, 3 * j:]) / (nr * nr))
        scaled = np.where(null_se > 0, (rb - rr) / np.where(null_se > 0, null_se, 1.0), infinite)
        return np.abs(np.where(studentize, np.where(se > 0, (rb - rr) / np.where(se > 0, se, 1.0), infinite),
                               scaled))

    first = np.zeros((1, k))
    first[0, :k_best] = 1
    if math.comb(k, k_best) <= resamples:           # every split, the observed one among them
        splits = np.zeros((math.comb(k, k_best), k))
        for row, best in enumerate(itertools.combinations(range(k), k_best)):
            splits[row, list(best)] = 1
        pool = distances(splits)
    else:                                           # the observed split, then random ones in blocks
        rng, blocks, left = np.random.default_rng(seed), [distances(first)], resamples
        while left:                                 # in blocks: memory stays small
            block = min(left, 2000)
            blocks.append(distances(_random_splits(rng, block, k, k_best)))
            left -= block
        pool = np.concatenate(blocks)
    p = as_far_out(pool, distances(first))[0]
    return SiteTest([float(v) for v in p], [float(v) for v in step_down_min_p(p, as_far_out(pool, pool))])


def as_far_out(pool: "np.ndarray", values: "np.ndarray") -> "np.ndarray":
    """For each row of `values` and each column, the share of `pool`'s rows in that column at
    least as far out: a p-value from the permutation distribution `pool` (a split per row, a
    reason per column, the observed split among them). As far out up to rounding: the same sums
    added in another order may differ in the last bit."""
    import numpy as np
    out = np.empty(values.shape)
    for c in range(pool.shape[1]):
        ordered = np.sort(pool[:, c])
        out[:, c] = len(ordered) - np.searchsorted(ordered, values[:, c] * (1 - 1e-9) - 1e-12, side="left")
    return out / len(pool)


def step_down_min_p(p: "np.ndarray", pool_p: "np.ndarray") -> "np.ndarray":
    """Westfall and Young's (1993, algorithm 2.8) step-down min-p adjustment of the p-values `p`,
    one per column, given every split's p-values `pool_p` (a row per split, the observed one among
    them): the r-th smallest p is adjusted to the share of splits whose smallest p among the
    reasons from the r-th on is at most it, made non-decreasing. It holds the chance of any false
    "significant" among the reasons with no difference at the level, whichever others differ, as
    long as the splits are exchangeable for those (true per 100 answers; in a mix one area's real
    change moves the others' shares, so they differ too). Never above Holm's adjustment of `p`
    when `pool_p` are the pool's own p-values (a column has at most t·N splits with p <= t), and
    below it where reasons move together: two that move as one are not counted twice."""
    import numpy as np
    order = np.argsort(p, kind="stable")
    smallest_from = np.minimum.accumulate(pool_p[:, order][:, ::-1], axis=1)[:, ::-1]
    adjusted = np.maximum.accumulate((smallest_from <= p[order] * (1 + 1e-9)).mean(axis=0))
    out = np.empty(len(p))
    out[order] = np.maximum(adjusted, p[order])            # never below its own p (rounding)
    return out


def _random_splits(rng: "np.random.Generator", rows: int, k: int, k_best: int) -> "np.ndarray":
    """`rows` random splits of `k` sites, each a row of 0/1 with `k_best` ones, every split equally
    likely: the first m places of a Fisher-Yates shuffle of each row (m the smaller group, the
    other group its complement), all rows a step at a time. Over a chain's 200 sites, a quarter
    of them best, a fifth of the time of shuffling whole rows (`Generator.permuted`)."""
    import numpy as np
    m = min(k_best, k - k_best)
    order = np.tile(np.arange(k, dtype=np.int16 if k < 2 ** 15 else np.int64), rows)    # the rows, end to end
    row_start = np.arange(rows) * k
    # Step j swaps place j with a place drawn from j … k-1 of the same row (⌊U·(k - j)⌋: uniform
    # up to rounding in the 16th digit), all steps' draws at once.
    picks = (rng.random((m, rows)) * (k - np.arange(m))[:, None]).astype(np.intp) + np.arange(m)[:, None] + row_start
    for j in range(m):
        here, there = row_start + j, picks[j]
        drawn = order[there]
        order[there] = order[here]
        order[here] = drawn
    splits = np.zeros(rows * k)
    splits[(row_start[:, None] + order.reshape(rows, k)[:, :m]).ravel()] = 1
    splits = splits.reshape(rows, k)
    return splits if m == k_best else 1 - splits


def best_vs_rest(ranked_sites: list[str], answers: Mapping[str, int],
                 site_reasons: Mapping[str, Mapping[str, ReasonCount]], best_share: float = 0.25,
                 ranks: Mapping[str, int] | None = None, scale: str | None = None) -> dict:
    """Each reason at the top `best_share` of `ranked_sites` (best first) against the rest: its
    complaints (mentions by negative answers: `ReasonCount.negative`) per 100 answers (described,
    not tested: the module's docstring says why), and its share of the group's complaints (the
    mix; sites without complaints are left out of it),
    with `site_permutation_test`'s p-value and adjusted p-value, significant by the adjusted one.
    Sites without answers have no rate and are left out. `ranks` (site -> rank, equal ranks tied):
    where the last of the best shares its rank with the first of the rest, the ranking cannot
    tell the groups apart (on a chain whose sites the shrinkage finds alike every site is
    first, and the "best" would be the first sites by name), so there is no comparison: `tied`.
    `scale`: the question's, whose levels of unhappiness the mix's test holds apart
    (`complaints_by_face`; `adjusted_by` names them: "faces" or "negative")."""
    ranked_sites = [s for s in ranked_sites if answers.get(s, 0) > 0]
    k = max(1, int(round(len(ranked_sites) * best_share))) if len(ranked_sites) >= 2 else 0
    best, rest = ranked_sites[:k], ranked_sites[k:]
    if best and rest and ranks is not None and ranks[best[-1]] == ranks[rest[0]]:
        return {"best_sites": [], "rest_sites": 0, "tied": True, "reasons": []}
    if not best or not rest:
        return {"best_sites": best, "rest_sites": len(rest), "tied": False, "reasons": []}
    # Complaints: the reasons of negative answers. Where the kiosk asks why after every answer, a
    # happy customer's reasons are what went well ("What did we do well?"), not complaints.
    reasons = sorted({r for s in ranked_sites for r, c in site_reasons.get(s, {}).items() if c.negative})
    counts = {s: [site_reasons.get(s, {}).get(r, ReasonCount()).negative for r in reasons] for s in ranked_sites}
    per_answer = [_pooled_rates(group, counts, answers, len(reasons)) for group in (best, rest)]
    mentions = {s: sum(counts[s]) for s in ranked_sites}
    citing = [s for s in ranked_sites if mentions[s]]
    by_face = expected_by_face({s: [complaints_by_face(site_reasons[s].get(r, ReasonCount()), scale) for r in reasons]
                                for s in citing})
    mix = _compare_groups([s for s in best if mentions[s]], [s for s in rest if mentions[s]], counts, mentions,
                          len(reasons), by_face)
    share_keys = ("best_share", "rest_share", "share_difference", "share_difference_adjusted", "share_p_value",
                  "share_p_adjusted", "share_significant")
    rows = []
    for j, reason in enumerate(reasons):
        (b, r), shares = (per_answer[0][j], per_answer[1][j]), (mix["rates"][j] if mix else None)
        row = {"reason": reason, "best_per_100": kept(100 * b),
               "rest_per_100": kept(100 * r), "difference": kept(100 * (b - r))}
        if shares:
            sb, sr, given, sp, sa = shares
            row.update(zip(share_keys, (kept(100 * sb), kept(100 * sr),
                                        kept(100 * (sb - sr)), kept(100 * given), sp, sa,
                                        sa < ALPHA)))
        else:                                   # a group mentions no reason: no mix
            row.update(dict.fromkeys(share_keys))
        rows.append(row)
    rows.sort(key=lambda r: (r["difference"], r["reason"]))
    share_splits = mix["splits"] if mix else None
    adjusted_by = "faces" if len(complaints_by_face(ReasonCount(), scale)) == 2 else "negative"
    return {"best_sites": best, "rest_sites": len(rest), "tied": False, "adjusted_by": adjusted_by,
            "best_answers": sum(answers[s] for s in best),
            "rest_answers": sum(answers[s] for s in rest), "best_mentions": sum(mentions[s] for s in best),
            "rest_mentions": sum(mentions[s] for s in rest),
            "best_sites_with_reasons": sum(1 for s in best if mentions[s]),
            "rest_sites_with_reasons": sum(1 for s in rest if mentions[s]),
            "share_splits": share_splits,
            "share_few_splits": None if share_splits is None else too_few_splits(share_splits, len(reasons)),
            "reasons": rows}


def too_few_splits(splits: int, reasons: int) -> bool:
    """Whether `splits` ways to choose the best group are too few to call one of `reasons`
    reasons significant, short of the observed split being the most extreme for nearly every
    reason at once: the smallest adjusted p is the share of splits on which some reason is at its
    most extreme, about reasons / splits when those are different splits (an independent review:
    one chain in 1,000 at eight sites and six reasons, where 28 splits give 6/28)."""
    return splits * ALPHA < reasons


def _compare_groups(best: Sequence[str], rest: Sequence[str], counts: Mapping[str, Sequence[int]],
                    totals: Mapping[str, int], columns: int,
                    expected: Mapping[str, Sequence[float]]) -> dict | None:
    """Each column's pooled rate (`_pooled_rates`) in the `best` sites and the `rest`, the
    difference of the groups' Σ(count - expected) / total (what `site_permutation_test` tests),
    and its p-value and adjusted p-value: {"best": total, "rest": total, "splits": ways to choose
    the best group, "rates": [(best, rest, difference beyond expected, p, adjusted)]}. None when
    either group is empty."""
    if not best or not rest:
        return None
    sites = [*best, *rest]
    test = (site_permutation_test([counts[s] for s in sites], [totals[s] for s in sites], len(best),
                                  expected=[expected[s] for s in sites]) if columns else SiteTest([], []))
    beyond = {s: [c - e for c, e in zip(counts[s], expected[s])] for s in sites}
    rates = zip(_pooled_rates(best, counts, totals, columns), _pooled_rates(rest, counts, totals, columns),
                (b - r for b, r in zip(_pooled_rates(best, beyond, totals, columns),
                                       _pooled_rates(rest, beyond, totals, columns))),
                test.p_values, test.adjusted)
    return {"best": sum(totals[s] for s in best), "rest": sum(totals[s] for s in rest),
            "splits": math.comb(len(sites), len(best)), "rates": list(rates)}


def _pooled_rates(group: Sequence[str], counts: Mapping[str, Sequence[float]], totals: Mapping[str, int],
                  columns: int) -> list[float]:
    """Each column's counts over `totals`, pooled over the sites of `group`."""
    total = sum(totals[s] for s in group)
    return [sum(counts[s][j] for s in group) / total for j in range(columns)]
