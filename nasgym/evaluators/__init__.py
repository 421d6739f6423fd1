"""Evaluators: one protocol, ``evaluate(indices, rng) -> metrics``, batched."""

from nasgym.evaluators.base import RESULT_KEYS, Evaluator
from nasgym.evaluators.tabular import NOISE_MODES, TabularEvaluator

__all__ = ["NOISE_MODES", "RESULT_KEYS", "Evaluator", "TabularEvaluator"]
