"""benchmarks/l2nas_diagnosis.py: its rank correlation and its probe of a trained critic."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location("l2nas_diagnosis", REPO_ROOT / "benchmarks" / "l2nas_diagnosis.py")
diagnosis = importlib.util.module_from_spec(spec)
sys.modules["l2nas_diagnosis"] = diagnosis
spec.loader.exec_module(diagnosis)


def test_ranks_share_their_mean_rank_on_ties():
    np.testing.assert_array_equal(diagnosis.ranks(np.array([3.0, 1.0, 3.0, 2.0])), [2.5, 0.0, 2.5, 1.0])


def test_spearman_is_pearson_of_the_ranks():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 50).astype(float)  # many ties
    b = a + rng.normal(0.0, 2.0, 50)
    assert diagnosis.spearman(a, np.exp(a)) == pytest.approx(1.0)  # any increasing map
    assert diagnosis.spearman(a, -a) == pytest.approx(-1.0)
    ranks_a = np.array([np.mean(np.flatnonzero(np.sort(a) == value)) for value in a])
    ranks_b = np.argsort(np.argsort(b)).astype(float)  # no ties in b
    assert diagnosis.spearman(a, b) == pytest.approx(np.corrcoef(ranks_a, ranks_b)[0, 1])


@pytest.mark.parametrize("agent", diagnosis.CRITIC_AGENTS)
def test_the_critic_is_probed_after_a_search(agent):
    accuracy = diagnosis.seed_mean_accuracy("cifar10")
    rho = diagnosis.critic_ranking(agent, seed=0, budget=25, probe=30, accuracy=accuracy)
    assert -1.0 <= rho <= 1.0
    assert rho == diagnosis.critic_ranking(agent, seed=0, budget=25, probe=30, accuracy=accuracy)  # same seed
