"""The env contract of DESIGN.md, checked on every registered env id.

Every test is parametrised over :data:`nasgym.envs_registry.ENV_IDS`, so a newly registered env is
checked automatically; flavour-specific expectations are keyed on the ``<Space>-<Flavour>-v0`` id
and derived from the env's search space, with the literal NAS-Bench-201 numbers of DESIGN.md on top.
"""

from __future__ import annotations

import itertools
import math
import pickle
import re

import gymnasium as gym
import numpy as np
import pytest
from conftest import selected_by_definition
from gymnasium import spaces

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.envs_registry import ENV_IDS, ENV_TABLE
from nasgym.evaluators import Evaluator, SyntheticEvaluator, TabularEvaluator
from nasgym.evaluators.surrogate import NB301SurrogateEvaluator
from nasgym.spaces import get_space
from nasgym.tables import SPACE_DATASETS
from nasgym.tables.repository import IMPORTED_SPACES

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
INFO_KEYS = {
    "arch", "index", "valid_acc", "test_acc", "flops", "params", "latency", "cost",
    "n_queries", "sim_time", "best_valid_acc", "best_arch", "best_test_acc",
}  # fmt: skip
CIFAR10_ACC_MAX = 91.607

ids = pytest.mark.parametrize("env_id", ENV_IDS)
#: what every gym.make here adds, so that each env answers fast (the registry's test kwargs)
TEST_KWARGS = {row.id: row.test_kwargs for row in ENV_TABLE}


# --- helpers ------------------------------------------------------------------------------------
def flavour(env_id: str) -> str:
    """``Continuous``, ``Global`` or ``Sequential`` from ``<Space>-<Flavour>-v0``."""
    return env_id.rsplit("-", 2)[1]


def space_name(env_id: str) -> str:
    return gym.spec(env_id).kwargs["space"]


def make(env_id: str, **kwargs) -> gym.Env:
    """The env itself, without gym.make's checker wrappers."""
    return gym.make(env_id, **{**TEST_KWARGS[env_id], **kwargs}).unwrapped


def skip_unless_product_space(env_id: str, needs: str) -> None:
    """Skip a test that relies on a plain product space: ``needs`` says what it relies on. The
    ConvNet space has a variable depth, its own index bijection and, in its Sequential flavour, a
    variable number of steps per query; tests/test_live_space.py covers its envs."""
    space = get_space(space_name(env_id))
    if not space.is_product:
        pytest.skip(f"{env_id}: the {space.name} space is not a plain product ({needs})")


def skip_without_optimum(env_id: str, evaluator, needs: str) -> None:
    """Skip a test that needs the best validation accuracy of the space (the NAS-Bench-301
    surrogate's optimum over 1e18 architectures is unknown)."""
    if math.isnan(evaluator.best_valid_acc):
        pytest.skip(f"{env_id}: the space's optimum is unknown ({needs})")


def skip_variable_steps(env_id: str) -> None:
    if flavour(env_id) == "Sequential" and not get_space(space_name(env_id)).decodes_actions:
        skip_unless_product_space(env_id, "a fixed number of steps per query")


def steps_per_query(env: gym.Env) -> int:
    """Steps per architecture: the space's sequence length in the Sequential flavour (6 on
    NAS-Bench-201, 32 on NAS-Bench-301), else 1."""
    sequential = flavour(env.unwrapped.spec.id) == "Sequential"
    return env.unwrapped.search_space.sequence_length if sequential else 1


def actions_for(env: gym.Env, choices) -> list:
    """The actions that make ``env`` query the architecture with these choices, through the public
    API: the Continuous env's vertex, the Global choice vector, the Sequential token sequence."""
    space = env.unwrapped.search_space
    choices = np.asarray([int(c) for c in choices], dtype=np.int64)
    action_space = env.action_space
    if isinstance(action_space, spaces.Box):
        action = env.unwrapped.vertex(int(space.index_of(choices)))
        if space.relaxation_shape == (space.n_decisions, space.max_choices):  # by hand, where it is that simple
            scores = np.full(action_space.shape, -1.0, np.float32).reshape(len(choices), -1)
            scores[np.arange(len(choices)), choices] = 1.0
            np.testing.assert_array_equal(action, scores.reshape(action_space.shape))
        return [action]
    if isinstance(action_space, spaces.MultiDiscrete):
        return [choices]
    if isinstance(action_space, spaces.Discrete):
        return [np.int64(t) for t in space.sequence_of(choices)]
    raise NotImplementedError(f"no test helper for action space {action_space}")


def query(env: gym.Env, choices) -> tuple:
    """Query one architecture; the (obs, reward, terminated, truncated, info) of its last step."""
    results = [env.step(a) for a in actions_for(env, choices)]
    for _, reward, terminated, truncated, _ in results[:-1]:
        assert (reward, terminated, truncated) == (0.0, False, False)
    return results[-1]


def random_choices(env: gym.Env, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    space = env.unwrapped.search_space
    if not space.is_product:  # not every choice vector names an architecture (NAS-Bench-101's cells)
        return list(space.sample(rng, n))
    return [rng.integers(0, space.n_choices) for _ in range(n)]


def nb201_string(choices) -> str:
    ops = [NB201_OPS[int(c)] for c in choices]
    return f"|{ops[0]}~0|+|{ops[1]}~0|{ops[2]}~1|+|{ops[3]}~0|{ops[4]}~1|{ops[5]}~2|"


def mixed_radix(choices, n_choices) -> int:
    index = 0
    for c, n in zip(choices, n_choices, strict=True):
        index = index * int(n) + int(c)
    return index


def run_actions(env: gym.Env, seed: int, actions: list) -> list:
    obs, info = env.reset(seed=seed)
    trajectory = [(obs, info)]
    for action in actions:
        trajectory.append(env.step(action))
    return trajectory


class SyntheticTestAcc:
    """The tabular evaluator with a made-up, architecture-dependent test accuracy (the base tables
    have none), to see where test accuracy goes."""

    def __init__(self, space: str, dataset: str = "cifar10", noise: str = "seed", offset: float = 0.0) -> None:
        if space == "darts":  # the NAS-Bench-301 surrogate, whose test accuracy is NaN
            self._inner = NB301SurrogateEvaluator(space, dataset, noise=noise)
        elif dataset in SPACE_DATASETS.get(space, ()):
            self._inner = TabularEvaluator(space, dataset, noise=noise)
        else:  # a space without tables (ConvNet)
            self._inner = SyntheticEvaluator(space, noise=noise)
        self.space = self._inner.space
        self.dataset = dataset
        self.offset = offset

    def test_acc(self, index: int) -> float:
        return self.offset + (index * 7919) % 1000 / 20.0

    @property
    def best_valid_acc(self) -> float:
        return self._inner.best_valid_acc

    def evaluate(self, indices, rng):
        out = self._inner.evaluate(indices, rng)
        out["test_acc"] = np.array([self.test_acc(int(i)) for i in np.asarray(indices).reshape(-1)])
        return out

    def evaluate_one(self, index, rng):
        metrics = self._inner.evaluate_one(index, rng)
        metrics["test_acc"] = self.test_acc(int(index))
        return metrics


# --- 1, 2: the checkers of Gymnasium and SB3 ----------------------------------------------------
@ids
def test_gymnasium_env_checker(env_id, nan_equal_env_checker):
    env_checker = nan_equal_env_checker
    # with a test accuracy known for every architecture, then with the table as it is
    synthetic = SyntheticTestAcc(space_name(env_id))
    env_checker.check_env(make(env_id, budget=50, evaluator=synthetic), skip_render_check=True)
    env_checker.check_env(make(env_id, budget=50), skip_render_check=True)


@ids
def test_sb3_env_checker(env_id):
    from stable_baselines3.common.env_checker import check_env

    # its warnings show in pytest's summary
    check_env(gym.make(env_id, budget=50, **TEST_KWARGS[env_id]), warn=True)


# --- 3: reproducibility ---------------------------------------------------------------------------
@ids
def test_same_seed_and_actions_give_the_same_trajectory(env_id):
    skip_variable_steps(env_id)
    budget = 12
    first = make(env_id, budget=budget)
    first.action_space.seed(0)
    actions = [first.action_space.sample() for _ in range(budget * steps_per_query(first))]
    a = run_actions(first, 5, actions)
    b = run_actions(make(env_id, budget=budget), 5, actions)
    np.testing.assert_equal(a, b)  # obs, rewards, flags and infos (NaN equals NaN here)
    assert a[-1][3] is True  # the episode ran to its budget
    # a second episode of the same env object, reseeded, repeats it too
    np.testing.assert_equal(run_actions(first, 5, actions), a)


@ids
def test_different_seeds_give_different_noisy_rewards(env_id):
    skip_variable_steps(env_id)
    budget = 20
    env = make(env_id, budget=budget, noise="seed")
    table = getattr(env.evaluator, "table", None)
    if table is not None and table.n_seeds("valid_acc").max() == 1:
        pytest.skip(f"{env_id}: one validation value per architecture, noise='seed' has nothing to draw")
    if isinstance(env.evaluator, NB301SurrogateEvaluator):
        pytest.skip(f"{env_id}: the surrogate's prediction is deterministic, noise='seed' has nothing to draw")
    env.action_space.seed(1)
    actions = [env.action_space.sample() for _ in range(budget * steps_per_query(env))]
    rewards = {seed: [step[1] for step in run_actions(env, seed, actions)[1:]] for seed in (0, 1)}
    assert rewards[0] != rewards[1]
    # noise="mean" is deterministic whatever the seed
    mean_env = make(env_id, budget=budget, noise="mean")
    mean_rewards = {seed: [step[1] for step in run_actions(mean_env, seed, actions)[1:]] for seed in (0, 1)}
    assert mean_rewards[0] == mean_rewards[1]


# --- 4: pickle ----------------------------------------------------------------------------------
@ids
def test_pickled_env_continues_identically_mid_episode(env_id):
    skip_variable_steps(env_id)
    env = make(env_id, budget=10, top_k=3)
    env.action_space.seed(2)
    n = 10 * steps_per_query(env)
    actions = [env.action_space.sample() for _ in range(n)]
    env.reset(seed=11)
    split = n // 2 + 1  # mid-episode, and mid-architecture for the Sequential flavour
    for action in actions[:split]:
        env.step(action)
    clone = pickle.loads(pickle.dumps(env))
    rest = actions[split:]
    original = [env.step(a) for a in rest]
    copied = [clone.step(a) for a in rest]
    np.testing.assert_equal(copied, original)
    assert original[-1][3] is True
    with pytest.raises(RuntimeError, match="reset"):
        clone.step(actions[0])


# --- 5: vector envs in subprocesses ---------------------------------------------------------------
@ids
def test_gymnasium_async_vector_env_with_spawn(env_id):
    budget = 2
    vec = gym.make_vec(
        f"nasgym:{env_id}",
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"context": "spawn"},
        budget=budget,
        **TEST_KWARGS[env_id],
    )
    try:
        vec.action_space.seed(0)
        obs, _ = vec.reset(seed=0)
        assert obs.shape == (2, *vec.single_observation_space.shape)
        n_queries = []
        for _ in range((budget + 1) * steps_per_query(make(env_id))):
            obs, rewards, terminated, truncated, infos = vec.step(vec.action_space.sample())
            assert np.isfinite(rewards).all() and not terminated.any()
            if "index" in infos:
                n_queries.extend(infos["n_queries"][infos["_index"]].tolist())
        assert max(n_queries) == budget
    finally:
        vec.close()


@ids
def test_sb3_subproc_vec_env_with_spawn(env_id):
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    budget = 2
    vec = make_vec_env(
        f"nasgym:{env_id}",
        n_envs=2,
        seed=0,
        env_kwargs={"budget": budget, **TEST_KWARGS[env_id]},
        vec_env_cls=SubprocVecEnv,
        vec_env_kwargs={"start_method": "spawn"},
    )
    try:
        vec.action_space.seed(0)
        obs = vec.reset()
        assert obs.shape == (2, *vec.observation_space.shape)
        queried, episodes = 0, 0
        for _ in range((budget + 1) * steps_per_query(make(env_id))):
            obs, rewards, dones, infos = vec.step(np.stack([vec.action_space.sample() for _ in range(2)]))
            assert np.isfinite(rewards).all()
            queried += sum("index" in info for info in infos)
            episodes += sum("episode" in info for info in infos)  # Monitor saw the budget end it
        assert queried >= 2 * budget and episodes >= 2
    finally:
        vec.close()


# --- 6: SB3 agents learn against every env they fit -------------------------------------------------
class QueryCounter(gym.Wrapper):
    """Counts the queries an agent made through the env (every step whose info names an arch)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.queries = 0

    def step(self, action):
        result = self.env.step(action)
        self.queries += "index" in result[4]
        return result


def _sb3_model(algo: str, env: gym.Env):
    import stable_baselines3 as sb3

    common = {"seed": 0, "device": "cpu", "verbose": 0, "policy_kwargs": {"net_arch": [32, 32]}}
    if algo == "PPO":
        return sb3.PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=2, **common)
    if algo in ("SAC", "TD3"):
        return getattr(sb3, algo)(
            "MlpPolicy", env, learning_starts=32, batch_size=32, buffer_size=1000, train_freq=4, **common
        )
    if algo == "DQN":
        return sb3.DQN(
            "MlpPolicy", env, learning_starts=32, batch_size=32, buffer_size=1000, target_update_interval=64, **common
        )
    raise ValueError(algo)


_ALGO_ACTIONS = {"PPO": (spaces.Box, spaces.Discrete, spaces.MultiDiscrete), "SAC": (spaces.Box,),
                 "TD3": (spaces.Box,), "DQN": (spaces.Discrete,)}  # fmt: skip


@pytest.mark.parametrize("algo", list(_ALGO_ACTIONS))
@ids
def test_sb3_agent_learns_and_runs_an_episode(algo, env_id):
    env = QueryCounter(gym.make(env_id, budget=10, **TEST_KWARGS[env_id]))
    if not isinstance(env.action_space, _ALGO_ACTIONS[algo]):
        pytest.skip(f"{algo} does not take a {type(env.action_space).__name__} action space")
    model = _sb3_model(algo, env)
    model.learn(total_timesteps=256)
    assert env.queries >= 256 // steps_per_query(env)
    # the trained policy drives a fresh env through a whole episode with valid actions
    eval_env = gym.make(env_id, budget=5, **TEST_KWARGS[env_id])
    obs, _ = eval_env.reset(seed=0)
    truncated = False
    for _ in range(5 * max(steps_per_query(eval_env), 14)):  # 5 queries (ConvNet-Sequential: up to 14 steps)
        action, _ = model.predict(obs, deterministic=True)
        assert eval_env.action_space.contains(action), action
        obs, reward, terminated, truncated, info = eval_env.step(action)
        assert math.isfinite(reward) and not terminated
        if truncated:
            break
    assert truncated and info["n_queries"] == 5


# --- 7: the env contract ----------------------------------------------------------------------------
@ids
def test_spaces_are_those_of_the_design(env_id):
    skip_variable_steps(env_id)
    env = make(env_id)
    space = env.search_space
    features = spaces.Box(0.0, 1.0, (space.feature_size,), np.float32)
    relaxation = int(np.prod(space.relaxation_shape))
    steps, tokens = space.sequence_length, space.sequence_width
    expected = {
        "Continuous": (spaces.Box(-1.0, 1.0, (relaxation,), np.float32), features),
        "Global": (spaces.MultiDiscrete(space.n_choices), features),
        "Sequential": (spaces.Discrete(tokens), spaces.Box(0.0, 1.0, (steps * (tokens + 1) + steps,), np.float32)),
    }[flavour(env_id)]
    assert (env.action_space, env.observation_space) == expected
    if env_id.startswith("NAS-Bench-301-"):  # 2 cells x 14 edges x 7 ops; 24 decisions; 32 steps of 7 tokens
        literal = {
            "Continuous": (spaces.Box(-1.0, 1.0, (196,), np.float32), spaces.Box(0.0, 1.0, (196,), np.float32)),
            "Global": (spaces.MultiDiscrete([1, 7, 7, 3, 7, 7, 6, 7, 7, 10, 7, 7] * 2), features),
            "Sequential": (spaces.Discrete(7), spaces.Box(0.0, 1.0, (288,), np.float32)),
        }[flavour(env_id)]
        assert (env.action_space, env.observation_space) == literal
    if env_id.startswith("NAS-Bench-201-"):
        literal = {
            "Continuous": (spaces.Box(-1.0, 1.0, (30,), np.float32), spaces.Box(0.0, 1.0, (30,), np.float32)),
            "Global": (spaces.MultiDiscrete([5] * 6), spaces.Box(0.0, 1.0, (30,), np.float32)),
            "Sequential": (spaces.Discrete(5), spaces.Box(0.0, 1.0, (42,), np.float32)),
        }[flavour(env_id)]
        assert (env.action_space, env.observation_space) == literal
        assert env.action_space.dtype == literal[0].dtype


@ids
def test_initial_observation(env_id):
    env = make(env_id)
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert info.get("n_queries") == 0 and info.get("sim_time") == 0.0
    space = env.search_space
    if flavour(env_id) == "Sequential":
        skip_variable_steps(env_id)
        d, c = space.sequence_length, space.sequence_width
        expected = np.zeros((d, c + 1), np.float32)
        expected[:, c] = 1.0  # every edge unset
        position = np.eye(d, dtype=np.float32)[0]
        np.testing.assert_array_equal(obs, np.concatenate([expected.reshape(-1), position]))
    else:
        np.testing.assert_array_equal(obs, space.uniform_features())
        if env_id.startswith("NAS-Bench-301-"):
            # the mean encoding of a random cell: node n keeps 2 of its n edges, each op 1/7
            per_edge = np.concatenate([np.full(n, 2 / n / 7) for n in (2, 3, 4, 5)])
            np.testing.assert_allclose(obs, np.tile(np.repeat(per_edge, 7), 2), rtol=1e-6)
        elif space.features(space.choices_of(0)).shape == (space.n_decisions * space.max_choices,):
            expected = (np.arange(space.max_choices) < space.n_choices[:, None]) / space.n_choices[:, None]
            np.testing.assert_allclose(obs, expected.reshape(-1), rtol=1e-6)
        if env_id.startswith("NAS-Bench-201-"):
            np.testing.assert_array_equal(obs, np.full(30, 0.2, np.float32))


@ids
def test_sequential_observation_holds_the_partial_architecture(env_id):
    if flavour(env_id) != "Sequential":
        pytest.skip("only the Sequential flavour shows a partial architecture")
    skip_variable_steps(env_id)
    env = make(env_id)
    initial, _ = env.reset(seed=0)
    space = env.search_space
    d, c = space.sequence_length, space.sequence_width
    architecture = space.sample(np.random.default_rng(0))
    choices = space.sequence_of(architecture)  # the tokens: on NAS-Bench-201 the choices themselves
    for position, choice in enumerate(choices):
        obs, reward, _, _, info = env.step(np.int64(choice))
        if position == d - 1:
            np.testing.assert_array_equal(obs, initial)  # a new architecture starts from scratch
            assert info["arch"] == space.to_string(architecture)
            break
        edges = np.zeros((d, c + 1), np.float32)
        edges[np.arange(d), c] = 1.0
        edges[np.arange(position + 1), c] = 0.0
        edges[np.arange(position + 1), choices[: position + 1]] = 1.0
        expected = np.concatenate([edges.reshape(-1), np.eye(d, dtype=np.float32)[position + 1]])
        np.testing.assert_array_equal(obs, expected)
        assert reward == 0.0 and "index" not in info and info["n_queries"] == 0


@ids
def test_info_after_a_query(env_id):
    skip_unless_product_space(env_id, "mixed-radix indices of the first 6 decisions")
    env = make(env_id, budget=5)
    env.reset(seed=0)
    choices = [c % int(n) for c, n in zip(itertools.cycle([3, 3, 1, 2, 4, 0]), env.search_space.n_choices)]
    _, _, _, _, info = query(env, choices)
    assert set(info) == INFO_KEYS
    assert isinstance(info["arch"], str) and isinstance(info["best_arch"], str)
    assert isinstance(info["index"], int) and isinstance(info["n_queries"], int)
    for key in INFO_KEYS - {"arch", "best_arch", "index", "n_queries"}:
        assert isinstance(info[key], float), key
    assert info["index"] == mixed_radix(choices, env.search_space.n_choices)
    assert info["arch"] == env.search_space.arch_string(info["index"])
    if env_id.startswith("NAS-Bench-201-"):
        assert info["arch"] == "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|none~2|"
    if space_name(env_id) == "fcnet":  # regression: valid_acc is minus 100 x the validation loss, no test split
        assert info["valid_acc"] < 0 and math.isnan(info["test_acc"])
    else:
        assert 0 < info["valid_acc"] <= 100
    for key in ("flops", "params", "latency", "cost"):  # NaN where the benchmark has no such value, never on NB201
        assert info[key] > 0 or (math.isnan(info[key]) and space_name(env_id) != "nb201"), key
    if env_id.startswith("NAS-Bench-301-"):  # a surrogate of validation results: no test split, no resources
        assert info["cost"] > 0 and all(math.isnan(info[k]) for k in ("test_acc", "flops", "params", "latency"))
    assert info["n_queries"] == 1
    np.testing.assert_equal(info["sim_time"], info["cost"])
    assert (info["best_valid_acc"], info["best_arch"]) == (info["valid_acc"], info["arch"])


@ids
def test_truncated_exactly_on_the_budget_th_query(env_id):
    skip_variable_steps(env_id)
    budget = 3
    env = make(env_id, budget=budget)
    with pytest.raises(RuntimeError, match="reset"):  # never started
        env.step(env.action_space.sample())
    k = steps_per_query(env)
    env.action_space.seed(0)
    for episode in range(2):
        env.reset(seed=episode)
        for t in range(1, budget * k + 1):
            _, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert terminated is False
            assert truncated is (t == budget * k), t
            if t % k:  # Sequential: no query, reward 0, on the first k-1 steps of each arch
                assert reward == 0.0 and "index" not in info
            else:
                assert info["n_queries"] == t // k
        with pytest.raises(RuntimeError, match="reset"):
            env.step(env.action_space.sample())


@ids
def test_default_reward_is_valid_acc_over_100(env_id):
    skip_variable_steps(env_id)
    env = make(env_id, budget=30)
    env.reset(seed=0)
    for choices in random_choices(env, np.random.default_rng(0), 30):
        _, reward, _, _, info = query(env, choices)
        assert reward == pytest.approx(info["valid_acc"] / 100, rel=1e-12)


@ids
def test_normalized_reward(env_id):
    skip_unless_product_space(env_id, "the cifar10 table's optimum")
    if not get_space(space_name(env_id)).enumerable:  # no optimum known: a clear error instead
        with pytest.raises(ValueError, match="normalized.*best validation accuracy"):
            make(env_id, reward="normalized")
        return
    if space_name(env_id) == "fcnet":  # minus 100 x a loss: no positive accuracy to normalise by
        with pytest.raises(ValueError, match="acc_max must be a positive accuracy"):
            make(env_id, reward="normalized")
        return
    env = make(env_id, reward="normalized", noise="mean", budget=40)
    acc_max = env.evaluator.best_valid_acc
    nb201 = space_name(env_id) == "nb201"
    if nb201:
        assert env.dataset == "cifar10"
        assert acc_max == pytest.approx(CIFAR10_ACC_MAX, abs=1e-3)
    env.reset(seed=0)
    for choices in random_choices(env, np.random.default_rng(1), 30):
        _, reward, _, _, info = query(env, choices)
        assert reward == pytest.approx(100 ** (info["valid_acc"] / acc_max) / 100 - 1, rel=1e-9, abs=1e-12)
        if nb201:
            assert reward == pytest.approx(100 ** (info["valid_acc"] / CIFAR10_ACC_MAX) / 100 - 1, abs=1e-4)
        assert -1 < reward < 0 or info["valid_acc"] == acc_max
    # 0 at the optimum architecture
    valid = env.evaluator.evaluate(np.arange(env.search_space.size), np.random.default_rng(0))["valid_acc"]
    best = int(np.nanargmax(valid))
    _, reward, _, _, info = query(env, env.search_space.choices_of(best))
    assert info["index"] == best and info["valid_acc"] == pytest.approx(acc_max)
    assert reward == pytest.approx(0.0, abs=1e-9)


@ids
def test_callable_reward_is_used_as_is_and_sees_the_metrics(env_id):
    seen = []

    def reward(metrics):
        seen.append(dict(metrics))
        return 0.125 + len(seen)

    skip_variable_steps(env_id)
    env = make(env_id, reward=reward, budget=5)
    env.reset(seed=0)
    for n, choices in enumerate(random_choices(env, np.random.default_rng(2), 5), start=1):
        _, r, _, _, info = query(env, choices)
        assert r == 0.125 + n
        assert len(seen) == n  # called once per query, never on the steps in between
        assert {"valid_acc", "test_acc", "cost"} <= set(seen[-1])
        assert seen[-1]["valid_acc"] == info["valid_acc"]
        np.testing.assert_equal(seen[-1]["test_acc"], info["test_acc"])


@ids
@pytest.mark.parametrize("reward", ["valid_acc", "normalized"])
def test_test_accuracy_never_enters_the_reward(env_id, reward):
    skip_variable_steps(env_id)
    budget = 15
    evaluators = [SyntheticTestAcc(space_name(env_id), offset=offset) for offset in (0.0, 40.0)]
    if reward == "normalized":
        skip_without_optimum(env_id, evaluators[0], "the normalized reward")
    envs = [make(env_id, budget=budget, reward=reward, evaluator=evaluator) for evaluator in evaluators]
    assert isinstance(envs[0].evaluator, Evaluator)
    envs[0].action_space.seed(3)
    actions = [envs[0].action_space.sample() for _ in range(budget * steps_per_query(envs[0]))]
    runs = [run_actions(env, 7, actions)[1:] for env in envs]
    queries = [[step for step in run if "index" in step[4]] for run in runs]
    assert len(queries[0]) == budget
    for a, b in zip(*queries, strict=True):
        assert a[4]["valid_acc"] == b[4]["valid_acc"]
        assert b[4]["test_acc"] == a[4]["test_acc"] + 40.0  # what the reward could have seen
        assert a[1] == b[1]  # ... and did not use
        expected = a[4]["valid_acc"] / 100 if reward == "valid_acc" else None
        if expected is not None:
            assert a[1] == pytest.approx(expected, rel=1e-12)


@ids
def test_best_so_far_and_sim_time(env_id):
    skip_variable_steps(env_id)
    budget = 40
    evaluator = SyntheticTestAcc(space_name(env_id), noise="seed")
    env = make(env_id, budget=budget, evaluator=evaluator)
    env.reset(seed=4)
    rng = np.random.default_rng(4)
    pool = random_choices(env, rng, 8)  # repeats: the same arch is seen with several seeds
    # the pool's worst architecture first, so that the best so far changes (the case is not trivial)
    pool_indices = env.search_space.index_of(np.array(pool))
    worst = pool[int(np.argmin(evaluator.evaluate(pool_indices, np.random.default_rng(0))["valid_acc"]))]
    indices, valid_accs, sim_time, changes, previous = [], [], 0.0, 0, None
    for n in range(1, budget + 1):
        _, _, _, _, info = query(env, worst if n == 1 else pool[rng.integers(len(pool))])
        sim_time += info["cost"]
        indices.append(info["index"])
        valid_accs.append(info["valid_acc"])
        assert info["n_queries"] == n
        assert info["sim_time"] == pytest.approx(sim_time, rel=1e-12, nan_ok=True)  # NaN: no training times
        best_index, best_mean = selected_by_definition(indices, valid_accs)  # the best mean of its draws
        changes += previous is not None and info["best_arch"] != previous
        previous = info["best_arch"]
        assert info["best_arch"] == env.search_space.arch_string(best_index)
        assert info["best_valid_acc"] == best_mean
        assert info["best_test_acc"] == evaluator.test_acc(best_index)  # that arch's own test accuracy
    assert len(set(indices)) < budget and changes >= 1  # the case is not trivial


def _top_k_reference(observed: dict[int, float], onehots, k: int):
    """Mean one-hot of the k distinct archs with the best observed validation accuracy, or None
    when a tie at the k-th place leaves the choice open."""
    ranked = sorted(observed.items(), key=lambda item: -item[1])
    if len(ranked) > k and ranked[k - 1][1] == ranked[k][1]:
        return None
    return np.mean([onehots(i) for i, _ in ranked[:k]], axis=0)


@ids
def test_observation_is_the_mean_one_hot_of_the_top_k(env_id):
    if flavour(env_id) == "Sequential":
        pytest.skip("the Sequential observation is the partial architecture")
    skip_unless_product_space(env_id, "mixed-radix indices of 6-decision cells")
    env = make(env_id, top_k=2, noise="mean", budget=100)
    space = env.search_space
    eye = np.eye(space.max_choices, dtype=np.float32)

    def onehot(index):  # the features: one-hot per decision, or DARTS's edge-op encoding
        if space.relaxation_shape != (space.n_decisions, space.max_choices):
            return space.features(space.choices_of(index))
        return eye[space.choices_of(index)].reshape(-1)

    def index(choices):
        return mixed_radix(choices, space.n_choices)

    # NAS-Bench-201's all-conv3, all-conv1, all-skip and all-pool cells; where a decision has fewer
    # than 5 choices, k mod n on the first k decisions and 0 after, so that the four stay distinct
    conv3, conv1, skip, pool = (
        [k % n if n >= 5 or d < k else 0 for d, n in enumerate(space.n_choices.tolist())] for k in (3, 2, 1, 4)
    )
    env.reset(seed=0)
    accs = {}
    for choices in (conv3, conv1, skip, pool):
        accs[index(choices)] = query(env, choices)[4]["valid_acc"]
    assert len(set(accs.values())) == 4, accs  # distinct, so the ranking is clear
    order = sorted(accs, key=accs.get, reverse=True)
    # by hand: replay the four queries in a fresh episode and predict every observation
    obs, _ = env.reset(seed=0)
    if env_id.startswith("NAS-Bench-201-"):
        np.testing.assert_array_equal(obs, np.full(obs.shape, 1 / space.max_choices, np.float32))
    plan = [index(conv3), index(conv3), order[-1], order[0], order[1], order[2], order[0]]  # repeats count once
    observed: dict[int, float] = {}
    for arch in plan:
        choices = space.choices_of(arch)
        obs, _, _, _, info = query(env, choices)
        observed[info["index"]] = max(observed.get(info["index"], -math.inf), info["valid_acc"])
        top = sorted(observed, key=observed.get, reverse=True)[:2]
        expected = np.mean([onehot(i) for i in top], axis=0)
        np.testing.assert_allclose(obs, expected, rtol=0, atol=1e-6)
        assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    np.testing.assert_allclose(obs, (onehot(order[0]) + onehot(order[1])) / 2, atol=1e-6)
    # the same by the book with seed noise: an arch ranks by its best observation
    env = make(env_id, top_k=2, noise="seed", budget=60)
    env.reset(seed=5)
    rng = np.random.default_rng(5)
    pool_ = random_choices(env, rng, 5)
    observed = {}
    checked = 0
    for _ in range(60):
        obs, _, _, _, info = query(env, pool_[rng.integers(len(pool_))])
        observed[info["index"]] = max(observed.get(info["index"], -math.inf), info["valid_acc"])
        expected = _top_k_reference(observed, onehot, 2)
        if expected is not None:
            np.testing.assert_allclose(obs, expected, atol=1e-6)
            checked += 1
    assert checked > 30


@ids
def test_actions_decode_to_the_architecture(env_id):
    skip_unless_product_space(env_id, "mixed-radix indices")
    env = make(env_id, budget=50)
    space = env.search_space
    env.reset(seed=0)
    rng = np.random.default_rng(6)
    for choices in random_choices(env, rng, 10):
        info = query(env, choices)[4]
        assert info["index"] == mixed_radix(choices, space.n_choices)
        if space_name(env_id) == "nb201":
            assert info["arch"] == nb201_string(choices)
    if flavour(env_id) != "Continuous" or space.relaxation_shape != (space.n_decisions, space.max_choices):
        return  # (DARTS's decoding: tests/test_darts.py)
    # argmax per edge of the 6x5 reshape, whatever the values
    d, c = space.n_decisions, space.max_choices
    for _ in range(10):
        action = rng.uniform(-1, 1, d * c).astype(np.float32)
        info = env.step(action)[4]
        scores = np.where(np.arange(c) < space.n_choices[:, None], action.reshape(d, c), -np.inf)
        assert info["index"] == mixed_radix(scores.argmax(axis=1), space.n_choices)
    # ties go to the first op
    info = env.step(np.zeros(d * c, np.float32))[4]
    assert info["index"] == 0
    tied = np.full((d, c), -1.0, np.float32)
    tied[:, [1, c - 2]] = 0.5
    tied[-1, :] = 1.0
    info = env.step(tied.reshape(-1))[4]
    assert info["index"] == mixed_radix([1] * (d - 1) + [0], space.n_choices)
    if space_name(env_id) == "nb201":
        assert info["arch"] == "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|none~2|"


# --- 8: bad input -------------------------------------------------------------------------------
def _bad_actions(env_id: str, env: gym.Env) -> list[tuple[object, str]]:
    """(action, regex its error message must match) per flavour."""
    if flavour(env_id) == "Continuous":
        n = env.action_space.shape[0]
        good = np.zeros(n, np.float32)
        nan, inf, big = good.copy(), good.copy(), good.copy()
        nan[3], inf[7], big[0] = np.nan, np.inf, 1.5
        neg_inf = good.copy()
        neg_inf[1] = -np.inf
        return [
            (nan, r"action.*\[-1, 1\]"),
            (inf, r"action.*\[-1, 1\]"),
            (neg_inf, r"action.*\[-1, 1\]"),
            (big, r"action.*\[-1, 1\]"),
            (-big, r"action.*\[-1, 1\]"),
            (np.where(np.arange(n) == 2, 1e39, 0.0), r"action.*\[-1, 1\].*1e\+39"),  # beyond float32: named as given
            (np.zeros(n - 1, np.float32), rf"action.*shape.*\({n},\)"),
            (np.zeros((6, n // 6), np.float32), rf"action.*shape.*\({n},\)"),
            (np.zeros(n + 1, np.float32), rf"action.*shape.*\({n},\)"),
        ]
    n_choices = env.unwrapped.search_space.n_choices
    last = int(n_choices[0]) - 1 if flavour(env_id) == "Global" else env.action_space.n - 1
    if flavour(env_id) == "Global":
        d = len(n_choices)
        return [
            (np.array([last + 1] + [0] * (d - 1)), rf"action.*0\.\.|action.*{last}"),
            (np.array([0] * (d - 1) + [-1]), rf"action.*0\.\.|action.*{last}"),
            (np.full(d, 0.5), r"action.*integer"),
            (np.full(d, 1.0), r"action.*integer"),
            (np.zeros(d - 1, np.int64), rf"action.*{d}"),
            (np.zeros((2, d), np.int64), rf"action.*shape.*\({d},\)"),
        ]
    return [
        (last + 1, rf"action.*0\.\.{last}"),
        (np.int64(-1), rf"action.*0\.\.{last}"),
        (1.5, rf"action.*integer.*0\.\.{last}"),
        (np.float32(1.0), rf"action.*integer.*0\.\.{last}"),
        (np.array([1, 2]), rf"action.*integer.*0\.\.{last}"),
    ]


@ids
def test_bad_actions_raise_a_clear_value_error(env_id):
    skip_variable_steps(env_id)
    env = make(env_id, budget=5)
    env.reset(seed=0)
    k = steps_per_query(env)
    for _ in range(k - 1):  # the Sequential env checks mid-architecture too
        env.step(env.action_space.sample())
    for action, message in _bad_actions(env_id, env):
        with pytest.raises(ValueError, match=message):
            env.step(action)
    # rejected actions change nothing: the episode goes on where it was
    _, _, _, _, info = env.step(env.action_space.sample())
    assert info["n_queries"] == 1


@ids
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dataset": "mnist"}, r"dataset 'mnist'.*cifar10.*cifar100.*ImageNet16-120"),
        ({"budget": 0}, r"budget.*>= 1"),
        ({"budget": -1}, r"budget.*>= 1"),
        ({"budget": 1.5}, r"budget.*integer.*>= 1"),
        ({"budget": True}, r"budget.*integer.*>= 1"),
        ({"top_k": 0}, r"top_k.*>= 1"),
        ({"reward": "accuracy"}, r"reward 'accuracy'.*valid_acc.*normalized.*callable"),
        ({"noise": "gaussian"}, r"noise 'gaussian'.*seed.*mean"),
        ({"evaluator": "live-gpu"}, r"evaluator 'live-gpu'.*tabular"),
    ],
)
def test_bad_arguments_raise_a_clear_value_error(env_id, kwargs, message):
    datasets = (
        SPACE_DATASETS.get(space_name(env_id))
        or IMPORTED_SPACES.get(space_name(env_id), (None,))[0]
        or {"darts": ("cifar10",)}.get(space_name(env_id))
    )
    if "dataset" in kwargs and datasets and space_name(env_id) != "nb201":  # the error lists that space's datasets
        message = r"dataset 'mnist'.*" + ".*".join(map(re.escape, datasets))
    if "dataset" in kwargs and space_name(env_id) == "dqn-arch":  # its dataset is a Gymnasium task
        message = r"dataset 'mnist' is not a registered Gymnasium task.*'CartPole-v1'"
    # ids whose data a user imports answer through their test evaluator here (else the missing
    # data is the first error); the dataset check is the missing-data check's own
    extra = {} if "dataset" in kwargs else TEST_KWARGS[env_id]
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, **{**extra, **kwargs})


def test_every_flavour_is_known_to_these_tests():
    assert ENV_IDS and all(re.fullmatch(r"[\w-]+-(Continuous|Global|Sequential)-v0", i) for i in ENV_IDS)
