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
#: means further apart than this compare the same rounded or not (rounding moves each by at most
#: half a unit of the last decimal): the per-query path skips the rounding for them
_CLEAR_GAP = 2 * 10.0**-COMPARE_DECIMALS


class Incumbent:
    """The mean observed validation accuracy of every queried architecture, and the best of them.

    Means are compared to :data:`COMPARE_DECIMALS` decimals; ties go to the architecture queried
    first; an architecture whose mean is NaN never leads. :meth:`observe` runs on every env step,
    so it costs a dict lookup and a comparison unless the query comes close to the incumbent.

    :ivar index: the incumbent's index (-1 before any observation).
    :ivar mean: its mean observed validation accuracy (``-inf`` before any observation).
    """

    def __init__(self) -> None:
        self._stats: dict[int, list] = {}  # index -> [sum, count, first-query position]
        self.index = -1
        self.mean = -math.inf

    def observe(self, index: int, valid_acc: float) -> bool:
        """Record one observation of architecture ``index``; return whether the incumbent changed."""
        all_stats = self._stats
        stats = all_stats.get(index)
        if stats is None:  # a new architecture: the common case, kept short
            all_stats[index] = [valid_acc, 1, len(all_stats)]
            if valid_acc < self.mean - _CLEAR_GAP:
                return False
            mean = valid_acc
        else:
            stats[0] += valid_acc
            stats[1] += 1
            mean = stats[0] / stats[1]
        if index != self.index:
            if mean > self.mean + _CLEAR_GAP:  # clearly ahead (NaN never is)
                self.index, self.mean = index, mean
                return True
            if mean < self.mean - _CLEAR_GAP or self.index < 0 or self._rank(index) <= self._rank(self.index):
                return False  # behind, NaN with nothing to beat, or tied but queried later
            self.index, self.mean = index, mean
            return True
        if mean >= self.mean:  # rounding keeps the order: it still leads
            self.mean = mean
            return False
        leader = self._leader()  # fell: another may lead now
        if leader < 0:  # every mean is NaN
            self.index, self.mean = -1, -math.inf
            return True
        self.index, self.mean = leader, self.mean_of(leader)
        return leader != index

    def _leader(self) -> int:
        """The best architecture by :meth:`_rank`, found by raw means first (one cheap pass), then
        ranked among those within rounding of the best (-1 if every mean is NaN)."""
        means = {index: total / count for index, (total, count, _) in self._stats.items()}
        top = max((mean for mean in means.values() if mean == mean), default=math.nan)
        if top != top:
            return -1
        close = [index for index, mean in means.items() if mean >= top - _CLEAR_GAP]
        return max(close, key=self._rank)

    def _rank(self, index: int) -> tuple[float, int]:
        """Higher is better: the rounded mean, then the earlier first query (NaN ranks below all)."""
        total, count, position = self._stats[index]
        mean = round(total / count, COMPARE_DECIMALS)
        return (-math.inf if math.isnan(mean) else mean, -position)

    def count(self, index: int) -> int:
        """How many times architecture ``index`` was observed (0 if never)."""
        stats = self._stats.get(index)
        return stats[1] if stats else 0

    def mean_of(self, index: int) -> float:
        """The mean observed validation accuracy of architecture ``index`` (``KeyError`` if never observed)."""
        total, count, _ = self._stats[index]
        return total / count

    def items(self) -> Iterator[tuple[int, float, int]]:
        """``(index, mean, count)`` of every observed architecture, in first-query order."""
        for index, (total, count, _) in self._stats.items():
            yield index, total / count, count

    def __len__(self) -> int:
        return len(self._stats)


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
