"""NAS-Bench-Macro's macro space: 8 searchable layers x 3 candidate blocks, 6,561 networks.

NAS-Bench-Macro (Su et al., "Prioritized Architecture Sampling with Monte-Carlo Tree Search",
CVPR 2021) trained every network of a MobileNetV2-like macro skeleton on CIFAR-10 with 3 seeds: a
stem, then 3 stages of 2, 3 and 3 searchable layers (the first of each stage halves the resolution
and doubles the channels), then a 1x1 conv to 1280 channels and the classifier. Each layer is one
of 3 blocks, in the benchmark's coding (the digit of its architecture keys):

* ``0`` ``id``: identity (a 1x1 conv + BN where the layer changes resolution or width),
* ``1`` ``ir_3x3_t3``: MobileNetV2 inverted residual, kernel 3, expansion 3,
* ``2`` ``ir_5x5_t6``: MobileNetV2 inverted residual, kernel 5, expansion 6.

The benchmark has test accuracies only (no validation split): how nasgym turns them into a reward
and a test accuracy is said in :mod:`nasgym.tables.macro`.
"""

from __future__ import annotations

import numpy as np

from nasgym.spaces.base import SearchSpace

#: candidate blocks in the benchmark's coding (choice i is the digit i of an architecture key).
MACRO_OPS: tuple[str, ...] = ("id", "ir_3x3_t3", "ir_5x5_t6")
MACRO_LAYERS = 8
_EXAMPLE = "22212220"


class NASBenchMacroSpace(SearchSpace):
    """The 8 layers of NAS-Bench-Macro, each one of :data:`MACRO_OPS`.

    Architectures print as the benchmark's own keys: one digit per layer, first layer first (e.g.
    ``"22212220"``). The canonical index is that key read as a base-3 number, so index and key
    name the same network.
    """

    def __init__(self) -> None:
        super().__init__(
            name="nasbench-macro",
            decision_names=[f"layer{i}" for i in range(MACRO_LAYERS)],
            choices=[MACRO_OPS] * MACRO_LAYERS,
        )

    def _format(self, choices: list[int]) -> str:
        return "".join(str(c) for c in choices)

    def from_string(self, text: str) -> np.ndarray:
        if not (isinstance(text, str) and len(text) == MACRO_LAYERS and set(text) <= {"0", "1", "2"}):
            raise ValueError(
                f"arch string {text!r} is malformed; expected {MACRO_LAYERS} digits in 0..2, one per layer "
                f"(0 = {MACRO_OPS[0]}, 1 = {MACRO_OPS[1]}, 2 = {MACRO_OPS[2]}), e.g. {_EXAMPLE!r}"
            )
        return np.array([int(c) for c in text], dtype=np.int64)
