"""Reward functions: metrics of one queried architecture -> float. Test accuracy never enters."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

RewardFn = Callable[[Mapping[str, float]], float]
REWARD_NAMES = ("valid_acc", "normalized")


def valid_acc_reward(metrics: Mapping[str, float]) -> float:
    """Validation accuracy / 100."""
    return metrics["valid_acc"] / 100.0


class NormalizedReward:
    """The L2NAS transfer reward ``100 ** (acc / acc_max) / 100 - 1``: 0 at the dataset's best
    validation accuracy ``acc_max``, -0.99 at zero accuracy, steep near the top.

    :param acc_max: best validation accuracy (%) of the dataset.
    """

    def __init__(self, acc_max: float) -> None:
        if not acc_max > 0:
            raise ValueError(f"acc_max must be a positive accuracy in percent, got {acc_max!r}")
        self.acc_max = acc_max

    def __call__(self, metrics: Mapping[str, float]) -> float:
        return 100.0 ** (metrics["valid_acc"] / self.acc_max) / 100.0 - 1.0


class CheckedReward:
    """A user's reward callable, whose every answer must be a finite real number.

    An env hands its reward to agents that learn from it: a string, ``None``, NaN or an infinity
    would fail far from its cause (or not at all, in a NaN-poisoned policy), so it fails here,
    naming ``reward``.

    :param fn: the callable given as the env's ``reward`` argument.
    """

    def __init__(self, fn: RewardFn) -> None:
        self.fn = fn

    def __call__(self, metrics: Mapping[str, float]) -> float:
        value = self.fn(metrics)
        try:  # a number, or a scalar that converts to one (a 0-d array, a torch scalar); no str, no bool
            number = None if isinstance(value, (bool, np.bool_, str, bytes)) else float(value)
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise TypeError(f"reward callable {self.fn!r} must return a real number, got {value!r}")
        value = number
        if not math.isfinite(value):
            raise ValueError(
                f"reward callable {self.fn!r} returned {value!r} (on valid_acc {metrics.get('valid_acc')!r}); "
                "a reward must be a finite number"
            )
        return value


def check_reward(reward: object) -> None:
    """Raise a clear error unless ``reward`` is a name from :data:`REWARD_NAMES` or a callable: cheap,
    so an env checks it before loading any table."""
    if callable(reward):
        return
    if not isinstance(reward, str):
        raise TypeError(
            f"reward must be a name from {list(REWARD_NAMES)} or a callable on the metrics dict, got {reward!r}"
        )
    if reward not in REWARD_NAMES:
        raise ValueError(
            f"reward {reward!r} is unknown; accepted: {list(REWARD_NAMES)} or a callable on the metrics dict"
        )


def make_reward(reward: str | RewardFn, best_valid_acc: float) -> RewardFn:
    """Resolve the env's ``reward`` argument: a name from :data:`REWARD_NAMES` or a callable (whose
    answers are checked by :class:`CheckedReward`)."""
    check_reward(reward)
    if callable(reward):
        return CheckedReward(reward)
    if reward == "normalized":
        if math.isnan(best_valid_acc):
            raise ValueError(
                "reward 'normalized' needs the best validation accuracy of the dataset, which this evaluator "
                "does not know (live evaluation has never trained the whole space); use reward='valid_acc', "
                "a callable on the metrics dict, or a table built with 'nasgym data build'"
            )
        return NormalizedReward(best_valid_acc)
    return valid_acc_reward
