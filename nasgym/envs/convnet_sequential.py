"""LaNAS's "sequential" action space on the ConvNet space: build a network layer by layer."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from nasgym.envs import _docs
from nasgym.envs.base import NASEnv
from nasgym.spaces.convnet import MAX_DEPTH

#: the decisions of one network in the order they are taken: the first layer always exists, so it
#: starts with its kernel; every later layer starts with "add it, or stop here".
TOKENS: tuple[tuple[str, int], ...] = tuple(
    token
    for layer in range(MAX_DEPTH)
    for token in ((("add", layer),) if layer else ()) + (("kernel", layer), ("channels", layer))
)
_N_TOKENS = len(TOKENS)  # 14


class ConvNetSequentialEnv(NASEnv):
    __doc__ = (
        """
    ## Description

    The motivating example of LaNAS (Wang et al., 2019): plain ConvNets of 1 to 5 conv layers,
    each with a 3x3 or 5x5 kernel and 32 or 64 channels, 1,364 networks in all. In the
    "sequential" action space the agent builds each network layer by layer: add a layer, set its
    kernel, set its channels, and so on. The first layer always exists, so a network starts with
    the kernel of layer 1, then its channels; then "stop" finishes the network, or "add" starts
    layer 2 with its kernel and channels; after the channels of layer 5 the network is finished.
    The env queries each finished network (by default: trains it), and the next one starts from
    scratch, until the query budget is spent.

    ## Action Space

    `Discrete(2)`, read by the current step: kernel 0 = 3x3, 1 = 5x5; channels 0 = 32, 1 = 64;
    after a layer's channels 0 = stop (the network is finished), 1 = add a layer. A network of depth
    d takes 3 d - 1 steps (14 for d = 5). Other values raise a `ValueError`.

    ## Observation Space

    `Box(0, 1, (56,), float32)`: the 14 steps of the longest network (kernel 1, channels 1, add 2,
    kernel 2, channels 2, ..., add 5, kernel 5, channels 5), each one-hot over (0, 1, unset),
    followed by the one-hot of the step to take next. One flat vector, so every SB3 algorithm
    (DQN included) takes it as it is.

    ## Rewards

    0 on the steps that do not finish a network; on the step that does, the reward of that network
    (default: validation accuracy / 100).

    ## Starting State

    Every step unset, position 0 (the kernel of layer 1).

    ## Episode End

    Never terminated; truncated on the step that finishes the `budget`-th network.
"""
        + _docs.CONVNET_ARGUMENTS
        + """
    ## Version History

    * v0: Initial version.
    """
    )
    needs_product_space = False  # actions are decoded by the space's own bijection

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("space", "convnet")
        super().__init__(**kwargs)
        if self.search_space.name != "convnet":
            raise ValueError(f"ConvNetSequentialEnv builds ConvNet-space networks, not {self.search_space.name!r}")
        self.action_space = spaces.Discrete(2)
        size = 3 * _N_TOKENS + _N_TOKENS
        self.observation_space = spaces.Box(0.0, 1.0, (size,), np.float32)
        self._empty = np.zeros(size, dtype=np.float32)
        self._empty[[3 * t + 2 for t in range(_N_TOKENS)]] = 1.0  # every step unset
        self._empty[3 * _N_TOKENS] = 1.0  # position 0
        self._start_network()

    def _start_network(self) -> None:
        self._position = 0
        self._choices = np.zeros(self.search_space.n_decisions, dtype=np.int64)  # depth index 0: one layer
        self._observation = self._empty.copy()

    @property
    def position(self) -> int:
        """Index in :data:`TOKENS` of the step the next action takes."""
        return self._position

    @property
    def max_query_steps(self) -> int:
        """The most steps one network takes: 14, for a network of 5 layers."""
        return _N_TOKENS

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        self._start_episode(seed)
        self._start_network()
        return self._observation.copy(), self._progress_info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_running()
        try:
            value = np.asarray(action)
        except ValueError:  # ragged nesting, undecodable bytes: no integer, refused below
            value = np.asarray(None)
        if (
            value.shape not in ((), (1,))
            or not np.issubdtype(value.dtype, np.integer)
            or int(value.reshape(())) not in (0, 1)
        ):
            raise ValueError(f"action must be one integer in 0..1, got {action!r}")
        choice = int(value.reshape(()))
        kind, layer = TOKENS[self._position]
        if kind == "kernel":
            self._choices[1 + layer] = choice
        elif kind == "channels":
            self._choices[1 + MAX_DEPTH + layer] = choice
        elif choice == 1:  # add a layer
            self._choices[0] = layer
        finished = (kind == "add" and choice == 0) or self._position == _N_TOKENS - 1
        if not finished:
            obs, position = self._observation, self._position
            obs[3 * position + 2] = 0.0
            obs[3 * position + choice] = 1.0
            obs[3 * _N_TOKENS + position] = 0.0
            obs[3 * _N_TOKENS + position + 1] = 1.0
            self._position += 1
            return obs.copy(), 0.0, False, False, self._progress_info()
        index = int(self.search_space.index_of(self._choices))
        self._start_network()
        reward, truncated, info = self._query(index)
        return self._observation.copy(), reward, False, truncated, info
