"""L2NAS's continuous-encoding NAS env."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from nasgym.envs import _docs
from nasgym.envs.base import NASEnv

_FLOAT32 = np.dtype(np.float32)  # a dtype instance: np.asarray resolves it faster than the type


def real_values(action: Any, argument: str = "action") -> np.ndarray:
    """``action`` as an array of real numbers, or a ``ValueError`` naming ``argument``: strings,
    objects and complex numbers are refused rather than converted (numpy reads "0.5" as 0.5, drops
    imaginary parts)."""
    try:
        values = np.asarray(action)
    except ValueError:  # ragged nesting
        values = None
    if values is None or values.dtype.kind not in "biuf":
        raise ValueError(f"{argument} must be an array of real numbers, got {action!r:.100}")
    return values


def float32_values(action: Any, argument: str = "action") -> np.ndarray:
    """``action`` (real numbers, see :func:`real_values`) as float32; a value beyond float32's
    range becomes infinite, which the range check after it refuses."""
    with np.errstate(over="ignore"):
        return real_values(action, argument).astype(_FLOAT32)


def out_of_range(action: Any) -> ValueError:
    """The error naming the values of ``action`` (real numbers; as given, not as their float32
    rounding) outside [-1, 1] or NaN."""
    values = np.asarray(action, dtype=np.float64)
    bad = values[~(np.abs(values) <= 1.0)]
    return ValueError(f"action values must be finite and within [-1, 1]; got {bad[:5].tolist()}")


class ContinuousNASEnv(NASEnv):
    __doc__ = (
        """
    ## Description

    Neural architecture search as in L2NAS (Mills et al., 2023): each step the agent proposes a
    continuous architecture encoding (a relaxation: one weight per candidate choice), the env
    discretises it, queries that architecture and returns its reward. On NAS-Bench-201 the op of
    each edge is the argmax of its weights; on the DARTS space (NAS-Bench-301) the relaxation is
    DARTS's own: one weight per candidate edge and op, and each node keeps its two strongest
    incoming edges (strength: the edge's largest op weight) with the argmax op on each. The state
    is the mean encoding of the top-K architectures found so far, so the agent sees where the good
    region of the space lies. `decode(action)` gives the architecture an action encodes and
    `vertex(index)` the canonical action of an architecture (+1 at its choices, -1 elsewhere).

    ## Action Space

    `Box(-1, 1, (rows * choices,), float32)`. NAS-Bench-201: `(30,)`, read as 6 edges x 5 ops (op
    order `none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3`); the op of each edge is
    the argmax of its 5 values (ties: the first). NAS-Bench-301: `(196,)`, read as 2 cells (normal,
    reduce) x 14 candidate edges (DARTS's order) x 7 ops (`max_pool_3x3, avg_pool_3x3,
    skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5`); ties go to the lower
    input and the first op. NAS-Bench-101: `(78,)`, read as 26 decisions x 3 (the 21 edges use
    their first 2 values: absent, present; the 5 ops all 3), argmax per decision, then queried as
    the Global flavour queries a cell. Values outside [-1, 1], NaN or inf raise a `ValueError`;
    nothing is clipped.

    ## Observation Space

    `Box(0, 1, (rows * choices,), float32)`, the layout of the action: the mean encoding (1 at each
    chosen edge and op) of the top-K architectures by observed validation accuracy so far; before
    the first query the mean encoding of a uniformly random architecture (NAS-Bench-201: 0.2
    everywhere). NAS-Bench-101: `(36,)`, the encoding of the Global flavour, not the action's layout.

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
        self._action_shape = space.relaxation_shape
        self._decode_relaxation = space.decode_relaxation
        n = int(np.prod(self._action_shape))
        self._flat_shape = (n,)
        self.action_space = spaces.Box(-1.0, 1.0, (n,), np.float32)
        self.observation_space = spaces.Box(0.0, 1.0, (space.feature_size,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        self._start_episode(seed)
        return self._top_k_observation(), self._progress_info()

    def decode(self, action: np.ndarray) -> int:
        """Canonical index of the architecture an action encodes (the space's decoding of its
        relaxation: argmax per decision on NAS-Bench-201, DARTS's derivation on NAS-Bench-301)."""
        # the rare path (not a float32 array): check, then convert
        values = action if type(action) is np.ndarray and action.dtype == _FLOAT32 else float32_values(action)
        if values.shape != self._flat_shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {values.shape}")
        # Per step, so no numpy reductions (max, all: ~1 us each here) and no numpy scalars: argmax
        # finds the largest |value|, and the first NaN if there is one.
        magnitudes = np.abs(values)
        if not magnitudes.item(magnitudes.argmax()) <= 1.0:  # also False for NaN
            raise out_of_range(action)
        return self._decode_relaxation(values.reshape(self._action_shape))

    def vertex(self, index: int) -> np.ndarray:
        """The canonical action of architecture ``index`` (float32, +1 at its choices, -1 elsewhere):
        ``decode(vertex(index)) == index``."""
        return self.search_space.vertex(self.search_space.choices_of(index))

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_running()
        reward, truncated, info = self._query(self.decode(action))
        return self._top_k_observation(), reward, False, truncated, info
