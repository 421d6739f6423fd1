"""MCTS on the Sequential env: the UCT choice against a hand computation, no architecture queried twice
before the whole space has been, the optimum of a small space, same seed same run on NAS-Bench-201,
and clear errors for bad arguments and envs it cannot drive (the registry-wide claim and toy-space
tests are in test_agents.py)."""

from __future__ import annotations

import io
import math

import gymnasium as gym
import pytest
from test_agents import ToyEvaluator, toy_env

from nasgym.agents import make_agent
from nasgym.agents.mcts import MCTSNode, ucb
from nasgym.cli import main


def node(visits: int, value_sum: float, exhausted: bool = False) -> MCTSNode:
    made = MCTSNode([])
    made.visits, made.value_sum, made.exhausted = visits, value_sum, exhausted
    return made


def test_uct_selection_matches_a_hand_computation():
    parent = node(10, 7.9)
    parent.children = {0: node(9, 7.2), 1: node(1, 0.7)}
    # by hand: token 0: 0.8 + 2 * 0.1 * sqrt(2 ln 10 / 9) = 0.94306; token 1: 0.7 + 0.2 * sqrt(2 ln 10) = 1.12919
    assert math.isclose(ucb(0.8, 9, 10, 0.1), 0.94306, abs_tol=1e-5)
    assert math.isclose(ucb(0.7, 1, 10, 0.1), 1.12919, abs_tol=1e-5)
    assert make_agent("mcts", cp=0.1).select_child(parent) == 1  # the less visited child's bonus wins
    assert make_agent("mcts", cp=0.0).select_child(parent) == 0  # no exploration: the better mean
    # token 1 with cp = 0.02: 0.7 + 0.04 * 2.1460 = 0.7858 < token 0's 0.8 + 0.04 * 0.7153 = 0.8286
    assert make_agent("mcts", cp=0.02).select_child(parent) == 0
    parent.children[1].exhausted = True  # every architecture below it queried: never selected
    parent.children[0].value_sum = 0.0
    assert make_agent("mcts", cp=0.1).select_child(parent) == 0
    assert make_agent("mcts", cp=0.1).select_child(parent, skip_exhausted=False) == 1


def test_no_architecture_is_queried_twice_until_every_one_has_been():
    evaluator = ToyEvaluator(n_decisions=3, n_choices=4, noise_std=1.0)  # 64 architectures
    agent = make_agent("mcts")
    result = agent.run(toy_env("mcts", 64 + 20, evaluator), seed=0)
    indices = [q["index"] for q in result.queries]
    assert sorted(indices[:64]) == list(range(64))  # each once, the optimum among them
    assert len(indices) == 84 and set(indices[64:]) <= set(range(64))  # then queries go on, repeating
    assert agent.root.exhausted and agent.root.visits >= 84


def test_the_tree_follows_the_spaces_sequence_and_counts_every_simulation():
    evaluator = ToyEvaluator(n_decisions=3, n_choices=4)
    agent = make_agent("mcts")
    result = agent.run(toy_env("mcts", 30, evaluator), seed=1)
    root = agent.root
    assert set(root.children) | set(root.untried) == {0, 1, 2, 3}
    # every simulation passes the root: the queries, and the iterations that met a queried architecture
    assert root.visits >= len(result.queries)
    assert root.visits == sum(child.visits for child in root.children.values())
    assert math.isclose(root.value_sum, sum(child.value_sum for child in root.children.values()))


def test_same_seed_same_run_on_nas_bench_201():
    def indices(seed: int) -> list[int]:
        env = gym.make("NAS-Bench-201-Sequential-v0", dataset="cifar10", budget=600)
        return [q["index"] for q in make_agent("mcts").run(env, seed=seed).queries]

    first = indices(3)
    assert len(set(first)) == 600  # seed noise, and still no repeated query
    assert indices(3) == first
    assert indices(4) != first


@pytest.mark.parametrize("cp", [-0.1, math.nan, math.inf, "0.1", True])
def test_bad_exploration_constant_is_refused(cp):
    with pytest.raises(ValueError, match="cp must be a finite number >= 0"):
        make_agent("mcts", cp=cp)


def test_envs_it_cannot_drive_are_refused_before_any_query():
    with pytest.raises(ValueError, match="agent 'mcts' searches Sequential envs only"):
        make_agent("mcts").run(toy_env("random", 10), seed=0)  # a Global env
    env = gym.make("ConvNet-Sequential-v0", budget=5, evaluator="synthetic")
    with pytest.raises(ValueError, match="agent 'mcts' cannot search ConvNet-Sequential-v0: .* SequentialNASEnv"):
        make_agent("mcts").run(env, seed=0)
    assert env.unwrapped.history.n_queries == 0


def test_cli_names_a_bad_argument(capsys):
    argv = ["search", "--env", "NAS-Bench-201-Sequential-v0", "--agent", "mcts", "--agent-arg", "cp=-1"]
    with pytest.raises(SystemExit):
        main(argv, stdout=io.StringIO())
    assert "cp must be a finite number >= 0" in capsys.readouterr().err
