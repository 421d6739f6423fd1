"""Where live training jobs run: in this process, on a local process pool, or on a Ray cluster.

Every executor yields ``(job, metrics)`` pairs as jobs finish, in completion order, so that the
caller can store each result the moment it exists. Pool and Ray workers run with their progress
bars off (the caller shows one bar over the architectures).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from nasgym.training.config import TrainConfig

EXECUTORS: tuple[str, ...] = ("process", "ray")


@dataclass(frozen=True)
class TrainJob:
    """One architecture to train: everything a worker process needs, and nothing more.

    :param index: canonical index of the architecture (for the caller).
    :param space: search space name.
    :param choices: its choice vector.
    :param dataset: live dataset name.
    :param config: training configuration.
    :param data_dir: folder of the dataset files.
    """

    index: int
    space: str
    choices: tuple[int, ...]
    dataset: str
    config: TrainConfig
    data_dir: str | None = None


#: overrides of the job configs in a pool worker (its device and threads), set by its initializer.
_WORKER_OVERRIDES: dict[str, Any] = {}


def run_job(job: TrainJob) -> dict[str, Any]:
    """Train and evaluate one job in this process (the function pool and Ray workers run)."""
    from nasgym.training.trainer import evaluate_architecture  # torch only where training happens

    config = dataclasses.replace(job.config, **_WORKER_OVERRIDES) if _WORKER_OVERRIDES else job.config
    return evaluate_architecture(job.space, np.array(job.choices), job.dataset, config, job.data_dir)


def _quiet(job: TrainJob) -> TrainJob:
    return dataclasses.replace(job, config=dataclasses.replace(job.config, progress=False))


class Executor(Protocol):
    """Runs jobs and yields ``(job, metrics)`` as each one finishes."""

    def run(self, jobs: Sequence[TrainJob]) -> Iterator[tuple[TrainJob, dict[str, Any]]]: ...

    def close(self) -> None: ...


def _init_worker(slot_counter: Any, devices: Sequence[str], num_threads: int | None) -> None:
    """Pool worker start-up: take the next slot, and with it a device (one GPU per worker)."""
    with slot_counter.get_lock():
        slot = slot_counter.value
        slot_counter.value += 1
    _WORKER_OVERRIDES["device"] = devices[slot % len(devices)]
    if num_threads is not None:
        _WORKER_OVERRIDES["num_threads"] = num_threads


class ProcessExecutor:
    """A local pool of ``workers`` spawned processes, each on its own device of ``devices``.

    A single job, or a pool of one worker, runs in this process instead (no start-up cost, and
    its progress bar shows). The pool starts on first use and lives until :meth:`close`.

    :param workers: number of worker processes.
    :param devices: devices dealt to the workers in turn (``["cuda:0", "cuda:1"]``, ``["cpu"]``).
    :param num_threads: torch CPU threads per worker; ``None``: the jobs' own setting.
    """

    def __init__(self, workers: int, devices: Sequence[str], num_threads: int | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.devices = list(devices)
        self.num_threads = num_threads
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # fork is unsafe once torch/CUDA started
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_init_worker,
                initargs=(context.Value("i", 0), self.devices, self.num_threads),
            )  # fmt: skip
        return self._pool

    def run(self, jobs: Sequence[TrainJob]) -> Iterator[tuple[TrainJob, dict[str, Any]]]:
        if len(jobs) <= 1 or self.workers == 1:
            for job in jobs:
                yield job, run_job(job)
            return
        futures: dict[Future, TrainJob] = {self._get_pool().submit(run_job, _quiet(job)): job for job in jobs}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield futures[future], future.result()
        finally:  # an error or an abandoned generator: do not start the jobs still queued
            for future in pending:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """Jobs as Ray tasks: on a local Ray started here, or on the cluster at ``address``.

    :param address: ``None`` starts a local Ray with ``workers`` CPUs (unless Ray is already
        initialised in this process); otherwise the cluster address given to ``ray.init``
        (``"auto"``, ``"ray://host:10001"``).
    :param workers: CPUs of the local Ray (``None``: all of this machine's).
    :param gpus_per_job: GPUs each task asks for; ``None``: 1 when the cluster has GPUs, else 0.
    """

    def __init__(self, address: str | None = None, workers: int | None = None, gpus_per_job: float | None = None):
        try:
            import ray
        except ImportError:
            raise ImportError("executor='ray' needs Ray: pip install 'nasgym[ray]'") from None
        self._ray = ray
        self._started_here = not ray.is_initialized()
        if self._started_here:
            if address is None:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        if gpus_per_job is None:
            gpus_per_job = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
        self._remote = ray.remote(num_cpus=1, num_gpus=gpus_per_job)(run_job)

    def run(self, jobs: Sequence[TrainJob]) -> Iterator[tuple[TrainJob, dict[str, Any]]]:
        ray = self._ray
        refs = {self._remote.remote(_quiet(job)): job for job in jobs}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield refs[done[0]], ray.get(done[0])
        finally:
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()


def local_devices(device: str) -> list[str]:
    """The devices a local pool deals out for a config's ``device``: every GPU for ``"auto"`` and
    ``"cuda"`` when there are GPUs, else the one device named (``"cpu"``, ``"cuda:1"``)."""
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if device == "auto":
        return ["cpu"]
    return [device]


def make_executor(
    executor: str, device: str, workers: int | None = None, num_threads: int | None = None,
    ray_address: str | None = None,
) -> Executor:  # fmt: skip
    """Resolve the live evaluator's ``executor`` argument.

    :param executor: ``"process"`` (local pool) or ``"ray"``.
    :param device: the training config's device.
    :param workers: pool processes (``None``: one per GPU, else one per CPU core) or local Ray CPUs.
    :param num_threads: torch threads per pool worker (``None``: cores / workers on the CPU).
    :param ray_address: cluster address for ``"ray"`` (``None``: a local Ray).
    """
    if executor == "ray":
        return RayExecutor(ray_address, workers)
    if executor != "process":
        raise ValueError(f"executor {executor!r} is unknown; accepted: {list(EXECUTORS)}")
    devices = local_devices(device)
    on_gpus = devices[0].startswith("cuda")
    workers = workers if workers is not None else (len(devices) if on_gpus else os.cpu_count() or 1)
    if num_threads is None and not on_gpus:
        num_threads = max(1, (os.cpu_count() or 1) // workers)  # no oversubscription of the cores
    return ProcessExecutor(workers, devices, num_threads)
