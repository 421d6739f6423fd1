"""Whether one method is above another: the 95% confidence interval of a difference of means over
seeds (percentile bootstrap), and "above" / "below" only where it excludes zero."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: bootstrap resamples of each side's seeds, and the interval's coverage
RESAMPLES = 4_000
LEVEL = 0.95


@dataclass(frozen=True)
class Difference:
    """``mean(a) - mean(b)`` (or ``- reference``) and its confidence interval.

    :param estimate: the difference of the means.
    :param low: lower end of the interval.
    :param high: upper end of the interval.
    """

    estimate: float
    low: float
    high: float

    @property
    def verdict(self) -> str:
        """``above`` or ``below`` where the interval excludes 0, else ``within noise``."""
        if self.low > 0:
            return "above"
        if self.high < 0:
            return "below"
        return "within noise"

    def text(self) -> str:
        """``+0.12 [+0.03, +0.21] above``."""
        return f"{self.estimate:+.2f} [{self.low:+.2f}, {self.high:+.2f}] {self.verdict}"


def _resampled_means(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    draws = rng.integers(0, len(values), size=(RESAMPLES, len(values)))
    return values[draws].mean(axis=1)


def difference(a: np.ndarray, b: np.ndarray | float) -> Difference:
    """The difference of the mean of ``a`` and the mean of ``b`` over independent seeds, with a
    percentile bootstrap interval (each side resampled; a float ``b`` is a published mean, fixed).

    :param a: one value per seed of the first method.
    :param b: one value per seed of the second method, or a number.
    :raises ValueError: a side with fewer than 2 values, or NaN among them.
    """
    a = np.asarray(a, dtype=np.float64)
    b_values = np.atleast_1d(np.asarray(b, dtype=np.float64))
    for name, values in (("a", a), ("b", b_values)):
        if np.isnan(values).any():
            raise ValueError(f"{name}: NaN among the values; a difference needs every seed's value")
    if len(a) < 2 or (not np.isscalar(b) and len(b_values) < 2):
        raise ValueError("a difference needs at least 2 seeds on each side")
    rng = np.random.default_rng(0)
    resampled = _resampled_means(a, rng)
    if not np.isscalar(b):
        resampled = resampled - _resampled_means(b_values, rng)
    else:
        resampled = resampled - float(b)
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return Difference(float(a.mean() - b_values.mean()), float(low), float(high))
