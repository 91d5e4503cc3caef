"""`effects_batch` (every action at once, numpy) against the plain `effects.action_effect`, one
action at a time: the same result for each action, bit for bit, on drawn chains, on awkward
series (days without answers, one answer, no spread, a chain of one site, linked alerts, windows
still running, a week's t exactly at the dip threshold) and, through the store on both engines,
on a generated chain with its logged actions (one of them twice)."""

from __future__ import annotations

import random
from datetime import date, timedelta

import numpy as np
import pytest

from server_sync.analysis import queries
from server_sync.analysis.actions import with_effects
from server_sync.analysis.effects import action_effect, span
from server_sync.analysis.effects_batch import ACTION_AT, SPAN_DAYS, ActionDays, action_effects
from server_sync.protocol.tally import Tally
from tests.analysis.test_effects import ACTION, chain as drawn_chain


def same(plain, batch, where: str = "") -> None:
    """Equal, floats to the last bit (so a verdict or a dip's start at a threshold never differs);
    on a difference, says where."""
    if isinstance(plain, dict):
        assert isinstance(batch, dict) and plain.keys() == batch.keys(), where
        for k in plain:
            same(plain[k], batch[k], f"{where}.{k}")
    else:
        assert type(plain) is type(batch) and plain == batch, (where, plain, batch)


def as_array(series: dict[date, Tally] | None, action: date) -> np.ndarray:
    out = np.zeros((SPAN_DAYS, 5), dtype=np.int64)
    first = span(action)[0]
    for day, t in (series or {}).items():
        if 0 <= (day - first).days < SPAN_DAYS:
            out[(day - first).days] = (t.n, t.sum_v, t.sum_v2, t.top2, t.negative)
    return out


def both(cases: list[tuple], today_of, control: bool = True) -> int:
    """Run plain and batch over `cases` (site, chain, scale, action, alert_day[, scale_until]); the
    number compared."""
    cases = [c if len(c) == 6 else (*c, None) for c in cases]
    actions = [ActionDays(scale, action, alert, until) for _s, _c, scale, action, alert, until in cases]
    site = np.stack([as_array(s, action) for s, _c, _sc, action, _a, _u in cases])
    whole = np.stack([as_array(c, action) for _s, c, _sc, action, _a, _u in cases]) if control else None
    batch = action_effects(actions, site, whole, today_of)
    for i, (s, c, scale, action, alert, until) in enumerate(cases):
        same(action_effect(s, c if control else None, scale, action, today_of, alert_day=alert, scale_until=until),
             batch[i], f"[{i}]")
    return len(cases)


def test_drawn_chains_with_dips_effects_and_alerts_give_the_plain_result():
    cases = []
    for seed in range(60):
        site, whole = drawn_chain(seed, effect=(seed % 3) * 4.0, dip_days=seed % 6, dip_size=(seed % 4) * 6.0)
        alert = None if seed % 4 else ACTION - timedelta(days=1 + seed % 34)
        cases.append((site, whole, "smiley4", ACTION, alert))
    assert both(cases, ACTION + timedelta(days=40)) == 60
    assert both(cases, ACTION + timedelta(days=40), control=False) == 60


def awkward(rng: random.Random, scale: str, action: date) -> tuple[dict, dict]:
    """A site and a chain over the action's span with gaps, single answers, flat stretches and
    days the rest of the chain was silent."""
    first, last = span(action)
    lo, hi = (0, 10) if scale == "nps11" else (1, 4 if scale == "smiley4" else 5)
    site, whole = {}, {}
    flat = rng.random() < 0.2
    one_site = rng.random() < 0.15
    for i in range((last - first).days + 1):
        day = first + timedelta(days=i)
        if rng.random() < 0.3:
            continue
        n = 1 if rng.random() < 0.2 else rng.randint(1, 12)
        values = [hi if flat else rng.randint(lo, hi) for _ in range(n)]
        top = sum(v >= (9 if scale == "nps11" else hi - 1) for v in values)
        neg = sum(v <= (6 if scale == "nps11" else lo + 1 if scale == "smiley4" else lo + 1) for v in values)
        own = Tally(scale, n, sum(values), sum(v * v for v in values), top, neg)
        site[day] = own
        if one_site or rng.random() < 0.1:
            whole[day] = own
        else:
            extra = rng.randint(1, 40)
            whole[day] = own + Tally(scale, extra, extra * rng.randint(lo, hi), extra * hi * hi, extra // 2, extra // 4)
    return site, whole


@pytest.mark.parametrize("scale", ["smiley4", "smiley5", "nps11"])
def test_awkward_series_give_the_plain_result(scale):
    rng = random.Random(scale)
    cases = []
    for i in range(150):
        action = date(2026, 3, 1) + timedelta(days=i)
        site, whole = awkward(rng, scale, action)
        alert = rng.choice([None, None, action - timedelta(days=rng.randint(0, 40))])
        # Now and then the question asked on another scale from a day of the after-window (or
        # before the action, or long after it): the window ends there, in both versions.
        until = rng.choice([None, None, None, action + timedelta(days=rng.randint(-3, 40))])
        cases.append((site, whole, scale, action, alert, until))
    cases.append(({}, {}, scale, date(2026, 3, 1), None))                     # nothing at all
    for today in (date(2026, 3, 1), date(2026, 4, 15), date(2026, 9, 1)):     # running, some over, all over
        both(cases, today)


def test_one_batch_of_several_scales_keeps_each_actions_own(tmp_path):
    rng = random.Random(5)
    cases = []
    for i, scale in enumerate(["nps11", "smiley4", "smiley5"] * 10):
        action = date(2026, 5, 1) + timedelta(days=i)
        site, whole = awkward(rng, scale, action)
        cases.append((site, whole, scale, action, None))
    assert both(cases, date(2026, 12, 1)) == 30


def test_a_week_exactly_at_the_dip_threshold_is_judged_alike():
    # A t of -2.0 with the squares as powers and -2.0000000000000004 as products: the plain
    # version once squared by pow(), numpy by multiplying, and the dip's start differed.
    huge, s = 41132251, 137916029
    site = {date(2026, 8, 12): (huge, s), date(2026, 8, 13): (huge, s),
            date(2026, 9, 17): (5, 16), date(2026, 9, 18): (4, 11), date(2026, 9, 19): (1, 2)}
    site = {d: Tally("smiley4", n, v, v * v, 0, 0) for d, (n, v) in site.items()}
    action = date(2026, 10, 1)
    assert both([(site, dict(site), "smiley4", action, None)], action + timedelta(days=40)) == 1


def test_the_offsets_are_spans():
    first, last = span(ACTION)
    assert first + timedelta(days=ACTION_AT) == ACTION and (last - first).days + 1 == SPAN_DAYS


@pytest.mark.slow
def test_a_generated_chains_actions_read_from_the_store_give_the_plain_result(central_db):
    from seeds.history import HistorySpec, generate
    generate(central_db, HistorySpec(sites=8, days=240, seed=11, dips_per_year=9), progress=lambda *a: None)
    acts = queries.actions(central_db, queries.ReportFilter())
    acts.append(dict(acts[0]))                  # the same action twice: each row gets its days
    # Alerts on some sites, before and after their actions, so some baselines end at an alert.
    p = central_db.param
    for a in acts[::3]:
        raised = f"{date.fromisoformat(a['date']) - timedelta(days=10)} 12:00:00"
        central_db.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from,"
                               f" window_to, n, negative, message) VALUES ({p}, {p}, 'realtime', {p}, {p}, {p}, {p},"
                               " 8, 6, 'dip')", (a["site_id"], a["question_id"], raised, raised, raised, raised))
    assert len(acts) >= 10
    catalogue = queries.questions(central_db)
    kinds = {a["id"]: (catalogue[a["question_id"]]["audience"], catalogue[a["question_id"]]["scale"]) for a in acts}
    today = date(2026, 11, 1)
    series = queries.action_series(central_db, acts, kinds, span)
    site, whole = queries.action_arrays(central_db, acts, kinds, span)
    alert_days = queries.action_alert_days(central_db, acts, 28)
    assert len(alert_days) >= len(acts) // 4
    batch = with_effects(central_db, acts, catalogue, today)
    for i, a in enumerate(acts):
        s = series.get(a["id"], {"site": {}, "chain": {}})
        action = date.fromisoformat(a["date"])
        assert (site[i] == as_array(s["site"], action)).all() and (whole[i] == as_array(s["chain"], action)).all()
        plain = action_effect(s["site"], s["chain"], catalogue[a["question_id"]]["scale"], action, today,
                              alert_day=alert_days.get(a["id"]))
        same(dict(a, audience=kinds[a["id"]][0], scale=kinds[a["id"]][1], series_id=a["question_id"], **plain),
             batch[i], a["id"])
    assert {b["dip"]["source"] for b in batch} >= {"alert", None}
    assert {b["verdict"] for b in batch} >= {"pending", "no_detectable_effect"}


def test_gaps_without_spread_beside_a_control_are_too_little_data_plain_and_batch():
    """Two reviews' cases of a control whose gap to the site never varies: the site one face above
    the rest every day (gaps 33.333333333333336 and ...33: "worse", p 5e-6, an interval 1e-14
    wide), and the site like the rest every day while its answers move between days of 2s and of
    4s (its own change, +54.5, p 1e-35, read as the action's). No test measures that difference
    in differences: too little data, in both versions."""
    action = date(2026, 6, 1)
    first, last = span(action)
    rng = random.Random(3)
    above, alike = ({}, {}), ({}, {})
    for i in range((last - first).days + 1):
        day = first + timedelta(days=i)
        face = rng.choice([1, 2, 3])
        own = Tally.from_counts("smiley4", {face + 1: rng.randint(1, 5)})
        above[0][day], above[1][day] = own, own + Tally.from_counts("smiley4", {face: rng.randint(1, 9)})
        low = (day < action) == (i % 2 == 1)                # many answers on the 2-days before, few after
        face, n = (2, 10) if i % 2 else (4, 10)
        own = Tally.from_counts("smiley4", {face: 10 if low else 1})
        alike[0][day], alike[1][day] = own, own + Tally.from_counts("smiley4", {face: n})
    cases = [(site, whole, "smiley4", action, None) for site, whole in (above, alike)]
    assert both(cases, action + timedelta(days=40)) == 2
    for site, whole in (above, alike):
        r = action_effect(site, whole, "smiley4", action, action + timedelta(days=40))
        assert (r["method"], r["verdict"], r["test"]) == ("difference-in-differences", "too_little_data", None)
