"""Tabular evaluator: look architectures up in a benchmark table, with NATS-Bench's seed noise."""

from __future__ import annotations

import functools
import math
import weakref
from pathlib import Path

import numpy as np

from nasgym.spaces import get_space
from nasgym.tables import load_table
from nasgym.tables.metrics import IDENTITY_METRICS, fidelity_metrics
from nasgym.tables.repository import check_space_dataset

NOISE_MODES = ("seed", "mean")


@functools.cache
def _nan_column(n_archs: int) -> np.ndarray:
    """All-NaN metric column (a metric the table lacks), one read-only copy for all evaluators."""
    column = np.full(n_archs, np.nan)
    column.flags.writeable = False
    return column


#: table -> fidelity -> per-arch rows of :meth:`TabularEvaluator.evaluate_one`, shared by every
#: evaluator of that table in this process (a vector of envs holds one copy).
_ROWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _shared_rows(table, fidelity: int, columns: list[np.ndarray]) -> np.ndarray:
    by_fidelity = _ROWS.setdefault(table, {})
    if fidelity not in by_fidelity:
        rows = np.column_stack(columns).astype(np.float64)
        rows.flags.writeable = False
        by_fidelity[fidelity] = rows
    return by_fidelity[fidelity]


class TabularEvaluator:
    """Answers queries from the benchmark table of (space, dataset).

    :param space: search space name (``"nb201"``).
    :param dataset: dataset of the table.
    :param noise: ``"seed"`` draws one trained seed per query with the caller's rng, as NATS-Bench
        does; ``"mean"`` returns the mean over seeds, deterministically.
    :param fidelity: training epochs of the validation accuracy: 200, or 12 (NAS-Bench-201 ships
        both; the NATS-Bench size space has 90, 12 and 1); the table must hold that validation
        accuracy for every architecture.
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
        check_space_dataset(space, dataset, cache_dir)
        if noise not in NOISE_MODES:
            raise ValueError(f"noise {noise!r} is unknown; accepted: {list(NOISE_MODES)}")
        accepted = fidelity_metrics(space)
        if fidelity not in accepted:
            raise ValueError(
                f"fidelity {fidelity!r} is unknown for space {space!r}; accepted: {sorted(accepted)} (epochs)"
            )
        self.space = get_space(space, cache_dir)
        self.dataset = dataset
        self.noise = noise
        self.fidelity = fidelity
        self._cache_dir = cache_dir
        self._bind(load_table(space, dataset, cache_dir))

    def _bind(self, table) -> None:
        names = fidelity_metrics(self.space.name)[self.fidelity]
        table.require_complete(names["valid_acc"], f"fidelity {self.fidelity}")
        self.table = table
        nan = _nan_column(table.n_archs)
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
        # evaluate_one reads everything but the drawn seed's values from one row: one .tolist()
        # instead of seven .item() calls per step
        columns = [self._valid_counts, self._valid_mean, self._time_mean, *self._constant.values()]
        self._rows = _shared_rows(table, self.fidelity, columns)
        # flat views for batched lookups by one (arch, seed) offset; only where both tables have
        # the same seed columns (else the 2-D lookup keeps its IndexError for a missing column)
        same_width = self._time is not None and self._time.shape[1] == self._valid.shape[1]
        self._flat = (self._valid.reshape(-1), self._time.reshape(-1), self._valid.shape[1]) if same_width else None

    def __getstate__(self) -> dict:
        # the table is memory-mapped from the cache: pickle the recipe, not the arrays
        return {k: getattr(self, k) for k in ("dataset", "noise", "fidelity", "_cache_dir")} | {
            "space_name": self.space.name
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["space_name"], state["dataset"], state["noise"], state["fidelity"], state["_cache_dir"])

    def __repr__(self) -> str:
        return (
            f"TabularEvaluator({self.space.name!r}, {self.dataset!r}, noise={self.noise!r}, fidelity={self.fidelity})"
        )

    @property
    def best_valid_acc(self) -> float:
        """Best mean validation accuracy of the space (the optimum a search can find)."""
        return self._best_valid_acc

    def resources(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric of the table that costs no training to know, as its mean over seeds per
        architecture (NaN where unknown): FLOPs, params, latencies (``latency_<device>``), train
        times, ... Not the quality measured on the validation or test data (``valid_*``, ``test_*``:
        a search pays for it with queries), nor the arrays that identify an architecture
        (:data:`~nasgym.tables.metrics.IDENTITY_METRICS`).

        :param indices: canonical indices.
        """
        indices = self.space.check_index(indices, "indices")
        return {
            name: self.table.mean(name)[indices]
            for name in self.table.arrays
            if not name.startswith(("valid_", "test_")) and name not in IDENTITY_METRICS
        }

    def _seeds(self, indices: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        if self.noise == "mean":
            return None
        draws = rng.random(indices.shape)
        draws *= self._valid_counts[indices]  # in place: one temporary array fewer
        return draws.astype(np.int64)

    def evaluate(self, indices: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Metrics of many architectures at once (vectorised)."""
        indices = self.space.check_index(indices, "indices")
        seeds = self._seeds(indices, rng)
        if seeds is None:
            valid, cost = self._valid_mean[indices], self._time_mean[indices]
        elif indices.ndim == 1 and self._flat is not None:
            valid, cost = self._lookup_batch(indices, seeds)
        else:
            valid = self._valid[indices, seeds]
            cost = self._time[indices, seeds] if self._time is not None else self._time_mean[indices]
            cost = np.where(np.isnan(cost), self._time_mean[indices], cost)
        out = {name: values[indices] for name, values in self._constant.items()}
        out["valid_acc"], out["cost"] = valid, cost
        return out

    def _lookup_batch(self, indices: np.ndarray, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Validation accuracy and cost of a 1-D batch: the values of the 2-D lookup, faster.

        One flat offset serves both tables, and a missing cost is patched in place: at 100k
        architectures each temporary array costs about as much as the arithmetic (page faults).
        """
        valid_flat, time_flat, width = self._flat
        offsets = indices * width
        offsets += seeds
        valid, cost = valid_flat[offsets], time_flat[offsets]
        missing = np.isnan(cost)
        if missing.any():  # no train time for that seed: the mean over the seeds that have one
            cost[missing] = self._time_mean[indices[missing]]
        return valid, cost

    def observation_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every observation a query can make, for batched callers that draw seeds themselves (the
        native vector env): ``(valid_acc, cost, n_seeds)``, the first two of shape ``(n_archs, columns)``.

        Under ``noise="seed"`` architecture ``i`` queried with the uniform draw ``u`` observes
        column ``int(u * n_seeds[i])``, as :meth:`evaluate_one` draws it, and a seed without a train
        time costs the mean time; under ``noise="mean"`` the one column holds the means over seeds.
        """
        if self.noise == "mean":
            return self._valid_mean[:, None], self._time_mean[:, None], np.ones(len(self._valid_mean))
        cost = np.full(self._valid.shape, np.nan)
        if self._time is not None:
            width = min(self._time.shape[1], cost.shape[1])
            cost[:, :width] = self._time[:, :width]
        cost = np.where(np.isnan(cost), self._time_mean[:, None], cost)
        return self._valid, cost, np.asarray(self._valid_counts, dtype=np.float64)

    def evaluate_one(self, index: int, rng: np.random.Generator) -> dict[str, float]:
        """Metrics of one architecture as plain floats: the env's per-step path, kept lean.

        It works on Python floats and ints (``tolist``, ``item``): arithmetic on numpy scalars
        costs microseconds per step, on Python numbers nanoseconds.
        """
        draw = rng.random() if self.noise == "seed" else 0.0  # drawn first, as it always was
        count, valid_mean, time_mean, test, flops, params, latency = self._rows[index].tolist()
        if self.noise == "mean":
            valid, cost = valid_mean, time_mean
        else:
            seed = int(draw * count)  # count is a whole float: the same product as with an int
            valid = self._valid.item(index, seed)
            cost = self._time.item(index, seed) if self._time is not None else math.nan
            if cost != cost:  # NaN: no time for that seed
                cost = time_mean
        return {
            "valid_acc": valid,
            "test_acc": test,
            "flops": flops,
            "params": params,
            "latency": latency,
            "cost": cost,
        }
