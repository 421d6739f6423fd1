"""Supernet evaluators: score architectures with weights shared by the whole space (ENAS, RSPS).

:class:`SharedWeightsEvaluator` is what they share (the ``steps`` per query, the ``sampling``, the
:meth:`~SharedWeightsEvaluator.frozen` block, batched queries); :func:`make_supernet_evaluator`
picks the evaluator of a space: :class:`SupernetEvaluator` for NAS-Bench-201,
:class:`~nasgym.evaluators.rl.DQNSupernetEvaluator` for the Q-networks of the dqn-arch space.

One :class:`~nasgym.models.nb201_supernet.NB201Supernet` holds every architecture of
NAS-Bench-201. A query trains the shared weights for ``steps`` SGD steps, on the queried
architecture (``sampling="architecture"``: ENAS) or on an architecture drawn uniformly for each
step (``sampling="uniform"``: random search with parameter sharing), then returns the queried
architecture's validation accuracy under the shared weights on a fixed validation subset. Inside
:meth:`SupernetEvaluator.frozen` a query only scores. Queries are cheap and their answers depend on
what was trained before them: the evaluator is a state, not a table.
"""

from __future__ import annotations

import contextlib
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nasgym.evaluators.base import RESULT_KEYS
from nasgym.models import build_network
from nasgym.models.nb201_supernet import NB201Supernet
from nasgym.models.profile import count_flops, count_params
from nasgym.spaces import get_space
from nasgym.spaces.nb201 import NB201_OPS
from nasgym.training.config import TrainConfig, check_live_dataset
from nasgym.training.data import SPLIT_SEED, Split, dataset_on
from nasgym.training.trainer import Trainer, resolve_device

#: how a query's training steps pick the sub-network they train.
SAMPLINGS: tuple[str, ...] = ("architecture", "uniform")
#: spaces with a supernet.
SUPERNET_SPACES: tuple[str, ...] = ("nb201", "dqn-arch")
#: default size of the fixed validation (and test) subset: the whole split up to this many images.
DEFAULT_SUBSET = 1024
#: training fields a supernet does not take: it trains ``steps`` per query, at a constant rate.
_NOT_TAKEN = ("epochs", "schedule")


def make_supernet_evaluator(space: str, dataset: str, **kwargs: Any) -> SharedWeightsEvaluator:
    """The supernet evaluator of ``space``: :class:`~nasgym.evaluators.rl.DQNSupernetEvaluator` for the
    Q-networks of ``dqn-arch`` (trained by Double DQN on a Gymnasium task), else :class:`SupernetEvaluator`.

    :param kwargs: the evaluator's keyword arguments.
    """
    if space == "dqn-arch":
        from nasgym.evaluators.rl import DQNSupernetEvaluator

        return DQNSupernetEvaluator(space, dataset, **kwargs)
    return SupernetEvaluator(space, dataset, **kwargs)


class SharedWeightsEvaluator(ABC):
    """What the supernet evaluators share: a query trains the shared weights for ``steps`` (unless
    :meth:`frozen`), on the queried architecture (``sampling="architecture"``: ENAS) or on uniformly
    drawn ones (``"uniform"``), then scores the queried architecture under them.

    Subclasses set :attr:`space`, :attr:`dataset` and :attr:`config` (with a ``num_threads`` field),
    call :meth:`_start`, count :attr:`trained_steps` and answer :meth:`evaluate_one`.
    """

    space: Any
    dataset: str
    steps: int
    sampling: str
    config: Any
    #: False inside :meth:`frozen`
    trains: bool
    #: training steps the shared weights have taken so far
    trained_steps: int

    def _start(self, steps: int, sampling: str) -> None:
        """Check and set ``steps`` and ``sampling``; no step trained yet, queries train."""
        self.steps = _check_count("steps", steps)
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling {sampling!r} is unknown; accepted: {list(SAMPLINGS)}")
        self.sampling = sampling
        self.trains = True
        self.trained_steps = 0

    @property
    def best_valid_acc(self) -> float:
        """Unknown under weight sharing: NaN (so the ``"normalized"`` reward cannot be used)."""
        return math.nan

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        """The block runs with ``num_threads`` torch threads; the caller keeps its own setting."""
        threads = torch.get_num_threads()
        if self.config.num_threads is not None:
            torch.set_num_threads(self.config.num_threads)
        try:
            yield
        finally:
            torch.set_num_threads(threads)

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Queries inside this block only score: the shared weights do not move."""
        previous, self.trains = self.trains, False
        try:
            yield
        finally:
            self.trains = previous

    @abstractmethod
    def evaluate_one(self, index: int, rng: np.random.Generator | None = None) -> dict[str, float]:
        """Train (unless :meth:`frozen`), then score one architecture under the shared weights.

        :param index: canonical index.
        :param rng: unused: the answers are a function of the configuration and of the queries so far.
        """

    def evaluate(self, indices: np.ndarray, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        """:meth:`evaluate_one` of each index in turn (a repeated index is trained and scored again).

        :param indices: canonical indices (any shape).
        :param rng: unused (see :meth:`evaluate_one`).
        """
        indices = self.space.check_index(indices, "indices")
        answers = [self.evaluate_one(int(i)) for i in indices.reshape(-1)]
        return {
            key: np.array([a[key] for a in answers], dtype=np.float64).reshape(indices.shape)
            for key in (*RESULT_KEYS, "trained_steps")
        }


class SupernetEvaluator(SharedWeightsEvaluator):
    """Scores NAS-Bench-201 architectures with the weights of one supernet, trained query by query.

    :param space: search space name (``"nb201"``).
    :param dataset: ``"digits"`` (offline default), ``"cifar10"``, ``"cifar100"`` or
        ``"ImageNet16-120"`` (the last three from files in ``data_dir``), split as the live
        evaluator splits them.
    :param steps: SGD steps on the shared weights per query (>= 1).
    :param sampling: ``"architecture"``: a query trains the architecture it scores (ENAS);
        ``"uniform"``: each step trains an architecture drawn uniformly (random search with
        parameter sharing).
    :param valid_size: images of the fixed validation subset that scores an architecture (the
        first of a fixed permutation of the validation split; the test accuracy uses a subset of
        the test split of the same size); ``None``: the whole split up to 1,024 images.
    :param grad_clip: gradients of the shared weights are clipped to this norm (NAS-Bench-201's
        ENAS clips at 5).
    :param data_dir: folder of the dataset's files (not used by digits).
    :param train_kwargs: fields of :class:`~nasgym.training.config.TrainConfig` except ``epochs``
        and ``schedule``: ``batch_size`` (default 64 here), ``lr`` (default 0.1 * batch_size / 256:
        0.025 at 64, the rate of DARTS and RSPS), ``momentum``, ``weight_decay``, ``nesterov``,
        ``seed`` (the initial weights, the batch order and the uniform draws), ``augment``,
        ``device`` (``"auto"``: cuda when present), ``amp``, ``channels_last``, ``num_threads``.

    BatchNorm keeps no running statistics: it normalises with the statistics of each batch, in
    training and when scoring (NAS-Bench-201's setting for its weight-sharing methods); scores use
    the subset in fixed batches of ``batch_size``, so they are deterministic given the weights.
    The caller's rng is not used: the answers are a function of the configuration and of the
    sequence of queries so far. Metrics: ``valid_acc`` and ``test_acc`` (%, under the shared
    weights), ``flops`` and ``params`` (M, of the architecture's standalone network), ``latency``
    (NaN: not measured), ``cost`` (seconds the query took: training and scoring) and
    ``trained_steps`` (SGD steps the shared weights have taken so far). ``best_valid_acc`` is NaN.
    """

    def __init__(
        self,
        space: str = "nb201",
        dataset: str = "digits",
        *,
        steps: int = 50,
        sampling: str = "architecture",
        valid_size: int | None = None,
        grad_clip: float = 5.0,
        data_dir: Path | str | None = None,
        **train_kwargs: Any,
    ) -> None:
        if space not in SUPERNET_SPACES:
            raise ValueError(f"space {space!r} has no supernet; accepted: {list(SUPERNET_SPACES)}")
        if space != "nb201":
            raise ValueError(
                f"SupernetEvaluator holds the NAS-Bench-201 supernet, not {space!r}'s: make_supernet_evaluator "
                "(evaluator='supernet' in gym.make) picks each space's"
            )
        self.space = get_space(space)
        self.dataset = check_live_dataset(dataset)
        self._start(steps, sampling)
        if isinstance(grad_clip, bool) or not isinstance(grad_clip, (int, float)) or not grad_clip > 0:
            raise ValueError(f"grad_clip must be a number > 0, got {grad_clip!r}")
        self.grad_clip = float(grad_clip)
        given = sorted(set(train_kwargs) & set(_NOT_TAKEN))
        if given:
            raise TypeError(
                f"unexpected keyword argument(s) {given}: the supernet trains `steps` per query at a constant "
                "learning rate (epochs and schedule are the live evaluator's)"
            )
        own = ("space", "dataset", "steps", "sampling", "valid_size", "grad_clip", "data_dir")
        self.config = TrainConfig.from_kwargs(
            also_accepted=own, **{"batch_size": 64, "schedule": "constant", "progress": False, **train_kwargs}
        )
        self.device = resolve_device(self.config.device)
        self.data = dataset_on(dataset, data_dir, self.device)
        self.valid = _subset(self.data.valid, valid_size, "valid_size")
        self.test = _subset(self.data.test, len(self.valid), "valid_size")
        self.trainer = Trainer(self.config, self.device)
        with torch.random.fork_rng(devices=[]):  # seeded weights without touching the caller's rng
            torch.manual_seed(self.config.seed)
            supernet = NB201Supernet(self.data.num_classes, self.data.image_shape[0])
        self.supernet = self.trainer.prepare(supernet)
        config = self.config
        self.optimizer = torch.optim.SGD(
            self.supernet.parameters(), lr=config.learning_rate, momentum=config.momentum,
            weight_decay=config.weight_decay, nesterov=config.nesterov,
        )  # fmt: skip
        self._scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.trainer.amp and self.trainer.amp_dtype == torch.float16
        )
        self._batch_generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self._path_rng = np.random.default_rng(config.seed)
        self._batches: Iterator[tuple[torch.Tensor, torch.Tensor]] = iter(())
        self._resources: dict[int, tuple[float, float]] = {}

    def __repr__(self) -> str:
        name, dataset = self.space.name, self.dataset
        return f"SupernetEvaluator({name!r}, {dataset!r}, steps={self.steps}, sampling={self.sampling!r})"

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next training batch: epochs of shuffled batches, one after the other."""
        batch = next(self._batches, None)
        if batch is None:
            augment = self.config.augments(self.dataset)
            self._batches = self.trainer.batches(self.data.train, self.data, self._batch_generator, augment)
            batch = next(self._batches)
        return batch

    def train_steps(self, steps: int, index: int | None = None) -> float:
        """Train the shared weights for ``steps`` SGD steps; their mean training loss.

        :param steps: number of steps (>= 1).
        :param index: canonical index of the architecture every step trains; ``None``: each step
            trains an architecture drawn uniformly.
        """
        steps = _check_count("steps", steps)
        with self._threads():
            return self._train(steps, index)

    def _train(self, steps: int, index: int | None) -> float:
        """:meth:`train_steps` with the thread count already set."""
        if index is not None:
            self.supernet.select(_ops(self.space.choices_of(int(index))))
        self.supernet.train()
        total = torch.zeros((), device=self.device)
        for _ in range(steps):
            if index is None:
                self.supernet.select(_ops(self.space.sample(self._path_rng)))
            images, labels = self._next_batch()
            with torch.autocast(self.device.type, dtype=self.trainer.amp_dtype, enabled=self.trainer.amp):
                loss = F.cross_entropy(self.supernet(images), labels)
            self.optimizer.zero_grad(set_to_none=True)  # ops this step does not use keep no gradient
            self._scaler.scale(loss).backward()
            self._scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.supernet.parameters(), self.grad_clip)
            self._scaler.step(self.optimizer)
            self._scaler.update()
            total += loss.detach()
        self.trained_steps += steps
        return total.item() / steps

    def score(self, indices: np.ndarray) -> np.ndarray:
        """Validation accuracy (%) of each architecture under the current shared weights: no training,
        no test accuracy, no cost (the fast path of ranking studies; the same numbers as a query's
        ``valid_acc`` inside :meth:`frozen`).

        :param indices: canonical indices (any shape).
        """
        indices = self.space.check_index(indices, "indices")
        scores = np.empty(indices.shape, dtype=np.float64)
        with self._threads():
            for position, index in np.ndenumerate(indices):
                self.supernet.select(_ops(self.space.choices_of(int(index))))
                scores[position] = self.trainer.evaluate(self.supernet, self.valid, self.data)[1]
        return scores

    def _standalone_resources(self, index: int) -> tuple[float, float]:
        """(FLOPs, params) in millions of the architecture's standalone network, counted once."""
        if index not in self._resources:
            with torch.random.fork_rng(devices=[]):
                network = build_network(
                    self.space.name, self.space.choices_of(index), self.data.num_classes, self.data.image_shape[0]
                )
            self._resources[index] = (count_flops(network, (1, *self.data.image_shape)), count_params(network))
        return self._resources[index]

    def evaluate_one(self, index: int, rng: np.random.Generator | None = None) -> dict[str, float]:
        index = int(self.space.check_index(index))
        start = time.perf_counter()
        if self.trains:
            self.train_steps(self.steps, index if self.sampling == "architecture" else None)
        with self._threads():
            self.supernet.select(_ops(self.space.choices_of(index)))
            _, valid_acc = self.trainer.evaluate(self.supernet, self.valid, self.data)
            _, test_acc = self.trainer.evaluate(self.supernet, self.test, self.data)
            flops, params = self._standalone_resources(index)
        return {
            "valid_acc": valid_acc, "test_acc": test_acc, "flops": flops, "params": params, "latency": math.nan,
            "cost": time.perf_counter() - start, "trained_steps": float(self.trained_steps),
        }  # fmt: skip


def _ops(choices: np.ndarray) -> list[str]:
    """The op names of a NAS-Bench-201 choice vector."""
    return [NB201_OPS[int(c)] for c in choices]


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _subset(split: Split, size: int | None, name: str) -> Split:
    """The first ``size`` images of a fixed permutation of ``split`` (``None``: up to :data:`DEFAULT_SUBSET`)."""
    if size is None:
        size = min(len(split), DEFAULT_SUBSET)
    elif isinstance(size, bool) or not isinstance(size, Integral) or not 1 <= size <= len(split):
        raise ValueError(f"{name} must be an integer in 1..{len(split)} (the split's images) or None, got {size!r}")
    order = torch.from_numpy(np.random.default_rng(SPLIT_SEED).permutation(len(split))[:size]).to(split.labels.device)
    return Split(split.images[order], split.labels[order])
