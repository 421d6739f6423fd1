"""The NAS-Bench-201 supernet: one network holding every architecture of the space.

The layers around the cells (stem, reductions, lastact, classifier) are those of
:class:`~nasgym.models.nb201_net.NB201Network`, shared by every architecture. Each cell edge holds
one module per op (``none`` has none), so the weights are shared per (cell, edge, op): the
sub-network of an architecture uses, on every edge, the module of that edge's op, and computes
the same function as the standalone network of that architecture holding the same weights
(:meth:`NB201Supernet.extract` builds it).

BatchNorm keeps no running statistics (``track_running_stats=False``): it normalises with the
statistics of the batch it sees, in training and in evaluation alike. Running statistics
accumulated over many different sub-networks describe none of them; NAS-Bench-201's authors
found the weight-sharing methods better without them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nasgym.models.nb201_net import NB201Backbone, NB201Network, cell_inputs, cell_output, make_op
from nasgym.spaces.nb201 import NB201_EDGES, NB201_OPS

#: ops that have a module (``none`` contributes zero and has none).
WEIGHTED_OPS: tuple[str, ...] = tuple(op for op in NB201_OPS if op != "none")
#: BatchNorm buffers the standalone network has and the supernet does not.
RUNNING_STATS: tuple[str, ...] = ("running_mean", "running_var", "num_batches_tracked")


class SupernetCell(nn.Module):
    """A cell holding every op on every edge; :meth:`select` picks the ops its forward pass uses.

    :param channels: channels of the cell.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(
            nn.ModuleDict({op: make_op(op, channels) for op in WEIGHTED_OPS}) for _ in NB201_EDGES
        )
        self._ops: tuple[str, ...] = ()
        self._inputs: list[list[tuple[int, int]]] = []

    def select(self, ops: Sequence[str]) -> None:
        """Use the op ``ops[e]`` on edge ``e`` from now on."""
        self._ops = tuple(ops)
        self._inputs = cell_inputs(ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._ops:
            raise RuntimeError("no architecture is selected: call NB201Supernet.select(ops) first")
        return cell_output(x, self._inputs, lambda edge, h: self.edges[edge][self._ops[edge]](h))


def drop_running_stats(model: nn.Module) -> None:
    """Make every BatchNorm of ``model`` normalise with batch statistics, in eval mode too."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.track_running_stats = False
            module.running_mean = module.running_var = module.num_batches_tracked = None


class NB201Supernet(NB201Backbone):
    """Every NAS-Bench-201 architecture in one network, with shared weights per (cell, edge, op).

    :param num_classes: classifier outputs.
    :param in_channels: input image channels (1 for digits).
    """

    def __init__(self, num_classes: int, in_channels: int = 3) -> None:
        super().__init__(SupernetCell, num_classes, in_channels)
        drop_running_stats(self)
        self.ops: tuple[str, ...] = ()

    def select(self, ops: Sequence[str]) -> None:
        """Make the forward pass compute the sub-network of the architecture ``ops``.

        :param ops: the op of each of the 6 cell edges, in :data:`NB201_EDGES` order.
        """
        if len(ops) != len(NB201_EDGES) or any(op not in NB201_OPS for op in ops):
            raise ValueError(f"ops must name one of {list(NB201_OPS)} per edge ({len(NB201_EDGES)}), got {list(ops)}")
        self.ops = tuple(ops)
        for cell in self.cells:
            if isinstance(cell, SupernetCell):
                cell.select(ops)

    def extract(self, ops: Sequence[str]) -> NB201Network:
        """The standalone network of the architecture ``ops`` holding this supernet's shared weights.

        Its BatchNorm layers keep running statistics as the benchmark's do (reset: these weights
        never saw any), so it matches the sub-network in training mode, or in eval mode once
        trained.

        :param ops: the op of each of the 6 cell edges, in :data:`NB201_EDGES` order.
        """
        in_channels, num_classes = self.stem[0].in_channels, self.classifier.out_features
        network = NB201Network(ops, num_classes, in_channels)
        shared = self.state_dict()
        state = network.state_dict()
        for key in state:
            parts = key.split(".")
            if parts[0] == "cells" and parts[2] == "edges":  # cells.<i>.edges.<e>.<rest> -> the op's module
                parts.insert(4, ops[int(parts[3])])
            source = ".".join(parts)
            if source in shared:
                state[key] = shared[source].clone()
            elif not key.endswith(RUNNING_STATS):  # only the running statistics are the standalone's own
                raise KeyError(f"the supernet holds no weights for {key!r} of the standalone network")
        network.load_state_dict(state)
        return network.to(next(self.parameters()).device)
