"""Reward functions: metrics of one queried architecture -> float. Test accuracy never enters."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

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


def make_reward(reward: str | RewardFn, best_valid_acc: float) -> RewardFn:
    """Resolve the env's ``reward`` argument: a name from :data:`REWARD_NAMES` or a callable."""
    if callable(reward):
        return reward
    if reward == "valid_acc":
        return valid_acc_reward
    if reward == "normalized":
        if math.isnan(best_valid_acc):
            raise ValueError(
                "reward 'normalized' needs the best validation accuracy of the dataset, which this evaluator "
                "does not know (live evaluation has never trained the whole space); use reward='valid_acc', "
                "a callable on the metrics dict, or a table built with 'nasgym data build'"
            )
        return NormalizedReward(best_valid_acc)
    raise ValueError(f"reward {reward!r} is unknown; accepted: {list(REWARD_NAMES)} or a callable on the metrics dict")
