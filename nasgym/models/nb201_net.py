"""The NAS-Bench-201 network in torch, layer for layer as the benchmark trained it.

Stem (3x3 conv, C = 16, BN), three stages of N = 5 cells at 16, 32 and 64 channels with a
residual reduction block between stages, then BN + ReLU ("lastact"), global average pooling and
a linear classifier. Cell ops: ``nor_conv_kxk`` = ReLU-Conv-BN, ``skip_connect`` = identity,
``avg_pool_3x3`` = 3x3 average pooling (padding not counted), ``none`` = zero. Its parameter and
FLOP counts equal NAS-Bench-201's official ones for every cell and dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from nasgym.spaces.nb201 import NB201_EDGES, NB201_OPS

#: stem channels and cells per stage of the benchmark's network.
STEM_CHANNELS, CELLS_PER_STAGE = 16, 5


class ReLUConvBN(nn.Sequential):
    """ReLU, then a bias-free conv with "same" padding, then BatchNorm.

    :param c_in: input channels.
    :param c_out: output channels.
    :param kernel: square kernel size.
    :param stride: conv stride.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(),  # not in place: a cell node feeds several edges
            nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


def make_op(op: str, channels: int) -> nn.Module:
    """The module of a cell edge (``none`` has none: it contributes zero and is skipped).

    :param op: one of :data:`NB201_OPS` except ``none``.
    :param channels: channels of the cell (edges keep the channels and the resolution).
    """
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"op {op!r} is unknown; accepted: {list(NB201_OPS[1:])}")


def cell_inputs(ops: Sequence[str]) -> list[list[tuple[int, int]]]:
    """For each node 1..3 of a cell, the ``(edge, source node)`` pairs whose op is not ``none``.

    :param ops: the op of each edge, in :data:`NB201_EDGES` order.
    """
    return [
        [(e, source) for e, (node, source) in enumerate(NB201_EDGES) if node == target and ops[e] != "none"]
        for target in (1, 2, 3)
    ]


def cell_output(
    x: torch.Tensor, inputs: list[list[tuple[int, int]]], apply_edge: Callable[[int, torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """The output node of a cell: node j is the sum of its edges' ops applied to the nodes before it.

    :param x: the cell input (node 0).
    :param inputs: :func:`cell_inputs` of the cell's ops.
    :param apply_edge: ``apply_edge(edge, tensor)`` applies that edge's op.
    """
    nodes = [x]
    for node_inputs in inputs:
        terms = [apply_edge(edge, nodes[source]) for edge, source in node_inputs]
        # a node whose edges are all "none" is zero, as the benchmark's Zero op makes it
        nodes.append(sum(terms[1:], terms[0]) if terms else torch.zeros_like(x))
    return nodes[-1]


class NB201Cell(nn.Module):
    """A cell: node j (1..3) is the sum of the edge ops applied to the nodes before it.

    :param ops: the op of each edge, in :data:`NB201_EDGES` order.
    :param channels: channels of the cell.
    """

    def __init__(self, ops: Sequence[str], channels: int) -> None:
        super().__init__()
        # modules exist only for edges that are not "none", so the counts match the benchmark's
        self.edges = nn.ModuleDict({str(e): make_op(op, channels) for e, op in enumerate(ops) if op != "none"})
        self._inputs = cell_inputs(ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cell_output(x, self._inputs, lambda edge, h: self.edges[str(edge)](h))


class ResidualReduction(nn.Module):
    """The reduction block between stages: a ResNet basic block of stride 2.

    Main path ReLU-Conv3x3(stride 2)-BN, ReLU-Conv3x3-BN; shortcut AvgPool2d(2) then a 1x1 conv.

    :param c_in: input channels.
    :param c_out: output channels (twice the input in NAS-Bench-201).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Backbone(nn.Module):
    """The layers around the cells: stem, three stages of cells with reductions, lastact, classifier.

    :param make_cell: builds the cell of a stage from its channel count.
    :param num_classes: classifier outputs (10 CIFAR-10, 100 CIFAR-100, 120 ImageNet16-120).
    :param in_channels: input image channels (3; 1 for grayscale digits).
    """

    def __init__(self, make_cell: Callable[[int], nn.Module], num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, STEM_CHANNELS, 3, padding=1, bias=False), nn.BatchNorm2d(STEM_CHANNELS)
        )
        layers: list[nn.Module] = []
        for stage in range(3):
            channels = STEM_CHANNELS * 2**stage
            if stage > 0:
                layers.append(ResidualReduction(channels // 2, channels))
            layers.extend(make_cell(channels) for _ in range(CELLS_PER_STAGE))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.pool(features).flatten(1))


class NB201Network(NB201Backbone):
    """The whole NAS-Bench-201 network of one cell.

    :param ops: the op of each of the 6 cell edges, in :data:`NB201_EDGES` order.
    :param num_classes: classifier outputs (10 CIFAR-10, 100 CIFAR-100, 120 ImageNet16-120).
    :param in_channels: input image channels (3; 1 for grayscale digits).
    """

    def __init__(self, ops: Sequence[str], num_classes: int, in_channels: int = 3) -> None:
        if len(ops) != len(NB201_EDGES):
            raise ValueError(f"ops must name one op per edge ({len(NB201_EDGES)}), got {list(ops)}")
        super().__init__(lambda channels: NB201Cell(ops, channels), num_classes, in_channels)


def build(choices: np.ndarray, num_classes: int, in_channels: int = 3) -> NB201Network:
    """The network of a NAS-Bench-201 choice vector (6 op indices in :data:`NB201_OPS` order)."""
    return NB201Network([NB201_OPS[int(c)] for c in choices], num_classes, in_channels)
