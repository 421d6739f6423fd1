"""Published results printed beside a grid's rows, per search space.

A space with published rows gets them under the grid's own; a space without gets the grid's own
random search and REA rows as its reference (:func:`reference_rows` returns nothing for it, and
the report says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReferenceRow:
    """A published result, printed beside the grid's rows.

    :param method: method name as its source gives it.
    :param protocol: the query budget or simulated time, and reward, it was measured under.
    :param source: where the numbers come from.
    :param valid: mean validation accuracy (%) per dataset.
    :param test: mean test accuracy (%) per dataset (absent where the source gives none).
    :param agents: the agents of :mod:`nasgym.agents` that run this method (compared with it).
    """

    method: str
    protocol: str
    source: str
    valid: dict[str, float]
    test: dict[str, float] = field(default_factory=dict)
    agents: tuple[str, ...] = ()


#: the datasets of the NAS-Bench-201 rows, in the order the papers print them
_NB201_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def _nb201_row(method: str, protocol: str, agents: tuple[str, ...], *valid_test: tuple[float, float]) -> ReferenceRow:
    return ReferenceRow(
        method,
        protocol,
        "L2NAS paper table (Mills et al., CIKM 2021)",
        {d: v for d, (v, _) in zip(_NB201_DATASETS, valid_test, strict=True)},
        {d: t for d, (_, t) in zip(_NB201_DATASETS, valid_test, strict=True)},
        agents,
    )


_NB201_PROTOCOL = "12,000 s simulated, 12-epoch reward, searched on cifar10 (NAS-Bench-201 protocol)"
#: the L2NAS paper's NAS-Bench-201 table: means only, valid / test, on cifar10, cifar100 and
#: ImageNet16-120. The RS/REA/REINFORCE/BOHB rows come from the NAS-Bench-201 paper, whose scripts
#: search cifar10 only and report the architecture found on every dataset
#: (``scripts-search/algos/R-EA.sh`` sets ``dataset=cifar10``; ``exps/algos/R_EA.py`` asserted it),
#: hence ``--search-dataset cifar10``.
NB201_REFERENCE_ROWS: tuple[ReferenceRow, ...] = (
    _nb201_row("RS", _NB201_PROTOCOL, ("random",), (90.93, 93.70), (70.93, 71.04), (44.45, 44.57)),
    _nb201_row("REA", _NB201_PROTOCOL, ("rea",), (91.19, 93.92), (71.81, 71.84), (45.15, 45.54)),
    _nb201_row("REINFORCE", _NB201_PROTOCOL, ("reinforce",), (91.09, 93.85), (71.61, 71.71), (45.05, 45.24)),
    _nb201_row("BOHB", _NB201_PROTOCOL, (), (90.82, 93.61), (70.74, 70.85), (44.26, 44.42)),
    _nb201_row("arch2vec-BO", "as reported", (), (91.41, 94.18), (73.35, 73.37), (46.34, 46.27)),
    _nb201_row("L2NAS-500", "500 queries", ("l2nas", "l2nas-plus"), (91.36, 94.11), (72.47, 72.69), (46.23, 46.74)),
    _nb201_row("L2NAS-1k", "1000 queries", ("l2nas", "l2nas-plus"), (91.47, 94.28), (73.02, 73.09), (46.58, 47.03)),
)
#: published rows per search space (the ``space`` of its env ids' registry rows)
REFERENCE_ROWS_BY_SPACE: dict[str, tuple[ReferenceRow, ...]] = {"nb201": NB201_REFERENCE_ROWS}
#: the agents whose rows stand in for published ones on a space that has none
OWN_REFERENCE_AGENTS: tuple[str, ...] = ("random", "rea")


def reference_rows(space: str) -> tuple[ReferenceRow, ...]:
    """The published rows of ``space`` (a space name), or none."""
    return REFERENCE_ROWS_BY_SPACE.get(space, ())
