"""A change in a metric answer by answer: the test of the difference in the answers' mean scores
(the faces' values; NPS +1, 0, -1; CSAT 1 in the top two, else 0) between two groups of answers,
with the interval that inverts it. Pure. The report's period change uses it where a side has
answers on too few days to be the test's units, or where no day's value differs from another's
(`trends.change_test`: the days cannot say how much days vary); an action without a control in
the same case (`effects.by_answers`). docs/analysis.md#trends-and-change states the method.
"""

from __future__ import annotations

from typing import Sequence

from server_sync.analysis.change_interval import degrees_of_freedom, inverted_interval, score_z, sides, statistic
from server_sync.analysis.metrics import Estimate, Tally, csat, primary
from server_sync.analysis.stats import ALPHA, TestResult, t_quantile, t_sf
from server_sync.analysis.studentized import exact_fits, permutation_test
from server_sync.protocol.scales import SCALES


def compare(before: Tally, after: Tally, alpha: float = ALPHA) -> TestResult | None:
    """Change of the headline metric from `before` to `after` (after - before), in its points,
    answer by answer (`answer_test` of the answers' scores: the faces' values; NPS: +1, 0, -1 for
    promoter, passive, detractor, whose mean NPS is). None below two answers a side."""
    if before.scale not in SCALES or before.n < 2 or after.n < 2:
        return None
    scores, points = scores_of(before.scale)
    return answer_test(counts_of(before), counts_of(after), scores, points, (primary(before), primary(after)),
                       alpha=alpha)


def compare_csat(before: Tally, after: Tally, alpha: float = ALPHA) -> TestResult | None:
    """Change of CSAT (percentage points) answer by answer: `answer_test` of the answers scored 1
    in the top two, else 0, with the exact test's mid-p: two values leave few attainable
    differences, and the exact p itself kept far below its level (0.7 % at 5 against 50 answers
    near the top) at half the power of the two-proportion z (Lydersen, Fagerland & Laake 2009,
    Statistics in Medicine 28:1159-1175, recommend the mid-p for two proportions). The
    two-proportion z it replaces called 8.2 % of unchanged pairs significant at 5 against 50
    near the top. None below two answers a side."""
    if before.n < 2 or after.n < 2:
        return None
    return answer_test((before.n - before.top2, before.top2), (after.n - after.top2, after.top2), (0, 1),
                       100.0, (csat(before), csat(after)), mid_p=True, alpha=alpha)


def answer_test(before: Sequence[int], after: Sequence[int], scores: Sequence[int], points: float,
                estimates: tuple[Estimate, Estimate], mid_p: bool = False, alpha: float = ALPHA) -> TestResult:
    """The test of a change in the mean score, answer by answer, from how many answers of each
    side have each score, and its interval, in the metric's points (`points` per unit of the
    scores scaled to [0, 1]) beside the two `estimates`' difference.

    One statistic for both (`change_interval`): the score z of the difference, each side with its
    own spread, moderated up towards the pooled one where below it. The p-value: its exact
    permutation test (`studentized`) while the smaller side's splits are few enough
    (`studentized.exact_fits`: up to 47 answers on four faces, 23 on five, 198 on NPS), the larger
    of it and the t's where the smaller side spreads more than the pooled answers, a t above;
    `mid_p`: the exact test's mid-p (CSAT's two values). The interval: the differences the same
    test does not reject at `alpha` (its confidence 1 - alpha), so it leaves out 0 exactly when
    p < alpha: the level the verdict reads (`ALPHA`, `effects.ALPHA`), not 1 - (1 - alpha), which
    is 4.4e-17 more.

    Why not the others: a plain difference in means, permuted (the test before 2026-12-05), asks
    whether the answers changed, not only their mean: with equal means and very different spreads
    it called 65 % of pairs a change, and the interval that shared its pooled spread covered a
    bad day against a calm baseline in 84-89 %. Welch's t reads a small side near the top of the
    scale without a low answer as certain (31-40 % of unchanged pairs at 3 against 30)."""
    values = unit(scores)
    b, a = sides(before, after, values)
    pooled = [x + y for x, y in zip(before, after)]
    df = degrees_of_freedom(b, a)
    confidence = 1 - alpha
    quantile = t_quantile(0.5 + confidence / 2, df)
    t_p = min(1.0, 2 * t_sf(abs(score_z(b, a, 0.0)), df))
    if exact_fits(min(sum(before), sum(after)), len(scores)):
        p_value, critical = permutation_test(before, after, statistic(values, pooled), alpha, mid_p=mid_p)
        # Never narrower than the t quantile: the splits are drawn from the pooled answers, while
        # away from no change the two sides' answers differ (a bad day against a calm baseline).
        critical, test = quantile if critical is None else max(critical, quantile), "exact permutation"
        if any(side.own for side in (b, a) if side.n == min(b.n, a.n)):
            # The smaller side (either, at equal sizes: the verdict must not depend on which period
            # is first) spreads more than the pooled answers its splits are drawn from, so the
            # splits understate how far its mean wanders (15 answers split between the two ends
            # against 1,000 in the middle at the same mean: 13.5 % called a change): it must
            # pass the t of the same statistic too, which holds its level there.
            p_value, test = max(p_value, t_p), "exact permutation and score t"
    else:
        p_value, critical, test = t_p, quantile, "score t"
    ends = inverted_interval(b, a, critical, p_value < alpha, confidence)
    return TestResult(estimates[1].value - estimates[0].value, ends[0] * points, ends[1] * points, p_value, test)


def unit(scores: Sequence[int]) -> list[float]:
    """The scores scaled to [0, 1] (lowest 0, highest 1), where every change test works."""
    low, span = min(scores), max(scores) - min(scores)
    return [(s - low) / span for s in scores]


def counts_of(t: Tally) -> tuple[int, ...]:
    """How many of a Tally's answers have each score of `scores_of`."""
    if t.scale == "nps11":
        return t.promoters, t.n - t.promoters - t.detractors, t.detractors
    return t.value_counts()


def scores_of(scale: str) -> tuple[tuple[int, ...], float]:
    """(scores, points per unit of the scores scaled to [0, 1]) of a scale's answers: faces by
    their value (the Happy Index's 100), NPS answers +1, 0, -1 (NPS's 200)."""
    return ((1, 0, -1), 200.0) if scale == "nps11" else (SCALES[scale].values, 100.0)
