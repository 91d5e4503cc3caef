"""The dip rule as pure logic (no database): a drop against the site's own baseline fires only
with enough answers for the site's traffic, far enough and beyond chance; a small dip shows
over a few days; a site still learning, a handful of answers or a tiny drop on many answers do
not fire."""

from __future__ import annotations

import random
import statistics

from server_sync.analysis.alert_rules import DipRule, between_days, dip_breach, minimum_n
from server_sync.analysis.metrics import Tally, unit_variance
from server_sync.protocol.tally import sum_tallies

MOODS = {"good": (0.03, 0.07, 0.35, 0.55), "bad": (0.12, 0.2, 0.38, 0.3)}     # smiley4 shares of 1..4


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
    dip = dip_breach(baseline(), windows(day(40, "bad"), day(60), day(60)))
    assert dip is not None and dip.days == 1 and dip.n == 40
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
    mild = {v + 1: s for v, s in enumerate((0.06, 0.12, 0.38, 0.44))}         # about 9 points down
    days = [Tally.from_counts("smiley4", {v: round(60 * s) for v, s in mild.items()}) for _ in range(3)]
    assert dip_breach(base, windows(days[0])) is None
    dip = dip_breach(base, windows(*days))
    assert dip is not None and dip.days == 3 and dip.n == 180 and 7 < dip.drop < 12


def test_ordinary_days_never_fire():
    rng = random.Random(11)
    fired = 0
    for trial in range(60):
        base = baseline(seed=trial)
        fired += dip_breach(base, windows(day(60, rng=rng), day(60, rng=rng), day(60, rng=rng))) is not None
    assert fired == 0


def test_an_earlier_dip_in_the_baseline_does_not_hide_the_next():
    """τ² comes from the day-to-day differences: a week of dip in the baseline leaves it near
    what ordinary days give (its mean and spread are a little worse: the next dip shows over its first two days)."""
    base = baseline()
    with_dip = base[:21] + [day(60, "bad") for _ in range(7)]
    spread = unit_variance(sum_tallies(base, "smiley4"))
    values = [d.happy_index() for d in with_dip]
    plain = statistics.variance(values) - spread / 60                   # what a plain variance says
    assert plain > 60 and between_days(with_dip, spread) < 3
    assert dip_breach(with_dip, windows(day(60, "bad"), day(60, "bad"))) is not None
