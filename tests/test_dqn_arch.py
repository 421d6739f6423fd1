"""The dqn-arch space (Q-networks of a Double DQN agent), its trainer, its live evaluator and envs."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.cli import main
from nasgym.spaces import DQN_WIDTHS, dqn_arch, get_space
from nasgym.spaces.dqn_arch import task_shape
from nasgym.training.dqn import DQN_PRESETS, DQNConfig, QEnsemble, train_dqn

#: a training run of a few milliseconds that still takes gradient steps and target updates
TINY = {
    "steps": 48, "seeds": 2, "learning_starts": 0, "train_freq": 16, "gradient_steps": 2, "batch_size": 8,
    "buffer_size": 32, "target_update_interval": 16, "eval_episodes": 2, "device": "cpu", "num_threads": 1,
}  # fmt: skip


def sequential_q_network(n_inputs: int, widths: list[int], activations: list[str], n_actions: int) -> nn.Sequential:
    """The Q-network written out with torch's own layers, independently of :class:`QEnsemble`."""
    layers: list[nn.Module] = []
    for fan_in, width, activation in zip([n_inputs, *widths[:-1]], widths, activations, strict=True):
        layers += [nn.Linear(fan_in, width), nn.ReLU() if activation == "relu" else nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], n_actions))


def test_space_is_the_product_of_widths_and_activations():
    space = get_space("dqn-arch")
    assert space.size == 100 and space.is_product
    choices = space.from_string("width1=2048,activation1=sigmoid,width2=64,activation2=relu")
    assert space.widths(choices).tolist() == [2048, 64]
    assert space.activations(choices) == ["sigmoid", "relu"]
    assert (
        space.arch_string(int(space.index_of(choices))) == "width1=2048,activation1=sigmoid,width2=64,activation2=relu"
    )


@pytest.mark.parametrize("n_inputs, n_actions", [(4, 2), (8, 4), (1, 1)])
def test_param_count_is_torchs(n_inputs, n_actions):
    space = get_space("dqn-arch")
    rows = space.enumerate()
    counts = space.param_count(rows, n_inputs, n_actions)
    assert counts.shape == (100,)
    for row, count in zip(rows, counts, strict=True):
        with torch.device("meta"):  # shapes only: nothing allocated or initialised
            network = sequential_q_network(n_inputs, space.widths(row).tolist(), space.activations(row), n_actions)
        assert count == sum(p.numel() for p in network.parameters())
    ensemble = QEnsemble(3, n_inputs, [64, 256], ["relu", "sigmoid"], n_actions)
    assert sum(p.numel() for p in ensemble.parameters()) == 3 * space.param_count(rows[5], n_inputs, n_actions)


def test_param_count_rejects_bad_sizes():
    space = get_space("dqn-arch")
    with pytest.raises(ValueError, match="n_actions must be an integer >= 1"):
        space.param_count(space.enumerate(), 4, 0)


def test_resources_on_a_task_are_the_formula_in_millions():
    space = get_space("dqn-arch")
    rows = space.enumerate()
    resources = space.resources(rows, "CartPole-v1")
    np.testing.assert_array_equal(resources["params"], space.param_count(rows, 4, 2) / 1e6)
    assert max(DQN_WIDTHS) == 2048 and resources["params"].max() == pytest.approx(
        (5 * 2048 + 2049 * 2048 + 2049 * 2) / 1e6
    )


def test_each_ensemble_member_computes_its_standalone_network():
    generator = torch.Generator().manual_seed(0)
    ensemble = QEnsemble(3, 4, [64, 128], ["sigmoid", "relu"], 2, generator)
    observations = torch.randn(3, 5, 4)
    q = ensemble(observations)
    for member in range(3):
        torch.testing.assert_close(ensemble.member(member)(observations[member]), q[member])


def test_training_is_seeded():
    first = train_dqn([64, 64], ["relu", "relu"], "CartPole-v1", DQNConfig(**TINY))
    again = train_dqn([64, 64], ["relu", "relu"], "CartPole-v1", DQNConfig(**TINY))
    other = train_dqn([64, 64], ["relu", "relu"], "CartPole-v1", DQNConfig(**TINY | {"seed": 1}))
    del first["train_time"], again["train_time"]  # wall time, the one thing a seed does not fix
    assert first == again
    assert np.isfinite(first["train_loss"]) and len(first["valid_returns"]) == 2
    assert first["return_curve"] != other["return_curve"] or first["valid_returns"] != other["valid_returns"]


def test_config_defaults_come_from_the_task_preset_and_enter_the_hash():
    config = DQNConfig()
    assert config.resolved("CartPole-v1").learning_rate == DQN_PRESETS["CartPole-v1"]["learning_rate"]
    assert config.resolved("LunarLander-v3").steps == DQN_PRESETS["LunarLander-v3"]["steps"]
    assert config.resolved("Acrobot-v1").train_freq == DQN_PRESETS["CartPole-v1"]["train_freq"]
    assert config.config_hash("CartPole-v1") != DQNConfig(steps=100).config_hash("CartPole-v1")
    assert config.config_hash("CartPole-v1") == DQNConfig(device="cpu", num_threads=1).config_hash("CartPole-v1")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"steps": 0}, ValueError, r"steps must be an integer >= 1 \(environment steps"),
        ({"steps": 1.5}, TypeError, "steps must be an integer"),
        ({"seeds": 0}, ValueError, "seeds must be an integer >= 1"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0, got -1"),
        ({"gamma": 1.5}, ValueError, r"gamma must be in \[0.0, 1.0\]"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate must be > 0"),
        ({"device": "tpu"}, ValueError, "device 'tpu' is unknown"),
    ],
)
def test_bad_config_is_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        DQNConfig(**kwargs)


def test_a_task_without_discrete_actions_is_refused():
    with pytest.raises(ValueError, match=r"'Pendulum-v1' has the action space Box.*needs a Discrete one"):
        task_shape("Pendulum-v1")
    with pytest.raises(ValueError, match="'NoSuchTask-v0' is not a registered Gymnasium task"):
        task_shape("NoSuchTask-v0")
    with pytest.raises(ValueError, match="needs a Discrete one"):
        gym.make("DQN-Arch-Global-v0", dataset="Pendulum-v1")


def test_a_missing_simulator_names_the_extra(monkeypatch):
    def make(task: str) -> gym.Env:
        raise gym.error.DependencyNotInstalled('Box2D is not installed, run `pip install "gymnasium[box2d]"`')

    monkeypatch.setattr(dqn_arch.gym, "make", make)
    task_shape.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"'LunarLander-v3' needs a simulator .*nasgym\[box2d\]"):
            task_shape("LunarLander-v3")
    finally:
        task_shape.cache_clear()


def test_env_steps_below_one_are_refused():
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        gym.make("DQN-Arch-Sequential-v0", steps=0)


def test_live_env_trains_once_and_rewards_the_mean_return(tmp_path):
    env = gym.make("DQN-Arch-Global-v0", cache_dir=tmp_path, budget=2, **TINY)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([0, 0, 0, 0]))
    assert not info["cached"]
    assert reward == pytest.approx(info["valid_acc"] / 100) and reward > 0
    assert info["params"] == pytest.approx((5 * 64 + 65 * 64 + 65 * 2) / 1e6)
    _, again, _, truncated, info = env.step(np.array([0, 0, 0, 0]))
    assert info["cached"] and again == reward and truncated
    env.close()
    stored = gym.make("DQN-Arch-Global-v0", cache_dir=tmp_path, **TINY).unwrapped.evaluator
    assert stored.evaluate_one(0)["cached"]
    stored.close()


def test_data_build_takes_steps_for_dqn_arch_only():
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "build", "convnet", "--steps", "10"], stdout=io.StringIO())
    assert exit_info.value.code == 2


def test_numpy_numbers_are_stored_as_plain_ones_and_hash():
    config = DQNConfig(seed=np.int64(3), steps=np.int32(100), learning_rate=np.float32(0.5))
    assert type(config.seed) is int and type(config.steps) is int and type(config.learning_rate) is float
    plain = DQNConfig(seed=3, steps=100, learning_rate=0.5)
    assert config.config_hash("CartPole-v1") == plain.config_hash("CartPole-v1")
