"""Live evaluator: train the queried networks for real, once, and remember the results.

Every result goes into a :class:`~nasgym.evaluators.store.ResultStore` the moment it exists;
queries already in the store are answered from it in well under a millisecond. A batch of
missing architectures trains in parallel (a local process pool by default, Ray on request).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from nasgym.evaluators.base import RESULT_KEYS
from nasgym.evaluators.parallel import EXECUTORS, Executor, TrainJob, make_executor
from nasgym.evaluators.store import STORE_FILE, ResultStore
from nasgym.spaces import get_space
from nasgym.training.config import TABULAR_SPACES, TrainConfig, check_live_dataset
from nasgym.training.tabular import find_file, load_tabular

logger = logging.getLogger(__name__)

#: keys :meth:`LiveEvaluator.evaluate` returns besides :data:`RESULT_KEYS`.
EXTRA_KEYS: tuple[str, ...] = ("train_time", "train_loss", "train_acc", "wall_time", "device", "cached")


def open_store(store: ResultStore | Path | str | None, cache_dir: Path | str | None) -> ResultStore:
    """The result store a live evaluator's ``store`` argument names: the store itself, its database
    file, or (``None``) ``live-results.sqlite`` in ``cache_dir`` (default: the user cache).

    :raises TypeError: ``store`` is none of these.
    """
    if store is not None and not isinstance(store, (str, os.PathLike, ResultStore)):
        raise TypeError(f"store must be a ResultStore, a database file path or None, got {store!r}")
    if isinstance(store, ResultStore):
        return store
    if store is None and cache_dir is not None:
        store = Path(cache_dir) / STORE_FILE
    return ResultStore(store)


class LiveEvaluator:
    """Trains each queried architecture of ``space`` on ``dataset`` and reports what it measured.

    :param space: search space name (``"nb201"``, ``"convnet"``).
    :param dataset: ``"digits"`` (offline default), ``"cifar10"``, ``"cifar100"`` or
        ``"ImageNet16-120"`` (the last three from files in ``data_dir``).
    :param data_dir: folder of the dataset's files (see :mod:`nasgym.training.data`).
    :param executor: ``"process"`` (local process pool) or ``"ray"``.
    :param workers: pool processes (``None``: one per GPU, else one per CPU core), or the CPUs of a
        local Ray.
    :param ray_address: Ray cluster address for ``executor="ray"`` (``None``: a local Ray).
    :param store: the result store, or its database file; ``None``: ``live-results.sqlite`` in
        ``cache_dir``.
    :param cache_dir: nasgym cache directory (default ``$NASGYM_CACHE_DIR`` or the user cache).
    :param train_kwargs: fields of :class:`~nasgym.training.config.TrainConfig` (``epochs``,
        ``batch_size``, ``lr``, ``seed``, ``device``, ``amp``, ``num_threads``, ``progress``, ...).

    Results are deterministic functions of the training configuration (its ``seed``), so the
    caller's rng is not used. Metrics: ``valid_acc`` and ``test_acc`` (%), ``flops`` and
    ``params`` (M, counted on the trained network), ``latency`` (s per image, batch 1),
    ``cost`` (seconds the evaluation took when it ran, also when served from the store, so
    simulated time does not depend on the cache), plus :data:`EXTRA_KEYS`: ``train_time``,
    ``train_loss``, ``train_acc`` (last epoch), ``wall_time`` (seconds this query took now),
    ``device`` (where it was trained) and ``cached`` (served from the store).
    ``best_valid_acc`` is NaN: nobody knows the optimum of a space that was never trained.
    """

    def __init__(
        self,
        space: str = "nb201",
        dataset: str = "digits",
        *,
        data_dir: Path | str | None = None,
        executor: str = "process",
        workers: int | None = None,
        ray_address: str | None = None,
        store: ResultStore | Path | str | None = None,
        cache_dir: Path | str | None = None,
        **train_kwargs: Any,
    ) -> None:
        self.space = get_space(space)
        self.dataset = check_live_dataset(dataset, space)
        own = ("space", "dataset", "data_dir", "executor", "workers", "ray_address", "store", "cache_dir")
        self.config = TrainConfig.from_kwargs(also_accepted=own, **train_kwargs)
        if self.config.train_rows is not None and space not in TABULAR_SPACES:
            raise ValueError(f"train_rows is for the tabular spaces {list(TABULAR_SPACES)}, not {space!r}")
        self.config_hash = self.config.config_hash(dataset)
        # checked here, before a store is opened, rather than where each is first used (a pool of 0
        # workers divided by zero at the first query)
        if executor not in EXECUTORS:
            raise ValueError(f"executor {executor!r} is unknown; accepted: {list(EXECUTORS)}")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, Integral) or workers < 1):
            raise ValueError(f"workers must be an integer >= 1 (or None: one per GPU, else per core), got {workers!r}")
        if ray_address is not None and not isinstance(ray_address, str):
            raise TypeError(f"ray_address must be a string (or None: a local Ray), got {ray_address!r}")
        if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
            raise TypeError(f"data_dir must be a folder path (str or os.PathLike) or None, got {data_dir!r}")
        self.store = open_store(store, cache_dir)
        self.data_dir = str(data_dir) if data_dir is not None else None
        if space in TABULAR_SPACES:  # a missing file is named now, not at the first query
            find_file(dataset, data_dir)
        self._executor_args = {"executor": executor, "workers": workers, "ray_address": ray_address}
        self._executor: Executor | None = None
        self.n_trained = 0  # architectures trained by this evaluator
        self.n_cached = 0  # architectures served from the store

    def __repr__(self) -> str:
        return f"LiveEvaluator({self.space.name!r}, {self.dataset!r}, config_hash={self.config_hash!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_executor"] = None  # pools and Ray handles stay with their process
        return state

    @property
    def best_valid_acc(self) -> float:
        """Unknown for live evaluation: NaN (so the ``"normalized"`` reward cannot be used)."""
        return math.nan

    @property
    def executor(self) -> Executor:
        """The job executor, started on first use."""
        if self._executor is None:
            args = self._executor_args
            self._executor = make_executor(
                args["executor"], self.config.device, args["workers"], self.config.num_threads, args["ray_address"]
            )
        return self._executor

    def close(self) -> None:
        """Stop the worker pool or the Ray started here, and close the store's connection."""
        if self._executor is not None:
            self._executor.close()
            self._executor = None
        self.store.close()

    def resources(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Resource metrics known without training (what an env's ``constraint`` reads): for the FFN
        spaces the exact ``params`` and ``flops`` (M) on this dataset's encoded inputs and classes
        (its files are read, nothing trains), for the others the space's formulas
        (:meth:`~nasgym.spaces.base.SearchSpace.resources`).

        :param indices: canonical indices.
        """
        choices = self.space.choices_of(self.space.check_index(indices, "indices"))
        if self.space.name not in TABULAR_SPACES:
            return self.space.resources(choices, self.dataset)
        data = load_tabular(self.dataset, self.data_dir)
        params = self.space.param_count(choices, data.n_inputs, data.n_classes) / 1e6
        return {"params": params, "flops": params.copy()}

    def _metrics(self, stored: dict[str, Any], wall_time: float, cached: bool) -> dict[str, Any]:
        """The answer to one query from its stored result."""
        out = {key: stored[key] for key in RESULT_KEYS if key != "cost"}
        out["cost"] = stored["wall_time"]
        out.update(
            train_time=stored["train_time"], train_loss=stored["train_loss"], train_acc=stored["train_acc"],
            wall_time=wall_time, device=stored["device"], cached=cached,
        )  # fmt: skip
        return out

    def _run(self, indices: list[int]) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(index, metrics)`` of the given architectures as each is trained: the FFN spaces train
        batched in this process (:func:`nasgym.training.ffn.train_ffns`), the others one job per
        architecture on the executor."""
        if self.space.name in TABULAR_SPACES:
            from nasgym.training.ffn import train_ffns  # torch only where training happens

            choices = self.space.choices_of(np.array(indices, dtype=np.int64))
            runs = train_ffns(self.space.name, choices, self.dataset, self.config, self.data_dir)
            return ((indices[position], metrics) for position, metrics in runs)
        jobs = [
            TrainJob(
                i, self.space.name, tuple(self.space.choices_of(i).tolist()), self.dataset, self.config, self.data_dir
            )
            for i in indices
        ]
        return ((job.index, metrics) for job, metrics in self.executor.run(jobs))

    def _train(self, indices: list[int]) -> dict[int, dict[str, Any]]:
        """Train the given architectures, storing each result as soon as it is known."""
        experiment = self.config.experiment(self.dataset)
        results: dict[int, dict[str, Any]] = {}
        show = self.config.progress and len(indices) > 1
        with tqdm(
            total=len(indices), desc=f"training {self.space.name} on {self.dataset}", unit="arch", disable=not show
        ) as bar:
            for index, metrics in self._run(indices):
                arch = self.space.arch_string(index)
                self.store.put(self.space.name, arch, self.dataset, self.config_hash, experiment, metrics)
                self.n_trained += 1
                results[index] = metrics
                logger.info(
                    "trained %s on %s: valid %.2f%%, test %.2f%%, %.1f s on %s",
                    arch,
                    self.dataset,
                    metrics["valid_acc"],
                    metrics["test_acc"],
                    metrics["wall_time"],
                    metrics["device"],
                )
                bar.update()
        return results

    def evaluate(self, indices: np.ndarray, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        """Metrics of many architectures: stored ones looked up, the others trained (in parallel).

        :param indices: canonical indices (any shape; repeats are trained once).
        :param rng: unused (results are deterministic given the configuration).
        """
        indices = self.space.check_index(indices, "indices")
        unique = [int(i) for i in np.unique(indices)]
        start = time.perf_counter()
        archs = {i: self.space.arch_string(i) for i in unique}
        stored = self.store.get_many(self.space.name, archs.values(), self.dataset, self.config_hash)
        answers = {i: stored[a] for i, a in archs.items() if a in stored}
        lookup_time = (time.perf_counter() - start) / max(len(unique), 1)
        self.n_cached += len(answers)
        per_index = {i: self._metrics(m, lookup_time, cached=True) for i, m in answers.items()}
        trained = self._train([i for i in unique if i not in answers])
        per_index.update((i, self._metrics(m, m["wall_time"], cached=False)) for i, m in trained.items())
        flat = [per_index[int(i)] for i in indices.reshape(-1)]
        out = {}
        for key in RESULT_KEYS + EXTRA_KEYS:
            values = np.array([m[key] for m in flat])
            out[key] = values.reshape(indices.shape)
        return out

    def evaluate_one(self, index: int, rng: np.random.Generator | None = None) -> dict[str, Any]:
        """Metrics of one architecture: from the store, or trained here (the env's per-step path).

        :param index: canonical index.
        :param rng: unused (results are deterministic given the configuration).
        """
        start = time.perf_counter()
        arch = self.space.arch_string(int(self.space.check_index(index)))
        stored = self.store.get(self.space.name, arch, self.dataset, self.config_hash)
        if stored is not None:
            self.n_cached += 1
            return self._metrics(stored, time.perf_counter() - start, cached=True)
        metrics = self._train([int(index)])[int(index)]
        return self._metrics(metrics, time.perf_counter() - start, cached=False)


def make_live_evaluator(space: str, dataset: str, **kwargs: Any) -> LiveEvaluator:
    """The live evaluator of ``space``: :class:`~nasgym.evaluators.rl.DQNEvaluator` for the Q-networks
    of the ``dqn-arch`` space (trained by reinforcement learning on a Gymnasium task), else
    :class:`LiveEvaluator`.

    :param kwargs: the evaluator's further arguments.
    """
    if space == "dqn-arch":
        from nasgym.evaluators.rl import DQNEvaluator  # torch at import: only when asked for

        return DQNEvaluator(space, dataset, **kwargs)
    return LiveEvaluator(space, dataset, **kwargs)
