"""The metric vocabulary of benchmark tables, and helpers on (archs x seeds) arrays."""

from __future__ import annotations

import numpy as np

#: metric name -> what it holds. Every table array has shape (n_archs, n_seeds), NaN where unknown.
METRICS: dict[str, str] = {
    "valid_acc": "validation accuracy (%) after the full schedule (200 epochs on NAS-Bench-201), per seed",
    "test_acc": "test accuracy (%) after the full schedule; reported, never rewarded",
    "train_time": "training time (s) of the full schedule, per seed",
    "valid_acc_12": "validation accuracy (%) after 12 epochs (NAS-Bench-201 hp=12)",
    "test_acc_12": "test accuracy (%) after 12 epochs",
    "train_time_12": "training time (s) of 12 epochs",
    "latency": "GPU latency (s) of one forward pass, as NATS-Bench measured it",
    "params": "parameters (millions)",
    "flops": "FLOPs (millions)",
    "official_index": "index of the architecture in the official benchmark files",
    "cell": "NAS-Bench-101: the cell of each row, its 21 edge bits and 5 ops read as one mixed-radix number",
    "cell_hash": "NAS-Bench-101: the official hash of each row's cell, as 4 numbers of 32 bits",
    "valid_loss": "validation loss after the full schedule, per seed (FCNet: mean squared error; FFN: cross-entropy)",
}
#: arrays that name an architecture rather than measure it (never a resource, never a reward)
IDENTITY_METRICS: frozenset[str] = frozenset({"official_index", "cell", "cell_hash"})
#: latency of each device of the HELP measurements, in seconds: ``latency_<device>``.
LATENCY_DEVICE_PREFIX = "latency_"
#: the per-query metrics whose value depends on the training seed, keyed by fidelity (epochs).
FIDELITY_METRICS: dict[int, dict[str, str]] = {
    200: {"valid_acc": "valid_acc", "test_acc": "test_acc", "train_time": "train_time"},
    12: {"valid_acc": "valid_acc_12", "test_acc": "test_acc_12", "train_time": "train_time_12"},
}
#: spaces whose full schedule is not 200 epochs: their own fidelities (the full one is unsuffixed)
_SPACE_FIDELITY_METRICS: dict[str, dict[int, dict[str, str]]] = {
    "nats-sss": {
        90: FIDELITY_METRICS[200],
        12: FIDELITY_METRICS[12],
        1: {"valid_acc": "valid_acc_01", "test_acc": "test_acc_01", "train_time": "train_time_01"},
    },
    # NAS-Bench-101 trained every cell for 108 epochs, and (its full file) for 36, 12 and 4
    "nb101": {
        108: FIDELITY_METRICS[200],
        **{
            epochs: {key: f"{key}_{epochs}" for key in ("valid_acc", "test_acc", "train_time")}
            for epochs in (36, 12, 4)
        },
    },
    # FCNet trained every configuration for 100 epochs
    "fcnet": {100: FIDELITY_METRICS[200]},
}


def fidelity_metrics(space: str) -> dict[int, dict[str, str]]:
    """The fidelities (epochs) a space's tables can hold, each with its metric names."""
    return _SPACE_FIDELITY_METRICS.get(space, FIDELITY_METRICS)


def describe(metric: str) -> str:
    if metric in METRICS:
        return METRICS[metric]
    if metric.startswith(LATENCY_DEVICE_PREFIX):
        return f"latency (s) on device {metric[len(LATENCY_DEVICE_PREFIX) :]} (HELP measurements)"
    return "imported metric"


def pack_seeds(values: np.ndarray) -> np.ndarray:
    """Move the known (non-NaN) seeds of each row to the left, keeping their order.

    Afterwards row i holds its ``k_i`` known seeds in columns ``0..k_i-1``, so drawing a seed is one
    integer draw below ``k_i``.
    """
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(np.isnan(values), axis=1, kind="stable")
    return np.take_along_axis(values, order, axis=1)


def overlay(base: np.ndarray | None, update: np.ndarray) -> np.ndarray:
    """Rows of ``update`` that hold any value replace the same rows of ``base``; seeds widen to fit."""
    if base is None:
        return np.array(update, dtype=np.float64)
    n_seeds = max(base.shape[1], update.shape[1])
    merged = np.full((base.shape[0], n_seeds), np.nan)
    merged[:, : base.shape[1]] = base
    known = ~np.isnan(update).all(axis=1)
    merged[known] = np.nan
    merged[known, : update.shape[1]] = update[known]
    return merged
