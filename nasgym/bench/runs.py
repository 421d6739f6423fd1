"""``runs.csv``: one row per finished run, appended as runs finish and sorted at the end."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from nasgym.bench.grid import Protocol, run_key
from nasgym.tables import SPACE_DATASETS

#: the columns every consumer of ``runs.csv`` may rely on, in this order
RUN_COLUMNS: tuple[str, ...] = (
    "agent",
    "env",
    "dataset",
    "budget",
    "seed",
    "best_valid_acc",
    "best_test_acc",
    "best_arch",
    "queries_to_best",
    "n_queries",
    "sim_time",
    "wall_time",
)
#: the columns of the first ``runs.csv`` layout after :data:`RUN_COLUMNS`: the observed (noisy,
#: reward-fidelity) accuracy of the selected architecture, its index, the rest of the protocol
#: (:class:`~nasgym.bench.grid.Protocol`; an empty ``search_dataset``: the run searched its own
#: dataset) and where its history is
PROTOCOL_COLUMNS: tuple[str, ...] = (
    "best_valid_acc_observed",
    "best_index",
    "sim_time_limit",
    "fidelity",
    "search_dataset",
    "history",
)
#: what a run depended on and what it found, after :data:`PROTOCOL_COLUMNS`: the env's extra
#: ``gym.make`` arguments (JSON, empty for none), the fidelity of the reported accuracies (the
#: env's default), the query at which the run first queried an optimal architecture (``nan`` where
#: it never did or the space's optimum is unknown), a fingerprint of what the env's evaluators
#: answer (:func:`~nasgym.bench.provenance.tables_fingerprint`), the versions (nasgym, numpy,
#: gymnasium, torch) and the machine (CPU model, cores, GPU) it ran with
PROVENANCE_COLUMNS: tuple[str, ...] = (
    "env_args",
    "report_fidelity",
    "queries_to_optimum",
    "tables_fingerprint",
    "versions",
    "machine",
)
EXTRA_COLUMNS: tuple[str, ...] = PROTOCOL_COLUMNS + PROVENANCE_COLUMNS
COLUMNS: tuple[str, ...] = RUN_COLUMNS + EXTRA_COLUMNS
#: the layout written before the provenance columns (read, and upgraded by ``--migrate``)
LEGACY_COLUMNS: tuple[str, ...] = RUN_COLUMNS + PROTOCOL_COLUMNS


_DATASET_ORDER = {d: i for i, d in enumerate(dict.fromkeys(d for ds in SPACE_DATASETS.values() for d in ds))}


def dataset_position(dataset: str) -> tuple[int, str]:
    """Where ``dataset`` sorts: the tables' order (cifar10, cifar100, ImageNet16-120), then by name."""
    return (_DATASET_ORDER.get(dataset, len(_DATASET_ORDER)), dataset)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _optional(text: str, kind: type) -> Any:
    return kind(text) if text != "" else None


def row_protocol(row: dict[str, str]) -> Protocol:
    """The protocol of a ``runs.csv`` row (read as strings)."""
    return Protocol(
        _optional(row["budget"], int),
        _optional(row["sim_time_limit"], float),
        _optional(row["fidelity"], int),
        _optional(row["search_dataset"], str),
        _optional(row.get("report_fidelity", ""), int),
    )


def row_env_args(row: dict[str, str]) -> dict[str, Any]:
    """The extra ``gym.make`` arguments of a row."""
    return json.loads(row["env_args"]) if row.get("env_args") else {}


def row_key(row: dict[str, str]) -> tuple:
    """:func:`~nasgym.bench.grid.run_key` of a ``runs.csv`` row (read as strings)."""
    return run_key(
        row["agent"], row["env"], row["dataset"], row_protocol(row), row.get("env_args", ""), int(row["seed"])
    )


def read_runs(path: Path) -> list[dict[str, str]]:
    """Rows of a ``runs.csv`` (strings), or none if it does not exist. A file of the layout before
    the provenance columns (:data:`LEGACY_COLUMNS`) reads with those columns empty.

    :raises ValueError: the file has other columns than :data:`COLUMNS`.
    """
    if not path.exists():
        return []
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        header = tuple(reader.fieldnames or ())
        if header not in (COLUMNS, LEGACY_COLUMNS):
            raise ValueError(
                f"out: {path} has the columns {list(header)}, expected {list(COLUMNS)}; write into another folder"
            )
        return [{column: row.get(column, "") for column in COLUMNS} for row in reader]


def is_legacy(path: Path) -> bool:
    """Whether ``path`` has the layout before the provenance columns."""
    with open(path, newline="") as file:
        return tuple(next(csv.reader(file), ())) == LEGACY_COLUMNS


def append_run(path: Path, row: dict[str, Any]) -> None:
    """Append one row (and the header to a new file), flushed at once so a crash keeps it.

    :raises ValueError: ``path`` has the layout before the provenance columns (migrate it first).
    """
    new = not path.exists()
    if not new and is_legacy(path):
        raise ValueError(f"out: {path} predates the provenance columns; run nasgym bench --migrate --out {path.parent}")
    with open(path, "a", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({column: _cell(row[column]) for column in COLUMNS})


def sort_key(row: dict[str, Any]) -> tuple:
    """Grid order: protocol, agent, env, dataset (in the order of its space's tables), env arguments, seed."""
    return (
        row_protocol(row).sort_key(),
        row["agent"],
        row["env"],
        dataset_position(row["dataset"]),
        row.get("env_args", ""),
        int(row["seed"]),
    )


def write_runs(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` to ``path`` in grid order (:func:`sort_key`), atomically."""

    partial = path.with_suffix(".csv.partial")
    with open(partial, "w", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        writer.writeheader()
        writer.writerows({column: _cell(row.get(column)) for column in COLUMNS} for row in sorted(rows, key=sort_key))
    os.replace(partial, path)
