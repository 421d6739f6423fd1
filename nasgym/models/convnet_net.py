"""The ConvNet of LaNAS's motivating example: 1 to 5 conv layers, then a linear classifier.

Each layer is a bias-free conv with "same" padding and stride 1 (kernel 3 or 5, 32 or 64 output
channels), BatchNorm and ReLU; global average pooling and a linear layer classify the result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from nasgym.spaces.convnet import ConvNetSpace


class ConvNet(nn.Module):
    """A plain stack of conv layers.

    :param layers: ``(kernel, channels)`` of each layer, input side first.
    :param num_classes: classifier outputs.
    :param in_channels: input image channels.
    """

    def __init__(self, layers: Sequence[tuple[int, int]], num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for kernel, out_channels in layers:
            blocks += [
                nn.Conv2d(channels, out_channels, kernel, padding=kernel // 2, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
            channels = out_channels
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build(choices: np.ndarray, num_classes: int, in_channels: int = 3) -> ConvNet:
    """The network of a ConvNet-space choice vector (see :class:`~nasgym.spaces.convnet.ConvNetSpace`)."""
    return ConvNet(ConvNetSpace().layers(choices), num_classes, in_channels)
