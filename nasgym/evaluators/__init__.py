"""Evaluators: one protocol, ``evaluate(indices, rng) -> metrics``, batched.

``LiveEvaluator``, ``ResultStore`` and ``SupernetEvaluator`` are imported on first access, so the tabular path does not
load what live training needs (sqlite3, process pools, progress bars).
"""

from typing import Any

from nasgym.evaluators.base import RESULT_KEYS, Evaluator
from nasgym.evaluators.natsbench_api import NATSBenchEvaluator
from nasgym.evaluators.synthetic import SyntheticEvaluator
from nasgym.evaluators.tabular import NOISE_MODES, TabularEvaluator

_LAZY = {
    "LiveEvaluator": "nasgym.evaluators.live",
    "ResultStore": "nasgym.evaluators.store",
    "NB301SurrogateEvaluator": "nasgym.evaluators.surrogate",
    "SupernetEvaluator": "nasgym.evaluators.supernet",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "NOISE_MODES", "RESULT_KEYS", "Evaluator", "LiveEvaluator", "NATSBenchEvaluator", "NB301SurrogateEvaluator",
    "ResultStore",
    "SupernetEvaluator", "SyntheticEvaluator", "TabularEvaluator",
]  # fmt: skip
