"""What an importer returns: per-dataset arrays for one source, and the inputs it read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class ImportResult:
    """Arrays of one import source, keyed by dataset then metric, each (n_archs, n_seeds).

    :param source: the name the arrays are stored under (one folder per source and dataset).
    :param inputs: the files read, recorded with their checksums so a corrupt cache can be redone.
    :param space: the search space the arrays index (canonical indices of that space).
    :param n_archs: the number of rows, where the import itself defines the space's architectures
        (NAS-Bench-101: the cells of the file); ``None``: the size of ``space``.
    """

    source: str
    inputs: list[Path]
    space: str = "nb201"
    n_archs: int | None = None
    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def column(self, dataset: str, metric: str, n_archs: int, n_seeds: int = 1) -> np.ndarray:
        """The array for (dataset, metric), created full of NaN on first use."""
        per_dataset = self.arrays.setdefault(dataset, {})
        if metric not in per_dataset:
            per_dataset[metric] = np.full((n_archs, n_seeds), np.nan)
        return per_dataset[metric]

    def summary(self) -> str:
        """One line saying what was imported where: the files read, the tables written (or, for a
        file that is not a table, what it became, from ``notes``), then the notes."""
        read = ", ".join(str(path) for path in self.inputs)
        notes = "; ".join(self.notes)
        if not self.arrays:
            return f"imported {read}: {notes}"
        where = f"the {self.space} tables of {', '.join(sorted(self.arrays))} as source {self.source!r}"
        return f"imported {read} into {where}" + (f": {notes}" if notes else "")
