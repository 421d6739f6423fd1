"""Train many feed-forward networks at once: one batched network per group of similar shapes.

Training the 400 or 8,000 small networks of an FFN space one by one leaves a CPU or GPU idle
between tiny matrix products. Here the networks of a group are zero-padded to one shape (each
hidden width rounded up to the next of :data:`WIDTH_BUCKETS`) and stacked, so a group's forward
pass is one batched matrix product per layer (``torch.baddbmm``), and every network of the group
sees the same minibatches.

The batching is exact: a padded unit has zero incoming weights, zero bias and zero outgoing
weights; its activation is ``relu(0) = 0``, so it adds nothing to the outputs, and every gradient
that reaches a padded weight is a product with an exact zero, so SGD (momentum and weight decay
included) leaves it at zero. The loss is the sum over the group of each network's mean
cross-entropy, so each network receives its own gradient. Each network starts from the weights
``torch.manual_seed(config.seed)`` gives :func:`build_ffn` for it alone, so a network trains to the
same result whichever group it is trained in, up to the rounding order of the matrix products.

Training follows :class:`~nasgym.training.config.TrainConfig` as for the image spaces: SGD with
(Nesterov) momentum and weight decay, per-step cosine schedule, ``epochs`` passes over the
training split in an order drawn from ``config.seed``; no augmentation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasgym.spaces import get_space
from nasgym.training.config import TrainConfig
from nasgym.training.tabular import load_tabular
from nasgym.training.trainer import resolve_device, sgd_with_schedule

#: hidden widths are padded up to the next of these within a group (a network of widths 24 and
#: 144 trains in the group padded to 64 and 256); the last must be at least the widest layer
WIDTH_BUCKETS: tuple[int, ...] = (64, 128, 256, 512)
#: most networks trained in one group (bounds the memory of a group's activations)
MAX_GROUP = 256
#: rows per forward pass when evaluating
EVAL_BATCH = 8192


def build_ffn(widths: Sequence[int], n_inputs: int, n_classes: int) -> nn.Sequential:
    """The plain torch network of one architecture: ``Linear, ReLU`` per hidden width, then the classifier.

    :param widths: hidden widths, input side first.
    :param n_inputs: input features.
    :param n_classes: classes (outputs).
    """
    sizes = [n_inputs, *widths]
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], n_classes))
    return nn.Sequential(*layers)


def padded_widths(widths: Sequence[int]) -> tuple[int, ...]:
    """Each width rounded up to the next of :data:`WIDTH_BUCKETS` (the shape of its group)."""
    out = []
    for width in widths:
        bucket = next((b for b in WIDTH_BUCKETS if b >= width), None)
        if bucket is None:
            raise ValueError(f"width {width} is wider than the widest bucket {WIDTH_BUCKETS[-1]}")
        out.append(bucket)
    return tuple(out)


def group_architectures(widths: np.ndarray) -> list[tuple[tuple[int, ...], list[int]]]:
    """The groups networks train in: ``(padded widths, positions of its networks in widths)``, by
    :func:`padded_widths`, at most :data:`MAX_GROUP` networks each.

    :param widths: hidden widths, one row per network.
    """
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for position, arch_widths in enumerate(np.asarray(widths).tolist()):
        by_shape.setdefault(padded_widths(arch_widths), []).append(position)
    return [
        (padded, members[start : start + MAX_GROUP])
        for padded, members in by_shape.items()
        for start in range(0, len(members), MAX_GROUP)
    ]


class BatchedFFN(nn.Module):
    """``G`` networks of the same depth as one module: zero-padded, stacked weights per layer.

    :param networks: the networks (each from :func:`build_ffn`), whose weights are copied.
    :param padded: hidden widths of the padded shape, at least each network's own.
    """

    def __init__(self, networks: Sequence[nn.Sequential], padded: Sequence[int]) -> None:
        super().__init__()
        linears = [[m for m in net if isinstance(m, nn.Linear)] for net in networks]
        n_inputs, n_classes = linears[0][0].in_features, linears[0][-1].out_features
        sizes = [n_inputs, *padded, n_classes]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            weight = torch.zeros(len(networks), fan_in, fan_out)
            bias = torch.zeros(len(networks), 1, fan_out)
            for g, net_layers in enumerate(linears):
                linear = net_layers[layer]
                if linear.in_features > fan_in or linear.out_features > fan_out:
                    raise ValueError(f"network {g} is wider than the padded shape {list(padded)}")
                weight[g, : linear.in_features, : linear.out_features] = linear.weight.detach().T
                bias[g, 0, : linear.out_features] = linear.bias.detach()
            self.weights.append(nn.Parameter(weight))
            self.biases.append(nn.Parameter(bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (G, batch, classes) of every network on the same inputs ``x`` (batch, features)."""
        hidden = x.expand(len(self.weights[0]), *x.shape)
        last = len(self.weights) - 1
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            hidden = torch.baddbmm(bias, hidden, weight)
            if layer < last:
                hidden = torch.relu(hidden)
        return hidden


def group_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The sum over the networks of each one's mean cross-entropy (so each gets its own gradient)."""
    n_nets, batch, n_classes = logits.shape
    return F.cross_entropy(logits.reshape(-1, n_classes), labels.repeat(n_nets), reduction="sum") / batch


def fit_group(
    model: BatchedFFN, x: torch.Tensor, y: torch.Tensor, config: TrainConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Train a group on ``(x, y)`` for ``config.epochs``; each network's last-epoch train loss and
    accuracy (%).

    :param model: the group, on the device of ``x``.
    :param x: training features (n, inputs).
    :param y: training labels (n,).
    :param config: the training configuration.
    """
    model.train()
    n = len(y)
    steps = config.epochs * math.ceil(n / config.batch_size)
    optimizer, scheduler = sgd_with_schedule(model.parameters(), config, steps)
    generator = torch.Generator(device=x.device).manual_seed(config.seed)
    n_nets = len(model.weights[0])
    for _ in range(config.epochs):
        loss_sum = torch.zeros(n_nets, device=x.device)
        correct = torch.zeros(n_nets, dtype=torch.long, device=x.device)
        order = torch.randperm(n, generator=generator, device=x.device)
        for start in range(0, n, config.batch_size):
            index = order[start : start + config.batch_size]
            labels = y[index]
            logits = model(x[index])
            optimizer.zero_grad(set_to_none=True)
            group_loss(logits, labels).backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            with torch.no_grad():
                per_net = F.cross_entropy(logits.transpose(1, 2), labels.expand(n_nets, -1), reduction="none")
                loss_sum += per_net.sum(dim=1)
                correct += (logits.argmax(dim=2) == labels).sum(dim=1)
    return (loss_sum / n).cpu().numpy(), (100.0 * correct / n).cpu().numpy()


@torch.inference_mode()
def evaluate_group(model: BatchedFFN, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Each network's mean cross-entropy and accuracy (%) on ``(x, y)``, in eval mode."""
    model.eval()
    n_nets = len(model.weights[0])
    loss_sum = torch.zeros(n_nets, dtype=torch.float64, device=x.device)
    correct = torch.zeros(n_nets, dtype=torch.long, device=x.device)
    for start in range(0, len(y), EVAL_BATCH):
        labels = y[start : start + EVAL_BATCH]
        logits = model(x[start : start + EVAL_BATCH])
        per_net = F.cross_entropy(logits.transpose(1, 2), labels.expand(n_nets, -1), reduction="none")
        loss_sum += per_net.sum(dim=1, dtype=torch.float64)
        correct += (logits.argmax(dim=2) == labels).sum(dim=1)
    return (loss_sum / len(y)).cpu().numpy(), (100.0 * correct / len(y)).cpu().numpy()


def seeded_networks(widths: Sequence[Sequence[int]], n_inputs: int, n_classes: int, seed: int) -> list[nn.Sequential]:
    """:func:`build_ffn` of each architecture, each from ``torch.manual_seed(seed)`` (the caller's
    torch generator is left as it was)."""
    networks = []
    with torch.random.fork_rng(devices=[]):
        for arch_widths in widths:
            torch.manual_seed(seed)
            networks.append(build_ffn(arch_widths, n_inputs, n_classes))
    return networks


def train_ffns(
    space: str, choices: Sequence[Sequence[int]], dataset: str, config: TrainConfig, data_dir: Path | str | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Train and evaluate architectures of an FFN space, batched; yield ``(position in choices,
    metrics)`` group by group, as each group finishes.

    :param space: ``"ffn2"`` or ``"ffn3"``.
    :param choices: the architectures' choice vectors.
    :param dataset: tabular dataset name (:mod:`nasgym.training.tabular`).
    :param config: the training configuration (its ``seed`` draws the initial weights and the
        batch order; ``num_threads`` sets torch's CPU threads).
    :param data_dir: folder of the dataset's files, or the file.
    :returns: per architecture ``valid_acc``, ``valid_loss`` (cross-entropy), ``test_acc`` (%),
        ``params`` and ``flops`` (M, exact: :meth:`~nasgym.spaces.ffn.FFNSpace.param_count`),
        ``latency`` (NaN: not measured), ``train_loss``, ``train_acc`` (last epoch), ``train_time``
        and ``wall_time`` (s: the group's seconds shared in proportion to the networks'
        multiply-adds) and ``device``.
    """
    ffn_space = get_space(space)
    choices = ffn_space.check_choices(np.asarray(choices, dtype=np.int64).reshape(-1, ffn_space.n_decisions))
    device = resolve_device(config.device)
    data = load_tabular(dataset, data_dir)
    rows = {"train": slice(config.train_rows), "valid": slice(None), "test": slice(None)}
    tensors = {
        split: tuple(torch.from_numpy(getattr(data, f"{kind}_{split}")[part]).to(device) for kind in ("x", "y"))
        for split, part in rows.items()
    }
    widths = ffn_space.widths(choices)
    params = ffn_space.param_count(choices, data.n_inputs, data.n_classes)
    groups = group_architectures(widths)
    threads = torch.get_num_threads()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    try:
        for padded, part in groups:
            yield from _train_group(part, padded, widths, params, data, tensors, config, device)
    finally:  # the caller's process keeps its own thread count
        torch.set_num_threads(threads)


def _train_group(
    part: list[int], padded: tuple[int, ...], widths: np.ndarray, params: np.ndarray, data: Any,
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]], config: TrainConfig, device: torch.device,
) -> Iterator[tuple[int, dict[str, Any]]]:  # fmt: skip
    """Train one group of :func:`train_ffns` and yield its networks' metrics."""
    start = time.perf_counter()
    networks = seeded_networks(widths[part].tolist(), data.n_inputs, data.n_classes, config.seed)
    model = BatchedFFN(networks, padded).to(device)
    fit_start = time.perf_counter()
    train_loss, train_acc = fit_group(model, *tensors["train"], config)
    fit_time = time.perf_counter() - fit_start
    valid_loss, valid_acc = evaluate_group(model, *tensors["valid"])
    _, test_acc = evaluate_group(model, *tensors["test"])
    wall_time = time.perf_counter() - start
    share = params[part] / params[part].sum()  # multiply-adds per row equal the parameter count
    for k, position in enumerate(part):
        yield position, {
            "valid_acc": float(valid_acc[k]),
            "valid_loss": float(valid_loss[k]),
            "test_acc": float(test_acc[k]),
            "params": float(params[position]) / 1e6,
            "flops": float(params[position]) / 1e6,
            "latency": math.nan,
            "train_loss": float(train_loss[k]),
            "train_acc": float(train_acc[k]),
            "train_time": fit_time * float(share[k]),
            "wall_time": wall_time * float(share[k]),
            "device": str(device),
        }
