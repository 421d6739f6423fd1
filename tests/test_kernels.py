"""The compiled steps (numba, the ``fast`` extra) decode Continuous actions exactly as the numpy
path does: the same architecture for every action, ties (equal values, 0.0 and -0.0) to the first
choice, and the same ``ValueError`` for NaN or values outside [-1, 1]. Parametrised over every
registered Continuous env id whose space decodes by the argmax per decision."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from conftest import make_registered_env

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.envs import continuous
from nasgym.envs_registry import ENV_TABLE

pytest.importorskip("numba")

CONTINUOUS_ROWS = [row for row in ENV_TABLE if gym.spec(row.id).entry_point.endswith(":ContinuousNASEnv")]


def tied_actions(shape: tuple[int, ...], rng: np.random.Generator, count: int) -> np.ndarray:
    """Actions drawn from a few levels, so that a decision's largest value is often shared (0.0
    and -0.0 among them)."""
    levels = np.array([-1.0, -0.5, -0.0, 0.0, 0.5, 1.0], dtype=np.float32)
    return levels[rng.integers(0, len(levels), (count, *shape))]


@pytest.mark.parametrize("row", CONTINUOUS_ROWS, ids=[row.id for row in CONTINUOUS_ROWS])
def test_the_compiled_decoding_equals_the_numpy_one(row, monkeypatch):
    compiled = make_registered_env(row, budget=10).unwrapped
    if compiled._checked_argmax is None:
        pytest.skip(f"{row.id}: its space does not decode by the argmax per decision")
    monkeypatch.setattr(continuous, "_kernels", None)
    plain = make_registered_env(row, budget=10).unwrapped
    assert plain._checked_argmax is None
    rng = np.random.default_rng(0)
    shape = compiled.action_space.shape
    uniform = rng.uniform(-1.0, 1.0, (300, *shape)).astype(np.float32)
    for action in [*uniform, *tied_actions(shape, rng, 300)]:
        assert compiled.decode(action) == plain.decode(action)
    for bad in (np.nan, 1.5, -np.inf):
        action = uniform[0].copy()
        action[-1] = bad
        for env in (compiled, plain):
            with pytest.raises(ValueError, match="within \\[-1, 1\\]"):
                env.decode(action)
    compiled.close()
    plain.close()
