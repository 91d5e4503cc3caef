"""Every metric and test statistic against hand-computed or textbook values, edges included."""

import math

import pytest

from server_sync.analysis.metrics import Tally, csat, happy_index, metrics_dict, nps, nps_variance, primary
from server_sync.analysis.stats import adjusted_mean_interval, normal_sf, pearson, t_quantile, t_sf
from server_sync.analysis.answer_change import compare, compare_csat
from server_sync.analysis.trends import verdict, weekly_series


def smiley(counts, scale="smiley4"):
    return Tally.from_counts(scale, counts)


@pytest.mark.parametrize("df, expected", [(1, 12.7062), (3, 3.1824), (10, 2.2281), (24, 2.0639), (30, 2.0423),
                                          (60, 2.0003), (120, 1.9799), (10**9, 1.9600)])
def test_t_quantile_matches_the_printed_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=1e-4)


@pytest.mark.parametrize("df", [0.5, 1, 1.7, 2.5, 4.4, 8, 12.3, 29.99])
@pytest.mark.parametrize("p", [0.51, 0.6, 0.9, 0.975, 0.995, 0.9995, 0.999999, 0.025])
def test_t_quantile_inverts_the_exact_tail_below_30_df(p, df):
    """Below 30 degrees of freedom the quantile is found on the exact CDF (Newton's method in a
    bracket): what it returns has the asked-for tail to 1e-9 relative, at any df, far in the tail too."""
    q = t_quantile(p, df)
    assert t_sf(q, df) == pytest.approx(1.0 - p, rel=1e-9)


def test_t_tail_probability():
    assert t_sf(2.0, 10) == pytest.approx(0.036694, abs=1e-6)        # table: P(T10 > 2) = 0.0367
    assert t_sf(0.0, 5) == pytest.approx(0.5)


# Reference tails from scipy 1.x (scipy.stats.t.sf / scipy.stats.norm.sf), computed outside the
# project. The tail must be right in relative terms: a p-value of 1e-10 reported as 1.5e-10 or 0
# misstates the evidence however small the absolute error.
@pytest.mark.parametrize("t, df, expected", [(5.0, 100, 1.225086706751901e-06), (7.0, 100, 1.4917833018045896e-10),
                                             (6.0, 400, 2.211200340905735e-09), (4.0, 5000, 3.2128591533991835e-05),
                                             (5.0, 1e6, 2.8669989354453723e-07)])
def test_t_tail_is_relatively_exact_at_many_degrees_of_freedom(t, df, expected):
    assert t_sf(t, df) == pytest.approx(expected, rel=1e-6)
    assert t_sf(-t, df) == pytest.approx(1.0 - expected, rel=1e-12)


@pytest.mark.parametrize("z, expected", [(8.5, 9.47953482220325e-18), (9.0, 1.1285884059538324e-19),
                                         (10.0, 7.61985302416047e-24), (20.0, 2.7536241186061556e-89),
                                         (-1.0, 0.8413447460685429)])
def test_normal_tail_does_not_cancel_to_zero(z, expected):
    assert normal_sf(z) == pytest.approx(expected, rel=1e-9)


def test_a_large_certain_change_has_a_tiny_p_value_not_zero():
    # The reviewer's case: 5000 answers each side, 80 % → 86 % on the 4 best-faces; Welch's p is
    # 5.87e-18 by scipy.stats.ttest_ind(equal_var=False), far below anything but not 0.
    before = smiley({1: 400, 2: 600, 3: 2000, 4: 2000})
    after = smiley({1: 250, 2: 450, 3: 2000, 4: 2300})
    p = compare(before, after).p_value
    assert 0.0 < p and p == pytest.approx(5.867414734551164e-18, rel=1e-3)


Z = 1.959964


def adjusted(n, total, total_sq, q):
    """The adjusted mean interval by hand: z²/2 pseudo-answers at 0 and at 1, t with n-1 df."""
    a = Z * Z / 2
    size = n + 2 * a
    m = (total + a) / size
    half = q * math.sqrt(((total_sq + a) / size - m * m) / size)
    return max(0.0, m - half), min(1.0, m + half)


def test_happy_index_by_hand():
    # 10 × 4, 10 × 3, 5 × 2 on a 4-point scale: scores 1, 2/3, 1/3 on the 0-1 line.
    t = smiley({4: 10, 3: 10, 2: 5})
    e = happy_index(t)
    assert e.value == pytest.approx((10 * 100 + 10 * 200 / 3 + 5 * 100 / 3) / 25)     # 73.33
    total, total_sq = 10 + 10 * 2 / 3 + 5 / 3, 10 + 10 * 4 / 9 + 5 / 9
    low, high = adjusted(25, total, total_sq, 2.0639)                                 # t(0.975, 24)
    assert (e.low, e.high) == (pytest.approx(low * 100, abs=0.01), pytest.approx(high * 100, abs=0.01))
    assert e.n == 25 and e.small


def test_happy_index_five_point_and_bounds():
    assert happy_index(smiley({5: 1, 1: 1}, "smiley5")).value == pytest.approx(50.0)
    e = happy_index(smiley({4: 30, 3: 2}))
    assert e.high <= 100.0 and e.low < e.value < e.high


def test_edges_no_answers_one_answer_all_filtered():
    empty = Tally("smiley4")
    assert happy_index(empty).value is None and happy_index(empty).n == 0
    assert csat(empty).value is None and nps(Tally("nps11")).value is None
    one = smiley({3: 1})
    e = happy_index(one)
    assert e.value == pytest.approx(200 / 3) and e.low < e.value < e.high and e.n == 1
    assert csat(one).value == 100.0 and csat(one).low < 100.0 and csat(one).high == 100.0
    d = metrics_dict(empty)
    assert d["n"] == 0 and d["happy_index"]["value"] is None and d["csat"]["small"] is True


@pytest.mark.parametrize("tally", [smiley({3: 1}), smiley({3: 2}), smiley({4: 50}), smiley({1: 7}, "smiley5"),
                                   Tally.from_counts("nps11", {10: 1}), Tally.from_counts("nps11", {9: 40}),
                                   Tally.from_counts("nps11", {0: 3}), Tally.from_counts("nps11", {7: 2})])
def test_no_interval_is_ever_zero_width(tally):
    for e in (primary(tally), csat(tally)):
        assert e.high - e.low > 0.5, (tally, e)


def test_csat_interval_by_hand():
    t = smiley({4: 5, 3: 3, 2: 1, 1: 1})                   # 8 of 10 in the top two
    e = csat(t)
    low, high = adjusted(10, 8, 8, 2.2622)                 # t(0.975, 9)
    assert e.value == 80.0
    assert (e.low, e.high) == (pytest.approx(low * 100, abs=0.01), pytest.approx(high * 100, abs=0.01))
    assert adjusted_mean_interval(0, 0, 0) is None


def test_nps_and_its_interval_by_hand():
    # 100 answers: 50 promoters, 30 passives, 20 detractors. NPS 30. On the 0-1 line promoters are
    # 1, passives ½, detractors 0: sum 65, sum of squares 57.5.
    t = Tally.from_counts("nps11", {10: 30, 9: 20, 8: 20, 7: 10, 6: 5, 3: 15})
    assert (t.promoters, t.detractors) == (50, 20)
    assert nps_variance(t) == pytest.approx(0.0061)
    e = nps(t)
    assert e.value == pytest.approx(30.0)
    low, high = adjusted(100, 65, 57.5, t_quantile(0.975, 99))
    assert (e.low, e.high) == (pytest.approx(low * 200 - 100, abs=0.01), pytest.approx(high * 200 - 100, abs=0.01))
    assert primary(t) == e
    all_promoters = Tally.from_counts("nps11", {10: 1})
    assert nps(all_promoters).value == 100 and nps(all_promoters).low < 100


def test_csat_change_by_hand():
    """40 of 100 against 55 of 100: CSAT's exact test is cheap at any size (its splits are the
    101 counts of the smaller side), so it is the exact mid-p, 0.0352 (the pooled z: 0.0341). Its
    critical |z| is above 1.96 here, so the interval holds Miettinen & Nurminen's [1.12, 28.31]
    (statsmodels 0.15's `confint_proportions_2indep(method="score")` gives 1.12 but 28.25: its
    cubic has count0 where Miettinen & Nurminen have nobs0; with that fixed it gives 28.31)."""
    r = compare_csat(csat_tally(100, 40), csat_tally(100, 55))
    assert r.test == "exact permutation" and r.diff == pytest.approx(15)
    assert r.p_value == pytest.approx(0.0352, abs=1e-4) and r.significant()
    assert r.low <= 1.1246 and r.high >= 28.310 and (r.low, r.high) == (pytest.approx(1.0, abs=0.1),
                                                                        pytest.approx(28.42, abs=0.1))
    assert compare_csat(csat_tally(1, 1), csat_tally(2, 1)) is None


def csat_tally(n: int, top: int) -> Tally:
    return Tally.from_counts("smiley4", {v: c for v, c in ((4, top), (1, n - top)) if c})


@pytest.mark.parametrize("before, after, expected_p", [
    ({4: 2}, {3: 2}, 2 / 6),              # two 4s against two 3s: 1 split of 6 each way
    ({4: 10}, {3: 10}, 2 / math.comb(20, 10)),
    ({3: 5}, {3: 5}, 1.0),                # identical groups
])
def test_no_spread_is_an_exact_test_never_p_zero(before, after, expected_p):
    r = compare(smiley(before), smiley(after))
    assert r.test == "exact permutation" and r.p_value == pytest.approx(expected_p)
    assert r.p_value > 0 and r.low <= r.diff <= r.high
    assert verdict(compare(smiley({4: 2}), smiley({3: 2}))) == "no_significant_change"
    nps_r = compare(Tally.from_counts("nps11", {10: 3}), Tally.from_counts("nps11", {0: 3}))
    assert nps_r.test == "exact permutation" and nps_r.p_value == pytest.approx(2 / 20)
    csat_r = compare_csat(smiley({4: 2}), smiley({1: 2}))
    # CSAT's mid-p: the two splits as extreme as the observed one (it and its mirror) count half.
    assert csat_r.test == "exact permutation" and csat_r.p_value == pytest.approx(1 / 6)


def test_period_comparisons_pick_the_right_test():
    before = smiley({4: 40, 3: 40, 2: 10, 1: 10})
    after = smiley({4: 70, 3: 20, 2: 5, 1: 5})
    r = compare(before, after)
    # 100 answers a side on four faces: too many splits for the exact test; the score t, each
    # side's dispersion (variance over x̄(1 - x̄)) moderated up towards the pooled answers' (with
    # the z²/2 pseudo-answers at each end) by the weight of 10 answers where it is below it, its
    # own where above, the means weighted by n / φ.
    assert r.test == "score t" and r.diff > 0 and r.significant() and verdict(r) == "better"
    faces = [0, 1 / 3, 2 / 3, 1]
    sides = [[10, 10, 40, 40], [5, 5, 20, 70]]
    pseudo = 1.959964 ** 2 / 2
    pooled = [b + a for b, a in zip(*sides)]
    m = (sum(k * v for k, v in zip(pooled, faces)) + pseudo) / (200 + 2 * pseudo)
    prior = ((sum(k * v * v for k, v in zip(pooled, faces)) + pseudo) / (200 + 2 * pseudo) - m * m) / (m * (1 - m))
    xs, phis, dfs = [], [], []
    for side in sides:
        x = sum(k * v for k, v in zip(side, faces)) / 100
        own = (sum(k * v * v for k, v in zip(side, faces)) / 100 - x * x) / (x * (1 - x))
        xs.append(x)
        phis.append(own * 100 / 99 if own > prior else (100 * own + 10 * prior) / 110)     # its own over n - 1
        dfs.append(99 if own > prior else 99 + 10)            # its answers less one, the 10 prior ones
    assert phis[0] != phis[1] and dfs == [109, 99]      # the first side's own spread is below the pooled, the second's above
    mu = (xs[0] / phis[0] + xs[1] / phis[1]) / (1 / phis[0] + 1 / phis[1])
    parts = [phi * mu * (1 - mu) / 100 for phi in phis]
    z = (xs[1] - xs[0]) / math.sqrt(sum(parts))
    df = sum(parts) ** 2 / sum(v * v / d for v, d in zip(parts, dfs))       # Welch-Satterthwaite
    assert r.p_value == pytest.approx(2 * t_sf(z, df), rel=1e-5)
    assert compare_csat(before, after).test == "exact permutation"
    n1 = Tally.from_counts("nps11", {10: 30, 9: 20, 8: 30, 3: 20})
    n2 = Tally.from_counts("nps11", {10: 20, 9: 10, 8: 30, 3: 40})
    r = compare(n1, n2)
    # NPS has three scores: 100 answers have 5,151 splits, few enough for the exact test.
    assert r.test == "exact permutation" and r.diff == pytest.approx(-40) and verdict(r) == "worse"
    assert verdict(compare(Tally("smiley4"), after)) == "too_little_data"


def test_weekly_series_groups_iso_weeks_and_tests_each_change():
    rows = [("2026-11-16", smiley({4: 10, 1: 2})), ("2026-11-22", smiley({4: 1})),      # W47 Mon + Sun
            ("2026-11-23", smiley({1: 10, 4: 2}))]                                       # W48
    weeks = weekly_series(rows, "smiley4", ("2026-11-16", "2026-11-29"))
    assert [(w["week"], w["n"]) for w in weeks] == [("2026-W47", 13), ("2026-W48", 12)]
    assert weeks[0]["change"] is None and weeks[1]["change"]["diff"] < 0 and weeks[1]["change"]["significant"]


def test_pearson_by_hand():
    r = pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])
    assert r["r"] == pytest.approx(0.7746, abs=1e-4) and r["n"] == 5
    assert pearson([1, 2], [1, 2]) is None and pearson([1, 1, 1], [1, 2, 3]) is None


def test_points_on_a_line_are_too_little_data():
    # r = ±1 would be p = 0 with a zero-width interval: certainty from indices that carry their
    # answers' sampling error. The reviewer's three sites: customer Happy Index 66.7, 83.3, 100
    # against staff 33.3, 50, 66.7; then four (p = 0.0, low = high = 1 before) and six sites.
    assert pearson([200 / 3, 250 / 3, 100.0], [100 / 3, 50.0, 200 / 3]) is None
    assert pearson([1, 2, 3], [3, 2, 1]) is None
    assert pearson([60, 70, 80, 90], [65, 70, 75, 80]) is None
    assert pearson([1, 2, 3, 4, 5, 6], [12, 10, 8, 6, 4, 2]) is None
    near = pearson([60, 70, 80, 90], [65, 70, 75, 81])          # nearly on a line: a real, narrow interval
    assert near["low"] < near["r"] < near["high"] < 1 and near["p_value"] > 0
