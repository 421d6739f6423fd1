"""Synthetic evaluator: a made-up but fixed benchmark for any search space, in microseconds.

For spaces without tables and without a GPU nearby (the ConvNet space), smoke tests, and agent
debugging: every env id runs with ``evaluator="synthetic"`` and no data at all. Its numbers mean
nothing about real networks.
"""

from __future__ import annotations

import numpy as np

from nasgym.evaluators.tabular import NOISE_MODES
from nasgym.spaces import get_space

#: standard deviation (percentage points) of the validation accuracy between training seeds.
SEED_STD = 0.5


def _active_decisions(features: np.ndarray) -> np.ndarray:
    """The synthetic size of each architecture: the sum of its features."""
    return features.sum(axis=-1).astype(np.float64)


def _resources(size: np.ndarray) -> dict[str, np.ndarray]:
    """Synthetic FLOPs (M), params (M) and latency (s), growing with the size."""
    return {"flops": 10.0 * size, "params": 0.1 * size, "latency": 1e-3 * size}


class SyntheticEvaluator:
    """Validation accuracy from a fixed random linear model of the architecture's features.

    The mean validation accuracy of an architecture is ``10 + 85 * sigmoid(w . features)`` with
    ``w`` drawn once from ``seed``; ``noise="seed"`` adds Gaussian seed-to-seed noise
    (:data:`SEED_STD`) with the caller's rng. Test accuracy is the mean validation accuracy minus
    one point; FLOPs, params, latency and cost grow with the number of active choices.

    :param space: search space name.
    :param dataset: a label only (kept so envs can report it).
    :param noise: ``"seed"`` or ``"mean"``, as for the tabular evaluator.
    :param seed: seed of the linear model: another seed is another benchmark.
    """

    def __init__(self, space: str = "nb201", dataset: str = "synthetic", noise: str = "seed", seed: int = 0) -> None:
        if noise not in NOISE_MODES:
            raise ValueError(f"noise {noise!r} is unknown; accepted: {list(NOISE_MODES)}")
        self.space = get_space(space)
        self.dataset = dataset
        self.noise = noise
        self.seed = seed
        n_features = self.space.feature_size
        self._weights = np.random.default_rng(seed).normal(0.0, 1.0, n_features)
        # the optimum of a space too large to enumerate (DARTS) is unknown
        self._best_valid_acc = (
            float(self._mean_valid(self.space.features(self.space.enumerate())).max())
            if self.space.enumerable
            else float("nan")
        )

    def __repr__(self) -> str:
        return f"SyntheticEvaluator({self.space.name!r}, noise={self.noise!r}, seed={self.seed})"

    @property
    def best_valid_acc(self) -> float:
        """Best mean validation accuracy over the whole space (NaN where it cannot be enumerated)."""
        return self._best_valid_acc

    def _mean_valid(self, features: np.ndarray) -> np.ndarray:
        return 10.0 + 85.0 / (1.0 + np.exp(-(features @ self._weights)))

    def evaluate(self, indices: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Metrics of many architectures (vectorised)."""
        features = self._features(indices)
        mean = self._mean_valid(features)
        size = _active_decisions(features)
        valid = mean + rng.normal(0.0, SEED_STD, mean.shape) if self.noise == "seed" else mean
        return {"valid_acc": valid, "test_acc": mean - 1.0, **_resources(size), "cost": 100.0 * size}

    def resources(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """``flops``, ``params`` and ``latency`` of architectures, as :meth:`evaluate` reports them."""
        return _resources(_active_decisions(self._features(indices)))

    def _features(self, indices: np.ndarray) -> np.ndarray:
        return self.space.features(self.space.choices_of(self.space.check_index(indices, "indices")))

    def evaluate_one(self, index: int, rng: np.random.Generator) -> dict[str, float]:
        """Metrics of one architecture as plain floats."""
        metrics = self.evaluate(np.array([index]), rng)
        return {key: float(values[0]) for key, values in metrics.items()}
