"""A trial, not a benchmark: could a likelihood-ratio CUSUM estimated from each site's own history
meet issue 12's time-to-alert target where the dip rule does not? In memory, over the
benchmark's chains (`alert_quality._spec`), scored exactly as `alert_quality` scores.

The candidate rule knows no ground truth. Per site, at each answer, over the site-local days:
- the usual distribution p of each customer question's values (visit: 4 faces, recommend: 0-10)
  is the site's own over the `baseline_days` before the lookback, its unusual days set aside as
  the dip rule does (`alert_rules.usual_days`, `trim_se`), shrunk toward the chain's
  distribution over the same days with the weight of `prior_answers` answers;
- the alternative is p with the mood lowered by a shift of an ordered logit fitted exactly to p
  (the cumulative log-odds all moved by the same amount: proportional odds), of the size that
  lowers the site's visit Happy Index by `drop_points`; the null is the same shift of
  `margin_points` (a minimum-effect null, as the dip rule's margin: a site whose mood really fell
  a few points after a fix wore off is not a dip of the size alerts are for). Both questions
  take the same shift: a dip lowers the mood a customer answers every question in;
- each follow-up reason mention adds log(q_r/p) against the site's usual mix (shrunk toward the
  chain's with `prior_mentions`), q_r the mix with reason r's share raised by
  `reason_boost` / (reasons offered); a change point's reason evidence is the mixture over r
  (the average of the likelihood ratios, one reason for the whole dip);
- the statistic is Page's CUSUM (Page 1954, "Continuous inspection schemes", Biometrika
  41:100-115) with change points at the site's openings in the last `lookback_days` days: the
  largest sum of log-likelihood ratios since one of them. So it is recomputed from tallies per
  day and value at every look, with no state kept between looks (Lorden 1971, Ann. Math.
  Statist. 42:1897-1908: for known distributions the CUSUM has the least worst-case delay at a
  given mean run length to a false alarm);
- an alert when it reaches `threshold` nats; one alert per dip (24 quiet hours for a new one).

Alerts are timed at the end of the 10-minute step the answer falls in (the benchmark's replay
step). Usage: `python -m benchmarks._alert_cusum_trial --seeds 3,41 --thresholds 3.5,4,4.5`
(generates each chain once into `--cache`, about 20 s a chain; a rule over one chain: 20-40 s;
`--drops 12,20,32`: a mixture over alternatives of those drops instead of one).
What was tried, with every number: the commit that added this file.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from benchmarks.alert_quality import WARM_UP, _answers_from, _followups_from, _spec, background, score

QUESTIONS = ("visit", "recommend")
SCALES = ("smiley4", "nps11")
LEVELS = (4, 11)
HAPPY = np.array([0.0, 100 / 3, 200 / 3, 100.0])       # the visit question's faces as Happy Index points


@dataclass(frozen=True)
class TrialRule:
    drop_points: float = 20.0      # the alternative: the visit Happy Index this much lower
    margin_points: float = 4.0     # the null: this much lower (0: as usual)
    threshold: float = 4.0         # nats
    baseline_days: int = 28
    lookback_days: int = 3         # change points: the site's last openings
    trim_se: float = 3.0           # unusual baseline days set aside (0: none)
    prior_answers: float = 20.0
    reason_boost: float = 6.0      # 0: no reasons
    prior_mentions: float = 20.0
    cooldown_h: float = 24.0
    drops: tuple[float, ...] = ()  # a mixture over these drops (equal weights) instead of drop_points


def ordered_shift(p: np.ndarray, d: float) -> np.ndarray:
    """p with the latent mood lowered by `d` (logit): every cumulative log-odds raised by d."""
    cum = np.clip(np.cumsum(p)[:-1], 1e-9, 1 - 1e-9)
    moved = 1 / (1 + np.exp(-(np.log(cum) - np.log1p(-cum) + d)))
    return np.diff(np.concatenate([[0.0], moved, [1.0]]))


def shift_for_drop(visit: np.ndarray, points: float) -> float:
    """The shift (logit) that lowers the Happy Index of `visit` by `points` (bisection)."""
    if points <= 0:
        return 0.0
    usual, lo, hi = visit @ HAPPY, 0.0, 8.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if usual - ordered_shift(visit, mid) @ HAPPY < points else (lo, mid)
    return hi


# --- the chain, generated once -----------------------------------------------------------------

def load_chain(seed: int, cache: Path) -> dict:
    """The benchmark's chain at `seed` (100 sites, 84 days) as per-site arrays of its unfiltered
    customer answers (time, site-local day ordinal, question, value index, cited reason indices),
    with its daily tallies, the ground truth (for scoring only) and the site zones."""
    path = cache / f"cusum_trial_chain{seed}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    from seeds.catalogue import QUESTIONS as CATALOGUE
    from seeds.history import generate, seeded_dips
    from server_sync.central.db import connect
    spec = _spec(100, 84, seed)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        db = connect(f"sqlite:///{Path(tmp) / 'central.db'}")
        try:
            generate(db, spec, progress=lambda *a: None)
            zones = {s: tz for s, tz in db.execute_sql("SELECT id, timezone FROM site")}
            since = datetime(2000, 1, 1)
            answers, followups = _answers_from(db, since), _followups_from(db, since)
        finally:
            db.close()
    reasons = {q: list(CATALOGUE[q]["reasons"]) for q in QUESTIONS}
    rows = defaultdict(list)
    for a in answers:
        if a["filtered"] is not None or a["audience"] != "customer" or a["question_id"] not in QUESTIONS:
            continue
        q = QUESTIONS.index(a["question_id"])
        at = a["recorded_at"].replace(tzinfo=timezone.utc)
        cited = json.loads(followups[a["id"]]["reasons"]) if a["id"] in followups else []
        rows[a["site_id"]].append((at.timestamp(), at.astimezone(ZoneInfo(zones[a["site_id"]])).date().toordinal(), q,
                                   a["value"] - (1 if q == 0 else 0),
                                   tuple(reasons[QUESTIONS[q]].index(r) for r in cited)))
    chain = {"seed": seed, "zones": zones, "truth": seeded_dips(spec), "reasons": reasons,
             "first_day": spec.end - timedelta(days=27), "last_day": spec.end, "sites": {}}
    for site, items in rows.items():
        items.sort()
        chain["sites"][site] = {"t": np.array([r[0] for r in items]), "day": np.array([r[1] for r in items]),
                                "q": np.array([r[2] for r in items]), "v": np.array([r[3] for r in items]),
                                "cited": [r[4] for r in items]}
    _tally_days(chain)
    path.write_bytes(pickle.dumps(chain))
    return chain


def _tally_days(chain: dict) -> None:
    """Per site and question: answers per day and value, and reason mentions per day (what
    rollup_hourly and rollup_reason_daily hold, summed per site-local day); and the chain's."""
    d0 = min(int(s["day"].min()) for s in chain["sites"].values())
    d1 = max(int(s["day"].max()) for s in chain["sites"].values())
    chain["d0"] = d0
    for s in chain["sites"].values():
        s["values"] = [np.zeros((d1 - d0 + 1, LEVELS[q])) for q in range(2)]
        s["mentions"] = [np.zeros((d1 - d0 + 1, len(chain["reasons"][QUESTIONS[q]]))) for q in range(2)]
        for day, q, v, cited in zip(s["day"], s["q"], s["v"], s["cited"]):
            s["values"][q][day - d0, v] += 1
            for r in cited:
                s["mentions"][q][day - d0, r] += 1
    chain["values"] = [sum(s["values"][q] for s in chain["sites"].values()) for q in range(2)]
    chain["mentions"] = [sum(s["mentions"][q] for s in chain["sites"].values()) for q in range(2)]


# --- the rule ----------------------------------------------------------------------------------

def _usual_days(values: np.ndarray, q: int, trim_se: float) -> np.ndarray:
    """Which baseline days are usual (alert_rules.usual_days on their tallies)."""
    from server_sync.analysis.alert_rules import usual_days
    from server_sync.analysis.metrics import Tally, sum_tallies, unit_variance
    from server_sync.central.rollups import answer_stats
    if not trim_se:
        return np.ones(len(values), bool)
    scale, offset = SCALES[q], (1 if q == 0 else 0)
    tallies = []
    for row in values:
        stats = [0] * 5
        for v, n in enumerate(row):
            for i, x in enumerate(answer_stats(scale, v + offset, int(n))):
                stats[i] += x
        tallies.append(Tally(scale, *stats))
    total = sum_tallies(tallies, scale)
    if total.n < 2:
        return np.ones(len(values), bool)
    kept = {id(t) for t in usual_days(tallies, unit_variance(total) or 0.0, trim_se)}
    return np.array([id(t) in kept for t in tallies])


def statistic(chain: dict, rule: TrialRule) -> dict[str, list[tuple[float, float]]]:
    """Per site, after each answer of the replayed days: (time, CUSUM statistic in nats)."""
    d0, union = chain["d0"], sorted({r for q in QUESTIONS for r in chain["reasons"][q]})
    first = (chain["first_day"] - timedelta(days=WARM_UP)).toordinal()
    out = {}
    for site, s in chain["sites"].items():
        series = []
        for today in range(first, chain["last_day"].toordinal() + 1):
            now = np.flatnonzero(s["day"] == today)
            end = today - rule.lookback_days - d0 + 1              # the baseline: [end - baseline_days, end)
            if not len(now) or end - rule.baseline_days < 0:
                continue
            usual, kept = [], []
            for q in range(2):
                days = s["values"][q][end - rule.baseline_days:end]
                keep = _usual_days(days, q, rule.trim_se)
                chain_p = chain["values"][q][end - rule.baseline_days:end].sum(0)
                site_n = days[keep].sum(0)
                usual.append((site_n + rule.prior_answers * chain_p / chain_p.sum())
                             / (site_n.sum() + rule.prior_answers))
                kept.append(keep)
            d_null = shift_for_drop(usual[0], rule.margin_points)
            alts = [shift_for_drop(usual[0], d) for d in (rule.drops or (rule.drop_points,))]
            value_llr = [np.stack([np.log(ordered_shift(p, d) / ordered_shift(p, d_null)) for d in alts], -1)
                         for p in usual]                          # per question: value x alternative
            reason_llr = []                                      # per question: mention x dip reason
            for q in range(2):
                names = chain["reasons"][QUESTIONS[q]]
                site_m = s["mentions"][q][end - rule.baseline_days:end][kept[q]].sum(0)
                chain_m = chain["mentions"][q][end - rule.baseline_days:end].sum(0)
                p = (site_m + rule.prior_mentions * chain_m / chain_m.sum()) / (site_m.sum() + rule.prior_mentions)
                table = np.zeros((len(names), len(union)))
                for u, name in enumerate(union):
                    if name in names and rule.reason_boost > 0:
                        raised = p.copy()
                        raised[names.index(name)] += rule.reason_boost / len(names)
                        table[:, u] = np.log(raised / raised.sum() / p)
                reason_llr.append(table)
            window = np.flatnonzero((s["day"] > today - rule.lookback_days) & (s["day"] <= today))
            llr = np.array([value_llr[s["q"][i]][s["v"][i]] for i in window]).reshape(len(window), len(alts))
            mentions = np.zeros((len(window), len(union)))
            for k, i in enumerate(window):
                for r in s["cited"][i]:
                    mentions[k] += reason_llr[s["q"][i]][r]
            day_of = s["day"][window]
            is_today = day_of == today
            best = np.full(is_today.sum(), -np.inf)
            for start in range(today - rule.lookback_days + 1, today + 1):
                before = (day_of >= start) & ~is_today
                v = llr[before].sum(0)[None, :] + np.cumsum(llr[is_today], axis=0)
                top = v.max(1)
                values = top + np.log(np.exp(v - top[:, None]).mean(1))
                if rule.reason_boost > 0:
                    r = mentions[before].sum(0)[None, :] + np.cumsum(mentions[is_today], axis=0)
                    top = r.max(1)
                    values = values + top + np.log(np.exp(r - top[:, None]).mean(1))
                best = np.maximum(best, values)
            series.extend(zip(s["t"][window][is_today], best))
        out[site] = series
    return out


def alerts_at(series: dict[str, list[tuple[float, float]]], threshold: float, cooldown_h: float = 24.0) -> list[dict]:
    """One alert per run of the statistic at `threshold` or above (24 quiet hours for a new one),
    timed at the end of the answer's 10-minute step; naive UTC, as `alert_quality.score` reads."""
    out = []
    for site, items in sorted(series.items()):
        last = None
        for t, value in items:
            if value < threshold:
                continue
            at = math.ceil(t / 600) * 600
            if last is None or at - last > cooldown_h * 3600:
                out.append({"site_id": site, "question_id": "visit",
                            "raised_at": datetime.fromtimestamp(at, timezone.utc).replace(tzinfo=None)})
            last = at
            out[-1]["last_seen_at"] = datetime.fromtimestamp(at, timezone.utc).replace(tzinfo=None)
    return out


def evaluate(chain: dict, series: dict, threshold: float) -> dict:
    zones = {s: ZoneInfo(z) for s, z in chain["zones"].items()}
    first_day, last_day = chain["first_day"], chain["last_day"]
    raised = alerts_at(series, threshold)
    s = score(raised, chain["truth"], zones, first_day, last_day)
    quiet = background(raised, chain["truth"], zones, sorted(zones), first_day, last_day)
    return {"seed": chain["seed"], "threshold": threshold, "alerts": s.alerts, "precision": s.precision,
            "recall": s.recall, "caught": s.caught, "target_dips": s.target_dips,
            "hours_to_alert_median": s.hours_to_alert_median, "hours_to_alert_p90": s.hours_to_alert_p90,
            "days_without_a_dip_with_alert": quiet["days_with_alert"],
            "off_dip_after_fix_ended": s.off_dip_after_fix_ended}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks._alert_cusum_trial", description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="3,41")
    p.add_argument("--thresholds", default=str(TrialRule().threshold))
    p.add_argument("--drop", type=float, default=TrialRule().drop_points)
    p.add_argument("--margin", type=float, default=TrialRule().margin_points)
    p.add_argument("--drops", default="", help="a mixture over these drops, e.g. 12,20,32")
    p.add_argument("--cache", default=tempfile.gettempdir())
    args = p.parse_args(argv)
    rule = TrialRule(drop_points=args.drop, margin_points=args.margin,
                     drops=tuple(float(x) for x in args.drops.split(",") if x))
    for seed in (int(s) for s in args.seeds.split(",")):
        chain = load_chain(seed, Path(args.cache))
        series = statistic(chain, rule)
        for h in (float(x) for x in args.thresholds.split(",")):
            print(json.dumps(evaluate(chain, series, h)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
