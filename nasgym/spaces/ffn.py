"""TabNAS's feed-forward space for tabular data: 2 or 3 hidden ReLU layers, 20 widths each.

TabNAS (Yang et al., "TabNAS: Rejection Sampling for Neural Architecture Search on Tabular
Datasets", NeurIPS 2022) searches fully connected networks whose hidden layers each take one of
the 20 widths of :data:`FFN_WIDTHS`: 400 networks with 2 hidden layers, 8,000 with 3. A network
is ``Linear(inputs, w1), ReLU, ..., Linear(w_L, classes)``; its parameters (weights and biases)
follow from the widths, the number of input features and the number of classes
(:meth:`FFNSpace.param_count`).

Two spaces are registered: ``ffn2`` (2 hidden layers) and ``ffn3`` (3). Architectures print as
their widths joined by ``-``, input side first (``"32-144-24"``); the canonical index reads the
width choices as a base-20 number, first layer most significant.
"""

from __future__ import annotations

import re

import numpy as np

from nasgym.spaces.base import SearchSpace

#: the width choices of every hidden layer, in increasing order (choice i is width FFN_WIDTHS[i])
FFN_WIDTHS: tuple[int, ...] = (
    8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 384, 512,
)  # fmt: skip
#: the hidden-layer counts of the registered spaces (``ffn2``, ``ffn3``)
FFN_DEPTHS: tuple[int, ...] = (2, 3)
_WIDTH = re.compile(r"[0-9]+")


class FFNSpace(SearchSpace):
    """Feed-forward networks of ``n_layers`` hidden ReLU layers, each one of :data:`FFN_WIDTHS` wide.

    :param n_layers: number of hidden layers, one of :data:`FFN_DEPTHS` (2: 400 networks, 3: 8,000).
    """

    def __init__(self, n_layers: int = 2) -> None:
        if isinstance(n_layers, bool) or n_layers not in FFN_DEPTHS:
            raise ValueError(f"n_layers must be one of {list(FFN_DEPTHS)} (hidden layers), got {n_layers!r}")
        super().__init__(
            name=f"ffn{n_layers}",
            decision_names=[f"width{i}" for i in range(1, n_layers + 1)],
            choices=[[str(w) for w in FFN_WIDTHS]] * n_layers,
        )
        self.n_layers = n_layers
        self._widths = np.array(FFN_WIDTHS, dtype=np.int64)

    def widths(self, choices: np.ndarray) -> np.ndarray:
        """The hidden widths (int64, shape of ``choices``) of choice vectors."""
        return self._widths[self.check_choices(choices)]

    def param_count(self, choices: np.ndarray, n_inputs: int, n_classes: int) -> np.ndarray:
        """Exact parameter count (weights and biases; int64, one per choice vector) on a dataset with
        ``n_inputs`` encoded features and ``n_classes`` classes: the sum over the linear layers of
        ``(fan_in + 1) * fan_out``. It is also the multiply-adds of one forward pass (bias adds
        included), as :func:`nasgym.models.profile.count_flops` counts them.

        :param choices: choice vectors (..., n_layers).
        :param n_inputs: input features of the network (after encoding), >= 1.
        :param n_classes: outputs of the classifier, >= 1.
        """
        for name, value in (("n_inputs", n_inputs), ("n_classes", n_classes)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        widths = self.widths(choices)
        fan_in = np.concatenate([np.full(widths.shape[:-1] + (1,), n_inputs), widths], axis=-1)
        fan_out = np.concatenate([widths, np.full(widths.shape[:-1] + (1,), n_classes)], axis=-1)
        return ((fan_in + 1) * fan_out).sum(axis=-1)

    def _format(self, choices: list[int]) -> str:
        return "-".join(str(FFN_WIDTHS[c]) for c in choices)

    def from_string(self, text: str) -> np.ndarray:
        parts = text.split("-") if isinstance(text, str) else []
        if len(parts) != self.n_layers or not all(_WIDTH.fullmatch(p) and int(p) in FFN_WIDTHS for p in parts):
            raise ValueError(
                f"arch string {text!r} is malformed; expected {self.n_layers} '-'-separated widths, each one of "
                f"{list(FFN_WIDTHS)}, e.g. {'-'.join(['32', '144', '24'][: self.n_layers])!r}"
            )
        return np.array([FFN_WIDTHS.index(int(p)) for p in parts], dtype=np.int64)


class FFN3Space(FFNSpace):
    """:class:`FFNSpace` with 3 hidden layers (8,000 networks): the registered ``ffn3``."""

    def __init__(self) -> None:
        super().__init__(n_layers=3)
