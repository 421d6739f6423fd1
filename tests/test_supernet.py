"""The NAS-Bench-201 supernet and its evaluator: a sub-network is its architecture's standalone
network, a training step moves only the weights of the ops it used, frozen queries move nothing,
the same configuration gives the same answers, the envs take it unchanged, and bad arguments get
clear errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nasgym.evaluators.supernet import SupernetEvaluator  # noqa: E402
from nasgym.models.nb201_net import NB201Network  # noqa: E402
from nasgym.models.nb201_supernet import NB201Supernet  # noqa: E402
from nasgym.spaces import get_space  # noqa: E402
from nasgym.spaces.nb201 import NB201_OPS  # noqa: E402

SPACE = get_space("nb201")
#: small and fast: one step of 16 images per query, 16 validation images
TINY = {"steps": 1, "batch_size": 16, "valid_size": 16, "num_threads": 1}
ARCHS = [
    ("nor_conv_3x3", "none", "avg_pool_3x3", "skip_connect", "nor_conv_1x1", "nor_conv_3x3"),
    ("none",) * 6,  # every node zero: the cells output zeros
    ("skip_connect", "nor_conv_1x1", "none", "none", "avg_pool_3x3", "nor_conv_3x3"),
]


def index_of(ops: tuple[str, ...]) -> int:
    return int(SPACE.index_of(np.array([NB201_OPS.index(op) for op in ops])))


@pytest.mark.parametrize("ops", ARCHS, ids=["mixed", "all-none", "dead-edges"])
def test_sub_network_computes_the_standalone_network_with_the_same_weights(ops):
    torch.manual_seed(0)
    supernet = NB201Supernet(num_classes=10, in_channels=1)
    for parameter in supernet.parameters():  # away from the identity init of BatchNorm
        torch.nn.init.normal_(parameter, std=0.3)
    supernet.select(ops)
    standalone = supernet.extract(ops)
    assert isinstance(standalone, NB201Network)
    assert sum(p.numel() for p in standalone.parameters()) == sum(
        p.numel() for p in NB201Network(ops, 10, 1).parameters()
    )
    images = torch.randn(8, 1, 8, 8)
    supernet.eval()  # no running statistics: batch statistics in eval mode too
    standalone.train()  # the standalone network normalises with batch statistics in training mode
    with torch.no_grad():
        assert torch.allclose(supernet(images), standalone(images), atol=1e-5)
    # another architecture of the same supernet is another function
    supernet.select(ARCHS[0] if ops != ARCHS[0] else ARCHS[2])
    with torch.no_grad():
        assert not torch.allclose(supernet(images), standalone(images), atol=1e-3)


def test_a_step_moves_only_the_weights_of_the_ops_it_used():
    evaluator = SupernetEvaluator(**TINY)
    ops = ARCHS[0]  # every op of it reaches the output
    before = {name: p.detach().clone() for name, p in evaluator.supernet.named_parameters()}
    evaluator.train_steps(2, index_of(ops))
    for name, parameter in evaluator.supernet.named_parameters():
        moved = not torch.equal(parameter, before[name])
        parts = name.split(".")
        if parts[0] == "cells" and parts[2] == "edges":  # cells.<i>.edges.<edge>.<op>.<...>
            assert moved == (ops[int(parts[3])] == parts[4]), name
        else:  # stem, reductions, lastact, classifier: shared by every architecture
            assert moved, name
    assert evaluator.trained_steps == 2


def test_queries_train_then_score_and_frozen_queries_only_score():
    evaluator = SupernetEvaluator(**{**TINY, "steps": 2})
    index = index_of(ARCHS[0])
    first = evaluator.evaluate_one(index)
    assert evaluator.trained_steps == first["trained_steps"] == 2
    assert 0.0 <= first["valid_acc"] <= 100.0 and 0.0 <= first["test_acc"] <= 100.0 and first["cost"] > 0
    reference = NB201Network(ARCHS[0], 10, 1)
    assert first["params"] == pytest.approx(sum(p.numel() for p in reference.parameters()) / 1e6)
    weights = {name: p.detach().clone() for name, p in evaluator.supernet.named_parameters()}
    with evaluator.frozen():
        frozen = evaluator.evaluate(np.array([index, index_of(ARCHS[2]), index]))
        assert not evaluator.trains
    assert evaluator.trains
    assert evaluator.trained_steps == 2
    assert all(torch.equal(p, weights[name]) for name, p in evaluator.supernet.named_parameters())
    assert frozen["valid_acc"][0] == frozen["valid_acc"][2]  # deterministic scores under fixed weights
    assert frozen["valid_acc"].tolist() == evaluator.score(np.array([index, index_of(ARCHS[2]), index])).tolist()
    evaluator.evaluate_one(index)
    assert evaluator.trained_steps == 4


@pytest.mark.parametrize("sampling", ["architecture", "uniform"])
def test_the_same_configuration_gives_the_same_answers(sampling):
    indices = [5, 777, 5, 12000]
    runs = []
    for seed in (0, 0, 1):
        evaluator = SupernetEvaluator(**TINY, sampling=sampling, seed=seed)
        runs.append([evaluator.evaluate_one(i)["valid_acc"] for i in indices])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


@pytest.mark.parametrize("sampling", ["architecture", "uniform"])
def test_uniform_sampling_trains_other_architectures_than_the_queried_one(sampling):
    evaluator = SupernetEvaluator(**{**TINY, "steps": 4}, sampling=sampling)

    def conv_weights() -> list:
        return [p.detach().clone() for name, p in evaluator.supernet.named_parameters() if ".nor_conv_" in name]

    before = conv_weights()
    evaluator.evaluate_one(index_of(("skip_connect",) * 6))  # no conv in it: only uniform draws train one
    moved = [not torch.equal(a, b) for a, b in zip(conv_weights(), before, strict=True)]
    assert any(moved) == (sampling == "uniform")


def test_the_envs_take_the_supernet_evaluator_unchanged():
    env = gym.make("NAS-Bench-201-Global-v0", evaluator="supernet", dataset="digits", budget=2, **TINY)
    assert isinstance(env.unwrapped.evaluator, SupernetEvaluator)
    env.reset(seed=0)
    _, reward, _, truncated, info = env.step(np.array([3, 0, 4, 1, 2, 3]))
    assert reward == pytest.approx(info["valid_acc"] / 100) and info["cost"] > 0 and not truncated
    assert info["arch"] == SPACE.arch_string(index_of(ARCHS[0]))
    env.close()


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"steps": 0}, ValueError, ["steps must be an integer >= 1", "0"]),
        ({"steps": 2.5}, ValueError, ["steps must be an integer >= 1", "2.5"]),
        ({"sampling": "paths"}, ValueError, ["sampling 'paths' is unknown", "'architecture'", "'uniform'"]),
        ({"valid_size": 0}, ValueError, ["valid_size must be an integer in 1..359", "0"]),
        ({"valid_size": 10_000}, ValueError, ["valid_size must be an integer in 1..359", "10000"]),
        ({"grad_clip": 0}, ValueError, ["grad_clip must be a number > 0"]),
        ({"space": "convnet"}, ValueError, ["space 'convnet' has no supernet", "'nb201'"]),
        ({"dataset": "mnist"}, ValueError, ["dataset 'mnist' is unknown", "'digits'"]),
        ({"epochs": 3}, TypeError, ["['epochs']", "trains `steps` per query"]),
        ({"stepz": 3}, TypeError, ["['stepz']", "'steps'", "'sampling'", "'batch_size'"]),
        ({"batch_size": 0}, ValueError, ["batch_size must be an integer >= 1"]),
    ],
)
def test_bad_arguments_get_clear_errors(kwargs, error, words):
    with pytest.raises(error) as exc:
        SupernetEvaluator(**kwargs)
    for word in words:
        assert word in str(exc.value)
    with pytest.raises(error):  # through the env too
        gym.make("NAS-Bench-201-Global-v0", evaluator="supernet", **{"dataset": "digits", **kwargs})


def test_bad_architectures_and_queries_get_clear_errors():
    supernet = NB201Supernet(10, 1)
    with pytest.raises(RuntimeError, match="no architecture is selected"):
        supernet(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="ops must name one of"):
        supernet.select(("nor_conv_3x3",) * 5)
    evaluator = SupernetEvaluator(**TINY)
    with pytest.raises(ValueError, match="index must be in 0..15624"):
        evaluator.evaluate_one(15625)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        evaluator.train_steps(0)
