"""The training configuration of live evaluation, and its hash (no torch import here).

The hash covers what defines the experiment (schedule, optimiser, epochs, batch size, seed,
augmentation, and :data:`PIPELINE_VERSION`), not how it runs (device, mixed precision, memory
format, threads, progress bars): a result trained on a GPU answers the same request on a CPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Self

#: bump when training changes what a configuration means, so stored results are not reused.
PIPELINE_VERSION = 1
#: datasets live evaluation trains on.
LIVE_DATASETS: tuple[str, ...] = ("digits", "cifar10", "cifar100", "ImageNet16-120")
#: datasets whose images are augmented unless ``augment`` says otherwise (flipped digits are other digits)
AUGMENTED_DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")
#: spaces of feed-forward networks, trained on tabular datasets (:mod:`nasgym.training.tabular`)
TABULAR_SPACES: tuple[str, ...] = ("ffn2", "ffn3")
SCHEDULES: tuple[str, ...] = ("cosine", "constant")
#: NAS-Bench-201's learning rate at its batch size; other batch sizes scale it linearly.
BASE_LR, BASE_BATCH_SIZE = 0.1, 256
#: fields that describe how training runs rather than what it computes (left out of the hash).
_EXECUTION_FIELDS = frozenset({"device", "amp", "channels_last", "num_threads", "progress"})

#: annotation -> whether a value is of it (bool is no int here, and a float must be finite)
_FIELD_TYPE_CHECKS = {
    "int": lambda v: isinstance(v, Integral) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "None": lambda v: v is None,
}


def check_live_dataset(dataset: str, space: str | None = None) -> str:
    """``dataset`` if live evaluation of ``space`` can train on it, else a ValueError naming the accepted
    ones: :data:`LIVE_DATASETS` for the image spaces; any tabular dataset name for :data:`TABULAR_SPACES`
    (whether its files exist is known when they are read)."""
    if space in TABULAR_SPACES:
        from nasgym.training.tabular import check_dataset_name  # numpy only, no torch

        return check_dataset_name(dataset)
    if dataset not in LIVE_DATASETS:
        raise ValueError(f"dataset {dataset!r} is unknown for live evaluation; accepted: {list(LIVE_DATASETS)}")
    return dataset


class KeywordConfig:
    """A dataclass config built from a caller's keyword arguments (``from_kwargs``)."""

    @classmethod
    def from_kwargs(cls, also_accepted: tuple[str, ...] = (), **kwargs: Any) -> Self:
        """Build a config from keyword arguments, naming the accepted ones if any is unknown.

        :param also_accepted: the caller's own argument names, listed in that error message too.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(f"unexpected keyword argument(s) {unknown}; accepted: {sorted(names | set(also_accepted))}")
        return cls(**kwargs)

    def _plain_field(self, name: str) -> None:
        """Store a numpy scalar in field ``name`` as the plain number (the config hash is JSON)."""
        value = getattr(self, name)
        if hasattr(value, "item") and not isinstance(value, bool):
            object.__setattr__(self, name, value.item())


@dataclass(frozen=True)
class TrainConfig(KeywordConfig):
    """How live evaluation trains a network: NAS-Bench-201's recipe by default.

    SGD with Nesterov momentum 0.9, weight decay 5e-4, batch 256, learning rate 0.1 annealed to 0
    by a per-step cosine schedule over ``epochs``; random crop and horizontal flip on the image
    datasets.

    :param epochs: training epochs (NAS-Bench-201: 200, or 12 for its cheap fidelity).
    :param batch_size: training batch size.
    :param lr: initial learning rate; ``None``: 0.1 * batch_size / 256 (NAS-Bench-201 scaled linearly).
    :param momentum: SGD momentum.
    :param weight_decay: L2 weight decay.
    :param nesterov: Nesterov momentum.
    :param schedule: ``"cosine"`` (per step, to 0) or ``"constant"``.
    :param train_rows: train on the first ``train_rows`` rows of the training split only (tabular
        datasets, whose split is already in random order: a cheaper table); ``None``: all of it.
    :param seed: seed of the initial weights, the batch order and the augmentation.
    :param augment: random crop and flip; ``None``: on for CIFAR and ImageNet16, off for digits
        (flipped digits are other digits).
    :param device: ``"auto"`` (cuda when available, else cpu), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    :param amp: mixed precision (bfloat16 where supported, else float16 with loss scaling);
        ``None``: on for cuda, off for cpu.
    :param channels_last: channels-last memory format; ``None``: on for cuda.
    :param num_threads: torch CPU threads; ``None``: torch's default.
    :param progress: show tqdm bars while training.
    """

    epochs: int = 12
    batch_size: int = BASE_BATCH_SIZE
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    schedule: str = "cosine"
    train_rows: int | None = None
    seed: int = 0
    augment: bool | None = None
    device: str = "auto"
    amp: bool | None = None
    channels_last: bool | None = None
    num_threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # each value of its annotated type, named if not
            value, accepted = getattr(self, field.name), field.type.split(" | ")
            if not any(_FIELD_TYPE_CHECKS[kind](value) for kind in accepted):
                raise TypeError(f"{field.name} must be {' or '.join(accepted)}, got {value!r}")
            self._plain_field(field.name)
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be finite and > 0 (or None for 0.1 * batch_size / 256), got {self.lr!r}")
        if not (math.isfinite(self.momentum) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must be a number in [0, 1), got {self.momentum!r}")
        if self.nesterov and self.momentum == 0:
            raise ValueError("momentum must be > 0 with nesterov=True (Nesterov momentum needs one), got 0")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r} is unknown; accepted: {list(SCHEDULES)}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"device {self.device!r} is unknown; accepted: 'auto', 'cpu', 'cuda' or 'cuda:N'")
        if self.train_rows is not None and self.train_rows < 1:
            raise ValueError(
                f"train_rows must be an integer >= 1 (or None: the whole training split), got {self.train_rows!r}"
            )
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 (or None for torch's default), got {self.num_threads!r}")

    @property
    def learning_rate(self) -> float:
        """The initial learning rate, resolved."""
        return float(self.lr) if self.lr is not None else BASE_LR * self.batch_size / BASE_BATCH_SIZE

    def augments(self, dataset: str) -> bool:
        """Whether training on ``dataset`` augments the images."""
        return self.augment if self.augment is not None else dataset in AUGMENTED_DATASETS

    def experiment(self, dataset: str) -> dict[str, Any]:
        """What the result depends on: the resolved training fields and the pipeline version."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _EXECUTION_FIELDS}
        fields.update(lr=self.learning_rate, augment=self.augments(dataset), pipeline=PIPELINE_VERSION)
        if self.train_rows is None:  # the whole split, as before the field existed: stored results keep their hash
            del fields["train_rows"]
        return fields

    def config_hash(self, dataset: str) -> str:
        """Hash of :meth:`experiment`: the key of stored results, with space, arch and dataset."""
        text = json.dumps(self.experiment(dataset), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
