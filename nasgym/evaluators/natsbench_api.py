"""Queries answered by the official NATS-Bench API object a user created.

``NATSBenchEvaluator(api)`` wraps what ``nats_bench.create(path, "tss" | "sss")`` returns, so a
search runs on the official files through the official code: its hp settings, its seeds, its
records. nasgym only decides which seed a query draws (with the env's generator, so a seeded env
is reproducible) and maps its datasets onto NATS-Bench's runs the way the table importer does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nasgym.evaluators.tabular import NOISE_MODES
from nasgym.spaces import get_space

#: NATS-Bench's search space name -> nasgym's space
_SPACES = {"topology": "nb201", "size": "nats-sss"}
#: nasgym dataset -> (run whose x-valid is the validation accuracy, run whose test set is reported)
_RUNS = {
    "cifar10": ("cifar10-valid", "cifar10"),
    "cifar100": ("cifar100", "cifar100"),
    "ImageNet16-120": ("ImageNet16-120", "ImageNet16-120"),
}


class NATSBenchEvaluator:
    """Answers each query through a NATS-Bench API object (topology or size space).

    :param api: the object ``nats_bench.create(path, "tss" | "sss", fast_mode=True)`` returns.
    :param dataset: ``"cifar10"`` (validation on the cifar10-valid run, test of the cifar10 run
        trained on train+valid, as NATS-Bench reports them), ``"cifar100"`` or ``"ImageNet16-120"``.
    :param noise: ``"seed"``: each query draws one of the run's trained seeds with the env's
        generator (one ``rng.random()`` per query, as the tabular evaluator); ``"mean"``: the
        mean over seeds.
    :param fidelity: training epochs of the hp setting to query (``200`` or ``12`` on the
        topology space, ``90``, ``12`` or ``1`` on the size space); ``None``: the full schedule.

    Validation accuracy and cost (total training time) come from the drawn seed; test accuracy is
    the mean over the test run's seeds; FLOPs, parameters and latency are NATS-Bench's cost info.
    The best validation accuracy of the space is unknown to it (NaN): the API would have to load
    every record.
    """

    def __init__(self, api: Any, dataset: str = "cifar10", noise: str = "seed", fidelity: int | None = None) -> None:
        space_name = getattr(api, "search_space_name", None)
        if space_name not in _SPACES or not callable(getattr(api, "get_more_info", None)):
            raise TypeError(
                f"api must be a NATS-Bench API object from nats_bench.create(path, 'tss' or 'sss'), got {api!r}"
            )
        if dataset not in _RUNS:
            raise ValueError(f"dataset {dataset!r} is unknown for NATS-Bench; accepted: {list(_RUNS)}")
        if noise not in NOISE_MODES:
            raise ValueError(f"noise {noise!r} is unknown; accepted: {list(NOISE_MODES)}")
        full = int(api.full_train_epochs)
        hps = {full: str(full), 12: "12"} | ({1: "01"} if space_name == "size" else {})
        fidelity = full if fidelity is None else fidelity
        if isinstance(fidelity, bool) or fidelity not in hps:
            raise ValueError(f"fidelity {fidelity!r} is not a NATS-Bench {space_name} hp; accepted: {sorted(hps)}")
        self.api = api
        self.space = get_space(_SPACES[space_name])
        self.dataset = dataset
        self.noise = noise
        self.fidelity = int(fidelity)
        self.hp = hps[fidelity]
        self._official: dict[int, int] = {}

    def __repr__(self) -> str:
        return f"NATSBenchEvaluator({self.space.name!r}, {self.dataset!r}, noise={self.noise!r}, hp={self.hp!r})"

    @property
    def best_valid_acc(self) -> float:
        return math.nan

    def official_index(self, index: int) -> int:
        """NATS-Bench's index of the architecture with nasgym's canonical ``index``."""
        official = self._official.get(index)
        if official is None:
            official = int(self.api.query_index_by_arch(self.space.arch_string(index)))
            if official < 0:
                raise ValueError(f"the NATS-Bench API does not know architecture {self.space.arch_string(index)!r}")
            self._official[index] = official
        return official

    def evaluate_one(self, index: int, rng: np.random.Generator) -> dict[str, float]:
        """Metrics of one architecture (one ``rng.random()`` drawn in ``"seed"`` mode)."""
        draw = rng.random() if self.noise == "seed" else None
        official = self.official_index(int(self.space.check_index(index)))
        valid_run, test_run = _RUNS[self.dataset]
        seed: int | bool = False  # False: the API's mean over seeds
        if draw is not None:
            seeds = self.api.query_meta_info_by_index(official, hp=self.hp).get_dataset_seeds(valid_run)
            seed = int(seeds[int(draw * len(seeds))])
        valid = self.api.get_more_info(official, valid_run, hp=self.hp, is_random=seed)
        test = self.api.get_more_info(official, test_run, hp=self.hp, is_random=False)
        cost = self.api.get_cost_info(official, valid_run, hp=self.hp)
        return {
            "valid_acc": float(valid["valid-accuracy"]),
            "test_acc": _number(test.get("test-accuracy")),
            "flops": float(cost["flops"]),
            "params": float(cost["params"]),
            "latency": _number(cost.get("latency")),
            "cost": float(valid["train-all-time"]),
        }

    def evaluate(self, indices: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Metrics of many architectures, queried one by one in order (the API has no batch call)."""
        indices = self.space.check_index(indices, "indices")
        rows = [self.evaluate_one(int(i), rng) for i in indices.reshape(-1).tolist()]
        keys = ("valid_acc", "test_acc", "flops", "params", "latency", "cost")
        return {key: np.array([row[key] for row in rows], dtype=np.float64).reshape(indices.shape) for key in keys}


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)
