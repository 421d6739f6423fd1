"""One decision per step; a query every ``n_decisions`` steps."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from nasgym.envs import _docs
from nasgym.envs.base import NASEnv


class SequentialNASEnv(NASEnv):
    __doc__ = (
        """
    ## Description

    The agent builds each architecture one decision at a time, as an RNN controller does (Zoph &
    Le, 2017): for NAS-Bench-201 it picks the op of edge 0, then edge 1, ..., then edge 5, and the
    env queries the finished cell. Then the next architecture starts from scratch, until the
    query budget is spent.

    ## Action Space

    `Discrete(max_choices)`; for NAS-Bench-201 `Discrete(5)`: the op of the current edge (op order
    `none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3`). A choice the current decision
    does not have raises a `ValueError`.

    ## Observation Space

    `Box(0, 1, (n_decisions * (max_choices + 1) + n_decisions,), float32)`; for NAS-Bench-201
    `(42,)`: the partial architecture, one-hot per edge over the 5 ops plus "unset", followed by
    the one-hot position of the edge to decide next. One flat vector, so every SB3 algorithm
    (DQN included) takes it as it is.

    ## Rewards

    0 on the steps that do not finish an architecture; on the step that does, the reward of that
    architecture (default: validation accuracy / 100).

    ## Starting State

    All edges unset, position 0.

    ## Episode End

    Never terminated; truncated on the step that makes the `budget`-th query, i.e. after
    `budget * n_decisions` steps.
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
        self._n_decisions = space.n_decisions
        self._width = space.max_choices + 1  # ops + "unset"
        self._choices: list[int] = []
        self._n_choices = space._n_choices_list
        self._weights = space._weights_list
        self.action_space = spaces.Discrete(space.max_choices)
        size = space.n_decisions * self._width + space.n_decisions
        self.observation_space = spaces.Box(0.0, 1.0, (size,), np.float32)
        self._empty = np.zeros(size, dtype=np.float32)
        self._empty[[d * self._width + space.max_choices for d in range(space.n_decisions)]] = 1.0
        self._empty[space.n_decisions * self._width] = 1.0
        self._observation = self._empty.copy()

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        self._start_episode(seed)
        self._choices = []
        self._observation = self._empty.copy()
        return self._observation.copy(), self._progress_info()

    @property
    def position(self) -> int:
        """Index of the decision the next action sets."""
        return len(self._choices)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_running()
        position = len(self._choices)
        choice = self._check_action(action, position)
        self._choices.append(choice)
        if len(self._choices) < self._n_decisions:
            obs = self._observation
            row = position * self._width
            obs[row + self._width - 1] = 0.0
            obs[row + choice] = 1.0
            base = self._n_decisions * self._width
            obs[base + position] = 0.0
            obs[base + position + 1] = 1.0
            return obs.copy(), 0.0, False, False, self._progress_info()
        index = sum(c * w for c, w in zip(self._choices, self._weights, strict=True))
        self._choices = []
        self._observation = self._empty.copy()
        reward, truncated, info = self._query(index)
        return self._observation.copy(), reward, False, truncated, info

    def _check_action(self, action: Any, position: int) -> int:
        # Fast path for a Python or numpy integer (Discrete.sample() and vector envs give np.int64):
        # np.asarray and np.issubdtype would cost more than the rest of the step.
        if type(action) is int or isinstance(action, np.integer):
            choice = int(action)
            if 0 <= choice < self._n_choices[position]:
                return choice
        value = np.asarray(action)
        n_choices = int(self.search_space.n_choices[position])
        if value.shape not in ((), (1,)) or not np.issubdtype(value.dtype, np.integer):
            raise ValueError(f"action must be one integer in 0..{n_choices - 1}, got {action!r}")
        choice = int(value.reshape(()))
        if not 0 <= choice < n_choices:
            raise ValueError(f"action {choice} is out of range: decision {position} accepts 0..{n_choices - 1}")
        return choice
