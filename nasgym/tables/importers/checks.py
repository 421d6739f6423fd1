"""What every importer checks before anything reaches the cache, and the one error it raises.

An imported value becomes a reward or a reported result, so a file is either imported whole or
rejected whole: accuracies finite and within 0..100 percent, times, latencies, sizes and costs
finite and >= 0, official indices whole numbers of the space, at least one value in the file.
An empty cell (NaN) means "unknown" and is always accepted.
"""

from __future__ import annotations

import numpy as np

_ACCURACY_PREFIXES = ("valid_acc", "test_acc")


class DataImportError(ValueError):
    """A benchmark file nasgym refuses to import; the message names the file, the line or record,
    and what was expected. Nothing of that file was written to the cache."""


def accepted_values(metric: str, n_archs: int) -> str:
    """What the values of ``metric`` must be, in words."""
    if metric.startswith(_ACCURACY_PREFIXES):
        return "an accuracy in percent: a finite number within 0..100"
    if metric == "official_index":
        return f"a whole number within 0..{n_archs - 1}"
    return "a finite number >= 0 (times, latencies, sizes and costs cannot be negative)"


def first_violation(metric: str, values: np.ndarray, n_archs: int) -> int | None:
    """Position (in ``values.ravel()``) of the first value of ``metric`` that breaks its rule, or None.

    NaN is an unknown value and passes; +-inf never does.
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    known = ~np.isnan(flat)
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(known & ~_acceptable(metric, flat, n_archs))
    return int(bad[0]) if len(bad) else None


def _acceptable(metric: str, values: np.ndarray | float, n_archs: int) -> np.ndarray | bool:
    """The rule of ``metric`` on an array or on one float (NaN breaks every rule here)."""
    if metric.startswith(_ACCURACY_PREFIXES):
        return (values >= 0) & (values <= 100)
    if metric == "official_index":
        return (values >= 0) & (values < n_archs) & (values == np.floor(values))
    return (values >= 0) & (values < np.inf)


def check_value(metric: str, value: float, n_archs: int, where: str) -> float:
    """``value`` if it is acceptable for ``metric``; else a :class:`DataImportError` naming ``where``.

    One float, checked without building arrays: importers call this for every value they read."""
    if value == value and not _acceptable(metric, value, n_archs):  # NaN (unknown) passes
        raise DataImportError(f"{where}: {metric} is {value!r}; expected {accepted_values(metric, n_archs)}")
    return value
