"""A tally's values' counts recovered from its sufficient statistics (`Tally.value_counts`, what
the change test's exact permutation reads): every group of answers gives back its counts, and
statistics no answers can have are a clear error."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from server_sync.protocol.scales import SCALES
from server_sync.protocol.tally import Tally


@pytest.mark.parametrize("scale", ["smiley4", "smiley5"])
def test_every_group_of_answers_gives_back_its_counts(scale):
    values = SCALES[scale].values
    for n in range(10):                                       # every group of up to nine answers
        for answers in itertools.combinations_with_replacement(values, n):
            counts = tuple(answers.count(v) for v in values)
            assert Tally.from_counts(scale, dict(zip(values, counts))).value_counts() == counts
    rng = np.random.default_rng(len(values))
    for counts in rng.multinomial(100_000, [1 / len(values)] * len(values), 200):    # and large ones
        counts = tuple(int(c) for c in counts)
        assert Tally.from_counts(scale, dict(zip(values, counts))).value_counts() == counts


@pytest.mark.parametrize("change", [{"sum_v2": 1}, {"sum_v": 1}, {"negative": -1}, {"top2": 1}, {"n": 50}])
def test_statistics_no_answers_have_are_an_error(change):
    tally = Tally.from_counts("smiley4", {1: 3, 2: 1, 4: 7})
    broken = dataclasses.replace(tally, **{k: getattr(tally, k) + d for k, d in change.items()})
    with pytest.raises(ValueError, match="no answers on smiley4 have these statistics"):
        broken.value_counts()


def test_nps_counts_are_not_in_its_statistics():
    with pytest.raises(ValueError, match="nps11: the values' counts are not in its statistics"):
        Tally.from_counts("nps11", {10: 3, 0: 1}).value_counts()
