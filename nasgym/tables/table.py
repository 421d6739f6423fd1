"""A benchmark table: dense (archs x seeds) arrays of one (space, dataset), indexed by canonical index."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class BenchmarkTable:
    """Read-only metrics of every architecture of a space on one dataset.

    Every array has shape (n_archs, n_seeds) with the known seeds of each row packed to the left
    and NaN after them (and for archs without a value).

    :param space: name of the search space.
    :param dataset: dataset name.
    :param arrays: metric name -> array.
    :param sources: the cache sources merged into this table, in overlay order.
    """

    def __init__(self, space: str, dataset: str, arrays: Mapping[str, np.ndarray], sources: tuple[str, ...] = ()):
        self.space = space
        self.dataset = dataset
        self.arrays = dict(arrays)
        self.sources = sources
        sizes = {a.shape[0] for a in self.arrays.values()}
        if len(sizes) != 1 or any(a.ndim != 2 for a in self.arrays.values()):
            raise ValueError(f"table arrays must all be 2-D with one row per architecture, got {self.shapes()}")
        self.n_archs = sizes.pop()
        self._means: dict[str, np.ndarray] = {}
        self._counts: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return f"BenchmarkTable({self.space!r}, {self.dataset!r}, metrics={sorted(self.arrays)})"

    def __contains__(self, metric: str) -> bool:
        return metric in self.arrays

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: a.shape for name, a in self.arrays.items()}

    def values(self, metric: str) -> np.ndarray:
        """The (n_archs, n_seeds) array of ``metric``."""
        try:
            return self.arrays[metric]
        except KeyError:
            raise KeyError(
                f"metric {metric!r} is not in the {self.dataset} table; it has {sorted(self.arrays)}"
            ) from None

    def mean(self, metric: str) -> np.ndarray:
        """Mean over known seeds per architecture (NaN where none is known); computed once."""
        if metric not in self._means:
            values = self.values(metric)
            sums = np.where(np.isnan(values), 0.0, values).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                self._means[metric] = sums / self.n_seeds(metric)
        return self._means[metric]

    def n_seeds(self, metric: str) -> np.ndarray:
        """Number of known seeds of each architecture; computed once."""
        if metric not in self._counts:
            self._counts[metric] = (~np.isnan(self.values(metric))).sum(axis=1)
        return self._counts[metric]

    def coverage(self) -> dict[str, int]:
        """Metric -> number of architectures with at least one known value."""
        return {name: int((self.n_seeds(name) > 0).sum()) for name in sorted(self.arrays)}

    def require_complete(self, metric: str, purpose: str) -> None:
        """Raise a ValueError unless every architecture has a value of ``metric``: a reward read
        from a table that covers only part of the space would be NaN for the rest.

        :param purpose: what needs the metric, for the message (e.g. ``"fidelity 12"``).
        """
        if metric not in self.arrays:
            raise ValueError(
                f"{purpose} needs the metric {metric!r}, which the {self.dataset} table lacks (it has "
                f"{sorted(self.arrays)}); import or build it first ('nasgym data import', 'nasgym data build')"
            )
        covered = int((self.n_seeds(metric) > 0).sum())
        if covered < self.n_archs:
            raise ValueError(
                f"{purpose} needs the metric {metric!r} of every architecture, but the {self.dataset} table "
                f"covers {covered:,} of {self.n_archs:,} ({covered / self.n_archs:.1%}): a query of any other "
                "would give a NaN reward; import or build the rest first"
            )

    def best(self, metric: str = "valid_acc") -> tuple[int, float]:
        """(canonical index, value) of the architecture with the highest mean ``metric``."""
        means = self.mean(metric)
        index = int(np.nanargmax(means))
        return index, float(means[index])
