"""The period tests of trends (`answer_change.compare`, `compare_csat`, `trends.change_tests`) keep their promised
size: with no change between the periods, "significant at 5 %" comes up in at most 6.5 % of
simulated pairs (about 5 %; fewer near the edge of the scale, where the exact tests are
conservative), for the Happy Index, NPS and CSAT (the score statistic with each side's own spread:
exact by permutation while the smaller side's splits are few, a t above; CSAT's mid-p), at n = 30
and 300 a side, in the middle and near the top of the scale, and with sides of unequal size.
NPS at 2-10 answers a side is checked exactly (every pair of samples enumerated), and the period
change with days that differ (a busy site's day-to-day swing) by simulation."""

from __future__ import annotations

import math
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pytest

from server_sync.analysis.answer_change import compare, compare_csat
from server_sync.analysis.trends import MIN_DAYS_AS_UNITS, change_dict, change_tests, shift
from server_sync.protocol.tally import Tally, sum_tallies

REPS = 2000
CASES = [("smiley4", [0.1, 0.2, 0.4, 0.3]), ("smiley4", [0.01, 0.02, 0.12, 0.85]),
         ("nps11", [0.04] * 7 + [0.1, 0.12, 0.2, 0.3])]


def tallies(rng: np.random.Generator, scale: str, p: list[float], n: int) -> list[Tally]:
    values = range(1, 5) if scale == "smiley4" else range(0, 11)
    counts = rng.multinomial(n, np.array(p) / sum(p), REPS)
    return [Tally.from_counts(scale, {v: int(c) for v, c in zip(values, row) if c}) for row in counts]


@pytest.mark.parametrize("scale, p", CASES)
@pytest.mark.parametrize("n", [30, 300])
def test_no_change_is_significant_in_at_most_6_5_percent(scale, p, n):
    rng = np.random.default_rng(n + len(p))
    before, after = tallies(rng, scale, p, n), tallies(rng, scale, p, n)
    for test in (compare, compare_csat):
        results = [test(b, a) for b, a in zip(before, after)]
        rate = sum(1 for r in results if r is not None and r.significant()) / REPS
        print(test.__name__, scale, p[-1], n, rate)
        assert rate <= 0.065, (test.__name__, scale, n, rate)


# NPS answers as (promoters, passives, detractors); every sample of n answers is one such count.
NPS_MIXES = [(0.5, 0.3, 0.2), (0.3, 0.4, 0.3), (0.6, 0.1, 0.3), (0.9, 0.07, 0.03)]


def nps_samples(n: int, mix: tuple[float, float, float]) -> list[tuple[Tally, float]]:
    """Every sample of `n` NPS answers from `mix`, with its probability."""
    out = []
    for plus in range(n + 1):
        for minus in range(n - plus + 1):
            zero = n - plus - minus
            ways = math.factorial(n) // (math.factorial(plus) * math.factorial(zero) * math.factorial(minus))
            out.append((Tally.from_counts("nps11", {10: plus, 8: zero, 0: minus}),
                        ways * mix[0] ** plus * mix[1] ** zero * mix[2] ** minus))
    return out


@lru_cache(maxsize=None)
def significant(before: Tally, after: Tally) -> bool:
    """`compare`'s verdict on a pair of samples, which does not depend on the mix they were drawn
    from: worked out once for all the mixes (and CSAT's chances) that weigh the same pair."""
    return compare(before, after).significant()


@pytest.mark.parametrize("mix", NPS_MIXES)
@pytest.mark.parametrize("n1, n2", [(2, 2), (3, 3), (5, 5), (8, 8), (2, 10), (3, 30)])
def test_the_nps_change_holds_its_size_at_small_and_unequal_n(mix, n1, n2):
    """The exact chance of "better/worse" without a change, summed over every pair of samples:
    at most 5 %. The normal test with each side's plug-in variance said so in 15-20 % at 2-3
    answers a side, and Welch's t on the answers' scores in up to 40 % with sides of unequal size."""
    size = sum(pb * pa for b, pb in nps_samples(n1, mix) for a, pa in nps_samples(n2, mix) if significant(b, a))
    print(mix, n1, n2, size)
    assert size <= 0.05, (mix, n1, n2, size)


@pytest.mark.parametrize("n1, n2", [(31, 31), (40, 1000), (250, 3000)])
def test_the_nps_change_holds_its_size_above_the_exact_range(n1, n2):
    """Near the top of the scale, where a small side often has no detractor, Welch's t called
    9-13 % of unchanged pairs a change at 30-50 against 1,000. The exact test up to 198 answers on
    the smaller side, the score t above (250 against 3,000)."""
    rng = np.random.default_rng(n1 + n2)
    top = [0.03] + [0] * 7 + [0.07, 0, 0.9]                 # 90 % promoters, 3 % detractors
    before, after = tallies(rng, "nps11", top, n1), tallies(rng, "nps11", top, n2)
    rate = sum(compare(b, a).significant() for b, a in zip(before, after)) / REPS
    print(n1, n2, rate)
    assert rate <= 0.065, (n1, n2, rate)


TOP_FACES = [0.01, 0.02, 0.12, 0.85]              # smiley4 near the top of the scale: Happy Index 94


@pytest.mark.parametrize("n1, n2", [(3, 30), (5, 50), (31, 1000), (60, 1000)])
def test_the_happy_index_change_holds_its_size_with_sides_of_unequal_size(n1, n2):
    """Near the top of the scale a small side often has no low face, so its own variance reads
    as nil: Welch's t called 31-40 % of unchanged pairs a change at 3 against 30 and 5 against 50,
    11 % at 31 against 1,000. The score statistic, each side's spread moderated up towards the
    pooled one where below it, holds its 5 %: exact by permutation up to 47 answers on the smaller side, the score t
    above (60 against 1,000)."""
    rng = np.random.default_rng(n1 * n2)
    reps = 1000
    before = tallies(rng, "smiley4", TOP_FACES, n1)[:reps]
    after = tallies(rng, "smiley4", TOP_FACES, n2)[:reps]
    rate = sum(compare(b, a).significant() for b, a in zip(before, after)) / reps
    print(n1, n2, rate)
    assert rate <= 0.065, (n1, n2, rate)


def binomial(n: int, p: float) -> list[tuple[int, float]]:
    return [(k, math.comb(n, k) * p ** k * (1 - p) ** (n - k)) for k in range(n + 1)]


def csat_tally(n: int, top: int) -> Tally:
    return Tally.from_counts("smiley4", {v: c for v, c in ((4, top), (1, n - top)) if c})


@lru_cache(maxsize=None)
def csat_significant(n1: int, k1: int, n2: int, k2: int) -> bool:
    """`compare_csat`'s verdict on k1 of n1 against k2 of n2 in the top two (whatever the chance
    that weighs it: worked out once for every chance and the power's cases)."""
    return compare_csat(csat_tally(n1, k1), csat_tally(n2, k2)).significant()


@pytest.mark.parametrize("p", [0.97, 0.9, 0.55])
@pytest.mark.parametrize("n1, n2", [(5, 50), (3, 30), (10, 10), (2, 40), (30, 30), (30, 1000)])
def test_the_csat_change_holds_its_size_at_small_and_unequal_n(p, n1, n2):
    """The exact chance of "better/worse" without a change, summed over every pair of counts:
    about 5 % at most (the mid-p promises no bound: 5.2 % at 30 against 1,000 with 90 % in the
    top two is the most). The two-proportion z it replaced called 8.2 % of unchanged pairs a
    change at 5 against 50 answers with 97 % in the top two and 8.6 % at 2 against 40 with 90 %;
    the exact test's own p kept to 0.7 % and 1.2 %."""
    size = sum(w1 * w2 for k1, w1 in binomial(n1, p) for k2, w2 in binomial(n2, p)
               if w1 * w2 > 1e-13 and csat_significant(n1, k1, n2, k2))
    print(p, n1, n2, size)
    assert size <= 0.055, (p, n1, n2, size)


@pytest.mark.parametrize("n1, n2, before, after, at_least", [
    (30, 30, 0.97, 0.80, 0.48), (10, 10, 0.90, 0.50, 0.47), (1000, 10, 0.95, 0.70, 0.72), (50, 5, 0.97, 0.50, 0.84)])
def test_the_csat_change_keeps_its_power(n1, n2, before, after, at_least):
    """The exact chance of finding a real drop, summed over every pair of counts. With the exact
    test's own p (which an independent review measured) it was 34.1 %, 29.5 %, 62.1 % and 75.3 %
    in these cases; the two-proportion z found 60.8 %, 47.1 %, 80.2 % and 89.4 %, at the price of
    its size."""
    power = sum(w1 * w2 for k1, w1 in binomial(n1, before) for k2, w2 in binomial(n2, after)
                if w1 * w2 > 1e-13 and csat_significant(n1, k1, n2, k2))
    print(n1, n2, before, after, power)
    assert power >= at_least, power


def test_four_nps_answers_are_no_change():
    """The reviewer's case: 10 and 8 before (NPS +50), 0 and 8 after (-50). Four of the six ways
    to split the four answers into two pairs differ as much: p = 2/3, not the 0.046 ("worse") of
    the normal test."""
    r = compare(Tally.from_counts("nps11", {10: 1, 8: 1}), Tally.from_counts("nps11", {0: 1, 8: 1}))
    assert r.test == "exact permutation" and r.diff == pytest.approx(-100)
    assert r.p_value == pytest.approx(4 / 6) and not r.significant()


LOGIT_CUTS = np.array([-2.6, -1.6, 0.2])         # smiley4 faces 1-4 at a Happy Index near 73


def days_with_swings(rng: np.random.Generator, first: date, days: int, per_day: int, swing: float) -> dict:
    """`days` days of `per_day` smiley4 answers each, every day's faces shifted on the logit scale
    by a normal day effect of SD `swing` (0.2: a day-to-day SD of about 3 Happy Index points, what
    the docs cite for a busy site) around the same mean: no change between any two periods."""
    shift = rng.normal(0.0, swing, days)[:, None]
    below = 1 / (1 + np.exp(-(LOGIT_CUTS[None, :] - shift)))
    probs = np.diff(np.concatenate([np.zeros((days, 1)), below, np.ones((days, 1))], axis=1), axis=1)
    counts = rng.multinomial(per_day, probs)
    return {first + timedelta(days=i): Tally.from_counts("smiley4", {v + 1: int(c) for v, c in enumerate(row) if c})
            for i, row in enumerate(counts)}


def test_the_period_change_holds_its_size_when_days_differ():
    """Two 28-day periods of 400 answers a day with the same mean and days that differ by about
    3 index points: days are the test's units, and "better/worse" comes up in about 5 %; answer by
    answer (as the report did) the same pairs were a change in about a third of them."""
    rng = np.random.default_rng(28)
    reps, days_test, by_answer = 1000, 0, 0
    for _ in range(reps):
        before = days_with_swings(rng, date(2026, 1, 1), 28, 400, 0.2)
        after = days_with_swings(rng, date(2026, 1, 29), 28, 400, 0.2)
        test, csat_test = change_tests(before, after, "smiley4")
        assert test.test == csat_test.test == "days t"
        days_test += test.significant()
        by_answer += compare(*(sum_tallies(side.values(), "smiley4") for side in (before, after))).significant()
    print("days as units", days_test / reps, "answer by answer", by_answer / reps)
    assert days_test / reps <= 0.07
    assert by_answer / reps >= 0.2                # what the clustering costs an answer-level test


def test_days_are_the_units_from_enough_days_a_side():
    """Below MIN_DAYS_AS_UNITS days with answers on a side the change is tested answer by answer
    (a day's mean from a handful of days says little about the spread between days)."""
    rng = np.random.default_rng(3)
    before = days_with_swings(rng, date(2026, 1, 1), MIN_DAYS_AS_UNITS, 30, 0.0)
    after = days_with_swings(rng, date(2026, 2, 1), MIN_DAYS_AS_UNITS, 30, 0.0)
    assert change_dict(before, after, "smiley4")["test"]["test"] == "days t"
    short = dict(list(after.items())[:-1])
    r = change_dict(before, short, "smiley4")
    assert (r["test"]["test"], r["csat_test"]["test"]) == ("score t", "exact permutation")
    assert r["current"]["n"] == 30 * (MIN_DAYS_AS_UNITS - 1)


def test_the_trend_alerts_test_is_exact_and_sees_a_bad_day():
    """The trend alert asks whether today's answers moved (`trends.shift`: the permuted difference
    in means with the pooled spread), not the report's question of the mean alone (`compare`,
    each side's own spread): a drop that comes as a few very unhappy answers also spreads today's
    answers, and the report's test, paying for that spread, found a 9.7-point drop of that kind at
    40 answers against 1,120 on 58 % of days where this test finds it on 70 % (an independent
    review, 600 days). Without a change it holds its 5 %; with no spread inside either side it is
    the exact test (two 4s against two 3s: p = 1/3)."""
    fours, threes = Tally.from_counts("smiley4", {4: 2}), Tally.from_counts("smiley4", {3: 2})
    assert shift(fours, threes).p_value == pytest.approx(1 / 3)
    nps = shift(Tally.from_counts("nps11", {10: 1, 8: 1}), Tally.from_counts("nps11", {0: 1, 8: 1}))
    assert nps.p_value == pytest.approx(4 / 6) and nps.diff == pytest.approx(-100)
    rng = np.random.default_rng(40)
    reps = 400
    baseline = tallies(rng, "smiley4", TOP_FACES, 1120)[:reps]
    calm, bad = tallies(rng, "smiley4", TOP_FACES, 40)[:reps], tallies(rng, "smiley4", [.107, .02, .12, .753], 40)[:reps]
    size = sum(shift(b, a).p_value < 0.05 for b, a in zip(baseline, calm)) / reps
    by_shift = sum(shift(b, a).p_value < 0.01 for b, a in zip(baseline, bad)) / reps
    by_compare = sum(compare(b, a).p_value < 0.01 for b, a in zip(baseline, bad)) / reps
    print(size, by_shift, by_compare)
    assert size <= 0.065 and by_shift >= by_compare + 0.05, (size, by_shift, by_compare)
