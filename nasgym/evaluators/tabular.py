"""Tabular evaluator: look architectures up in a benchmark table, with NATS-Bench's seed noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasgym.spaces import get_space
from nasgym.tables import load_table
from nasgym.tables.metrics import FIDELITY_METRICS
from nasgym.tables.repository import check_space_dataset

NOISE_MODES = ("seed", "mean")


class TabularEvaluator:
    """Answers queries from the benchmark table of (space, dataset).

    :param space: search space name (``"nb201"``).
    :param dataset: dataset of the table.
    :param noise: ``"seed"`` draws one trained seed per query with the caller's rng, as NATS-Bench
        does; ``"mean"`` returns the mean over seeds, deterministically.
    :param fidelity: training epochs of the validation accuracy: 200, or 12 where the 12-epoch
        results were imported (``nasgym data import epoch12_valid_test.csv``).
    :param cache_dir: table cache directory; defaults to ``$NASGYM_CACHE_DIR`` or the user cache.

    The validation accuracy and the simulated cost (train time at that fidelity) come from the
    drawn seed; test accuracy is always the mean over seeds, as papers report it.
    """

    def __init__(
        self,
        space: str = "nb201",
        dataset: str = "cifar10",
        noise: str = "seed",
        fidelity: int = 200,
        cache_dir: Path | str | None = None,
    ) -> None:
        check_space_dataset(space, dataset)
        if noise not in NOISE_MODES:
            raise ValueError(f"noise {noise!r} is unknown; accepted: {list(NOISE_MODES)}")
        if fidelity not in FIDELITY_METRICS:
            raise ValueError(f"fidelity {fidelity!r} is unknown; accepted: {sorted(FIDELITY_METRICS)} (epochs)")
        self.space = get_space(space)
        self.dataset = dataset
        self.noise = noise
        self.fidelity = fidelity
        self._cache_dir = cache_dir
        self._bind(load_table(space, dataset, cache_dir))

    def _bind(self, table) -> None:
        names = FIDELITY_METRICS[self.fidelity]
        if names["valid_acc"] not in table:
            raise ValueError(
                f"fidelity {self.fidelity} needs the metric {names['valid_acc']!r}, which the {self.dataset} "
                "table lacks; import it first (nasgym data import .../epoch12_valid_test.csv)"
            )
        self.table = table
        nan = np.full(table.n_archs, np.nan)
        self._valid = np.asarray(table.values(names["valid_acc"]))
        self._valid_counts = table.n_seeds(names["valid_acc"])
        self._valid_mean = table.mean(names["valid_acc"])
        self._time = np.asarray(table.values(names["train_time"])) if names["train_time"] in table else None
        self._time_mean = table.mean(names["train_time"]) if self._time is not None else nan
        self._constant = {
            "test_acc": table.mean(names["test_acc"]) if names["test_acc"] in table else nan,
            "flops": table.mean("flops"),
            "params": table.mean("params"),
            "latency": table.mean("latency"),
        }
        self._best_valid_acc = float(np.nanmax(self._valid_mean))

    def __getstate__(self) -> dict:
        # the table is memory-mapped from the cache: pickle the recipe, not the arrays
        return {k: getattr(self, k) for k in ("dataset", "noise", "fidelity", "_cache_dir")} | {
            "space_name": self.space.name
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["space_name"], state["dataset"], state["noise"], state["fidelity"], state["_cache_dir"])

    def __repr__(self) -> str:
        return f"TabularEvaluator({self.space.name!r}, {self.dataset!r}, noise={self.noise!r}, fidelity={self.fidelity})"

    @property
    def best_valid_acc(self) -> float:
        """Best mean validation accuracy of the space (the optimum a search can find)."""
        return self._best_valid_acc

    def _seeds(self, indices: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        if self.noise == "mean":
            return None
        return (rng.random(indices.shape) * self._valid_counts[indices]).astype(np.int64)

    def evaluate(self, indices: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Metrics of many architectures at once (vectorised)."""
        indices = self.space.check_index(indices, "indices")
        seeds = self._seeds(indices, rng)
        if seeds is None:
            valid, cost = self._valid_mean[indices], self._time_mean[indices]
        else:
            valid = self._valid[indices, seeds]
            cost = self._time[indices, seeds] if self._time is not None else self._time_mean[indices]
            cost = np.where(np.isnan(cost), self._time_mean[indices], cost)
        out = {name: values[indices] for name, values in self._constant.items()}
        out["valid_acc"], out["cost"] = valid, cost
        return out

    def evaluate_one(self, index: int, rng: np.random.Generator) -> dict[str, float]:
        """Metrics of one architecture as plain floats: the env's per-step path, kept lean."""
        if self.noise == "mean":
            valid, cost = self._valid_mean[index], self._time_mean[index]
        else:
            seed = int(rng.random() * self._valid_counts[index])
            valid = self._valid[index, seed]
            cost = self._time[index, seed] if self._time is not None else np.nan
            if cost != cost:  # NaN: no time for that seed
                cost = self._time_mean[index]
        constant = self._constant
        return {
            "valid_acc": float(valid),
            "test_acc": float(constant["test_acc"][index]),
            "flops": float(constant["flops"][index]),
            "params": float(constant["params"][index]),
            "latency": float(constant["latency"][index]),
            "cost": float(cost),
        }
