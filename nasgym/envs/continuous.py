"""L2NAS's continuous-encoding NAS env."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from gymnasium import spaces

from nasgym.envs import _docs
from nasgym.envs.base import NASEnv

_FLOAT32 = np.dtype(np.float32)  # a dtype instance: np.asarray resolves it faster than the type


class ContinuousNASEnv(NASEnv):
    __doc__ = (
        """
    ## Description

    Neural architecture search as in L2NAS (Mills et al., 2023): each step the agent proposes a
    continuous architecture encoding, the env discretises it by argmax per decision (per edge of
    the NAS-Bench-201 cell), queries that architecture and returns its reward. The state is the
    channel-wise mean of the one-hot encodings of the top-K architectures found so far, so the
    agent sees where the good region of the space lies.

    ## Action Space

    `Box(-1, 1, (n_decisions * n_choices,), float32)`; for NAS-Bench-201 `(30,)`, read as 6 edges
    x 5 ops (op order `none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3`). The op of
    each edge is the argmax of its 5 values (ties: the first). Values outside [-1, 1], NaN or inf
    raise a `ValueError`; nothing is clipped.

    ## Observation Space

    `Box(0, 1, (30,), float32)`: mean one-hot encoding of the top-K architectures by observed
    validation accuracy so far (0.2 everywhere before the first query).

    ## Rewards

    The reward of the queried architecture (default: validation accuracy / 100), every step.

    ## Starting State

    No architecture queried: the uniform observation.

    ## Episode End

    Never terminated; truncated on the step that makes the `budget`-th query.
"""
        + _docs.ARGUMENTS
        + """
    ## Version History

    * v0: Initial version.
    """
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        space = self.search_space
        self._action_shape = (space.n_decisions, space.max_choices)
        self._weights = space._weights_list
        # padded choices of uneven decisions can never win the argmax
        self._padding = np.where(np.arange(space.max_choices) < space.n_choices[:, None], 0.0, -np.inf)
        self._has_padding = bool(np.isinf(self._padding).any())
        n = space.n_decisions * space.max_choices
        self._flat_shape = (n,)
        self.action_space = spaces.Box(-1.0, 1.0, (n,), np.float32)
        self.observation_space = spaces.Box(0.0, 1.0, (n,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        self._start_episode(seed)
        return self._top_k_observation(), self._progress_info()

    def decode(self, action: np.ndarray) -> int:
        """Canonical index of the architecture an action encodes (argmax per decision)."""
        values = np.asarray(action, dtype=_FLOAT32)
        if values.shape != self._flat_shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {values.shape}")
        # Per step, so no numpy reductions (max, all: ~1 us each here) and no numpy scalars: argmax
        # finds the largest |value|, and the first NaN if there is one.
        magnitudes = np.abs(values)
        if not magnitudes.item(magnitudes.argmax()) <= 1.0:  # also False for NaN
            bad = values[~(magnitudes <= 1.0)]
            raise ValueError(f"action values must be finite and within [-1, 1]; got {bad[:5].tolist()}")
        scores = values.reshape(self._action_shape)
        if self._has_padding:
            scores = scores + self._padding
        return sum(map(operator.mul, scores.argmax(axis=1).tolist(), self._weights))

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_running()
        reward, truncated, info = self._query(self.decode(action))
        return self._top_k_observation(), reward, False, truncated, info
