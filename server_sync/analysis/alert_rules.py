"""The alert rules as pure functions (thresholds are data, not code). Never touches the
database: `analysis.alerts` reads the tallies and keeps the alerts.

- Dip (the realtime rule, run by ingest after every commit and by `alerts check`): a site's
  headline metric of a question (Happy Index, NPS on nps11) over the last days, against the
  site's own baseline of the `baseline_days` days before them. The windows are today so far,
  the last two and the last `window_days` site-local days (a large dip shows within today, a
  small one once a few days of answers carry it).
  - The baseline is the site's usual days: a day whose value lies more than `trim_se` of its
    own standard errors (τ² included: `usual_days`) from the median day (an earlier dip, a
    one-off bad day) is set aside,
    so that an earlier dip neither lowers the baseline nor makes the next one look ordinary.
  - A window of one question fires when it holds at least the traffic-aware minimum n
    (`min_answers`, `min_answers_nps` on nps11, or `min_day_share` of the site's usual day of
    answers to the question when that is more: a busy site must show it over more answers than
    one unhappy group), its value is at least `min_drop` points below the baseline's, and the
    drop is beyond `margin` points with confidence (a minimum-effect test, H0: drop ≤ margin):
        z = (window − baseline + margin) / √(s²·(1/n_w + 1/n_b) + τ²/k) ≤ −`z`,
    where s² is the per-answer spread of the baseline (what the window's answers spread like
    if nothing changed: a window of a few identical answers cannot fake a tiny variance) and
    τ² how much the site's usual days differ from each other beyond their answers' spread
    (`between_days`), for a window of k days. The margin is why a real but small change (a
    site's mood a few points lower once an improvement wears off) does not alert: it is not a
    dip of the size the alert is for (10 points).
  - The same window over all the site's customer questions together (each with at least
    `combine_min_answers` answers in it, together at least the smallest minimum n among them)
    fires on the weighted Stouffer combination Z = Σ √n_q·z_q / √Σ n_q ≤ −`z` when each of them
    dropped by at least `min_drop` in its own points (Happy Index or NPS points: not averaged,
    they are different units): a dip lowers the mood a customer answers every question in, and
    two questions' answers show it sooner than one alone. The alert's value, baseline and drop
    are those of the question it names (the one with most answers in the window). (This treats the
    questions' answers as independent; answers of one customer to two questions are positively
    correlated, which makes Z somewhat too large; the benchmark draws answers independently
    given the day's mood, so its calibration does not cover that: docs/analysis.md.)
  - A dip makes one complaint dominate. A window whose clearest test (a question alone or all
    together) is short of `z` but reaches `complaint_z` fires when one reason's share of the
    follow-up reasons given in the window is above its share in the baseline, at
    `complaint_alpha` (`complaint_spike`: an exact conditional test per reason, Bonferroni over
    the reasons given). Given how many reasons were given, which ones is independent of how
    unhappy the answers were when the mix is as usual, so on an ordinary day (or after a fix
    wears off) this path fires with probability about 0.006 × 0.01 per look, less than the mood
    test alone at `z`; it is looser only where a complaint really did grow.
  Without `min_baseline` answers in the baseline a site is still learning: no alert.
- Trend: today's answers so far against the site's baseline of the previous `baseline_days`
  days over the same hours of the day; a drop of at least `min_drop` points that is significant
  at `alpha` (Welch t on the Happy Index, normal test on NPS).
- One dip, one alert: while a rule keeps firing for the same site and question, the open
  alert's `last_seen_at` moves on; a new alert is raised only after `cooldown_min` quiet minutes
  (the dip rule's 24 hours span the night: a dip of several days stays one alert).

How the dip rule compares with the rule it replaced (half of at least 4 answers negative within
15 minutes) on generated chains with known dips: benchmarks/alert_quality.py; the method and
its calibration: docs/analysis.md#the-dip-rule.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from server_sync.analysis.metrics import Tally, sum_tallies, unit_variance
from server_sync.analysis.stats import binomial_sf, normal_sf
from server_sync.analysis.trends import Shift, shift


@dataclass(frozen=True)
class DipRule:
    baseline_days: int = 28          # the site's own trailing weeks, before the windows
    window_days: int = 3             # windows: today so far, the last 2 days, … the last window_days
    min_answers: int = 20            # the floor of the minimum n of a window (below it the normal
                                     # approximation of a skewed scale fires too often)
    min_answers_nps: int = 40        # the floor on nps11: a three-valued score (−100, 0, 100) with
                                     # a long tail; at 20-30 answers it made a third of the false
                                     # alerts on the benchmark's chain
    min_day_share: float = 0.25      # … raised to this share of the site's usual day of answers
    min_baseline: int = 100          # fewer answers in the baseline: the site is still learning
    # Index points (NPS points on nps11) the window must be below the baseline, as measured.
    min_drop: float = 7.0
    # The drop the rule must be confident is exceeded (index / NPS points): the target is dips of
    # 10 points or more; changes of about 5 points (a fix wearing off on the benchmark's chains)
    # made half or more of the alerts off dip days without it (docs/analysis.md#the-dip-rule).
    margin: float = 4.0
    # One-sided, per window and look (p ≈ 0.0002 beyond the margin). Each window is looked at
    # after every commit, but its looks are nested sums of the same answers, not independent
    # tests; the benchmark's chains calibrate it (on three seeds, with this margin: precision
    # 0.80-0.83 at 3.3, 0.82-0.86 at 3.5; docs/analysis.md#the-dip-rule).
    z: float = 3.5
    # A baseline day further than this many of its own standard errors from the median day is
    # not a usual day (a dip of ~15 points on 40 answers is 3.5 of them).
    trim_se: float = 3.0
    combine_min_answers: int = 5     # a question joins the combined test with this many answers
    # A window short of `z` fires at this z when one complaint's share of the window's follow-up
    # reasons is above its usual share at `complaint_alpha` (one-sided p 0.006 and 0.01: together
    # 6e-5 per look where the mix of complaints is as usual, below the 2.3e-4 of `z` alone).
    complaint_z: float = 2.5
    complaint_alpha: float = 0.01
    cooldown_min: int = 24 * 60


@dataclass(frozen=True)
class Complaint:
    """A follow-up reason given more often than usual in a window (`complaint_spike`)."""
    reason: str
    count: int                       # the window's follow-ups citing it
    mentions: int                    # reasons cited in the window, all reasons together
    usual_share: float               # its share of the reasons cited in the baseline
    p_value: float                   # one-sided, Bonferroni over the reasons cited


def complaint_spike(window: Mapping[str, int], baseline: Mapping[str, int]) -> Complaint | None:
    """The reason whose share of the window's cited reasons is most clearly above its share of
    the baseline's, or None when either side cites none. Per reason, mentions of it per mention
    of any reason are compared as two Poisson rates by the exact conditional test: given its
    count on both sides together, c_w + c_b, its count in the window is binomial with
    p = m_w / (m_w + m_b) (m: mentions of any reason) if its share is as usual. The smallest
    one-sided p-value is multiplied by the number of reasons cited (Bonferroni)."""
    m_w, m_b = sum(window.values()), sum(baseline.values())
    if m_w <= 0 or m_b <= 0:
        return None
    cited = {r for r in (*window, *baseline) if window.get(r, 0) + baseline.get(r, 0) > 0}
    at = m_w / (m_w + m_b)
    tests = [(binomial_sf(c, c + baseline.get(r, 0), at), r) for r, c in sorted(window.items()) if c > 0]
    p, reason = min(tests)
    return Complaint(reason, window[reason], m_w, baseline.get(reason, 0) / m_b, min(1.0, p * len(cited)))


@dataclass(frozen=True)
class Dip:
    """What a firing dip rule found: the window that showed it most clearly."""
    days: int                        # the window: the last `days` site-local days (1 = today so far)
    n: int
    negative: int
    value: float                     # the window's value (combined: the named question's own)
    baseline: float
    baseline_n: int
    min_n: int
    z: float
    p_value: float                   # one-sided, of H0: drop ≤ margin
    questions: int = 1               # 2 or more: the combined test over the site's questions
    complaint: Complaint | None = None   # the complaint that let a window short of `z` fire

    @property
    def drop(self) -> float:
        return self.baseline - self.value


def headline(t: Tally) -> float | None:
    """The point value of the question's headline metric: NPS on nps11, else the Happy Index."""
    return t.nps() if t.scale == "nps11" else t.happy_index()


def minimum_n(baseline: Tally, rule: DipRule = DipRule()) -> int:
    """The traffic-aware minimum n of a window: the floor, or a share of the site's usual day."""
    per_day = baseline.n / rule.baseline_days
    floor = rule.min_answers_nps if baseline.scale == "nps11" else rule.min_answers
    return max(floor, math.ceil(rule.min_day_share * per_day))


def usual_days(days: Sequence[Tally], spread: float, trim_se: float = DipRule().trim_se) -> list[Tally]:
    """The baseline's days within `trim_se` standard errors of the median day's value. The median
    is robust to a block of dip days (fewer than half of them); the days set aside are the ones
    that would pull the baseline down and widen τ². A day's standard error is √(spread/n + τ²):
    first with τ² = 0, then twice again with τ² of the days kept so far, so that at a busy site
    whose days differ by more than their answers' spread ordinary days are not cut (τ² would be
    underestimated); the first cut's dip days stay out, their τ² is not counted."""
    days = [d for d in days if d.n]
    if len(days) < 8 or not spread:
        return days
    middle = statistics.median(headline(d) for d in days)
    kept, tau2 = days, 0.0
    for _ in range(3):
        kept = [d for d in days if abs(headline(d) - middle) <= trim_se * math.sqrt(spread / d.n + tau2)]
        tau2 = between_days(kept, spread)
    return kept


_CLIP = 2.5
# E[min(Z², c²)] for a standard normal Z at c = _CLIP: the winsorized second moment's
# consistency factor (what it is when the days differ by their answers' spread alone).
_CLIPPED_MOMENT = ((2 * (0.5 * (1 + math.erf(_CLIP / math.sqrt(2)))) - 1)
                   - 2 * _CLIP * math.exp(-_CLIP * _CLIP / 2) / math.sqrt(2 * math.pi)
                   + _CLIP * _CLIP * (1 - math.erf(_CLIP / math.sqrt(2))))


def between_days(days: Sequence[Tally], spread: float) -> float:
    """τ²: the variance of the days' values beyond what their answers' spread explains, by a
    winsorized moment estimator (an M-estimator of scale in the manner of Huber's proposal 2):
    each day's deviation from the median day in standard errors of a day with τ² added,
    r = (value − median) / √(spread/n + τ²), r² clipped at 2.5² (one odd day counts as a 2.5-SE
    day, not more), and τ² is the value at which the mean clipped r² is what it is for normal
    days (E[min(Z², 2.5²)] = 0.978), solved by fixed-point iteration from τ² = 0. A moment
    estimator uses every day (τ² is small next to a day's sampling variance at a few dozen
    answers a day, and the median of day-to-day differences it replaces was noisy enough to
    halve a clear day's z at some sites); the clipping and `usual_days` keep it robust, and
    standardising with τ² included keeps the clipping from cutting the ordinary spread of a busy
    site whose days differ by more than their answers' spread."""
    values = [(headline(d), spread / d.n) for d in days if d.n]
    if len(values) < 8 or not spread:
        return 0.0
    middle = statistics.median(v for v, _ in values)
    typical = statistics.median(var for _, var in values)       # a typical day's sampling variance
    tau2 = 0.0
    for _ in range(50):
        r2 = sum(min(_CLIP * _CLIP, (v - middle) ** 2 / (var + tau2)) for v, var in values) / len(values)
        updated = max(0.0, r2 / _CLIPPED_MOMENT * (typical + tau2) - typical)
        if abs(updated - tau2) <= 1e-6 * typical:
            return updated
        tau2 = updated
    return tau2


@dataclass(frozen=True)
class Window:
    """One window of one question against its baseline (before any threshold)."""
    days: int
    n: int
    negative: int
    value: float
    baseline: float
    baseline_n: int
    min_n: int
    z: float                         # beyond the margin; see the module docstring


@functools.lru_cache(maxsize=4096)
def _usual_baseline(baseline_days: tuple[Tally, ...], rule: DipRule) -> tuple[float, float, int, float, int] | None:
    """(value, per-answer spread, n, τ², minimum n of a window) of the baseline's usual days, or
    None while the site is still learning. Cached: within a day the hook asks for the same
    baseline after every commit (its days end before the windows), and this is the rule's cost."""
    scale = next((d.scale for d in baseline_days if d.n), None)
    if scale is None:
        return None
    everything = sum_tallies(baseline_days, scale)
    if everything.n < max(rule.min_baseline, 2):
        return None
    kept = usual_days(baseline_days, unit_variance(everything) or 0.0, rule.trim_se)
    baseline = sum_tallies(kept, scale)
    spread = unit_variance(baseline) if baseline.n >= 2 else None
    base = headline(baseline)
    if base is None or not spread:
        return None
    # The minimum n follows the whole baseline's traffic: setting days aside does not make a
    # busy site quiet.
    return base, spread, baseline.n, between_days(kept, spread), minimum_n(everything, rule)


def window_evidence(baseline_days: Sequence[Tally], windows: Sequence[Tally],
                    rule: DipRule = DipRule(), min_n: int | None = None) -> list[Window]:
    """Each window (windows[k]: the last k + 1 days) with at least `min_n` answers (default the
    rule's traffic-aware minimum) against the baseline (one tally per day of it, in date order).
    Empty when the site is still learning. All tallies are of one site, question and scale.
    The rule's cost is here: 31 daily tallies per question, no query."""
    usual = _usual_baseline(tuple(baseline_days), rule)
    if usual is None:
        return []
    base, spread, baseline_n, tau2, floor = usual
    out = []
    for days, window in enumerate(windows[:rule.window_days], start=1):
        if window.n < max(min_n if min_n is not None else floor, 2):
            continue
        value = headline(window)
        z = (value - base + rule.margin) / math.sqrt(spread * (1 / window.n + 1 / baseline_n) + tau2 / days)
        out.append(Window(days, window.n, window.negative, value, base, baseline_n, floor, z))
    return out


def _dip(w: Window) -> Dip:
    return Dip(w.days, w.n, w.negative, w.value, w.baseline, w.baseline_n, w.min_n, w.z, normal_sf(-w.z))


def dip_breach(baseline_days: Sequence[Tally], windows: Sequence[Tally], rule: DipRule = DipRule()) -> Dip | None:
    """The clearest firing window of one question (see the module docstring), or None."""
    firing = [w for w in window_evidence(baseline_days, windows, rule)
              if w.baseline - w.value >= rule.min_drop and w.z <= -rule.z]
    return _dip(min(firing, key=lambda w: w.z)) if firing else None


Reasons = tuple[Mapping[str, int], Sequence[Mapping[str, int]]]


def site_dip(questions: Mapping[str, tuple[Sequence[Tally], Sequence[Tally]]],
             rule: DipRule = DipRule(), reasons: Reasons | None = None) -> tuple[str, Dip] | None:
    """The clearest firing test of a site: each question alone (`dip_breach`) and, per window,
    the site's questions combined (module docstring). `questions`: per question (a key naming
    it), its baseline days and windows. `reasons`: the follow-up reasons cited at the site (every
    customer question) in the baseline, and in each window (as the windows), by reason; a
    window short of `z` fires at `complaint_z` with a `complaint_spike`. Returns the question
    that showed it most clearly (for a combined test the one with the most answers in the
    window) and the Dip, or None."""
    tests: list[tuple[str, Dip]] = []
    by_window: dict[int, list[tuple[str, Window]]] = {}
    for key, (baseline_days, windows) in sorted(questions.items()):
        # One pass per question serves both tests: alone (at its own minimum n, as dip_breach)
        # and combined (from combine_min_answers).
        for w in window_evidence(baseline_days, windows, rule, min_n=rule.combine_min_answers):
            by_window.setdefault(w.days, []).append((key, w))
            if w.n >= w.min_n and w.baseline - w.value >= rule.min_drop:
                tests.append((key, _dip(w)))
    for days, found in sorted(by_window.items()):
        if len(found) < 2:
            continue
        n = sum(w.n for _, w in found)
        if n < min(w.min_n for _, w in found):
            continue
        # Stouffer's weighted z with weights √n: the most powerful combination when the dip
        # moves each question by the same number of its answers' standard deviations.
        z = sum(math.sqrt(w.n) * w.z for _, w in found) / math.sqrt(n)
        # `min_drop` per question, in its own points: Happy Index and NPS points are different
        # units (NPS spans twice the range), so an average of the drops would mean neither.
        if any(w.baseline - w.value < rule.min_drop for _, w in found):
            continue
        key, lead = max(found, key=lambda f: f[1].n)
        # The value and baseline are the named question's own, in its unit; n and z the test's.
        tests.append((key, Dip(days, n, sum(w.negative for _, w in found), lead.value, lead.baseline,
                               sum(w.baseline_n for _, w in found), min(w.min_n for _, w in found), z,
                               normal_sf(-z), questions=len(found))))
    firing, spikes = [], {}
    for key, dip in tests:
        if dip.z <= -rule.z:
            firing.append((key, dip))
        elif dip.z <= -rule.complaint_z and reasons is not None and dip.days <= len(reasons[1]):
            if dip.days not in spikes:
                spikes[dip.days] = complaint_spike(reasons[1][dip.days - 1], reasons[0])
            spike = spikes[dip.days]
            if spike is not None and spike.p_value <= rule.complaint_alpha:
                firing.append((key, replace(dip, complaint=spike)))
    # The first of equally clear tests: a question alone before the combination.
    return min(firing, key=lambda f: f[1].z) if firing else None


@dataclass(frozen=True)
class TrendRule:
    baseline_days: int = 28
    alpha: float = 0.01
    min_answers: int = 20
    min_drop: float = 5.0            # index points (NPS points on nps11)
    cooldown_min: int = 24 * 60


def trend_breach(baseline: Tally, current: Tally, rule: TrendRule = TrendRule()) -> Shift | None:
    """The shift when today is significantly (`trends.shift`) and materially below the baseline,
    else None."""
    if current.n < rule.min_answers or baseline.n < rule.min_answers:
        return None
    test = shift(baseline, current)
    if test is None or test.p_value >= rule.alpha or test.diff > -rule.min_drop:
        return None
    return test
