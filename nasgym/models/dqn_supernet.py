"""One Q-network holding every architecture of the dqn-arch space: the widest one's weights, sliced.

The shared weights are those of the widest Q-network, ``Linear(n_inputs, W), Linear(W, W),
Linear(W, n_actions)`` with ``W`` the largest of the widths. An architecture of hidden widths
``(w1, w2)`` uses their leading slices: the first ``w1`` output units of the first layer, the
``[:w1, :w2]`` corner of the second layer's weight, the first ``w2`` inputs of the output layer,
with its own activation after each hidden layer. So every architecture of width ``w`` or more in a
layer trains that layer's first ``w`` units, as slimmable networks share their channels.

The weights are held in blocks cut at the widths (64, 128, 256, 1024, 2048: 5 x 5 blocks in the
second layer), one parameter each, so that a forward pass touches only the blocks of its
architecture: the others get no gradient, and Adam neither moves them nor decays their moments.
Each block thus learns as its own Adam parameter, stepped only when an architecture using it trains.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nasgym.spaces.dqn_arch import DQN_ACTIVATIONS, DQN_LAYERS, DQN_WIDTHS
from nasgym.training.dqn import QEnsemble


class SharedQNetwork(nn.Module):
    """The Q-networks of every ``(widths, activations)`` of the dqn-arch space, one set of weights.

    Same calling convention as :class:`~nasgym.training.dqn.QEnsemble` with one member:
    observations ``(1, batch, n_inputs)`` to Q-values ``(1, batch, n_actions)``, of the architecture
    last :meth:`select`-ed (the widest ReLU network until then). Initialised as the widest network's
    ``QEnsemble`` is (``nn.Linear``'s init at the widest fan-in).

    :param n_inputs: observation size.
    :param n_actions: outputs (Q-values).
    :param generator: the generator of the initial weights.
    :param widths: the widths a hidden layer can take, increasing (the block edges).
    """

    def __init__(
        self,
        n_inputs: int,
        n_actions: int,
        generator: torch.Generator | None = None,
        widths: Sequence[int] = DQN_WIDTHS,
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        if not widths or any(b <= a for a, b in zip((0, *widths), widths, strict=False)):
            raise ValueError(f"widths must be positive and increasing, got {widths!r}")
        self.widths = widths
        widest = QEnsemble(1, n_inputs, [widths[-1]] * DQN_LAYERS, ["relu"] * DQN_LAYERS, n_actions, generator)
        #: block edges along each size of the network, input side first
        self.edges = [(0, n_inputs), (0, *widths), (0, *widths), (0, n_actions)]
        self.weight_blocks = nn.ModuleList()  # per layer, blocks row-major: (row block, column block)
        self.bias_blocks = nn.ModuleList()
        for layer, (weight, bias) in enumerate(zip(widest.weights, widest.biases, strict=True)):
            rows, columns = self.edges[layer], self.edges[layer + 1]
            self.weight_blocks.append(
                nn.ParameterList(
                    nn.Parameter(weight[:, r0:r1, c0:c1].detach().clone())
                    for r0, r1 in zip(rows[:-1], rows[1:], strict=True)
                    for c0, c1 in zip(columns[:-1], columns[1:], strict=True)
                )
            )
            self.bias_blocks.append(
                nn.ParameterList(
                    nn.Parameter(bias[:, :, c0:c1].detach().clone())
                    for c0, c1 in zip(columns[:-1], columns[1:], strict=True)
                )
            )
        self._activations = {name: getattr(torch, name) for name in DQN_ACTIVATIONS}
        self.select([widths[-1]] * DQN_LAYERS, ["relu"] * DQN_LAYERS)

    def select(self, widths: Sequence[int], activations: Sequence[str]) -> None:
        """Make the architecture of hidden ``widths`` and ``activations`` (input side first) the one
        the network computes.

        :param widths: one width of :attr:`widths` per hidden layer.
        :param activations: one of :data:`~nasgym.spaces.dqn_arch.DQN_ACTIVATIONS` per hidden layer.
        """
        widths, activations = list(widths), list(activations)
        if len(widths) != DQN_LAYERS or any(isinstance(w, bool) or w not in self.widths for w in widths):
            raise ValueError(f"widths must be {DQN_LAYERS} of {list(self.widths)}, got {widths!r}")
        widths = [int(w) for w in widths]
        if len(activations) != DQN_LAYERS or any(a not in DQN_ACTIVATIONS for a in activations):
            raise ValueError(f"activations must be {DQN_LAYERS} of {list(DQN_ACTIVATIONS)}, got {activations!r}")
        self.selected = (tuple(widths), tuple(activations))
        #: leading blocks used along each size of the network
        self._blocks = [1, *(self.widths.index(w) + 1 for w in widths), 1]

    def layer(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight ``(1, fan_in, fan_out)`` and bias ``(1, 1, fan_out)`` of ``layer`` of the selected
        architecture: the leading blocks, joined."""
        n_rows, n_columns = self._blocks[layer], self._blocks[layer + 1]
        per_row = len(self.edges[layer + 1]) - 1
        blocks = self.weight_blocks[layer]
        rows = [_join([blocks[r * per_row + c] for c in range(n_columns)], -1) for r in range(n_rows)]
        return _join(rows, -2), _join(list(self.bias_blocks[layer][:n_columns]), -1)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Q-values ``(1, batch, n_actions)`` of observations ``(1, batch, n_inputs)``, selected architecture."""
        x = observations
        for layer in range(DQN_LAYERS + 1):
            weight, bias = self.layer(layer)
            x = torch.baddbmm(bias, x, weight)
            if layer < DQN_LAYERS:
                x = self._activations[self.selected[1][layer]](x)
        return x

    def extract(self) -> QEnsemble:
        """The selected architecture as a standalone one-member :class:`~nasgym.training.dqn.QEnsemble`
        holding a copy of its shared weights."""
        widths, activations = self.selected
        weights = [self.layer(layer) for layer in range(DQN_LAYERS + 1)]
        n_inputs, n_actions = weights[0][0].shape[1], weights[-1][0].shape[2]
        # its initial weights are overwritten: drawn from a generator of its own, not the caller's rng
        network = QEnsemble(1, n_inputs, list(widths), list(activations), n_actions, torch.Generator())
        with torch.no_grad():
            for layer, (weight, bias) in enumerate(weights):
                network.weights[layer].copy_(weight)
                network.biases[layer].copy_(bias)
        return network.to(weights[0][0].device)


def _join(tensors: list[torch.Tensor], dim: int) -> torch.Tensor:
    """``torch.cat`` without a copy of a single tensor."""
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors, dim)
