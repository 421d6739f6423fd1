"""benchmarks/lanas_sample_efficiency.py: a run stops once it has found the optimum and made its
minimum of queries, the speedup is a ratio of medians (censored runs counting as more than any cap),
and the README's block is what the script writes from the committed runs."""

from __future__ import annotations

import importlib.util
import math

import gymnasium as gym
import numpy as np
import pytest
from conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location(
    "lanas_sample_efficiency", REPO_ROOT / "benchmarks" / "lanas_sample_efficiency.py"
)
sample_efficiency = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sample_efficiency)


def test_a_run_stops_once_it_has_found_the_optimum_and_made_its_minimum_of_queries():
    env = gym.make("NAS-Bench-201-Global-v0", dataset="cifar10", budget=100)
    optimum = int(env.unwrapped.evaluator.space.index_of(np.zeros(6, dtype=np.int64)))  # any index stands in
    wrapped = sample_efficiency.StopAtOptimum(env, [optimum], min_queries=5)
    wrapped.reset(seed=0)
    truncated = [wrapped.step(np.array([1, 1, 1, 1, 1, 1]))[3] for _ in range(3)]
    assert truncated == [False] * 3  # not found yet
    assert not wrapped.step(np.zeros(6, dtype=np.int64))[3]  # found at the 4th query, 5 to make
    assert wrapped.step(np.array([1, 1, 1, 1, 1, 1]))[3]  # the 5th ends the run


def test_the_speedup_is_a_ratio_of_medians_with_censored_runs_above_any_cap():
    lanas = np.array([10.0, 20.0, 30.0])
    ratio = sample_efficiency.median_ratio(np.array([100.0, 200.0, 300.0]), lanas)
    assert ratio["ratio"] == 10.0 and ratio["low"] <= 10.0 <= ratio["high"]
    censored = sample_efficiency.median_ratio(np.array([100.0, math.inf, math.inf]), lanas)
    assert math.isinf(censored["ratio"]) and math.isinf(censored["high"])
    assert sample_efficiency.median_ratio(7813.0, np.array([100.0, 100.0]))["ratio"] == 78.13
    assert math.isnan(sample_efficiency.median_ratio(np.array([math.inf]), np.array([math.inf]))["ratio"])


def test_the_readme_block_is_what_the_script_writes_from_the_committed_runs():
    runs = REPO_ROOT / "benchmarks" / "results" / "lanas" / sample_efficiency.RUNS_FILE
    if not runs.is_file():
        pytest.skip("no committed sample-efficiency runs")
    summary = sample_efficiency.summarise(sample_efficiency.read_rows(runs))
    readme = (REPO_ROOT / "README.md").read_text()
    expected = f"{sample_efficiency.README_START}\n\n{sample_efficiency.table(summary)}\n{sample_efficiency.README_END}"
    assert expected in readme
