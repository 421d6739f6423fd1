"""benchmarks/ffn_build_speed.py: the networks it trains one at a time and its estimate from a sample."""

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


@pytest.mark.parametrize("sample", [0, 1, 401])
def test_a_sample_outside_the_space_is_refused(sample):
    with pytest.raises(ValueError, match=r"--alone-sample must be in \[2, 400\]"):
        speed.alone_positions(400, sample)


def test_the_whole_space_is_its_own_total():
    assert speed.estimate_total(np.array([1.0, 2.0, 4.0]), 3) == (7.0, 0.0)


def test_a_sample_scales_its_mean_with_the_finite_population_correction():
    seconds = np.array([1.0, 2.0, 3.0, 6.0])
    total, error = speed.estimate_total(seconds, 20)
    assert total == pytest.approx(20 * 3.0)
    assert error == pytest.approx(20 * np.std(seconds, ddof=1) / 2 * np.sqrt(1 - 4 / 20))


def test_the_standard_error_covers_the_total_of_random_samples():
    population = np.random.default_rng(1).exponential(size=500)
    inside = 0
    for seed in range(200):
        sample = population[speed.alone_positions(500, 50, seed=seed)]
        total, error = speed.estimate_total(sample, 500)
        inside += abs(total - population.sum()) <= 1.96 * error
    assert 0.88 <= inside / 200 <= 0.99  # about 95% of the 95% intervals hold the true total


def test_one_sampled_network_has_no_standard_error():
    with pytest.raises(ValueError, match="no standard error"):
        speed.estimate_total(np.array([1.0]), 20)
