"""The compiled steps (numba, the ``fast`` extra) decode Continuous actions exactly as the numpy
path and the single env do: the same architecture for every action, ties (equal values, 0.0 and
-0.0) to the first choice. Parametrised over every native vector env of a Continuous id."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.envs import vector
from nasgym.envs_registry import ENV_TABLE

pytest.importorskip("numba")

CONTINUOUS_VECTOR_IDS = [
    row.id
    for row in ENV_TABLE
    if row.vector_entry_point and gym.spec(row.id).entry_point.endswith(":ContinuousNASEnv")
]


@pytest.mark.parametrize("env_id", CONTINUOUS_VECTOR_IDS)
def test_the_compiled_argmax_breaks_ties_as_the_numpy_path_and_the_single_env(env_id):
    n = 400
    envs = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point").unwrapped
    single = gym.make(env_id).unwrapped
    assert envs._kernels is not None
    levels = np.array([-1.0, -0.5, -0.0, 0.0, 0.5, 1.0], dtype=np.float32)  # a decision's max often shared
    actions = levels[np.random.default_rng(0).integers(0, len(levels), (n, *envs.single_action_space.shape))]
    _, compiled = envs._apply_actions(actions, vector._ALL)
    np.testing.assert_array_equal(compiled, envs._first_argmax(actions))
    assert compiled.tolist() == [single.decode(action) for action in actions]
    envs.close()
    single.close()
