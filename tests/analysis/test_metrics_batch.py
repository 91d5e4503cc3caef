"""`metrics_batch.metrics_dicts` (many tallies at once, numpy) against the plain
`metrics.metrics_dict`, one tally at a time: the same dicts, floats to the last bit, on every
scale, on drawn groups of every size and at the edges (no answers, one answer, all the same
answer, all at the top or the bottom, huge groups)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from server_sync.analysis.metrics import metrics_dict
from server_sync.analysis.metrics_batch import metrics_dicts
from server_sync.protocol.scales import SCALES
from server_sync.protocol.tally import Tally
from tests.analysis.test_effects_batch import same


def _edges(scale: str) -> list[Tally]:
    values = SCALES[scale].values
    out = [Tally(scale)]
    for v in values:
        out += [Tally.from_counts(scale, {v: k}) for k in (1, 2, 29, 30, 1000)]
    out.append(Tally.from_counts(scale, {values[0]: 3, values[-1]: 3}))
    out.append(Tally.from_counts(scale, {v: 250_000 for v in values}))
    return out


def _drawn(scale: str, rng: random.Random, count: int) -> list[Tally]:
    values = SCALES[scale].values
    out = []
    for _ in range(count):
        size = rng.choice([1, 2, 3, 5, 10, 29, 30, 31, 100, 1000, 20_000])
        weights = [rng.random() ** 3 for _v in values]
        drawn = rng.choices(values, weights, k=min(size, 2000))
        counts: dict[int, int] = {}
        for v in drawn:
            counts[v] = counts.get(v, 0) + (size // len(drawn) or 1)
        out.append(Tally.from_counts(scale, counts))
    return out


@pytest.mark.parametrize("scale", sorted(SCALES))
def test_every_tally_gives_the_plain_dict(scale):
    tallies = _edges(scale) + _drawn(scale, random.Random(scale), 600)
    rows = np.array([(t.n, t.sum_v, t.sum_v2, t.top2, t.negative) for t in tallies], dtype=np.int64)
    batch = metrics_dicts(scale, rows)
    assert len(batch) == len(tallies)
    for i, t in enumerate(tallies):
        same(metrics_dict(t), batch[i], f"[{i}] {t}")


def test_a_plain_difference_is_caught():
    # The comparison itself: a value off in its last digit is found.
    t = Tally.from_counts("smiley4", {4: 7, 1: 2})
    batch = metrics_dicts("smiley4", np.array([(t.n, t.sum_v, t.sum_v2, t.top2, t.negative)]))[0]
    batch["happy_index"]["high"] += 0.01
    with pytest.raises(AssertionError):
        same(metrics_dict(t), batch)
