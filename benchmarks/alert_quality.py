"""Alert quality: do the alerts point at real dips, and how soon? Both rules over the same chain.

The history generator (seeds.history) makes a chain with seeded dips of known site, days and
size (`seeded_dips`: Happy Index points, drawn from a range that spans dips too small to matter
and large ones). The last `eval_days` days are then replayed in time order: their answers are
taken out of the rollups (their follow-ups' reasons out of the reason rollups) and put back step
by step (`step_min` minutes of the chain's answers at a time, the way ingest commits them,
`rollups.apply` and `apply_reasons`; from `WARM_UP` days before them, unscored,
so the rule starts in the state a running system would have), and after each step the product's dip rule
runs for the sites that got answers (`alerts.check_dip`, what ingest's after-commit hook runs),
storing and extending alerts as in production. Neither rule can see an answer recorded after
its `now`.

The competing approach is the rule the dip rule replaced, kept here as a plain copy: after every
answer, at least half negative among at least 4 customer answers of the site and question within
the last 15 minutes; one alert until 60 quiet minutes (run in memory over the same answers,
answer by answer: the most often it could have run).

Scored the same way for both:
- precision: alerts raised on a day of a seeded dip of that site (any size: an alert on a seeded
  dip of 6 points points at a real dip) / all alerts raised. Every other alert counts as false,
  including those in the days after a seeded fix wore off (`seeds.history.FIX_DAYS` after a dip
  the site's mood falls back by `FIX_LIFT`, about 5 index points: a real change, but not a dip of
  the size alerts are for); how many of the false alerts fell in the 14 days after that is
  reported apart (`off_dip_after_fix_ended`), not excused;
- recall: target dips (at least `min_size` Happy Index points, starting inside the replayed days)
  with an alert for that site raised during the dip, or an open one extended into it (a dip
  right after another stays the same alert) / all target dips;
- time to alert: hours from the site's opening on the dip's first day to the first alert raised
  during it (median and 90th percentile over the dips each rule caught, and over the dips both
  caught).
- background: on site-days without a seeded dip, the share with an alert and the median hours
  from opening to the first (the replaced rule's time to alert on a dip is mostly this rate);
- at a matched false-alarm rate: the replaced rule made stricter (`MATCHED_VARIANTS`: a window
  of 15 minutes to 13 hours, a negative share, and the smallest minimum number of answers that
  makes it alert on no more site-days without a dip than the dip rule), scored the same way: what
  the old approach's speed and recall are when it is held to the dip rule's false alarms;
- the physical floor (`oracle_floor`): an oracle that knows each site's true mood every day and
  the size and reason of its next dip, a CUSUM of the log-likelihood ratio of the customer
  answers and their follow-up reasons (`oracle_series`, `oracle_alerts`), after every answer, at
  the threshold that alerts on no more site-days without a dip than the dip rule (and at the
  lowest threshold whose precision is still >= 0.8), scored the same way: a lower bound, in the
  sense `oracle_alerts` states, on the hours to alert of any rule over the same answers at that
  false-alarm rate; the dip rule's and the replaced rule's hours to alert over its (ratio).
Sizes: $KUNDPULS_BENCH_SITES (100), $KUNDPULS_BENCH_DAYS (84, of which the last 28 replayed),
$KUNDPULS_BENCH_SEED (12).
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.machine import load_1m

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "alert_quality"
MIN_SIZE = 10.0                       # the target: dips of 10 Happy Index points or more
WARM_UP = 4                           # days replayed before the scored ones


def _spec(sites: int, days: int, seed: int, dips_per_year: float = 6.5,
          dip_drop: tuple[float, float] = (0.4, 2.0)):
    from seeds.history import HistorySpec
    # Realistic traffic (the generator's 68 customer answers a site and day), dips of about
    # 5-30 index points, often enough that a month holds a few dozen of them.
    return HistorySpec(sites=sites, days=days, dips_per_year=dips_per_year, dip_drop=dip_drop, seed=seed,
                       end=date(2026, 11, 22))


# --- the competing approach: the replaced realtime rule, as it was -------------------------------

@dataclass(frozen=True)
class OldRealtimeRule:
    window_min: int = 15
    min_answers: int = 4
    negative_share: float = 0.5
    cooldown_min: int = 60


Series = dict[tuple[str, str], list[tuple[datetime, bool]]]


def old_rule_series(answers: list[dict]) -> Series:
    """What the replaced rule reads: per site and customer question, (recorded_at, negative) in
    time order."""
    from server_sync.protocol.scales import is_negative
    series: Series = defaultdict(list)
    for a in answers:
        if a["filtered"] is None and a["audience"] == "customer":
            series[(a["site_id"], a["question_id"])].append((a["recorded_at"], is_negative(a["scale"], a["value"])))
    for items in series.values():
        items.sort()
    return series


def old_rule_alerts(answers: list[dict] | Series, rule: OldRealtimeRule = OldRealtimeRule()) -> list[dict]:
    """The replaced rule run after every answer: {site_id, question_id, raised_at} per new alert.
    `answers`: the answers, or their `old_rule_series` (to run several variants over them)."""
    series = answers if isinstance(answers, dict) else old_rule_series(answers)
    window, cooldown = timedelta(minutes=rule.window_min), timedelta(minutes=rule.cooldown_min)
    out = []
    for (site, question), items in sorted(series.items()):
        lo, negative, last_seen = 0, 0, None
        for hi, (t, neg) in enumerate(items):
            negative += neg
            while items[lo][0] < t - window:
                negative -= items[lo][1]
                lo += 1
            n = hi - lo + 1
            if n >= rule.min_answers and negative >= rule.negative_share * n:
                if last_seen is None or t - last_seen > cooldown:
                    out.append({"site_id": site, "question_id": question, "raised_at": t})
                out[-1]["last_seen_at"] = last_seen = t
    return out


# The comparison at a matched false-alarm rate: the replaced rule made stricter until it alerts on
# no more of the site-days without a dip than the dip rule does (its speed on the defaults is its
# background rate: it fires early on a dip day because it fires early on any day). Per variant
# the window and the negative share are fixed and the minimum number of answers is the smallest
# that brings the rate down to the dip rule's; one alert per dip, as the dip rule (24 quiet hours).
MATCHED_VARIANTS = ((15, 0.5), (60, 0.5), (180, 0.33), (780, 0.33))


def matched_old_rules(series: Series, truth, zones: dict[str, ZoneInfo], first_day: date, last_day: date,
                      days_with_alert: int, paired_with: Score | None = None) -> list[dict]:
    """Each of `MATCHED_VARIANTS` at the smallest minimum n (4 to 256, by bisection: fewer days
    alert as the minimum rises) that alerts on at most `days_with_alert` site-days without a dip,
    scored like the rules; with the time to alert on the dips it and `paired_with` both caught."""
    sites = sorted(zones)
    out = []
    for window, share in MATCHED_VARIANTS:
        def run(n: int) -> tuple[list[dict], dict]:
            raised = old_rule_alerts(series, OldRealtimeRule(window, n, share, cooldown_min=24 * 60))
            return raised, background(raised, truth, zones, sites, first_day, last_day)
        lo, hi = 4, 256
        while lo < hi:
            mid = (lo + hi) // 2
            if run(mid)[1]["days_with_alert"] <= days_with_alert:
                hi = mid
            else:
                lo = mid + 1
        raised, quiet = run(lo)
        s = score(raised, truth, zones, first_day, last_day)
        row = {"window_min": window, "negative_share": share, "min_answers": lo,
               "days_without_a_dip_with_alert": quiet["days_with_alert"], "alerts": s.alerts, "precision": s.precision,
               "recall": s.recall, "caught": s.caught, "hours_to_alert_median": s.hours_to_alert_median,
               "hours_to_alert_p90": s.hours_to_alert_p90}
        if paired_with is not None:
            row["paired"] = _paired(paired_with, s)
        out.append(row)
    return out


def _paired(new: Score, old: Score, names: tuple[str, str] = ("new", "old")) -> dict:
    """Median hours to alert of both on the dips both caught."""
    both = sorted(set(new.caught_dips) & set(old.caught_dips))
    a, b = names
    return {"dips": len(both),
            f"{a}_median_h": round(statistics.median(new.caught_dips[k] for k in both), 2) if both else None,
            f"{b}_median_h": round(statistics.median(old.caught_dips[k] for k in both), 2) if both else None,
            f"{a}_earlier_or_same": sum(new.caught_dips[k] <= old.caught_dips[k] for k in both)}


# --- the physical floor: a CUSUM that knows the dips ----------------------------------------------

# Per site: (recorded_at, first answer of its site-local day, log-likelihood ratio), in time order.
OracleSeries = dict[str, list[tuple[datetime, bool, float]]]


def _ordered_logit(cuts: tuple[float, ...], mood: float) -> list[float]:
    """P(value index j) of an answer at latent `mood`: the generator's ordered logit (the index is
    how many cut points mood + logistic noise passes)."""
    below = [0.0, *(1 / (1 + math.exp(mood - c)) for c in cuts), 1.0]
    return [b - a for a, b in zip(below, below[1:])]


def _reason_probability(weights, mask: frozenset[int]) -> float:
    """P(a follow-up cites exactly `mask`) when its first reason is drawn by `weights` and a
    second one, with `SECOND_REASON_SHARE`, independently by the same weights (seeds.history)."""
    from seeds.history import SECOND_REASON_SHARE as second
    p = [w / sum(weights) for w in weights]
    if len(mask) == 1:
        (a,) = mask
        return p[a] * (1 - second + second * p[a])
    a, b = mask
    return 2 * second * p[a] * p[b]


def oracle_series(answers: list[dict], followups: dict[str, dict], spec, truth,
                  zones: dict[str, ZoneInfo]) -> OracleSeries:
    """Each unfiltered customer answer (and its follow-up's reasons) as the log-likelihood ratio of
    "in the site's next seeded dip" over "as usual", from the generator's own latent model
    (seeds.history): the usual is the site's true mood that day (quality, the lift after a fix,
    the rush hour, the question's offset), the dip lowers it by the dip's true drop and adds
    `DIP_REASON_WEIGHT` to its reason. Per answer, the alternative is the site's next dip that
    has not ended, known in size and reason; a site with none left gets the median drop of the
    chain's target dips and a reason equally likely any of `DIP_REASONS`. Not known to it: each
    day's own mood noise (N(0, 0.12) on the logit scale); it takes a day's answers as independent.
    The staff pulse, which a dip lowers too, is left out, as the dip rule leaves it out."""
    from seeds.history import (_NPS_CUT, _RUSH, _TOP_CUT, DIP_REASON_WEIGHT, DIP_REASONS, QUESTION_IDS, chain_arrays,
                               plan_sites)
    from seeds.catalogue import CUSTOMER_REASONS, QUESTIONS
    chain = chain_arrays(spec, plan_sites(spec, random.Random(spec.seed)))
    site_index = {s: i for i, s in enumerate(chain.site_ids)}
    dips = defaultdict(list)
    for d in sorted(truth, key=lambda d: d.first):
        dips[d.site_id].append(d)
    typical = statistics.median([d.drop for d in truth if d.size >= MIN_SIZE] or [d.drop for d in truth] or [1.0])
    cuts = {"visit": _TOP_CUT, "recommend": _NPS_CUT}
    offset = {"visit": 0.0, "recommend": 1.0}                       # draw_site: the recommend question's mood

    def weights(q: str, i: int, reason: str | None) -> list[float]:
        w = list(chain.reason_weights[QUESTION_IDS.index(q)][i])
        column = chain.dip_column[QUESTION_IDS.index(q)][CUSTOMER_REASONS.index(reason)] if reason else -1
        if column >= 0:
            w[column] += DIP_REASON_WEIGHT * sum(w) / len(w)
        return w

    value_llr: dict[tuple, float] = {}
    reason_llr: dict[tuple, float] = {}
    series: OracleSeries = defaultdict(list)
    last_date: dict[str, date] = {}
    for a in answers:
        q, site = a["question_id"], a["site_id"]
        if a["filtered"] is not None or a["audience"] != "customer" or q not in cuts:
            continue
        i = site_index[site]
        local = a["recorded_at"].replace(tzinfo=timezone.utc).astimezone(zones[site])
        day = (local.date() - chain.start).days
        ahead = next((d for d in dips[site] if d.last >= local.date()), None)
        drop, reasons = (ahead.drop, (ahead.reason,)) if ahead else (typical, DIP_REASONS)
        usual = float(chain.quality[i] + chain.boost[i, day] - _RUSH[local.hour]) + offset[q]
        key = (q, usual, drop, a["value"])
        if key not in value_llr:
            j = a["value"] - (1 if q == "visit" else 0)
            value_llr[key] = math.log(_ordered_logit(cuts[q], usual - drop)[j] / _ordered_logit(cuts[q], usual)[j])
        llr = value_llr[key]
        if a["id"] in followups:
            cited = frozenset(QUESTIONS[q]["reasons"].index(r) for r in json.loads(followups[a["id"]]["reasons"]))
            key = (q, i, reasons, cited)
            if key not in reason_llr:
                dip = statistics.fmean(_reason_probability(weights(q, i, r), cited) for r in reasons)
                reason_llr[key] = math.log(dip / _reason_probability(weights(q, i, None), cited))
            llr += reason_llr[key]
        series[site].append((a["recorded_at"], last_date.get(site) != local.date(), llr))
        last_date[site] = local.date()
    return series


def oracle_alerts(series: OracleSeries, h: float, cooldown: timedelta = timedelta(hours=24)) -> list[dict]:
    """Page's CUSUM (Page 1954, "Continuous inspection schemes", Biometrika 41:100-115) of each
    site's `oracle_series`, after every answer: the largest log-likelihood ratio of "the dip began
    at one of the site's openings" (the generator's dips begin at an opening; the statistic is
    floored at 0 there and nowhere else), alarming while it is at `h` or above. An alarm within
    `cooldown` of the last is the same alert (`last_seen_at`); with no restart after an alarm the
    statistic stays up while the dip lasts, so a dip is one alert, as with the dip rule (precision
    counts alerts); {site_id, question_id, raised_at, last_seen_at} per alert.

    A floor, not a rule: for a known shift between known distributions, the CUSUM of their
    likelihood ratio has the least worst-case delay to an alarm of all detectors with the same
    mean run length to a false alarm (Lorden 1971, "Procedures for reacting to a change in
    distribution", Ann. Math. Statist. 42:1897-1908; exactly optimal: Moustakides 1986, "Optimal
    stopping times for detecting changes in distributions", Ann. Statist. 14:1379-1387), for
    independent observations. Here it knows what no real rule can: each site's true mood every
    day, and the size and reason of its next dip. So its hours to alert at a false-alarm rate
    bound from below those of any rule over the same customer answers and follow-up reasons, up
    to what the theorem does not cover: the day effect it does not know (a day's answers are not
    quite independent), answers that are not identically distributed, and a criterion (median
    hours over the dips caught, false alarms as site-days) that is not the theorem's."""
    out = []
    for site, items in sorted(series.items()):
        s, last = 0.0, None
        for t, opens, llr in items:
            s = (max(s, 0.0) if opens else s) + llr
            if s >= h:
                if last is None or t - last > cooldown:
                    out.append({"site_id": site, "question_id": "visit", "raised_at": t})
                out[-1]["last_seen_at"] = last = t
    return out


def oracle_floor(series: OracleSeries, truth, zones: dict[str, ZoneInfo], first_day: date, last_day: date,
                 days_with_alert: int, new: Score, old: Score, old_matched: list[dict] | None) -> dict:
    """The oracle at the smallest threshold (nats, by bisection) that alerts on at most
    `days_with_alert` site-days without a dip (the dip rule's), scored like the rules, with the
    ratios of the dip rule's and the replaced rule's hours to alert to it; and at the lowest
    threshold on a 0.25-nat grid below that one whose precision is still >= 0.8 (the issue's)."""
    sites = sorted(zones)

    def row(h: float) -> tuple[dict, Score]:
        raised = oracle_alerts(series, h)
        s = score(raised, truth, zones, first_day, last_day)
        quiet = background(raised, truth, zones, sites, first_day, last_day)
        return {"h_nats": round(h, 3), "days_without_a_dip_with_alert": quiet["days_with_alert"], "alerts": s.alerts,
                "precision": s.precision, "recall": s.recall, "caught": s.caught,
                "hours_to_alert_median": s.hours_to_alert_median, "hours_to_alert_p90": s.hours_to_alert_p90}, s

    lo, hi = 0.0, 40.0
    while hi - lo > 0.01:
        mid = (lo + hi) / 2
        if row(mid)[0]["days_without_a_dip_with_alert"] <= days_with_alert:
            hi = mid
        else:
            lo = mid
    matched, floor = row(hi)
    median = floor.hours_to_alert_median
    best_old = max(old_matched or [], key=lambda r: (r["recall"] or 0), default=None)
    matched.update({
        "dip_rule_on_dips_both_caught": _paired(new, floor, ("dip_rule", "oracle")),
        "replaced_rule_on_dips_both_caught": _paired(old, floor, ("replaced_rule", "oracle")),
        "dip_rule_over_oracle": round(new.hours_to_alert_median / median, 2) if median else None,
        "replaced_rule_over_oracle": round(old.hours_to_alert_median / median, 2) if median else None,
        "replaced_rule_matched_best": ({k: best_old[k] for k in ("window_min", "negative_share", "min_answers",
                                                                  "recall", "hours_to_alert_median")}
                                       | {"over_oracle": round(best_old["hours_to_alert_median"] / median, 2)}
                                       if best_old and median and best_old["hours_to_alert_median"] else None)})
    at_precision, h = None, hi
    while h > 0:
        r, s = row(h)
        if r["precision"] is None or r["precision"] < 0.8:
            break
        at_precision = {**r, "dip_rule_on_dips_both_caught": _paired(new, s, ("dip_rule", "oracle")),
                        "replaced_rule_on_dips_both_caught": _paired(old, s, ("replaced_rule", "oracle"))}
        h -= 0.25
    return {"at_the_dip_rules_false_alarm_rate": matched, "lowest_threshold_with_precision_0_8": at_precision}


# --- the replay --------------------------------------------------------------------------------

def _answers_from(db, since: datetime) -> list[dict]:
    cols = ("id", "site_id", "kiosk_id", "question_id", "audience", "scale", "value", "recorded_at", "filtered")
    out = []
    for row in db.execute_sql(f"SELECT {', '.join(cols)} FROM response WHERE recorded_at >= {db.param}"
                              " ORDER BY recorded_at", (since,)):
        a = dict(zip(cols, row))
        if isinstance(a["recorded_at"], str):
            a["recorded_at"] = datetime.fromisoformat(a["recorded_at"])
        out.append(a)
    return out


def _followups_from(db, since: datetime) -> dict[str, dict]:
    """The follow-ups of the answers recorded from `since`, by answer id (their reasons as JSON)."""
    rows = db.execute_sql("SELECT f.response_id, f.reasons FROM followup f JOIN response r ON r.id = f.response_id"
                          f" WHERE r.recorded_at >= {db.param}", (since,))
    return {rid: {"response_id": rid, "reasons": reasons} for rid, reasons in rows}


def replay_dip_rule(db, answers: list[dict], step_min: int, rule=None,
                    followups: dict[str, dict] | None = None) -> tuple[list[dict], dict]:
    """Put `answers` (already out of the rollups) and their `followups`' reasons (out of the
    reason rollups) back `step_min` minutes at a time and run the dip rule after each step for
    the sites that changed; the alerts raised, and the rule's cost."""
    followups = followups or {}
    from server_sync.analysis import alerts
    from server_sync.analysis.alert_rules import DipRule
    from server_sync.central import rollups
    rule = rule or DipRule()
    # Quality, not durability, is measured here: no fsync per step (the rule's cost below is its
    # CPU and queries).
    db.execute_sql("PRAGMA synchronous = OFF")
    step = timedelta(minutes=step_min)
    calls, rule_s = 0, 0.0
    i = 0
    while i < len(answers):
        end = answers[i]["recorded_at"] - timedelta(microseconds=1) + step
        j = i
        while j < len(answers) and answers[j]["recorded_at"] <= end:
            j += 1
        batch = answers[i:j]
        with db.atomic():
            rollups.apply(db, batch)
            rollups.apply_reasons(db, [followups[a["id"]] for a in batch if a["id"] in followups])
        t0 = time.perf_counter()
        alerts.check_dip(db, {a["site_id"] for a in batch}, end.replace(tzinfo=timezone.utc), rule)
        rule_s += time.perf_counter() - t0
        calls += 1
        i = j
    raised = [{"site_id": a["site_id"], "question_id": a["question_id"],
               "raised_at": datetime.fromisoformat(str(a["raised_at"])),
               "last_seen_at": datetime.fromisoformat(str(a["last_seen_at"]))}
              for a in alerts.list_alerts(db, limit=1_000_000)]
    return raised, {"hook_calls": calls, "rule_ms_per_call": round(1000 * rule_s / max(calls, 1), 3)}


@dataclass
class Score:
    alerts: int = 0
    on_dip_days: int = 0
    precision: float | None = None
    target_dips: int = 0
    caught: int = 0
    off_dip_after_fix_ended: int = 0                         # false alerts within 14 days after a fix wore off
    extended_into: int = 0                                   # caught by an open alert extended into the dip
    recall: float | None = None
    recall_all_sizes: float | None = None
    hours_to_alert_median: float | None = None
    hours_to_alert_p90: float | None = None
    caught_dips: dict = field(default_factory=dict)          # "site first" -> hours to alert
    missed: list = field(default_factory=list)               # target dips without an alert: "site first size"


def score(raised: list[dict], truth, zones: dict[str, ZoneInfo], first_day: date, last_day: date,
          min_size: float = MIN_SIZE) -> Score:
    """Precision, recall and time to alert of `raised` (naive UTC `raised_at`) against the seeded
    dips `truth` (seeds.history.SeededDip), over the site-local days first_day..last_day."""
    from seeds.demo import OPENING_HOURS
    from seeds.history import FIX_DAYS
    dips = defaultdict(list)
    for d in truth:
        dips[d.site_id].append(d)
    s = Score()
    first_alert: dict[tuple[str, date], datetime] = {}
    extended: set[tuple[str, date]] = set()
    for a in raised:
        at = a["raised_at"].replace(tzinfo=timezone.utc)
        local = at.astimezone(zones[a["site_id"]]).date()
        seen = a["last_seen_at"].replace(tzinfo=timezone.utc).astimezone(zones[a["site_id"]]).date()
        # An alert raised before a dip and extended into it (the rule fired during the dip,
        # the deduplication kept the open alert) shows the dip too; it has no time to alert.
        extended |= {(d.site_id, d.first) for d in dips[a["site_id"]] if local < d.first <= seen}
        if not first_day <= local <= last_day:
            continue
        s.alerts += 1
        hit = [d for d in dips[a["site_id"]] if d.first <= local <= d.last]
        if not hit and any(0 <= (local - d.last).days - 1 - FIX_DAYS < 14 for d in dips[a["site_id"]]):
            s.off_dip_after_fix_ended += 1
        if hit:
            s.on_dip_days += 1
            for d in hit:
                key = (d.site_id, d.first)
                first_alert[key] = min(first_alert.get(key, at), at)
    s.precision = round(s.on_dip_days / s.alerts, 3) if s.alerts else None
    inside = [d for d in truth if first_day <= d.first <= last_day]
    targets = [d for d in inside if d.size >= min_size]
    s.target_dips = len(targets)
    for d in targets:
        key = (d.site_id, d.first)
        if key in first_alert:
            tz = zones[d.site_id]
            opening = datetime.combine(d.first, datetime.min.time(), tz) + timedelta(
                hours=OPENING_HOURS[d.first.weekday()][0])
            s.caught_dips[f"{d.site_id} {d.first}"] = round((first_alert[key] - opening).total_seconds() / 3600, 2)
        elif key in extended:
            s.extended_into += 1
        else:
            s.missed.append(f"{d.site_id} {d.first} {d.size:g} ({d.days} days)")
    s.caught = len(s.caught_dips) + s.extended_into
    s.recall = round(s.caught / len(targets), 3) if targets else None
    s.recall_all_sizes = round(sum((d.site_id, d.first) in first_alert.keys() | extended for d in inside)
                               / len(inside), 3) if inside else None
    hours = sorted(s.caught_dips.values())
    if hours:
        s.hours_to_alert_median = round(statistics.median(hours), 2)
        s.hours_to_alert_p90 = round(hours[min(len(hours) - 1, int(0.9 * len(hours)))], 2)
    return s


def background(raised: list[dict], truth, zones: dict[str, ZoneInfo], sites: list[str], first_day: date,
               last_day: date) -> dict:
    """On the site-days without a seeded dip: the share with an alert raised, and the median
    hours from the site's opening to the first of them (naive UTC `raised_at`)."""
    from seeds.demo import OPENING_HOURS
    dip_days = {(d.site_id, d.first + timedelta(days=k)) for d in truth for k in range(d.days)}
    first: dict[tuple[str, date], datetime] = {}
    for a in raised:
        at = a["raised_at"].replace(tzinfo=timezone.utc)
        key = (a["site_id"], at.astimezone(zones[a["site_id"]]).date())
        first[key] = min(first.get(key, at), at)
    ordinary = [(s, first_day + timedelta(days=k)) for s in sites for k in range((last_day - first_day).days + 1)
                if (s, first_day + timedelta(days=k)) not in dip_days]
    hours = sorted((first[key] - datetime.combine(key[1], datetime.min.time(), zones[key[0]])
                    - timedelta(hours=OPENING_HOURS[key[1].weekday()][0])).total_seconds() / 3600
                   for key in ordinary if key in first)
    return {"site_days": len(ordinary), "days_with_alert": len(hours),
            "with_alert": round(len(hours) / len(ordinary), 3) if ordinary else None,
            "hours_to_first_median": round(statistics.median(hours), 2) if hours else None}


def simulate(sites: int = 100, days: int = 84, eval_days: int = 28, seed: int = 12, step_min: int = 10,
             workdir: str | None = None, rule=None, dips_per_year: float = 6.5,
             dip_drop: tuple[float, float] = (0.4, 2.0), compare_matched: bool = True) -> dict:
    """Generate, replay the last `eval_days` days through both rules, score them (and, with
    `compare_matched`, the replaced rule's stricter variants and the oracle floor at the dip rule's
    false-alarm rate)."""
    from seeds.history import generate, seeded_dips
    from server_sync.central import rollups
    from server_sync.central.db import connect
    spec = _spec(sites, days, seed, dips_per_year, dip_drop)
    if workdir is None:
        OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir or OUT) as tmp:
        db = connect(f"sqlite:///{Path(tmp) / 'central.db'}")
        try:
            t0 = time.monotonic()
            made = generate(db, spec, progress=lambda *a: None)
            generate_s = time.monotonic() - t0
            zones = {s: ZoneInfo(tz) for s, tz in db.execute_sql("SELECT id, timezone FROM site")}
            first_day = spec.end - timedelta(days=eval_days - 1)
            # The replay starts WARM_UP days before the scored days, so that a dip that ended
            # just before them was alerted (and is extended) as in a running system, instead of
            # being alerted for the first time on the first scored morning. Every site here is an
            # hour or two ahead of UTC and closed at night: the replayed days' answers are those
            # from the UTC midnight before the first of them.
            since = datetime.combine(first_day - timedelta(days=WARM_UP), datetime.min.time())
            answers, followups = _answers_from(db, since), _followups_from(db, since)
            with db.atomic():
                rollups.apply(db, answers, -1)
                rollups.apply_reasons(db, list(followups.values()), -1)
            t0 = time.monotonic()
            new_raised, cost = replay_dip_rule(db, answers, step_min, rule, followups)
            replay_s = time.monotonic() - t0
        finally:
            db.close()
    series = old_rule_series(answers)
    old_raised = old_rule_alerts(series)
    truth = seeded_dips(spec)
    new, old = (score(r, truth, zones, first_day, spec.end) for r in (new_raised, old_raised))
    inside = [d for d in truth if first_day <= d.first <= spec.end]
    quiet = {name: background(r, truth, zones, sorted(zones), first_day, spec.end)
             for name, r in (("new_rule", new_raised), ("old_rule", old_raised))}
    matched = (matched_old_rules(series, truth, zones, first_day, spec.end, quiet["new_rule"]["days_with_alert"], new)
               if compare_matched else None)
    t0 = time.monotonic()
    floor = (oracle_floor(oracle_series(answers, followups, spec, truth, zones), truth, zones, first_day, spec.end,
                          quiet["new_rule"]["days_with_alert"], new, old, matched) if compare_matched else None)
    oracle_s = time.monotonic() - t0
    return {
        "chain": {"sites": sites, "days": days, "replayed_days": eval_days, "seed": seed,
                  "dips_per_year": dips_per_year, "dip_drop_logit": list(dip_drop), "answers": made.answers,
                  "replayed_answers": len(answers), "dips_seeded": len(truth), "dips_in_replay": len(inside),
                  "dip_days_in_replay": sum(min(d.last, spec.end) >= d.first and
                                            ((min(d.last, spec.end) - max(d.first, first_day)).days + 1)
                                            for d in truth if d.last >= first_day),
                  "dip_sizes": {"min": min((d.size for d in inside), default=None),
                                "median": statistics.median(d.size for d in inside) if inside else None,
                                "max": max((d.size for d in inside), default=None)},
                  "target": f"dips of at least {MIN_SIZE:g} Happy Index points (all last 3-7 days)",
                  "generate_s": round(generate_s, 1), "replay_s": round(replay_s, 1), "oracle_s": round(oracle_s, 1),
                  "step_min": step_min},
        "new_rule": {**{k: v for k, v in asdict(new).items() if k != "caught_dips"}, **cost},
        "old_rule": {k: v for k, v in asdict(old).items() if k != "caught_dips"},
        "time_to_alert_on_dips_both_caught": _paired(new, old),
        "days_without_a_dip": quiet,
        "old_rule_at_the_new_rules_false_alarm_rate": matched,
        "oracle_floor": floor,
        "precision_definition": "alerts raised on a site-local day of a seeded dip of that site (any size) / all "
                                "alerts raised in the scored days; every other alert counts as false",
    }


def run() -> dict:
    sites = int(os.environ.get("KUNDPULS_BENCH_SITES", "100"))
    days = int(os.environ.get("KUNDPULS_BENCH_DAYS", "84"))
    seed = int(os.environ.get("KUNDPULS_BENCH_SEED", "12"))
    load = os.getloadavg()
    result = simulate(sites, days, seed=seed)
    result["load_average_1m"] = load_1m(load)
    new, old = result["new_rule"], result["old_rule"]
    result["target_met"] = bool(new["precision"] is not None and new["precision"] >= 0.8 and new["recall"] >= 0.8
                                and (old["hours_to_alert_median"] is None
                                     or new["hours_to_alert_median"] <= old["hours_to_alert_median"]))
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
