"""Train and evaluate one network: SGD + Nesterov, cosine schedule, on cuda when there is one.

Whole splits live on the training device as uint8 tensors; batches are gathered, augmented
(random crop with zero padding, horizontal flip) and normalised there, so no data loader
processes sit between the GPU and the data. Per-step metrics stay on the device and are read
once per epoch, so the loop never waits on the GPU mid-epoch.
"""

from __future__ import annotations

import importlib
import logging
import math
import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from nasgym.models import build_network
from nasgym.models.profile import count_flops, count_params
from nasgym.training.config import TrainConfig
from nasgym.training.data import ImageDataset, Split, dataset_on

logger = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """``"auto"``: cuda when torch sees a GPU, else cpu; other names as given, checked."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but torch sees no CUDA GPU; use 'auto' or 'cpu'")
    return resolved


@dataclass(frozen=True)
class FitResult:
    """What training measured: the last epoch's train loss and accuracy (%), seconds, throughput."""

    train_loss: float
    train_acc: float
    train_time: float
    images_per_s: float


def sgd_with_schedule(
    parameters: Iterable[torch.Tensor], config: TrainConfig, steps: int
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.LambdaLR | None]:
    """The optimiser of a :class:`TrainConfig`: SGD with its momentum, Nesterov flag and weight
    decay, and (``schedule="cosine"``) a per-step cosine annealing to 0 over ``steps`` steps
    (``None`` for a constant rate).

    :param parameters: what to optimise.
    :param config: the training configuration.
    :param steps: optimiser steps of the whole training.
    """
    optimizer = torch.optim.SGD(
        parameters, lr=config.learning_rate, momentum=config.momentum,
        weight_decay=config.weight_decay, nesterov=config.nesterov,
    )  # fmt: skip
    if config.schedule != "cosine":
        return optimizer, None
    cosine = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))
    return optimizer, cosine


class Trainer:
    """Runs a :class:`TrainConfig` on one device.

    :param config: the training configuration.
    :param device: where to train (see :func:`resolve_device`).
    """

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        on_cuda = device.type == "cuda"
        self.amp = on_cuda if config.amp is None else config.amp
        bf16 = not on_cuda or torch.cuda.is_bf16_supported()
        self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
        self.memory_format = (
            torch.channels_last
            if (on_cuda if config.channels_last is None else config.channels_last)
            else torch.contiguous_format
        )

    def prepare(self, model: nn.Module) -> nn.Module:
        """The model on the training device, in the training memory format."""
        return model.to(self.device, memory_format=self.memory_format)

    def batches(
        self, split: Split, data: ImageDataset, generator: torch.Generator | None = None, augment: bool = False
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Normalised float batches of ``split``: shuffled when a generator is given, else in order.

        :param split: the split to iterate.
        :param data: its dataset (normalisation and crop padding).
        :param generator: shuffles the order and draws the augmentation; ``None``: in order.
        :param augment: random crop (zero padding ``data.crop_padding``) and horizontal flip.
        """
        n, size = len(split), self.config.batch_size
        order = torch.randperm(n, generator=generator, device=self.device) if generator is not None else None
        mean, scale = data.mean.view(1, -1, 1, 1), 1.0 / data.std.view(1, -1, 1, 1)
        for start in range(0, n, size):
            index = order[start : start + size] if order is not None else slice(start, start + size)
            images = split.images[index].float()
            if augment:
                images = _augment(images, data.crop_padding, generator)
            images = ((images - mean) * scale).contiguous(memory_format=self.memory_format)
            yield images, split.labels[index]

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp)

    def fit(self, model: nn.Module, data: ImageDataset, augment: bool = False, desc: str = "train") -> FitResult:
        """Train ``model`` (already :meth:`prepare`-d) on ``data.train`` for ``config.epochs``.

        :param model: the network.
        :param data: the dataset, on the training device.
        :param augment: random crop and flip on the training batches.
        :param desc: label of the progress bar and the log lines.
        """
        config = self.config
        model.train()
        n = len(data.train)
        steps = config.epochs * math.ceil(n / config.batch_size)
        optimizer, scheduler = sgd_with_schedule(model.parameters(), config, steps)
        # loss scaling is only needed for float16; with bfloat16 or without amp it passes through
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp and self.amp_dtype == torch.float16)
        generator = torch.Generator(device=self.device).manual_seed(config.seed)
        bar = tqdm(total=steps, desc=desc, unit="batch", disable=not config.progress, leave=False)
        train_time = 0.0
        for epoch in range(1, config.epochs + 1):
            start = time.perf_counter()
            loss_sum = torch.zeros((), device=self.device)
            correct = torch.zeros((), dtype=torch.long, device=self.device)
            for images, labels in self.batches(data.train, data, generator, augment):
                with self._autocast():
                    logits = model(images)
                    loss = F.cross_entropy(logits, labels)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                if scheduler is not None:
                    scheduler.step()
                loss_sum += loss.detach() * len(labels)
                correct += (logits.argmax(1) == labels).sum()
                bar.update()
            train_loss, train_acc = loss_sum.item() / n, 100.0 * correct.item() / n  # one sync per epoch
            seconds = time.perf_counter() - start
            train_time += seconds
            bar.set_postfix(epoch=epoch, loss=f"{train_loss:.3f}", acc=f"{train_acc:.1f}")
            logger.info(
                "%s epoch %d/%d: train loss %.4f, train acc %.2f%%, lr %.4g, %.2f s (%.0f images/s)",
                desc,
                epoch,
                config.epochs,
                train_loss,
                train_acc,
                optimizer.param_groups[0]["lr"],
                seconds,
                n / seconds,
            )
        bar.close()
        return FitResult(train_loss, train_acc, train_time, config.epochs * n / train_time)

    def evaluate(self, model: nn.Module, split: Split, data: ImageDataset) -> tuple[float, float]:
        """(mean cross-entropy, accuracy in %) of ``model`` on ``split``, in eval mode."""
        model.eval()
        loss_sum, correct = 0.0, 0
        with torch.inference_mode(), self._autocast():
            for images, labels in self.batches(split, data):
                logits = model(images)
                loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum").item()
                correct += int((logits.argmax(1) == labels).sum())
        return loss_sum / len(split), 100.0 * correct / len(split)

    def latency(self, model: nn.Module, image_shape: tuple[int, ...], repeats: int = 10) -> float:
        """Median seconds of one forward pass of a single image, in eval mode (after a warm-up)."""
        model.eval()
        image = torch.zeros((1, *image_shape), device=self.device).contiguous(memory_format=self.memory_format)
        times = []
        with torch.inference_mode(), self._autocast():
            for i in range(repeats + 3):
                start = time.perf_counter()
                model(image)
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                if i >= 3:
                    times.append(time.perf_counter() - start)
        return statistics.median(times)


def _augment(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Random crop of each image from its zero-padded copy, then a horizontal flip with p = 0.5."""
    b, c, h, w = images.shape
    device = images.device
    if padding:
        padded = F.pad(images, (padding,) * 4)
        dy = torch.randint(0, 2 * padding + 1, (b, 1), generator=generator, device=device)
        dx = torch.randint(0, 2 * padding + 1, (b, 1), generator=generator, device=device)
        rows = (dy + torch.arange(h, device=device))[:, None, :, None]
        cols = (dx + torch.arange(w, device=device))[:, None, None, :]
        batch = torch.arange(b, device=device)[:, None, None, None]
        images = padded[batch, torch.arange(c, device=device)[None, :, None, None], rows, cols]
    flip = torch.rand(b, generator=generator, device=device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def evaluate_architecture(
    space: str, choices: np.ndarray, dataset: str, config: TrainConfig, data_dir: Path | str | None = None
) -> dict[str, Any]:
    """Build, train and evaluate one architecture; its metrics as plain Python values.

    :param space: search space name.
    :param choices: the architecture's choice vector.
    :param dataset: live dataset name.
    :param config: training configuration.
    :param data_dir: folder of the dataset files (not needed for digits).
    :returns: ``valid_acc``, ``test_acc`` (%), ``flops``, ``params`` (M), ``latency`` (s per image),
        ``train_loss``, ``train_acc``, ``train_time`` (s), ``images_per_s``, ``wall_time`` (s to build,
        train and evaluate the network, not counting the first load of the data) and ``device``.
    """
    threads = torch.get_num_threads()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    try:
        return _train_and_measure(space, choices, dataset, config, data_dir)
    finally:  # the caller's process keeps its own thread count
        torch.set_num_threads(threads)


def _train_and_measure(
    space: str, choices: np.ndarray, dataset: str, config: TrainConfig, data_dir: Path | str | None
) -> dict[str, Any]:
    """:func:`evaluate_architecture` with the thread count already set."""
    device = resolve_device(config.device)
    data = dataset_on(dataset, data_dir, device)
    # the first optimizer of a process imports torch._dynamo (seconds): like the data, a process
    # pays that once, so it is done before the clock of this network starts
    importlib.import_module("torch._dynamo")
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):  # seeded weights without touching the caller's rng
        torch.manual_seed(config.seed)
        model = build_network(space, choices, data.num_classes, data.image_shape[0])
    image_shape = data.image_shape
    params, flops = count_params(model), count_flops(model, (1, *image_shape))
    trainer = Trainer(config, device)
    model = trainer.prepare(model)
    fit = trainer.fit(model, data, augment=config.augments(dataset), desc=f"{space} {dataset}")
    _, valid_acc = trainer.evaluate(model, data.valid, data)
    _, test_acc = trainer.evaluate(model, data.test, data)
    return {
        "valid_acc": valid_acc,
        "test_acc": test_acc,
        "flops": flops,
        "params": params,
        "latency": trainer.latency(model, image_shape),
        "train_loss": fit.train_loss,
        "train_acc": fit.train_acc,
        "train_time": fit.train_time,
        "images_per_s": fit.images_per_s,
        "wall_time": time.perf_counter() - start,
        "device": str(device),
    }
