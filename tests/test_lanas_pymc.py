"""LaNAS's PyMC leaf sampler (the optional ``lanas`` extra; skipped without PyMC): every kept
architecture satisfies all constraints of its region, the same seed draws the same architectures,
and a search on NAS-Bench-201 forced into it runs and records its models."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from test_lanas import LARGE, fitted_tree, leaves

from nasgym.agents.lanas import LaNAS, PymcLeafSampler

pytest.importorskip("pymc")

#: few draws: each region's model is built and sampled once per test.
SMALL = {"chains": 2, "draws": 60, "tune": 20}


def test_every_kept_sample_satisfies_every_constraint_of_its_region():
    sampler = PymcLeafSampler(LARGE, **SMALL)
    tree, fitted = fitted_tree(LARGE, lambda c: sampler.encode(None, c), seed=3)
    sampler.repartition(tree)
    rng = np.random.default_rng(0)
    kept = 0
    for node in leaves(tree)[:3]:
        region = fitted[tree.satisfies(node, sampler.encode(None, fitted))]
        first = sampler.sample(node, region, rng)
        assert first is not None, f"no sample in region {node}"
        drawn = np.array([first, *sampler.cache[node]])  # every architecture the model's draws kept
        features = sampler.encode(None, drawn)
        assert tree.satisfies(node, features).all()
        assert (tree.leaf_of(features) == node).all()
        kept += len(drawn)
    # one model per region; what was kept passed the test, what was rejected failed it
    assert sampler.models == 3 and sampler.regions_given_up == 0
    assert kept <= sampler.proposed - sampler.rejected


def test_the_same_seed_draws_the_same_architectures():
    def draws(seed: int) -> np.ndarray:
        sampler = PymcLeafSampler(LARGE, **SMALL)
        tree, fitted = fitted_tree(LARGE, lambda c: sampler.encode(None, c), seed=1)
        sampler.repartition(tree)
        node = leaves(tree)[0]
        region = fitted[tree.satisfies(node, sampler.encode(None, fitted))]
        first = sampler.sample(node, region, np.random.default_rng(seed))
        return np.array([first, *sampler.cache[node]])

    first = draws(7)
    assert np.array_equal(first, draws(7))
    assert not np.array_equal(first, draws(8))


def test_lanas_on_nas_bench_201_forced_into_the_pymc_sampler():
    env = gym.make("NAS-Bench-201-Global-v0", budget=15)
    result = LaNAS(sampler="pymc", n_init=5, refit_interval=10).run(env, seed=0)
    stats = result.agent_stats
    assert len(result.queries) == 15
    assert stats["sampler"] == "pymc" and stats["encoding"] == "features"
    assert stats["models"] >= 1 and stats["proposed"] > 0
    indices = [q["index"] for q in result.queries]
    assert len(set(indices)) == len(indices)  # never an architecture twice while the space has new ones
