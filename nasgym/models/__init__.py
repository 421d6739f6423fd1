"""Torch networks of the search spaces.

Importing this package does not import torch: :func:`build_network` imports the network module
of a space on first use, so ``import nasgym`` stays free of the optional torch dependency.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import nn

#: space name -> module holding its ``build(choices, num_classes, in_channels)``.
_NETWORK_MODULES: dict[str, str] = {
    "nb201": "nasgym.models.nb201_net",
    "convnet": "nasgym.models.convnet_net",
}


def build_network(space: str, choices: np.ndarray, num_classes: int, in_channels: int = 3) -> nn.Module:
    """The torch network of one architecture of ``space``.

    :param space: search space name (a key of :data:`_NETWORK_MODULES`).
    :param choices: the architecture's choice vector.
    :param num_classes: outputs of the classifier.
    :param in_channels: channels of the input images (3 for CIFAR and ImageNet16, 1 for digits).
    """
    try:
        module = _NETWORK_MODULES[space]
    except KeyError:
        raise ValueError(f"space {space!r} has no torch network; accepted: {sorted(_NETWORK_MODULES)}") from None
    return importlib.import_module(module).build(np.asarray(choices), num_classes, in_channels)


__all__ = ["build_network"]
