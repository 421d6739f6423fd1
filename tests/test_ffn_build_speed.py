"""benchmarks/ffn_build_speed.py: the networks it trains one at a time."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location("ffn_build_speed", REPO_ROOT / "benchmarks" / "ffn_build_speed.py")
speed = importlib.util.module_from_spec(spec)
sys.modules["ffn_build_speed"] = speed
spec.loader.exec_module(speed)  # the script puts benchmarks/ on sys.path itself (it imports speed_nb201)


def test_every_network_without_a_sample():
    np.testing.assert_array_equal(speed.alone_positions(400, None), np.arange(400))


def test_a_sample_is_distinct_sorted_and_seeded():
    positions = speed.alone_positions(8000, 400)
    assert len(np.unique(positions)) == 400 and np.all(np.diff(positions) > 0)
    assert 0 <= positions[0] and positions[-1] < 8000
    np.testing.assert_array_equal(positions, speed.alone_positions(8000, 400))
    assert not np.array_equal(positions, speed.alone_positions(8000, 400, seed=1))


@pytest.mark.parametrize("sample", [0, 401])
def test_a_sample_outside_the_space_is_refused(sample):
    with pytest.raises(ValueError, match=r"--alone-sample must be in \[1, 400\]"):
        speed.alone_positions(400, sample)
