"""One whole architecture per step, as discrete choices."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from nasgym.envs import _docs
from nasgym.envs.base import NASEnv


class GlobalNASEnv(NASEnv):
    __doc__ = (
        """
    ## Description

    Each step the agent names one whole architecture, one discrete choice per decision (per edge
    of the NAS-Bench-201 cell); the env queries it and returns its reward. Suited to population
    methods and to policy-gradient agents with a factorised categorical policy.

    ## Action Space

    `MultiDiscrete(n_choices)`. NAS-Bench-201: `MultiDiscrete([5, 5, 5, 5, 5, 5])`, the op index
    of each edge in arch-string order (op order `none, skip_connect, nor_conv_1x1, nor_conv_3x3,
    avg_pool_3x3`). NAS-Bench-301: the DARTS space's 24 decisions, per cell (normal, reduce) and
    intermediate node 2..5: its input pair (one of the 1, 3, 6, 10 pairs `a_b`, `a < b`, in
    lexicographic order), the op on the edge from `a`, the op on the edge from `b` (7 ops each):
    `MultiDiscrete([1, 7, 7, 3, 7, 7, 6, 7, 7, 10, 7, 7] * 2)`, every action a valid cell.
    NAS-Bench-101: `MultiDiscrete([2] * 21 + [3] * 5)`, the 21 edges of the 7-vertex cell's upper
    triangle row by row, then the ops of vertices 1..5 (`conv3x3-bn-relu, conv1x1-bn-relu,
    maxpool3x3`); a cell outside the imported table (its input does not reach its output, more
    than 9 edges remain after pruning, or a partial import lacks it) queries the table's cell whose
    encoding differs from it in the fewest places, as `info["arch"]` and `info["index"]` say.
    Out-of-range or non-integer values raise a `ValueError`.

    ## Observation Space

    `Box(0, 1, (features,), float32)`: the mean encoding of the top-K architectures by observed
    validation accuracy so far. NAS-Bench-201: `(30,)`, one-hot per edge (0.2 everywhere before
    the first query); NAS-Bench-301: `(196,)`, 1 at each chosen (cell, edge, op) as in the
    Continuous flavour (before the first query, the mean encoding of a uniformly random cell);
    NAS-Bench-101: `(36,)`, the 21 edge bits and the one-hot op of vertices 1..5 (zero for a
    vertex off every input-output path), the table's mean before the first query.

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
        self.action_space = spaces.MultiDiscrete(space.n_choices)
        self._shape = (space.n_decisions,)
        self._n_choices = [int(n) for n in space.n_choices]
        self._mixed_radix = space.is_product  # else the space decodes each action (NAS-Bench-101)
        self.observation_space = spaces.Box(0.0, 1.0, (space.feature_size,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        self._start_episode(seed)
        return self._top_k_observation(), self._progress_info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_running()
        reward, truncated, info = self._query(self._index_of(action))
        return self._top_k_observation(), reward, False, truncated, info

    def _index_of(self, action: np.ndarray) -> int:
        """Canonical index of the architecture an action names, or a ``ValueError``."""
        # Fast path for what agents pass, an integer ndarray of the right shape: check and combine
        # Python ints, as numpy reductions on 6 values cost microseconds per step.
        fast = type(action) is np.ndarray and action.dtype.kind in "iu" and action.shape == self._shape
        if fast and self._mixed_radix:
            index = 0
            for choice, n_choices in zip(action.tolist(), self._n_choices, strict=True):
                if not 0 <= choice < n_choices:
                    break  # out of range: the checked path below raises the error
                index = index * n_choices + choice  # mixed radix, first decision most significant
            else:
                return index
        choices = self.search_space.check_choices(action, "action")  # errors name the argument
        if choices.ndim != 1:
            raise ValueError(
                f"action must have shape {self.action_space.shape} (one choice per decision), got shape {choices.shape}"
            )
        return self.search_space.decode_choices(choices)
