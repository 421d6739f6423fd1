"""NATS-Bench size space: datasets and the exact FLOPs / parameter counts of its networks.

The size space's network (NATS-Bench's ``DynamicShapeTinyNet`` with one cell per stage) is a
3x3 stem conv + BN with ``c1`` channels, then five layers: a cell (``c1 -> c1``), a residual
reduction block (``c1 -> c2``, stride 2), a cell (``c2 -> c3``), a reduction block
(``c3 -> c4``), a cell (``c4 -> c5``), a final BN and a linear classifier. The cell is the fixed
topology of :data:`nasgym.spaces.nats_sss` with five ReLU-conv3x3-BN edges and a skip edge that
becomes a 1x1 conv + BN when the cell changes the width. A reduction block is ReLU-conv3x3-BN
(stride 2), ReLU-conv3x3-BN and a 2x2 average pool + 1x1 conv shortcut.

Counts follow NATS-Bench's profiler: parameters of convs (no bias), BNs (scale and shift) and the
classifier; FLOPs are the multiply-adds of convs and of the classifier (with its bias), in
millions. They equal the official records of the sample architectures on every dataset.
"""

from __future__ import annotations

import numpy as np

from nasgym.spaces.nats_sss import NATSSizeSpace

#: dataset -> (number of classes, input resolution)
DATASET_SHAPES: dict[str, tuple[int, int]] = {"cifar10": (10, 32), "cifar100": (100, 32), "ImageNet16-120": (120, 16)}
DATASETS: tuple[str, ...] = tuple(DATASET_SHAPES)
#: the archive whose import brings this space's accuracies (users download it from NATS-Bench).
OFFICIAL_ARCHIVE = "NATS-sss-v1_0-50262-simple"


def check_dataset(dataset: str) -> str:
    if dataset not in DATASET_SHAPES:
        raise ValueError(f"dataset {dataset!r} is unknown for the NATS-Bench size space; accepted: {list(DATASETS)}")
    return dataset


def _cell(c_in: np.ndarray, c_out: np.ndarray, pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """(params, FLOPs) of one cell: 2 conv3x3 edges from the input, 3 between inner nodes, and
    the skip edge from the input, a 1x1 conv + BN where the width changes."""
    conv_from_input, conv_inner = 9 * c_in * c_out, 9 * c_out * c_out
    widens = c_in != c_out
    params = 2 * (conv_from_input + 2 * c_out) + 3 * (conv_inner + 2 * c_out) + widens * (c_in * c_out + 2 * c_out)
    flops = (2 * conv_from_input + 3 * conv_inner + widens * c_in * c_out) * pixels
    return params, flops


def _reduction(c_in: np.ndarray, c_out: np.ndarray, pixels_out: int) -> tuple[np.ndarray, np.ndarray]:
    """(params, FLOPs) of a residual block of stride 2 (its convs run at the output resolution)."""
    conv_a, conv_b, shortcut = 9 * c_in * c_out, 9 * c_out * c_out, c_in * c_out
    params = conv_a + 2 * c_out + conv_b + 2 * c_out + shortcut
    return params, (conv_a + conv_b + shortcut) * pixels_out


def flops_and_params(choices: np.ndarray, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact FLOPs (M) and parameters (M) of size-space networks given as choice vectors."""
    n_classes, resolution = DATASET_SHAPES[check_dataset(dataset)]
    c1, c2, c3, c4, c5 = np.moveaxis(NATSSizeSpace().channels(choices), -1, 0)
    full, half, quarter = resolution**2, (resolution // 2) ** 2, (resolution // 4) ** 2
    parts = [
        (27 * c1 + 2 * c1, 27 * c1 * full),  # stem conv 3x3 from RGB + BN
        _cell(c1, c1, full),
        _reduction(c1, c2, half),
        _cell(c2, c3, half),
        _reduction(c3, c4, quarter),
        _cell(c4, c5, quarter),
        (2 * c5 + c5 * n_classes + n_classes, c5 * n_classes + n_classes),  # last BN, classifier
    ]
    params = sum(p for p, _ in parts)
    flops = sum(f for _, f in parts)
    return flops / 1e6, params / 1e6
