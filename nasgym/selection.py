"""Which architecture a search returns: the one whose observed validation accuracies have the best mean.

Under seed noise (``noise="seed"``) one query of an architecture observes one trained seed, and
querying it again draws another. The mean of an architecture's observations estimates its
seed-mean accuracy; the best single draw does not: the maximum of several draws of one
architecture is biased upwards, so a rule "best single observation" credits a search for redrawing
the noise of an architecture it has already seen, and gives a search no way to tell a lucky draw
from a good architecture. Every layer that names a search's result (the env's ``best_*`` info
keys, :class:`nasgym.agents.SearchResult`, ``nasgym bench``) ranks with :class:`Incumbent`, so they
agree. For a search that never repeats a query the rule is the best single observation, which is
what NAS-Bench-201 and NATS-Bench's scripts select.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

#: decimals to which means are compared: means that are equal in exact arithmetic (a mean of two
#: observations and a single one, say) can differ in their last bits, and would otherwise break a
#: tie by rounding error instead of by query order
COMPARE_DECIMALS = 9


class Incumbent:
    """The mean observed validation accuracy of every queried architecture, and the best of them.

    Means are compared to :data:`COMPARE_DECIMALS` decimals; ties go to the architecture queried
    first; an architecture whose mean is NaN never leads.

    :ivar index: the incumbent's index (-1 before any observation).
    :ivar mean: its mean observed validation accuracy (``-inf`` before any observation).
    """

    def __init__(self) -> None:
        self._sums: dict[int, float] = {}
        self._counts: dict[int, int] = {}
        self._order: dict[int, int] = {}  # first-query position
        self.index = -1
        self.mean = -math.inf
        self._key: tuple[float, int] = (-math.inf, 0)  # the incumbent's rank

    def observe(self, index: int, valid_acc: float) -> bool:
        """Record one observation of architecture ``index``; return whether the incumbent changed."""
        self._sums[index] = self._sums.get(index, 0.0) + valid_acc
        self._counts[index] = self._counts.get(index, 0) + 1
        self._order.setdefault(index, len(self._order))
        key = self._rank(index)
        previous = self.index
        if index != previous:
            if key <= self._key:
                return False
            self.index, self._key = index, key
        elif key >= self._key:  # still leading
            self._key = key
        else:  # fell: another may lead now
            self.index = max(self._sums, key=self._rank)
            self._key = self._rank(self.index)
            if self._key[0] == -math.inf:  # every mean is NaN
                self.index, self.mean, self._key = -1, -math.inf, (-math.inf, 0)
                return True
        self.mean = self.mean_of(self.index)
        return self.index != previous

    def _rank(self, index: int) -> tuple[float, int]:
        """Higher is better: the rounded mean, then the earlier first query (NaN ranks below all)."""
        mean = round(self._sums[index] / self._counts[index], COMPARE_DECIMALS)
        return (-math.inf if math.isnan(mean) else mean, -self._order[index])

    def count(self, index: int) -> int:
        """How many times architecture ``index`` was observed (0 if never)."""
        return self._counts.get(index, 0)

    def mean_of(self, index: int) -> float:
        """The mean observed validation accuracy of architecture ``index`` (``KeyError`` if never observed)."""
        return self._sums[index] / self._counts[index]

    def items(self) -> Iterator[tuple[int, float, int]]:
        """``(index, mean, count)`` of every observed architecture, in first-query order."""
        for index, total in self._sums.items():
            count = self._counts[index]
            yield index, total / count, count

    def __len__(self) -> int:
        return len(self._sums)


def incumbents(indices: Sequence[int] | np.ndarray, observed: Sequence[float] | np.ndarray) -> tuple[np.ndarray, ...]:
    """The architecture a search would return after each of its queries, and its mean observed
    validation accuracy then (:class:`Incumbent`).

    :param indices: queried architecture indices, in query order.
    :param observed: their observed (noisy) validation accuracies.
    :returns: ``(index, mean)``, arrays with one entry per query.
    """
    if len(indices) == 0:
        raise ValueError("the run made no query")
    incumbent = Incumbent()
    selected = np.empty(len(indices), dtype=np.int64)
    means = np.empty(len(indices), dtype=np.float64)
    pairs = zip(np.asarray(indices).tolist(), np.asarray(observed, dtype=np.float64).tolist(), strict=True)
    for position, (index, value) in enumerate(pairs):
        incumbent.observe(index, value)
        selected[position], means[position] = incumbent.index, incumbent.mean
    return selected, means


__all__ = ["Incumbent", "incumbents"]
