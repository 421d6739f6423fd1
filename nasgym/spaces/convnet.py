"""LaNAS's motivating ConvNet space: depth 1..5, per layer kernel {3, 5} and channels {32, 64}.

The space is not a plain product: a network of depth d has d (kernel, channels) pairs, so it
holds 4 + 16 + 64 + 256 + 1024 = 1,364 networks. Its choice vectors are padded to the deepest
network: ``(depth, kernel_1..kernel_5, channels_1..channels_5)``, depth first, then all kernels,
then all channels (the order of LaNAS's "global" action space). The choices of layers beyond the
depth are ignored on input and set to 0 on output (the canonical form).

The canonical index is a bijection onto 0..1363: networks are ordered by depth, and within a
depth by their kernel bits then their channel bits read as one binary number, first layer most
significant. That is the lexicographic order of the canonical choice vectors, as in every
:class:`~nasgym.spaces.base.SearchSpace`.
"""

from __future__ import annotations

import re

import numpy as np

from nasgym.spaces.base import SearchSpace

MAX_DEPTH = 5
KERNELS: tuple[int, ...] = (3, 5)
CHANNELS: tuple[int, ...] = (32, 64)
_LAYER = re.compile(r"k(\d+)c(\d+)")
_EXAMPLE = "k3c32-k5c64"


class ConvNetSpace(SearchSpace):
    """Variable-depth plain ConvNets; architectures print as ``k3c32-k5c64`` (one token per layer).

    Decision 0 is the depth (choice i means i + 1 layers), decisions 1..5 the kernel of each layer
    (choice 0: 3x3, 1: 5x5), decisions 6..10 its channels (choice 0: 32, 1: 64).
    """

    def __init__(self) -> None:
        layers = range(1, MAX_DEPTH + 1)
        super().__init__(
            name="convnet",
            decision_names=["depth", *(f"kernel{i}" for i in layers), *(f"channels{i}" for i in layers)],
            choices=[
                [str(d) for d in layers],
                *([[str(k) for k in KERNELS]] * MAX_DEPTH),
                *([[str(c) for c in CHANNELS]] * MAX_DEPTH),
            ],
        )
        # networks of depth d: 4 ** d; index of the first network of each depth
        per_depth = 4 ** np.arange(1, MAX_DEPTH + 1, dtype=np.int64)
        self._depth_offsets = np.concatenate([[0], np.cumsum(per_depth)[:-1]])
        self.size = int(per_depth.sum())
        # bit weight of layer i in a depth-d network: 2 ** (d - 1 - i), 0 for layers i >= d
        layer = np.arange(MAX_DEPTH)
        depth = np.arange(1, MAX_DEPTH + 1)[:, None]
        self._bit_weights = np.where(layer < depth, 2 ** np.maximum(depth - 1 - layer, 0), 0).astype(np.int64)

    # --- index <-> choice vectors -------------------------------------------------------------
    def active_layers(self, choices: np.ndarray) -> np.ndarray:
        """Boolean mask (..., 5): which layers exist at each choice vector's depth."""
        arr = self.check_choices(choices)
        return np.arange(MAX_DEPTH) <= arr[..., :1]

    def index_of(self, choices: np.ndarray) -> np.ndarray:
        """Canonical index of each (padded) choice vector; choices of absent layers are ignored."""
        arr = self.check_choices(choices)
        depth_index = arr[..., 0]
        weights = self._bit_weights[depth_index]
        kernel_bits = (arr[..., 1 : 1 + MAX_DEPTH] * weights).sum(axis=-1)
        channel_bits = (arr[..., 1 + MAX_DEPTH :] * weights).sum(axis=-1)
        return self._depth_offsets[depth_index] + (kernel_bits << (depth_index + 1)) + channel_bits

    def choices_of(self, index: np.ndarray | int) -> np.ndarray:
        """Canonical choice vectors (absent layers at 0): shape ``index.shape + (11,)``."""
        arr = self.check_index(index)
        depth_index = np.searchsorted(self._depth_offsets, arr, side="right") - 1
        local = arr - self._depth_offsets[depth_index]
        depth = depth_index + 1
        kernel_bits, channel_bits = local >> depth, local & ((1 << depth) - 1)
        weights = self._bit_weights[depth_index]
        safe = np.maximum(weights, 1)  # absent layers have weight 0; their bit is masked below
        kernels = np.where(weights > 0, (kernel_bits[..., None] // safe) % 2, 0)
        channels = np.where(weights > 0, (channel_bits[..., None] // safe) % 2, 0)
        return np.concatenate([depth_index[..., None], kernels, channels], axis=-1).astype(np.int64)

    def canonical(self, choices: np.ndarray) -> np.ndarray:
        """The canonical form of padded choice vectors: absent layers' choices set to 0."""
        arr = self.check_choices(choices)
        mask = np.concatenate([np.ones(arr.shape[:-1] + (1,), bool), *[self.active_layers(arr)] * 2], axis=-1)
        return np.where(mask, arr, 0)

    # --- encodings ----------------------------------------------------------------------------
    def one_hot(self, choices: np.ndarray) -> np.ndarray:
        """One-hot encoding (..., 11, 5); the rows of absent layers are all zero."""
        arr = self.check_choices(choices)
        encoded = super().one_hot(arr)
        active = self.active_layers(arr)
        encoded[..., 1 : 1 + MAX_DEPTH, :] *= active[..., None]
        encoded[..., 1 + MAX_DEPTH :, :] *= active[..., None]
        return encoded

    # --- strings ------------------------------------------------------------------------------
    def layers(self, choices: np.ndarray) -> list[tuple[int, int]]:
        """``(kernel, channels)`` of each layer of one architecture, input side first."""
        arr = self.check_choices(choices).tolist()
        depth = arr[0] + 1
        return [(KERNELS[arr[1 + i]], CHANNELS[arr[1 + MAX_DEPTH + i]]) for i in range(depth)]

    def resources(self, choices: np.ndarray, dataset: str) -> dict[str, np.ndarray]:
        """Exact ``flops`` and ``params`` (M) of the networks on ``dataset``, counted as the live
        evaluator counts the trained network (:mod:`nasgym.models.profile`): bias-free convs with
        "same" padding at the input resolution, BatchNorm scale and shift, the linear classifier
        with its bias. Empty on a dataset whose input shape is unknown here."""
        from nasgym.training.data import FORMATS  # loads torch: only when resources are asked for

        shapes = {"digits": ((1, 8, 8), 10)} | {name: (fmt.shape, fmt.num_classes) for name, fmt in FORMATS.items()}
        if dataset not in shapes:
            return {}
        (in_channels, height, width), classes = shapes[dataset]
        arr = self.check_choices(choices)
        active = np.arange(MAX_DEPTH) < arr[..., :1] + 1  # layers that exist at each depth
        kernels = np.asarray(KERNELS)[arr[..., 1 : 1 + MAX_DEPTH]]
        channels = np.where(active, np.asarray(CHANNELS)[arr[..., 1 + MAX_DEPTH :]], 0)
        inputs = np.concatenate([np.full(arr.shape[:-1] + (1,), in_channels), channels[..., :-1]], axis=-1)
        convs = (kernels**2 * inputs * channels).sum(axis=-1)
        last = np.take_along_axis(channels, arr[..., :1], axis=-1)[..., 0]  # channels of the deepest layer
        classifier = last * classes + classes
        params = convs + 2 * channels.sum(axis=-1) + classifier
        return {"flops": (convs * height * width + classifier) / 1e6, "params": params / 1e6}

    def _arch_string(self, index: int) -> str:
        return self.to_string(self.choices_of(index))

    def _format(self, choices: list[int]) -> str:
        return "-".join(f"k{kernel}c{channels}" for kernel, channels in self.layers(np.array(choices)))

    def from_string(self, text: str) -> np.ndarray:
        def malformed(why: str) -> ValueError:
            return ValueError(
                f"arch string {text!r} is malformed ({why}); expected 1 to {MAX_DEPTH} '-'-separated layers "
                f"'k<kernel>c<channels>' with kernel in {list(KERNELS)} and channels in {list(CHANNELS)}, "
                f"e.g. {_EXAMPLE!r}"
            )

        if not isinstance(text, str):
            raise malformed(f"not a string but {type(text).__name__}")
        tokens = text.split("-")
        if not 1 <= len(tokens) <= MAX_DEPTH:
            raise malformed(f"{len(tokens)} layers")
        out = np.zeros(self.n_decisions, dtype=np.int64)
        out[0] = len(tokens) - 1
        for i, token in enumerate(tokens):
            match = _LAYER.fullmatch(token)
            if match is None or int(match[1]) not in KERNELS or int(match[2]) not in CHANNELS:
                raise malformed(f"layer token {token!r}")
            out[1 + i] = KERNELS.index(int(match[1]))
            out[1 + MAX_DEPTH + i] = CHANNELS.index(int(match[2]))
        return out
