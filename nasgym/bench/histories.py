"""Every run's queries: what ``--plot-only`` draws and ``--rescore`` recomputes rows from.

A history holds, per query, the queried index, the observed reward accuracy, the simulated time
so far, and the seed-mean validation and test accuracy of the best architecture so far.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

HISTORY_DIR = "histories"


def write_history(out: Path, name: str, arrays: dict[str, np.ndarray]) -> str:
    """Save one run's history under ``out``; return what the run's ``history`` column holds."""
    reference = f"{HISTORY_DIR}/{name}.npz"
    path = out / reference
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(partial, **arrays)
    os.replace(partial, path)
    return reference


def read_history(out: Path, row: dict[str, str]) -> dict[str, np.ndarray]:
    """The history of a ``runs.csv`` row."""
    with np.load(out / row["history"]) as stored:
        return dict(stored)


def missing_histories(out: Path, rows: list[dict[str, str]]) -> list[str]:
    """The ``history`` of each row that ``out`` does not hold (folders committed without them)."""
    return [row["history"] for row in rows if not (out / row["history"]).exists()]


def replace_history(out: Path, row: dict[str, str], arrays: dict[str, np.ndarray]) -> None:
    """Overwrite the history of a ``runs.csv`` row (a rescore whose curves changed), atomically."""
    write_history(out, Path(row["history"]).stem, arrays)
