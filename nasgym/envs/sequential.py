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

    The agent builds each architecture one token at a time, as an RNN controller does (Zoph & Le,
    2017): for NAS-Bench-201 it picks the op of edge 0, then edge 1, ..., then edge 5, and the env
    queries the finished cell. On the DARTS space (NAS-Bench-301) it follows the ENAS / Zoph et
    al. order, per cell (normal, then reduce) and intermediate node: the first input, the second
    input, the op of the first, the op of the second (32 steps per architecture). Then the next
    architecture starts from scratch, until the query budget is spent. `action_masks()` gives the
    valid (canonical) tokens of the current step, as sb3-contrib's MaskablePPO expects.

    ## Action Space

    `Discrete(width)`. NAS-Bench-201: `Discrete(5)`, the op of the current edge (op order `none,
    skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3`); a choice the current decision does
    not have raises a `ValueError`. NAS-Bench-301: `Discrete(7)`; an op token is the op (order
    `max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3,
    dil_conv_5x5`); the first input token `t` of node `n` (2..5) names input `t mod n`, the second
    input token names the `(t mod (n - 1))`-th of the other predecessors, so every token sequence
    is a valid cell (two distinct inputs); `action_masks()` allows only the canonical tokens `t < n`
    and `t < n - 1` there. NAS-Bench-101: `Discrete(3)`, 26 steps: the 21 edges of the cell (token
    `t` means `t mod 2`: absent, present) then the ops of vertices 1..5; the finished cell is
    queried as the Global flavour queries it (a cell outside the table: its nearest cell there).
    Integers outside the action space raise a `ValueError`.

    ## Observation Space

    `Box(0, 1, (steps * (width + 1) + steps,), float32)`; for NAS-Bench-201 `(42,)`, for
    NAS-Bench-301 `(288,)`, for NAS-Bench-101 `(130,)`: the partial architecture, one-hot per step over the tokens plus
    "unset", followed by the one-hot position of the step to take next. One flat vector, so every
    SB3 algorithm (DQN included) takes it as it is.

    ## Rewards

    0 on the steps that do not finish an architecture; on the step that does, the reward of that
    architecture (default: validation accuracy / 100).

    ## Starting State

    All edges unset, position 0.

    ## Episode End

    Never terminated; truncated on the step that makes the `budget`-th query, i.e. after
    `budget * steps` steps.
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
        self._n_decisions = space.sequence_length  # steps per architecture
        tokens = space.sequence_width
        self._width = tokens + 1  # tokens + "unset"
        self._choices: list[int] = []  # the tokens of the architecture being built
        self._valid = space.sequence_valid
        self.action_space = spaces.Discrete(tokens)
        size = self._n_decisions * self._width + self._n_decisions
        self.observation_space = spaces.Box(0.0, 1.0, (size,), np.float32)
        self._empty = np.zeros(size, dtype=np.float32)
        self._empty[[d * self._width + tokens for d in range(self._n_decisions)]] = 1.0
        self._empty[self._n_decisions * self._width] = 1.0
        self._observation = self._empty.copy()

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        self._start_episode(seed)
        self._choices = []
        self._observation = self._empty.copy()
        return self._observation.copy(), self._progress_info()

    @property
    def position(self) -> int:
        """Index of the step (token) the next action sets."""
        return len(self._choices)

    @property
    def max_query_steps(self) -> int:
        """The most steps one architecture takes (here every one takes the space's sequence length:
        one step per decision on NAS-Bench-201, 32 on NAS-Bench-301)."""
        return self._n_decisions

    def action_masks(self) -> np.ndarray:
        """Boolean mask over ``Discrete(width)``: the valid (canonical) tokens of the current step."""
        return self.search_space.sequence_mask(self._choices)

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
        index = self.search_space.sequence_index(self._choices)
        self._choices = []
        self._observation = self._empty.copy()
        reward, truncated, info = self._query(index)
        return self._observation.copy(), reward, False, truncated, info

    def _check_action(self, action: Any, position: int) -> int:
        # Fast path for a Python or numpy integer (Discrete.sample() and vector envs give np.int64):
        # np.asarray and np.issubdtype would cost more than the rest of the step.
        if type(action) is int or isinstance(action, np.integer):
            choice = int(action)
            if self._valid(self._choices, choice):
                return choice
        try:
            value = np.asarray(action)
        except ValueError:  # ragged nesting, undecodable bytes: no integer, refused below
            value = np.asarray(None)
        accepted = np.flatnonzero([self._valid(self._choices, t) for t in range(self.action_space.n)]).tolist()
        first, last = accepted[0], accepted[-1]
        if value.shape not in ((), (1,)) or not np.issubdtype(value.dtype, np.integer):
            raise ValueError(f"action must be one integer in {first}..{last}, got {action!r}")
        choice = int(value.reshape(()))
        if not self._valid(self._choices, choice):
            raise ValueError(f"action {choice} is out of range: decision {position} accepts {first}..{last}")
        return choice
