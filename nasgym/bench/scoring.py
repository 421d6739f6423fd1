"""From a run's queries to its row: the selected architecture after each query, its reported
accuracies, and when the run first queried an optimal architecture."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nasgym.evaluators import Evaluator
from nasgym.selection import incumbents


@dataclass(frozen=True)
class Score:
    """What a run's queries come to.

    :param fields: the ``runs.csv`` columns that follow from the queries.
    :param best_valid_acc: reported validation accuracy of the selected architecture after each query.
    :param best_test_acc: its reported test accuracy after each query (NaN without a test split).
    """

    fields: dict[str, object]
    best_valid_acc: np.ndarray
    best_test_acc: np.ndarray


def queries_to_optimum(reporter: Evaluator, indices: np.ndarray) -> float:
    """The query (1-based) at which the run first queried an architecture with the space's best
    reported validation accuracy; NaN where it never did or the optimum is unknown."""
    optimum = reporter.best_valid_acc
    if not math.isfinite(optimum):
        return math.nan
    unique, inverse = np.unique(indices, return_inverse=True)
    valid = reporter.evaluate(unique, np.random.default_rng(0))["valid_acc"][inverse]
    hits = np.flatnonzero(valid >= optimum)
    return int(hits[0]) + 1 if len(hits) else math.nan


def score_queries(reporter: Evaluator, indices: np.ndarray, observed: np.ndarray) -> Score:
    """Select after each query by the best mean observation (:func:`~nasgym.selection.incumbents`)
    and report the selected architecture with ``reporter`` (seed-mean).

    :param reporter: the report evaluator of the run's env and dataset.
    :param indices: the queried architectures, in order.
    :param observed: their observed (reward) validation accuracies, float64.
    """
    best_indices, means = incumbents(indices, observed)
    report = reporter.evaluate(best_indices, np.random.default_rng(0))
    best = int(best_indices[-1])
    fields = {
        "best_arch": reporter.space.arch_string(best),
        "best_index": best,
        "best_valid_acc": float(report["valid_acc"][-1]),
        "best_test_acc": float(report["test_acc"][-1]),
        "best_valid_acc_observed": float(means[-1]),
        "queries_to_best": int(np.argmax(indices == best)) + 1,
        "queries_to_optimum": queries_to_optimum(reporter, indices),
    }
    return Score(fields, report["valid_acc"].astype(np.float32), report["test_acc"].astype(np.float32))
