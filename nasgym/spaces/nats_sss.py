"""NATS-Bench size search space (NATS-sss): the channels of 5 layers, 8 choices each, 32,768 networks.

Every network has the same cell topology (the best cell of the topology space,
``|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|``);
what varies is the number of channels of each of its 5 layers: the stem and first cell, the
first residual reduction block, the second cell, the second reduction block and the last cell,
each in {8, 16, ..., 64}. Architectures print as NATS-Bench does, ``8:16:24:32:40``.

The canonical index reads the 5 choices as a base-8 number, first layer most significant, which
is also NATS-Bench's own index order (``8:8:8:8:16`` is index 1), so the canonical index equals
the official one.
"""

from __future__ import annotations

import numpy as np

from nasgym.spaces.base import SearchSpace

#: the channel choices of every layer, in index order.
NATS_SSS_CHANNELS: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64)
N_LAYERS = 5
_EXAMPLE = "8:16:24:32:40"


class NATSSizeSpace(SearchSpace):
    """The 5 layer widths of NATS-Bench's size space; architectures print as ``8:16:24:32:40``."""

    def __init__(self) -> None:
        super().__init__(
            name="nats-sss",
            decision_names=[f"channels{layer}" for layer in range(1, N_LAYERS + 1)],
            choices=[[str(c) for c in NATS_SSS_CHANNELS]] * N_LAYERS,
        )

    def _format(self, choices: list[int]) -> str:
        return ":".join(str(NATS_SSS_CHANNELS[i]) for i in choices)

    def from_string(self, text: str) -> np.ndarray:
        parts = text.split(":") if isinstance(text, str) else []
        labels = self.choices[0]
        if len(parts) != N_LAYERS or any(part not in labels for part in parts):
            raise ValueError(
                f"arch string {text!r} is malformed; expected {N_LAYERS} channel counts joined by ':', "
                f"each one of {list(NATS_SSS_CHANNELS)}, e.g. {_EXAMPLE!r}"
            )
        return np.array([labels.index(part) for part in parts], dtype=np.int64)

    def channels(self, choices: np.ndarray) -> np.ndarray:
        """Channel counts of each layer: shape (..., 5), int64."""
        return np.asarray(NATS_SSS_CHANNELS, dtype=np.int64)[self.check_choices(choices)]

    def resources(self, choices: np.ndarray, dataset: str) -> dict[str, np.ndarray]:
        """Exact ``flops`` and ``params`` (M) on NATS-Bench's datasets (none on others)."""
        from nasgym.tables.nats_sss import DATASETS, flops_and_params  # the tables module imports this one

        if dataset not in DATASETS:
            return {}
        flops, params = flops_and_params(choices, dataset)
        return {"flops": flops, "params": params}
