"""The ConvNet space (a variable-depth space with its own bijection) and its two envs."""

from __future__ import annotations

import itertools
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from nasgym.envs import ConvNetGlobalEnv, ConvNetSequentialEnv
from nasgym.envs.convnet_sequential import TOKENS
from nasgym.spaces import ConvNetSpace, get_space


@pytest.fixture(scope="module")
def space() -> ConvNetSpace:
    return get_space("convnet")


def test_size_enumeration_and_bijection(space):
    assert space.size == 1364 == sum(4**d for d in range(1, 6))
    assert space.n_choices.tolist() == [5] + [2] * 10
    archs = space.enumerate()
    assert archs.shape == (1364, 11)
    np.testing.assert_array_equal(space.index_of(archs), np.arange(1364))
    np.testing.assert_array_equal(space.choices_of(np.arange(1364)), archs)
    # index order is the lexicographic order of the canonical choice vectors
    assert all(tuple(a) < tuple(b) for a, b in zip(archs[:-1], archs[1:], strict=True))
    # canonical: the choices of absent layers are 0
    for row in archs:
        depth = row[0] + 1
        assert not row[1 + depth : 6].any() and not row[6 + depth :].any()
    # networks per depth: 4, 16, 64, 256, 1024
    assert np.bincount(archs[:, 0]).tolist() == [4, 16, 64, 256, 1024]


def test_every_padded_vector_maps_to_its_canonical_network(space):
    padded = np.array(list(itertools.product(*[range(n) for n in space.n_choices])))
    assert len(padded) == 5 * 2**10
    indices = space.index_of(padded)
    assert set(indices.tolist()) == set(range(space.size))
    np.testing.assert_array_equal(space.choices_of(indices), space.canonical(padded))
    # choices beyond the depth do not matter
    a = np.array([1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0])
    b = np.array([1, 1, 0, 0, 0, 0, 1, 0, 1, 1, 1])
    assert space.index_of(a) == space.index_of(b)


def test_strings_and_layers(space):
    strings = [space.arch_string(i) for i in range(space.size)]
    assert len(set(strings)) == space.size
    assert strings[0] == "k3c32" and strings[3] == "k5c64" and strings[-1] == "-".join(["k5c64"] * 5)
    for index in (0, 7, 99, 500, 1363):
        choices = space.choices_of(index)
        assert space.to_string(choices) == strings[index]
        np.testing.assert_array_equal(space.from_string(strings[index]), choices)
    assert space.layers(space.from_string("k5c32-k3c64")) == [(5, 32), (3, 64)]
    for bad in ("", "k3c32-" * 6, "k7c32", "k3c48", "k3-c32", 3):
        with pytest.raises(ValueError, match="malformed"):
            space.from_string(bad)


def test_one_hot_zeroes_absent_layers(space):
    choices = space.from_string("k5c64")
    encoded = space.one_hot(choices)
    assert encoded.shape == (11, 5)
    assert encoded[0].tolist() == [1, 0, 0, 0, 0]  # depth 1
    assert encoded[1].tolist() == [0, 1, 0, 0, 0] and encoded[6].tolist() == [0, 1, 0, 0, 0]
    assert not encoded[2:6].any() and not encoded[7:].any()
    assert space.features(space.enumerate()).shape == (1364, 55)


def test_input_checks(space):
    with pytest.raises(ValueError, match="out of range"):
        space.index_of(np.array([5] + [0] * 10))
    with pytest.raises(ValueError, match="last dimension of 11"):
        space.index_of(np.zeros(6, dtype=np.int64))
    with pytest.raises(ValueError, match=r"0\.\.1363"):
        space.choices_of(1364)


# --- envs ---------------------------------------------------------------------------------------
def sequential_actions(arch: str) -> list[int]:
    """The Sequential env's actions that build ``arch`` (kernel, channels, then add or stop)."""
    layers = ConvNetSpace().layers(ConvNetSpace().from_string(arch))
    actions = []
    for n, (kernel, channels) in enumerate(layers):
        if n:
            actions.append(1)  # add a layer
        actions += [(3, 5).index(kernel), (32, 64).index(channels)]
    return actions + ([0] if len(layers) < 5 else [])  # stop, unless the network is full


def test_sequential_builds_layer_by_layer(space):
    assert [kind for kind, _ in TOKENS[:6]] == ["kernel", "channels", "add", "kernel", "channels", "add"]
    env = ConvNetSequentialEnv(evaluator="synthetic", budget=4)
    assert env.action_space == gym.spaces.Discrete(2) and env.observation_space.shape == (56,)
    initial, info = env.reset(seed=0)
    assert info == {"n_queries": 0, "sim_time": 0.0}
    for n, arch in enumerate(("k5c64-k3c32", "k3c32", "-".join(["k5c32"] * 5), "k3c64-k5c64-k3c32"), start=1):
        actions = sequential_actions(arch)
        assert len(actions) == 3 * len(arch.split("-")) - (1 if len(arch.split("-")) == 5 else 0)
        for step, action in enumerate(actions):
            obs, reward, terminated, truncated, info = env.step(action)
            if step < len(actions) - 1:
                assert reward == 0.0 and "index" not in info and not truncated
                assert obs[3 * step + action] == 1.0 and obs[3 * 14 + step + 1] == 1.0
        assert info["arch"] == arch and info["index"] == space.index_of(space.from_string(arch))
        assert info["n_queries"] == n and reward == pytest.approx(info["valid_acc"] / 100)
        np.testing.assert_array_equal(obs, initial)  # the next network starts from scratch
    assert truncated
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    for bad in (2, -1, 0.5, np.array([0, 1])):
        with pytest.raises(ValueError, match="0..1"):
            env.step(bad)


def test_global_names_depth_then_kernels_then_channels(space):
    env = ConvNetGlobalEnv(evaluator="synthetic", budget=3)
    assert env.action_space == gym.spaces.MultiDiscrete([5] + [2] * 10)
    assert env.observation_space.shape == (55,)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs.reshape(11, 5)[0], [0.2] * 5)
    _, _, _, _, info = env.step(np.array([1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0]))
    assert info["arch"] == "k5c64-k3c32"
    obs, _, _, _, info = env.step(np.array([1, 1, 0, 0, 0, 0, 1, 0, 1, 1, 1]))  # same network
    assert info["index"] == space.index_of(space.from_string("k5c64-k3c32"))
    np.testing.assert_array_equal(obs, space.one_hot(space.from_string("k5c64-k3c32")).reshape(-1))
    with pytest.raises(ValueError, match="out of range"):
        env.step(np.array([5] + [0] * 10))
    with pytest.raises(ValueError, match="last dimension"):
        env.step(np.zeros(6, dtype=np.int64))


@pytest.mark.parametrize("env_class", [ConvNetSequentialEnv, ConvNetGlobalEnv])
def test_convnet_envs_pass_the_checkers_and_pickle(env_class):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    check_env(env_class(evaluator="synthetic", budget=20), skip_render_check=True)
    sb3_check_env(env_class(evaluator="synthetic", budget=20))
    env = env_class(evaluator="synthetic", budget=30)
    env.reset(seed=1)
    env.action_space.seed(1)
    actions = [env.action_space.sample() for _ in range(20)]
    for action in actions[:7]:
        env.step(action)
    clone = pickle.loads(pickle.dumps(env))
    np.testing.assert_equal([clone.step(a) for a in actions[7:]], [env.step(a) for a in actions[7:]])


@pytest.mark.parametrize("env_id", ["ConvNet-Sequential-v0", "ConvNet-Global-v0"])
def test_registered_convnet_envs_are_reproducible_and_seed_noisy(env_id):
    def run(seed: int, actions: list) -> list:
        env = gym.make(env_id, evaluator="synthetic", budget=6).unwrapped
        trajectory = [env.reset(seed=seed)]
        for action in actions:
            trajectory.append(env.step(action))
            if trajectory[-1][3]:  # truncated: the budget is spent
                return trajectory
        raise AssertionError("the budget was not spent")

    probe = gym.make(env_id, evaluator="synthetic").unwrapped
    assert (probe.dataset, type(probe).__name__) == ("digits", env_id.replace("-v0", "").replace("-", "") + "Env")
    probe.action_space.seed(0)
    actions = [probe.action_space.sample() for _ in range(6 * 14)]
    first = run(5, actions)
    np.testing.assert_equal(run(5, actions), first)
    rewards = [step[1] for step in first[1:] if "index" in step[4]]
    assert len(rewards) == 6 and rewards != [step[1] for step in run(6, actions)[1:] if "index" in step[4]]
    assert gym.spec(env_id).kwargs["evaluator"] == "live"  # trains by default; tests use the synthetic one


def test_product_flavours_refuse_the_convnet_space():
    for env_id in ("NAS-Bench-201-Continuous-v0", "NAS-Bench-201-Sequential-v0", "NAS-Bench-201-Global-v0"):
        with pytest.raises(ValueError, match="needs a search space that is a plain product.*'convnet' is not"):
            gym.make(env_id, space="convnet", evaluator="synthetic")
