"""benchmarks/enas_compare.py: a weight-sharing search's query budget fills its seconds."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from conftest import REPO_ROOT

from nasgym.agents import make_agent

spec = importlib.util.spec_from_file_location("enas_compare", REPO_ROOT / "benchmarks" / "enas_compare.py")
enas_compare = importlib.util.module_from_spec(spec)
sys.modules["enas_compare"] = enas_compare
spec.loader.exec_module(enas_compare)


@pytest.mark.parametrize("candidates", [None, 100])
def test_the_budget_is_the_largest_whose_queries_fit_in_the_seconds(candidates):
    agent = make_agent("enas", candidates=candidates)

    def seconds_of(budget: int) -> float:
        n = agent.n_candidates(budget)
        return (budget - n) * 2.5 + n * 0.25

    budget = enas_compare.weight_sharing_budget(60.0, 2.5, 0.25, agent.n_candidates)
    assert seconds_of(budget) <= 60.0 < seconds_of(budget + 1)
    assert 1 <= agent.n_candidates(budget) < budget  # the agent accepts it
    if candidates is None:  # the agents' rule: half the budget scores candidates
        assert budget == 42  # 21 trainings (52.5 s) and 21 candidates (5.25 s); a 22nd training passes 60 s
    else:
        assert budget == 114  # 100 candidates (25 s) leave 35 s: 14 trainings


def test_too_few_seconds_for_one_training_and_the_candidates_is_refused():
    with pytest.raises(ValueError, match="seconds: 20 s do not fit one training query"):
        enas_compare.weight_sharing_budget(20.0, 2.5, 0.25, make_agent("rsps", candidates=100).n_candidates)
