"""LaNAS's "global" action space on the ConvNet space: one whole network per step."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasgym.envs import _docs
from nasgym.envs.global_arch import GlobalNASEnv


class ConvNetGlobalEnv(GlobalNASEnv):
    __doc__ = (
        """
    ## Description

    The motivating example of LaNAS (Wang et al., 2019): plain ConvNets of 1 to 5 conv layers,
    each with a 3x3 or 5x5 kernel and 32 or 64 channels, 1,364 networks in all. In the "global"
    action space each step names one whole network: first its depth, then the kernels of all
    layers, then the channels of all layers. The env queries it (by default: trains it) and returns
    its reward. Choices for layers beyond the depth are ignored, so many actions name the same
    network.

    ## Action Space

    `MultiDiscrete([5, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2])`: depth - 1, then kernel of layers 1..5
    (0: 3x3, 1: 5x5), then channels of layers 1..5 (0: 32, 1: 64). Out-of-range or non-integer
    values raise a `ValueError`.

    ## Observation Space

    `Box(0, 1, (55,), float32)`: the mean one-hot encoding (11 decisions x 5 choices) of the top-K
    networks by observed validation accuracy so far, where the layers a network does not have are
    all zero; before the first query, uniform over each decision's choices.

    ## Rewards

    The reward of the queried network (default: validation accuracy / 100), every step.

    ## Starting State

    No network queried: the uniform observation.

    ## Episode End

    Never terminated; truncated on the step that makes the `budget`-th query.
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

    def _index_of(self, action: np.ndarray) -> int:
        """Index of the network an action names (unused layers' choices ignored), or a ``ValueError``."""
        choices = self.search_space.check_choices(action, "action")
        if choices.ndim != 1:
            raise ValueError(f"action must have shape {self.action_space.shape}, got shape {choices.shape}")
        return int(self.search_space.index_of(choices))
