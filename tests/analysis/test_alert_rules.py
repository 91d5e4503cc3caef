"""The dip rule as pure logic (no database): a drop against the site's own baseline fires only
with enough answers for the site's traffic, far enough and beyond chance; a small dip shows
over a few days; a site still learning, a handful of answers, a tiny drop on many answers or a
real change smaller than the margin do not fire; a site's questions together show a dip that
each alone does not yet, and so does a mood short of the threshold when one complaint dominates
the follow-up reasons (never a usual mix of complaints)."""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter

from server_sync.analysis.alert_rules import (DipRule, between_days, complaint_spike, dip_breach, minimum_n, site_dip,
                                              usual_days)
from server_sync.analysis.stats import binomial_sf
from server_sync.analysis.metrics import Tally, unit_variance
from server_sync.protocol.tally import sum_tallies

MOODS = {"good": (0.03, 0.07, 0.35, 0.55),            # smiley4 shares of 1..4: Happy Index 80.7
         "bad": (0.12, 0.2, 0.38, 0.3),              # 62.0
         "mild": (0.08, 0.15, 0.40, 0.37),           # 68.7: a dip of 12 points
         "faded": (0.04, 0.10, 0.37, 0.49)}          # 77.0: 3.7 points lower (a fix wearing off)


def day(n: int, mood: str = "good", rng: random.Random | None = None) -> Tally:
    """A day of n smiley4 answers drawn from a mood (exact shares without a generator)."""
    shares = MOODS[mood]
    if rng is None:
        counts = {v + 1: round(n * s) for v, s in enumerate(shares)}
    else:
        counts = {v: 0 for v in range(1, 5)}
        for _ in range(n):
            counts[rng.choices(range(1, 5), shares)[0]] += 1
    return Tally.from_counts("smiley4", counts)


def windows(*days: Tally) -> list[Tally]:
    """windows[k]: the last k + 1 days, `days` given newest first."""
    return [sum_tallies(days[:k + 1], "smiley4") for k in range(len(days))]


def baseline(per_day: int = 60, n_days: int = 28, seed: int = 1) -> list[Tally]:
    rng = random.Random(seed)
    return [day(per_day, rng=rng) for _ in range(n_days)]


def test_a_clear_drop_today_fires_with_its_numbers():
    dip = dip_breach(baseline(), windows(day(50, "bad"), day(60), day(60)))
    assert dip is not None and dip.days == 1 and dip.n == 50
    assert 15 < dip.drop < 30 and dip.z <= -DipRule().z and dip.p_value < 1e-4
    assert dip.baseline > 75 and dip.value < 65


def test_too_few_answers_or_too_small_a_drop_do_not_fire():
    assert dip_breach(baseline(), windows(day(12, "bad"))) is None                # under the floor of 20
    slight = Tally.from_counts("smiley4", {1: 40, 2: 80, 3: 400, 4: 480})        # ~3 points down on 1000
    assert dip_breach(baseline(per_day=500), windows(slight)) is None             # significant, immaterial


def test_the_minimum_n_follows_the_sites_traffic():
    rule = DipRule()
    assert minimum_n(sum_tallies(baseline(per_day=30), "smiley4"), rule) == rule.min_answers
    busy = sum_tallies(baseline(per_day=400), "smiley4")
    assert minimum_n(busy, rule) == 100                                      # a quarter of a usual day
    # 60 bad answers are a dip at a site of 60 a day; at a site of 400 a day, one unhappy hour.
    assert dip_breach(baseline(per_day=400), windows(day(60, "bad"))) is None
    assert dip_breach(baseline(per_day=60), windows(day(60, "bad"))) is not None


def test_a_site_still_learning_does_not_fire():
    assert dip_breach(baseline(per_day=10, n_days=7), windows(day(40, "bad"))) is None   # 70 < 100 answers
    assert dip_breach([], windows(day(40, "bad"))) is None


def test_a_small_dip_shows_over_the_last_days_not_in_one():
    base = baseline(per_day=60)
    days = [day(60, "mild") for _ in range(3)]
    assert dip_breach(base, windows(days[0])) is None                 # 12 points on 60 answers: not yet
    dip = dip_breach(base, windows(*days))
    assert dip is not None and dip.days == 3 and dip.n == 180 and 10 < dip.drop < 14


def test_a_real_change_smaller_than_the_margin_does_not_fire():
    # Three days 3.7 points down, on many answers: significant against "no change" (z ≈ -4.5 at
    # 400 a day), but the rule tests against a drop of `margin` points, the size not worth a dip alert.
    base = baseline(per_day=400)
    days = [day(400, "faded") for _ in range(3)]
    assert dip_breach(base, windows(*days), DipRule(margin=0.0, min_drop=3.0)) is not None
    assert dip_breach(base, windows(*days), DipRule(min_drop=3.0)) is None


def nps_day(n: int, promoters: float, detractors: float) -> Tally:
    """A day of n nps11 answers with those shares of promoters (10) and detractors (3); the rest 8."""
    p, d = round(n * promoters), round(n * detractors)
    return Tally.from_counts("nps11", {10: p, 3: d, 8: n - p - d})


def test_the_sites_questions_together_show_a_dip_sooner_than_one_alone():
    visit = (baseline(per_day=50), windows(day(30, "bad")))                 # 19 points down
    nps_base = [nps_day(20, 0.6, 0.1) for _ in range(28)]
    recommend = (nps_base, [nps_day(15, 0.25, 0.4)])                        # NPS 50 → -13 today
    # Neither question alone: 30 visit answers 19 points down are not yet beyond chance and the
    # margin (z ≈ -2.9), 15 NPS answers are under the NPS floor of 40.
    assert dip_breach(*visit) is None and dip_breach(*recommend) is None
    hit = site_dip({"visit": visit, "recommend": recommend})
    assert hit is not None and hit[1].questions == 2 and hit[1].n == 45 and hit[1].z <= -DipRule().z
    assert hit[0] == "visit"                                                # the one with most answers
    # Ordinary windows of both questions together stay quiet.
    calm = site_dip({"visit": (visit[0], windows(day(30))), "recommend": (nps_base, [nps_day(15, 0.6, 0.1)])})
    assert calm is None


def test_ordinary_days_never_fire():
    rng = random.Random(11)
    fired = 0
    for trial in range(60):
        base = baseline(seed=trial)
        fired += dip_breach(base, windows(day(60, rng=rng), day(60, rng=rng), day(60, rng=rng))) is not None
    assert fired == 0


def test_an_earlier_dip_in_the_baseline_does_not_hide_the_next():
    """A week of dip in the baseline is set aside (its days are far from the median day in their
    own standard errors): the baseline and τ² are what the ordinary days give, and the next dip
    shows today as it would without the earlier one."""
    base = baseline()
    with_dip = base[:21] + [day(60, "bad") for _ in range(7)]
    spread = unit_variance(sum_tallies(with_dip, "smiley4"))
    values = [d.happy_index() for d in with_dip]
    plain = statistics.variance(values) - spread / 60                   # what a plain variance says
    kept = usual_days(with_dip, spread)
    assert plain > 60 and len(kept) >= 20 and not any(d.happy_index() < 70 for d in kept)
    assert between_days(kept, spread) < 3
    dip = dip_breach(with_dip, windows(day(60, "bad")))
    assert dip is not None and dip.days == 1 and dip.baseline > 78


def logit_day(n: int, mood: float, rng: random.Random) -> Tally:
    """A day of n smiley4 answers from an ordered logit at latent `mood` (the generator's cut points)."""
    counts = {v: 0 for v in range(1, 5)}
    for _ in range(n):
        u = rng.random()
        latent = mood + math.log(u / (1 - u))
        counts[1 + sum(latent > c for c in (-2.2, -0.9, 1.2))] += 1
    return Tally.from_counts("smiley4", counts)


def test_a_busy_site_whose_days_differ_keeps_its_days_and_their_spread():
    """At 400 answers a day a day's standard error is about 1.3 points; days that differ by about
    3.2 points (0.25 on the logit) are ordinary for that site: none is set aside, and τ is found
    near 3.2, so the site's windows are judged with its days' spread."""
    rng = random.Random(4)
    kept, taus = [], []
    for _ in range(8):
        days = [logit_day(400, 1.1 + rng.gauss(0, 0.25), rng) for _ in range(28)]
        spread = unit_variance(sum_tallies(days, "smiley4"))
        usual = usual_days(days, spread)
        kept.append(len(usual))
        taus.append(math.sqrt(between_days(usual, spread)))
    assert statistics.median(kept) >= 27, kept
    assert 2.2 < statistics.median(taus) < 4.5, taus


USUAL_MIX = {"queue": 0.3, "staff": 0.2, "availability": 0.2, "price": 0.15, "cleanliness": 0.1, "checkout": 0.05}


def cited(total: int, shares: dict[str, float]) -> dict[str, int]:
    return {r: round(total * share) for r, share in shares.items()}


def test_a_complaint_far_above_its_usual_share_is_found_with_an_exact_p_value():
    usual = cited(400, USUAL_MIX)                                     # 28 days of reasons
    spike = complaint_spike({"cleanliness": 7, "queue": 2, "staff": 1}, usual)
    assert spike is not None and spike.reason == "cleanliness" and (spike.count, spike.mentions) == (7, 10)
    assert spike.usual_share == 0.1
    # Given its 47 mentions on both sides, the window's share of them is binomial with p = 10/410.
    exact = sum(math.comb(47, k) * (10 / 410) ** k * (400 / 410) ** (47 - k) for k in range(7, 48))
    assert math.isclose(binomial_sf(7, 47, 10 / 410), exact, rel_tol=1e-9)
    assert math.isclose(spike.p_value, 6 * exact, rel_tol=1e-9)              # six reasons cited
    assert spike.p_value < 0.001
    assert complaint_spike(cited(10, USUAL_MIX), usual).p_value > 0.5         # the usual mix
    assert complaint_spike({}, usual) is None and complaint_spike({"queue": 3}, {}) is None


def test_the_complaint_test_holds_its_level_whatever_the_days_mood():
    """Which reasons are cited, given how many, does not depend on how unhappy the day is when
    the mix is as usual: the test's false-alarm rate is at most its level at any number of
    reasons cited (few on a good day, many on a bad one)."""
    rng = random.Random(3)
    usual = cited(400, USUAL_MIX)
    level = DipRule().complaint_alpha
    for mentions in (3, 8, 20, 40):
        fired = sum(complaint_spike(dict(Counter(rng.choices(list(USUAL_MIX), list(USUAL_MIX.values()),
                                                             k=mentions))), usual).p_value <= level
                    for _ in range(1000))
        assert fired <= 1000 * level, (mentions, fired)


def test_a_mood_short_of_the_threshold_fires_when_one_complaint_dominates():
    visit = (baseline(per_day=50), windows(day(30, "bad")))                 # 19 points down, z ≈ -2.9
    assert site_dip({"visit": visit}) is None
    usual = cited(400, USUAL_MIX)
    dominant = (usual, [{"cleanliness": 7, "queue": 2, "staff": 1}])
    hit = site_dip({"visit": visit}, reasons=dominant)
    assert hit is not None and hit[1].complaint is not None and hit[1].complaint.reason == "cleanliness"
    assert -DipRule().z < hit[1].z <= -DipRule().complaint_z
    # The usual mix of complaints, or a complaint without the mood: nothing.
    assert site_dip({"visit": visit}, reasons=(usual, [cited(10, USUAL_MIX)])) is None
    assert site_dip({"visit": (visit[0], windows(day(30)))}, reasons=dominant) is None


def test_a_combined_alert_states_its_questions_own_value_and_drop():
    # The statistics review's dip_mixed_units.py: Happy Index 70.7 → 58.1 (12.5 index points) on
    # 90 answers, NPS 30 → 2.8 (27.2 NPS points) on 72. Together they fire; the alert named
    # 'visit' with the answer-weighted mixture of the two drops, 19.05 "points", a value of 51.6
    # that 'visit' never had.
    hi_day = Tally.from_counts("smiley4", {1: 4, 2: 6, 3: 20, 4: 20})
    nps_day = Tally.from_counts("nps11", {3: 8, 8: 12, 10: 20})
    hi_win = Tally.from_counts("smiley4", {1: 27, 2: 6, 3: 20, 4: 37})
    nps_win = Tally.from_counts("nps11", {3: 29, 8: 12, 10: 31})
    key, dip = site_dip({"visit": ([hi_day] * 28, [hi_win]), "rec": ([nps_day] * 28, [nps_win])}, DipRule())
    assert (key, dip.questions, dip.n) == ("visit", 2, 162)
    assert dip.value == hi_win.happy_index() and dip.baseline == hi_day.happy_index()
    assert math.isclose(dip.drop, 12.5185, abs_tol=1e-4)


def test_min_drop_holds_for_each_question_in_its_own_points():
    # The Happy Index 6.5 points down on 2000 answers (short of min_drop 7: alone it does not
    # fire), the NPS 104 NPS points down on 38 (short of its minimum n, 40). Averaged by answers
    # the "drop" was 8.3, over 7: the mixture fired though no question dropped 7 of its points
    # with enough answers to say so.
    hi_day = Tally.from_counts("smiley4", {1: 40, 2: 60, 3: 200, 4: 200})
    nps_day = Tally.from_counts("nps11", {3: 8, 8: 12, 10: 20})
    hi_win = Tally.from_counts("smiley4", {1: 300, 2: 250, 3: 750, 4: 700})
    nps_win = Tally.from_counts("nps11", {3: 30, 8: 6, 10: 2})
    assert site_dip({"visit": ([hi_day] * 28, [hi_win]), "rec": ([nps_day] * 28, [nps_win])}, DipRule()) is None
