"""Resource constraints: upper limits on metrics known without training (FLOPs, parameters, latency).

An env made with ``constraint={"flops": 100.0}`` marks every queried architecture feasible or not
(``info["feasible"]``, ``info["resource"]``), counts only feasible ones for its ``best_*`` keys, and
answers :meth:`Constraint.is_feasible` without a query, so a search can skip an infeasible
architecture before paying for it. Resource values come from the evaluator's table (the mean over
seeds) or, where it holds none (live training, an API), from the space's exact formulas
(:meth:`nasgym.spaces.SearchSpace.resources`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real

import numpy as np

from nasgym.evaluators.base import Evaluator


def resource_values(evaluator: Evaluator) -> dict[str, np.ndarray]:
    """Every resource metric known without training, for every architecture of the evaluator's
    space (canonical index order): the evaluator's own ``resources(indices)`` where it has one
    (tables, the synthetic benchmark), else the space's formulas on the evaluator's dataset.
    Metrics unknown for every architecture are left out.

    :param evaluator: the env's evaluator; its space must be enumerable.
    """
    space = evaluator.space
    evaluator_resources = getattr(evaluator, "resources", None)
    if callable(evaluator_resources):
        values = evaluator_resources(np.arange(space.size, dtype=np.int64))
    else:
        values = space.resources(space.enumerate(), evaluator.dataset)
    arrays = {name: np.asarray(column, dtype=np.float64) for name, column in values.items()}
    return {name: column for name, column in arrays.items() if not np.isnan(column).all()}


def check_constraint_argument(constraint: object) -> dict[str, float] | None:
    """The env's ``constraint`` argument as ``{metric: limit}``, checked for its form only (the
    metric names are checked against the evaluator later, by :class:`Constraint`): cheap, so an
    env checks it before loading any table.

    :param constraint: ``None`` or a non-empty mapping of metric names to finite real limits.
    """
    if constraint is None:
        return None
    if not isinstance(constraint, Mapping) or not constraint:
        error = ValueError if isinstance(constraint, Mapping) else TypeError
        raise error(
            "constraint must be None or a non-empty dict of metric name -> upper limit, e.g. "
            f"{{'flops': 100.0}} or {{'params': 0.5, 'latency': 0.01}}; got {constraint!r}"
        )
    limits: dict[str, float] = {}
    for metric, limit in constraint.items():
        if not isinstance(metric, str):
            raise TypeError(f"constraint keys must be metric names (strings), got {metric!r}")
        if isinstance(limit, bool) or not isinstance(limit, Real) or not math.isfinite(float(limit)):
            raise ValueError(f"constraint {metric!r} must have a finite real upper limit, got {limit!r}")
        limits[metric] = float(limit)
    return limits


class Constraint:
    """Upper limits on resource metrics, with the feasibility of every architecture of a space.

    An architecture is feasible when each constrained metric is at most its limit (one whose
    value is unknown, NaN, is not). Every architecture is checked once, here: the constraint needs
    an enumerable space, and a limit that no architecture meets is an error, not an empty search.

    :param limits: metric name -> upper limit, in the units of the env's ``info`` (``flops`` and
        ``params`` in millions, ``latency`` and ``latency_<device>`` in seconds, ...).
    :param evaluator: the env's evaluator (its space and dataset).
    :raises ValueError: an unknown metric (the message lists the accepted ones), a space too
        large to enumerate, or limits that no architecture meets.
    """

    def __init__(self, limits: Mapping[str, float], evaluator: Evaluator) -> None:
        checked = check_constraint_argument(limits)
        if checked is None:
            raise TypeError("limits must be a non-empty dict of metric name -> upper limit, got None")
        space = evaluator.space
        if not space.enumerable:
            raise ValueError(
                f"constraint: space {space.name!r} holds {space.size:.3e} architectures, too many to check "
                "each one's resources; constraints need a space that can be enumerated"
            )
        available = resource_values(evaluator)
        unknown = sorted(set(checked) - set(available))
        if unknown:
            accepted = sorted(available) or "none (this evaluator knows no resource without training)"
            raise ValueError(
                f"constraint metric(s) {unknown} unknown for {evaluator!r}; accepted metrics: {accepted}"
            )
        self.limits = checked
        self.values: dict[str, np.ndarray] = {}
        feasible = np.ones(space.size, dtype=bool)
        for metric, limit in checked.items():
            column = available[metric]
            column.flags.writeable = False
            self.values[metric] = column
            feasible &= column <= limit  # NaN compares False: an unknown resource is not feasible
        if not feasible.any():
            smallest = ", ".join(f"{m} {np.nanmin(self.values[m]):.6g} (limit {checked[m]:.6g})" for m in checked)
            raise ValueError(
                f"constraint {checked} is met by no architecture of space {space.name!r} on {evaluator.dataset!r}: "
                f"the smallest values are {smallest}" + (" (each alone, not jointly)" if len(checked) > 1 else "")
            )
        feasible.flags.writeable = False
        #: feasibility of every architecture, by canonical index
        self.feasible_mask = feasible

    def __repr__(self) -> str:
        return f"Constraint({self.limits}, feasible={self.n_feasible}/{self.feasible_mask.size})"

    @property
    def n_feasible(self) -> int:
        """How many architectures of the space are feasible."""
        return int(self.feasible_mask.sum())

    def resources(self, index: int) -> dict[str, float]:
        """The constrained metrics of architecture ``index`` (canonical)."""
        return {metric: column.item(index) for metric, column in self.values.items()}
