"""The selection rule: the best mean of an architecture's observations, ties to the first queried."""

from __future__ import annotations

import math

import numpy as np
from conftest import selected_by_definition

from nasgym.selection import Incumbent


def test_incumbent_agrees_with_the_definition_on_random_histories():
    rng = np.random.default_rng(0)
    values = [70.0, 80.0, 85.0, 85.0 + 1e-12, 90.0, math.nan]  # ties, a near-tie and NaN draws
    for _ in range(500):
        incumbent = Incumbent()
        indices, observed = [], []
        for _ in range(int(rng.integers(1, 30))):
            index, value = int(rng.integers(0, 6)), values[int(rng.integers(0, len(values)))]
            changed = incumbent.observe(index, value)
            before = selected_by_definition(indices, observed)[0] if indices else -1
            indices.append(index)
            observed.append(value)
            expected, mean = selected_by_definition(indices, observed)
            assert incumbent.index == expected and changed == (expected != before)
            if expected >= 0:
                assert incumbent.mean == mean == incumbent.mean_of(expected)


def test_a_redrawn_architecture_is_ranked_by_its_mean():
    incumbent = Incumbent()
    incumbent.observe(1, 85.0)
    incumbent.observe(2, 90.0)  # a lucky draw leads ...
    assert (incumbent.index, incumbent.mean) == (2, 90.0)
    assert incumbent.observe(2, 70.0)  # ... until its next draw: mean 80 < 85
    assert (incumbent.index, incumbent.mean) == (1, 85.0)
    assert not incumbent.observe(2, 95.0)  # mean 85: tied with arch 1, which was queried first
    assert incumbent.index == 1
    assert incumbent.count(2) == 3 and len(incumbent) == 2
    assert list(incumbent.items()) == [(1, 85.0, 1), (2, 85.0, 3)]


def test_nan_means_never_lead():
    incumbent = Incumbent()
    assert not incumbent.observe(3, math.nan)
    assert (incumbent.index, incumbent.mean) == (-1, -math.inf)
    incumbent.observe(4, 50.0)
    assert incumbent.observe(4, math.nan)  # its mean is NaN now: nothing leads
    assert (incumbent.index, incumbent.mean) == (-1, -math.inf)
