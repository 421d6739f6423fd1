"""The evaluator protocol: turn architectures into metrics, in batches."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from nasgym.spaces.base import SearchSpace

#: keys every evaluator returns, each an array with one value per queried architecture.
RESULT_KEYS: tuple[str, ...] = ("valid_acc", "test_acc", "flops", "params", "latency", "cost")


@runtime_checkable
class Evaluator(Protocol):
    """Evaluates architectures of ``space`` on ``dataset``.

    ``evaluate`` takes canonical indices and the caller's random generator (all noise comes from
    it, so an env seeded with ``reset(seed=...)`` is reproducible) and returns a dict with the
    :data:`RESULT_KEYS`: accuracies in percent, FLOPs and params in millions, latency and simulated
    cost in seconds. ``best_valid_acc`` is the best mean validation accuracy of the space when the
    evaluator knows it (tables do), else NaN.
    """

    space: SearchSpace
    dataset: str

    def evaluate(self, indices: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]: ...

    def evaluate_one(self, index: int, rng: np.random.Generator) -> dict[str, float]: ...

    @property
    def best_valid_acc(self) -> float: ...
