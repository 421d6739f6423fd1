"""The native vector envs (``gym.make_vec(..., vectorization_mode="vector_entry_point")``) give
exactly what a SyncVectorEnv of the same env gives on the same seeds: observations, rewards,
terminations, truncations, infos (values and ``_key`` masks) and next-step autoreset.

Parametrised over every registry row with a ``vector_entry_point``, so a table-backed space that
opts in is checked at once. The action streams either spread over the whole space or keep to a
few architectures, so that repeated queries, ties within rounding, a best that falls and top-K
members queried again all happen many times.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.envs import vector
from nasgym.envs_registry import ENV_TABLE
from nasgym.spaces import get_space

VECTOR_ROWS = [row for row in ENV_TABLE if row.vector_entry_point]
vector_ids = pytest.mark.parametrize("env_id", [row.id for row in VECTOR_ROWS])
TEST_KWARGS = {row.id: row.test_kwargs for row in ENV_TABLE}


def make_pair(env_id: str, num_envs: int, **kwargs) -> tuple[gym.vector.VectorEnv, gym.vector.VectorEnv]:
    kwargs = {**TEST_KWARGS[env_id], **kwargs}
    native = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    sync = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)
    return native, sync


def few_architecture_actions(env: gym.vector.VectorEnv, rng: np.random.Generator) -> np.ndarray:
    """A batch of actions that name only architectures whose choices are 0 or 1."""
    space, n = env.single_action_space, env.num_envs
    if isinstance(space, spaces.MultiDiscrete):
        return rng.integers(0, 2, (n, *space.shape))
    if isinstance(space, spaces.Discrete):
        return rng.integers(0, 2, n)
    search_space = get_space(env.spec.kwargs["space"])  # Box: argmax per decision
    scores = rng.uniform(-1.0, 0.0, (n, search_space.n_decisions, search_space.max_choices)).astype(np.float32)
    choice = rng.integers(0, 2, (n, search_space.n_decisions))
    np.put_along_axis(scores, choice[..., None], 1.0, axis=2)
    return scores.reshape(n, -1)


def steps_per_query(env_id: str) -> int:
    """Sequential envs take one step per decision, the others one per architecture."""
    if gym.spec(env_id).entry_point.endswith(":SequentialNASEnv"):
        return get_space(gym.spec(env_id).kwargs["space"]).n_decisions
    return 1


def assert_same_run(env_id: str, steps: int, actions: str, seed: int = 3, num_envs: int = 5, **kwargs) -> None:
    native, sync = make_pair(env_id, num_envs, **kwargs)
    np.testing.assert_equal(native.reset(seed=seed), sync.reset(seed=seed))
    rng = np.random.default_rng(seed)
    native.action_space.seed(seed)
    for step in range(steps):
        batch = native.action_space.sample() if actions == "any" else few_architecture_actions(native, rng)
        np.testing.assert_equal(native.step(batch), sync.step(batch), err_msg=f"step {step}")
        if step == steps // 2:  # reset some sub-envs mid-episode; the others keep their generators
            mask = np.arange(num_envs) % 2 == 0
            options = {"reset_mask": mask}
            np.testing.assert_equal(
                native.reset(options=dict(options)), sync.reset(options=dict(options)), err_msg="reset_mask"
            )
    native.close()
    sync.close()


@vector_ids
@pytest.mark.parametrize("actions", ["any", "few"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"budget": 9},
        {"budget": 12, "top_k": 2},
        {"budget": 7, "noise": "mean", "top_k": 3},
        {"budget": 8, "reward": "normalized"},
        {"budget": 6, "reward": lambda metrics: metrics["valid_acc"] - metrics["cost"] / 1e4},
    ],
    ids=["default", "top_k=2", "noise=mean", "normalized", "callable"],
)
def test_native_vector_env_equals_sync_vector_env(env_id, actions, kwargs):
    steps = 60 * steps_per_query(env_id)
    assert_same_run(env_id, steps, actions, **kwargs)


@vector_ids
def test_the_exact_rules_of_the_incumbent_run(env_id, monkeypatch):
    """The few-architecture stream reaches the incumbent's tie and fall rules (else the test
    above could not tell whether the rare path is right)."""
    calls = {"leader": 0, "rank": 0}
    for name in calls:
        original = getattr(vector.NASVectorEnv, f"_{name}")

        def counted(self, *args, _name=name, _original=original):
            calls[_name] += 1
            return _original(self, *args)

        monkeypatch.setattr(vector.NASVectorEnv, f"_{name}", counted)
    steps = 40 * steps_per_query(env_id)
    assert_same_run(env_id, steps, "few", budget=40)
    assert calls["leader"] > 0 and calls["rank"] > 0, calls


@vector_ids
def test_make_vec_picks_the_native_env_by_default(env_id):
    envs = gym.make_vec(env_id, num_envs=3, **TEST_KWARGS[env_id])
    assert isinstance(envs.unwrapped, vector.NASVectorEnv)
    assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert envs.observation_space.shape == (3, *envs.single_observation_space.shape)
    envs.close()


def test_rows_without_a_vector_entry_point_stay_sync():
    plain = [row.id for row in ENV_TABLE if not row.vector_entry_point]
    assert plain, "every id has a native vector env: this test has nothing to check"
    assert gym.spec(plain[0]).vector_entry_point is None


@vector_ids
@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"num_envs": 0}, "num_envs"),
        ({"num_envs": 2, "render_mode": "human"}, "render_mode"),
        ({"num_envs": 2, "evaluator": "synthetic"}, "evaluator"),
        ({"num_envs": 2, "budget": 0}, "budget"),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_them(env_id, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        gym.make_vec(env_id, vectorization_mode="vector_entry_point", **{**TEST_KWARGS[env_id], **kwargs})


@vector_ids
def test_bad_actions_raise_a_value_error_naming_actions(env_id):
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **TEST_KWARGS[env_id])
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(envs.action_space.sample())
    envs.reset(seed=0)
    good = envs.action_space.sample()
    bad = good.astype(np.float32) if good.dtype.kind == "f" else good.copy()
    if bad.dtype.kind == "f":
        bad[1, 0] = np.nan
    else:
        bad.flat[-1] = 99
    with pytest.raises(ValueError, match="action"):
        envs.step(bad)
    with pytest.raises(ValueError, match="actions"):
        envs.step(good[:1])
    if good.dtype.kind == "f":  # Box actions: given values are named as given, strings are not read as numbers
        huge = good.astype(np.float64)
        huge[0, 2] = 1e39
        with pytest.raises(ValueError, match=r"\[-1, 1\].*1e\+39"):
            envs.step(huge)
        with pytest.raises(ValueError, match="actions must be an array of real numbers"):
            envs.step(good.astype(str))
    envs.step(good)  # a rejected batch changed nothing


def test_observation_ranks_order_values_then_indices():
    """The top-K's order: by value, ties by index (the heap's tuples); an architecture observing
    the same value with two seeds has one rank, and each rank maps back to its value."""
    valid = np.array([[90.0, 80.0], [80.0, 80.0], [np.nan, 95.0]])
    ranks, values = vector._observation_ranks(valid)
    assert ranks.reshape(3, 2).tolist() == [[2, 0], [1, 1], [4, 3]]
    assert values[0] == -np.inf and values[1:4].tolist() == [80.0, 80.0, 90.0] and values[4] == 95.0


def test_an_episode_longer_than_the_space_queries_every_architecture_and_repeats():
    """With a budget above the space's size every architecture gets queried and then repeated: the
    search history must hold them all (and the native env must still equal SyncVectorEnv)."""
    env_id = next(row.id for row in VECTOR_ROWS if gym.spec(row.id).entry_point.endswith(":GlobalNASEnv"))
    size = get_space(gym.spec(env_id).kwargs["space"]).size
    native, sync = make_pair(env_id, 2, budget=size + 20)
    native.reset(seed=5), sync.reset(seed=5)
    every = np.array(native.unwrapped._space.enumerate())  # one choice vector per architecture
    rng = np.random.default_rng(5)
    order = np.stack([rng.permutation(size), rng.permutation(size)], axis=1)
    for step in range(size + 19):  # every architecture once, then a few again
        batch = every[order[step % size]]
        native_step, sync_step = native.step(batch), sync.step(batch)
    np.testing.assert_equal(native_step, sync_step)
    assert native_step[4]["n_queries"].tolist() == [size + 19] * 2
    np.testing.assert_equal(native.step(batch), sync.step(batch))  # the budget-th query truncates both
    native.close()
    sync.close()


@vector_ids
@pytest.mark.parametrize("actions", ["any", "few"])
@pytest.mark.parametrize(
    "kwargs", [{"budget": 9}, {"budget": 12, "top_k": 2}, {"budget": 7, "noise": "mean", "top_k": 3}]
)
def test_the_numpy_path_equals_sync_vector_env(env_id, actions, kwargs, monkeypatch):
    """Without numba (the ``fast`` extra) the numpy path does the queries: it too equals SyncVectorEnv."""
    monkeypatch.setattr(vector, "_kernels", None)
    assert_same_run(env_id, 60 * steps_per_query(env_id), actions, **kwargs)


def test_the_numpy_path_takes_an_episode_longer_than_the_space(monkeypatch):
    monkeypatch.setattr(vector, "_kernels", None)
    test_an_episode_longer_than_the_space_queries_every_architecture_and_repeats()


@vector_ids
def test_the_compiled_path_runs_where_numba_is_installed(env_id):
    pytest.importorskip("numba")
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **TEST_KWARGS[env_id])
    assert envs.unwrapped._kernels is not None
    envs.close()


@pytest.mark.parametrize("compiled", [True, False])
def test_the_seen_bits_mark_exactly_the_logged_architectures(compiled, monkeypatch):
    """Each sub-env's "queried before?" bits mark exactly the distinct architectures of its log
    (repeats find their slot there instead of logging again), and a reset clears only its rows."""
    if compiled:
        pytest.importorskip("numba")
    else:
        monkeypatch.setattr(vector, "_kernels", None)
    env_id = next(row.id for row in VECTOR_ROWS if gym.spec(row.id).entry_point.endswith(":GlobalNASEnv"))
    envs = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", **TEST_KWARGS[env_id])
    native = envs.unwrapped
    envs.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(min(native._budget - 1, 40)):  # few architectures: many repeats, no autoreset
        envs.step(few_architecture_actions(envs, rng))

    def marked(row: int) -> list[int]:
        bits = np.unpackbits(native._seen[row].view(np.uint8), bitorder="little")  # (x86/ARM: little-endian words)
        return np.flatnonzero(bits).tolist()

    assert (native._n_distinct < native._n_queries).all()  # repeats happened
    for row in range(3):
        logged = native._log_index[row, : native._n_distinct[row]].tolist()
        assert len(set(logged)) == len(logged)
        assert marked(row) == sorted(logged)
    kept = marked(0)
    envs.reset(options={"reset_mask": np.array([False, True, False])})
    assert marked(1) == [] and marked(0) == kept
    envs.close()
