"""Every metric and test statistic against hand-computed or textbook values, edges included."""

import math

import pytest

from server_sync.analysis.metrics import Tally, csat, happy_index, metrics_dict, nps, nps_variance, primary
from server_sync.analysis.stats import (pearson, t_quantile, t_sf, two_proportion_z, welch_t, wilson_interval,
                                        z_difference)
from server_sync.analysis.trends import compare, compare_csat, verdict, weekly_series


def smiley(counts, scale="smiley4"):
    return Tally.from_counts(scale, counts)


@pytest.mark.parametrize("df, expected", [(1, 12.7062), (3, 3.1824), (10, 2.2281), (24, 2.0639), (30, 2.0423),
                                          (60, 2.0003), (120, 1.9799), (10**9, 1.9600)])
def test_t_quantile_matches_the_printed_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=1e-4)


def test_t_tail_probability():
    assert t_sf(2.0, 10) == pytest.approx(0.036694, abs=1e-6)        # table: P(T10 > 2) = 0.0367
    assert t_sf(0.0, 5) == pytest.approx(0.5)


def test_happy_index_by_hand():
    # 10 × 4, 10 × 3, 5 × 2 on a 4-point scale: scores 100, 66.7, 33.3.
    t = smiley({4: 10, 3: 10, 2: 5})
    e = happy_index(t)
    assert e.value == pytest.approx((10 * 100 + 10 * 200 / 3 + 5 * 100 / 3) / 25)     # 73.33
    # Sample variance of the raw values: (270 - 80²/25) / 24 = 0.58333; ×(100/3)² in index points.
    half = 2.0639 * math.sqrt(0.583333 / 25) * 100 / 3
    assert e.low == pytest.approx(73.3333 - half, abs=0.01)
    assert e.high == pytest.approx(73.3333 + half, abs=0.01)
    assert e.n == 25 and e.small


def test_happy_index_five_point_and_bounds():
    assert happy_index(smiley({5: 1, 1: 1}, "smiley5")).value == pytest.approx(50.0)
    e = happy_index(smiley({4: 3, 3: 2}))           # the upper limit would pass 100: clamped
    assert e.high == 100.0 and e.low < e.value


def test_edges_no_answers_one_answer_all_filtered():
    empty = Tally("smiley4")
    assert happy_index(empty).value is None and happy_index(empty).n == 0
    assert csat(empty).value is None and nps(Tally("nps11")).value is None
    one = smiley({3: 1})
    e = happy_index(one)
    assert e.value == pytest.approx(200 / 3) and e.low is None and e.high is None and e.n == 1
    assert csat(one).value == 100.0 and csat(one).low == pytest.approx(20.65, abs=0.01)   # Wilson 1/1
    d = metrics_dict(empty)
    assert d["n"] == 0 and d["happy_index"]["value"] is None and d["csat"]["small"] is True


def test_csat_wilson_interval_textbook():
    # Wilson 95% interval for 8 of 10: 0.4902-0.9433 (Newcombe 1998, table I).
    t = smiley({4: 5, 3: 3, 2: 1, 1: 1})
    e = csat(t)
    assert e.value == 80.0
    assert (e.low, e.high) == (pytest.approx(49.02, abs=0.01), pytest.approx(94.33, abs=0.01))
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(10 / (10 + 1.959964 ** 2), abs=1e-6)
    assert wilson_interval(0, 0) is None


def test_nps_and_its_interval_textbook():
    # 100 answers: 50 promoters, 30 passives, 20 detractors. NPS 30;
    # Var = (0.5 + 0.2 - 0.3²) / 100 = 0.0061; 95% CI 30 ± 1.96·√0.0061·100 = 30 ± 15.31.
    t = Tally.from_counts("nps11", {10: 30, 9: 20, 8: 20, 7: 10, 6: 5, 3: 15})
    assert (t.promoters, t.detractors) == (50, 20)
    assert nps_variance(t) == pytest.approx(0.0061)
    e = nps(t)
    assert e.value == pytest.approx(30.0)
    assert e.low == pytest.approx(30 - 15.308, abs=0.01) and e.high == pytest.approx(30 + 15.308, abs=0.01)
    assert primary(t) == e
    all_promoters = Tally.from_counts("nps11", {10: 1})
    assert nps(all_promoters).value == 100 and nps(all_promoters).low == 100


def test_welch_t_by_hand():
    # se = √(4/20 + 9/25) = 0.7483; t = 2.673; Welch df = 41.78; two-sided p ≈ 0.0107.
    r = welch_t(10, 4, 20, 12, 9, 25)
    assert r.diff == 2 and r.p_value == pytest.approx(0.0107, abs=3e-4)
    half = t_quantile(0.975, 41.784) * math.sqrt(0.56)
    assert (r.low, r.high) == (pytest.approx(2 - half, abs=1e-3), pytest.approx(2 + half, abs=1e-3))
    assert welch_t(1, 1, 1, 2, 1, 5) is None


def test_two_proportion_z_by_hand():
    # 40/100 vs 55/100: pooled 0.475, se0 = √(0.475·0.525·0.02) = 0.07062, z = 2.124, p = 0.0337.
    r = two_proportion_z(40, 100, 55, 100)
    assert r.diff == pytest.approx(0.15) and r.p_value == pytest.approx(0.0337, abs=2e-4)
    assert two_proportion_z(0, 0, 1, 2) is None


def test_period_comparisons_pick_the_right_test():
    before = smiley({4: 40, 3: 40, 2: 10, 1: 10})
    after = smiley({4: 70, 3: 20, 2: 5, 1: 5})
    r = compare(before, after)
    assert r.test == "welch t" and r.diff > 0 and r.significant() and verdict(r) == "better"
    assert compare_csat(before, after).test == "two-proportion z"
    n1 = Tally.from_counts("nps11", {10: 30, 9: 20, 8: 30, 3: 20})
    n2 = Tally.from_counts("nps11", {10: 20, 9: 10, 8: 30, 3: 40})
    r = compare(n1, n2)
    expected = z_difference(30.0, nps_variance(n1) * 1e4, -10.0, nps_variance(n2) * 1e4)
    assert r.test == "nps z" and r.diff == pytest.approx(-40) and r.p_value == pytest.approx(expected.p_value)
    assert verdict(compare(Tally("smiley4"), after)) == "too_little_data"


def test_weekly_series_groups_iso_weeks_and_tests_each_change():
    rows = [("2026-11-16", smiley({4: 10, 1: 2})), ("2026-11-22", smiley({4: 1})),      # W47 Mon + Sun
            ("2026-11-23", smiley({1: 10, 4: 2}))]                                       # W48
    weeks = weekly_series(rows, "smiley4")
    assert [(w["week"], w["n"]) for w in weeks] == [("2026-W47", 13), ("2026-W48", 12)]
    assert weeks[0]["change"] is None and weeks[1]["change"]["diff"] < 0 and weeks[1]["change"]["significant"]


def test_pearson_by_hand():
    r = pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])
    assert r["r"] == pytest.approx(0.7746, abs=1e-4) and r["n"] == 5
    assert pearson([1, 2], [1, 2]) is None and pearson([1, 1, 1], [1, 2, 3]) is None
