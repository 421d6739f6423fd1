"""The shared Q-network of the dqn-arch space and its supernet evaluator: a sliced sub-network is the
standalone Q-network holding those weights, a training step moves only the blocks its architecture
used, queries train then score (frozen ones only score), the same configuration gives the same
answers, Double DQN training resumes exactly, ENAS runs on the envs, bad arguments are named, and
benchmarks/dqn_arch_enas.py records its runs against the committed table."""

from __future__ import annotations

import importlib.util
import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from torch import nn

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.agents import make_agent
from nasgym.agents.weight_sharing import SharedWeightsResult
from nasgym.evaluators.rl import DQNSupernetEvaluator
from nasgym.evaluators.supernet import SupernetEvaluator, make_supernet_evaluator
from nasgym.models.dqn_supernet import SharedQNetwork
from nasgym.spaces import get_space
from nasgym.training.dqn import DoubleDQN, DQNConfig, QEnsemble

SPACE = get_space("dqn-arch")
#: a few environment steps per query that still take gradient steps and target updates; 2 greedy episodes
TINY = {
    "steps": 16, "learning_starts": 0, "train_freq": 8, "gradient_steps": 2, "batch_size": 8, "buffer_size": 64,
    "target_update_interval": 8, "eval_episodes": 2, "device": "cpu", "num_threads": 1,
}  # fmt: skip
ARCHS = [([64, 64], ["relu", "relu"]), ([256, 1024], ["sigmoid", "relu"]), ([2048, 128], ["relu", "sigmoid"])]


def full_weights(network: SharedQNetwork) -> list[torch.Tensor]:
    """The widest network's weights and biases (copies), whatever architecture is selected."""
    selected = network.selected
    network.select([2048, 2048], ["relu", "relu"])
    tensors = [t.detach().clone() for layer in range(3) for t in network.layer(layer)]
    network.select(*selected)
    return tensors


def index_of(widths: list[int], activations: list[str]) -> int:
    choices = [SPACE.choices[0].index(str(widths[0])), SPACE.choices[1].index(activations[0])]
    choices += [SPACE.choices[2].index(str(widths[1])), SPACE.choices[3].index(activations[1])]
    return int(SPACE.index_of(np.array(choices)))


@pytest.mark.parametrize("widths, activations", ARCHS, ids=["64-64", "256-1024", "2048-128"])
def test_a_sliced_sub_network_computes_the_standalone_network_with_the_sliced_weights(widths, activations):
    network = SharedQNetwork(4, 2, torch.Generator().manual_seed(0))
    weights = full_weights(network)
    network.select(widths, activations)
    # the standalone Q-network written with torch's own layers, holding the leading slices
    sizes = [4, *widths, 2]
    layers: list[nn.Module] = []
    for layer in range(3):
        linear = nn.Linear(sizes[layer], sizes[layer + 1])
        with torch.no_grad():
            linear.weight.copy_(weights[2 * layer][0, : sizes[layer], : sizes[layer + 1]].T)
            linear.bias.copy_(weights[2 * layer + 1][0, 0, : sizes[layer + 1]])
        layers.append(linear)
        if layer < 2:
            layers.append(nn.ReLU() if activations[layer] == "relu" else nn.Sigmoid())
    standalone = nn.Sequential(*layers)
    observations = torch.randn(1, 7, 4)
    with torch.no_grad():
        assert torch.allclose(network(observations)[0], standalone(observations[0]), atol=1e-5)
        rng_state = torch.get_rng_state()
        extracted = network.extract()
        assert torch.equal(torch.get_rng_state(), rng_state)  # the caller's rng untouched
        assert isinstance(extracted, QEnsemble)
        assert torch.allclose(extracted(observations), network(observations), atol=1e-6)
        assert sum(p.numel() for p in extracted.parameters()) == SPACE.param_count(
            SPACE.choices_of(index_of(widths, activations)), 4, 2
        )
        network.select([widths[0], 64 if widths[1] != 64 else 128], activations)  # another width: another function
        assert not torch.allclose(network(observations), extracted(observations), atol=1e-3)


def test_a_step_moves_only_the_slices_its_architecture_used():
    evaluator = DQNSupernetEvaluator(**TINY)
    network = evaluator.agent.online
    evaluator.evaluate_one(index_of([2048, 2048], ["relu", "relu"]))  # every weight has Adam moments now
    before = full_weights(network)
    widths = [128, 256]
    evaluator.evaluate_one(index_of(widths, ["sigmoid", "relu"]))
    after = full_weights(network)
    used = [  # the leading slice of each weight and bias the architecture reads
        (slice(None), slice(None), slice(0, widths[0])), (slice(None), slice(None), slice(0, widths[0])),
        (slice(None), slice(0, widths[0]), slice(0, widths[1])), (slice(None), slice(None), slice(0, widths[1])),
        (slice(None), slice(0, widths[1]), slice(None)), (slice(None), slice(None), slice(None)),
    ]  # fmt: skip
    for old, new, inside in zip(before, after, used, strict=True):
        moved = old != new
        assert moved[inside].any()
        moved[inside] = False
        assert not moved.any()  # outside the slice: not even Adam's momentum from the widest network's step


def test_queries_train_then_score_and_frozen_queries_only_score():
    evaluator = DQNSupernetEvaluator(**TINY)
    first = evaluator.evaluate_one(42)
    assert evaluator.trained_steps == first["trained_steps"] == 16
    assert first["valid_acc"] >= 100.0 and first["test_acc"] >= 100.0 and first["cost"] > 0  # CartPole: >= 1 step
    assert first["params"] == pytest.approx(SPACE.param_count(SPACE.choices_of(42), 4, 2) / 1e6)
    weights = full_weights(evaluator.agent.online)
    with evaluator.frozen():
        frozen = evaluator.evaluate(np.array([42, 7, 42]))
    assert evaluator.trained_steps == 16
    assert all(torch.equal(a, b) for a, b in zip(full_weights(evaluator.agent.online), weights, strict=True))
    assert frozen["valid_acc"][0] == frozen["valid_acc"][2] == first["valid_acc"]  # seeded greedy episodes
    evaluator.evaluate_one(42)
    assert evaluator.trained_steps == 32


@pytest.mark.parametrize("sampling", ["architecture", "uniform"])
def test_the_same_configuration_gives_the_same_answers(sampling):
    runs = []
    for seed in (0, 0, 1):
        evaluator = DQNSupernetEvaluator(**TINY, sampling=sampling, seed=seed)
        runs.append([evaluator.evaluate_one(i)["valid_acc"] for i in (0, 42, 42, 61)])
        runs[-1].append(full_weights(evaluator.agent.online)[2].sum().item())
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_uniform_sampling_trains_other_architectures_than_the_queried_one():
    moved = {}
    for sampling in ("architecture", "uniform"):
        evaluator = DQNSupernetEvaluator(**TINY, sampling=sampling)
        before = full_weights(evaluator.agent.online)[2]
        for _ in range(4):
            evaluator.evaluate_one(0)  # 64-64: the corner [:64, :64] of the second layer
        after = full_weights(evaluator.agent.online)[2]
        moved[sampling] = bool((before != after)[:, 64:, :].any() or (before != after)[:, :, 64:].any())
    assert moved == {"architecture": False, "uniform": True}


def test_training_in_two_calls_is_training_in_one():
    config = DQNConfig(**{**TINY, "steps": 40, "seeds": 2})
    agents = []
    for calls in ([40], [13, 27]):
        with DoubleDQN(lambda g: QEnsemble(2, 4, [64, 64], ["relu", "sigmoid"], 2, g), "CartPole-v1", config) as dqn:
            for steps in calls:
                dqn.train(steps)
            agents.append(dqn)
    assert agents[0].env_steps == agents[1].env_steps == 40
    assert agents[0].episode_ends == agents[1].episode_ends
    for a, b in zip(agents[0].online.parameters(), agents[1].online.parameters(), strict=True):
        assert torch.equal(a, b)


def test_enas_searches_the_dqn_arch_envs_with_the_shared_network():
    env = gym.make("DQN-Arch-Global-v0", evaluator="supernet", budget=6, **TINY)
    assert isinstance(env.unwrapped.evaluator, DQNSupernetEvaluator)
    result = make_agent("enas", aggregate=2, candidates=2).run(env, seed=0)
    assert isinstance(result, SharedWeightsResult) and len(result.queries) == 6 and result.candidates_from == 4
    assert env.unwrapped.evaluator.trained_steps == 4 * 16  # the candidates only score
    assert result.summary()["best_arch"] in {q["arch"] for q in result.queries[4:]}
    env.close()


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: SharedQNetwork(4, 2).select([100, 64], ["relu", "relu"]), ValueError, ["widths must be 2 of", "100"]),
        (lambda: SharedQNetwork(4, 2).select([64], ["relu"]), ValueError, ["widths must be 2 of", "[64]"]),
        (lambda: SharedQNetwork(4, 2).select([64, "128"], ["relu"] * 2), ValueError, ["widths must be 2 of", "'128'"]),
        (lambda: SharedQNetwork(4, 2).select([64, 64], ["relu", "tanh"]), ValueError, ["activations must be 2 of"]),
        (lambda: SharedQNetwork(4, 2, widths=(64, 32)), ValueError, ["widths must be positive and increasing"]),
        (lambda: DQNSupernetEvaluator(**{**TINY, "steps": 0}), ValueError, ["steps must be an integer >= 1", "0"]),
        (lambda: DQNSupernetEvaluator(**TINY, sampling="paths"), ValueError, ["sampling 'paths' is unknown"]),
        (lambda: DQNSupernetEvaluator(**TINY, seeds=2), ValueError, ["seeds must be 1 with the supernet", "2"]),
        (lambda: DQNSupernetEvaluator(**TINY, epochs=3), TypeError, ["['epochs']", "'sampling'", "'train_freq'"]),
        (lambda: DQNSupernetEvaluator("nb201", **TINY), ValueError, ["evaluates the 'dqn-arch' space", "'nb201'"]),
        (lambda: SupernetEvaluator("dqn-arch"), ValueError, ["NAS-Bench-201 supernet", "make_supernet_evaluator"]),
        (lambda: make_supernet_evaluator("convnet", "digits"), ValueError, ["'convnet' has no supernet", "'dqn-arch'"]),
    ],
)
def test_bad_arguments_are_named(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert all(word in str(info.value) for word in words), str(info.value)


def test_double_dqn_refuses_steps_below_one():
    config = DQNConfig(**{**TINY, "seeds": 1})
    with DoubleDQN(lambda g: QEnsemble(1, 4, [64, 64], ["relu", "relu"], 2, g), "CartPole-v1", config) as dqn:
        with pytest.raises(ValueError, match="steps must be an integer >= 1"):
            dqn.train(0)


def test_the_benchmark_script_records_each_run_against_the_committed_table(tmp_path):
    path = REPO_ROOT / "benchmarks" / "dqn_arch_enas.py"
    spec = importlib.util.spec_from_file_location("dqn_arch_enas", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--budget", "4", "--candidates", "2", "--steps", "16", "--seeds", "1", "--out", str(tmp_path)])
    record = json.loads((tmp_path / "enas_shared.json").read_text())
    valid_return, _, _ = script.read_table(REPO_ROOT / "benchmarks" / "results" / "dqn-arch" / "CartPole-v1")
    (run,) = record["runs"]
    assert record["best_index"] == 42 and record["exhaustive_env_steps"] == 150_000
    assert run["trained_env_steps"] == 2 * 16  # the two training queries; the candidates only score
    assert run["found_best"] == (run["index"] == 42)
    assert run["table_rank"] == 1 + int((valid_return > valid_return[run["index"]]).sum())
    assert run["seconds"] == pytest.approx(run["train_seconds"] + run["score_seconds"])
    assert 1 <= run["best_shared_rank"] <= 100 and run["best_shared_return"] >= 1.0  # every network scored after
    assert (
        f"| enas | 0 | {run['index']}: `{run['arch']}` | {run['table_rank']} |"
        in (tmp_path / "enas_shared.md").read_text()
    )
