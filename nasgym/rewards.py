"""Reward functions: metrics of one queried architecture -> float. Test accuracy never enters."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

RewardFn = Callable[[Mapping[str, float]], float]
#: rewards that trade quality against a resource (the env's ``constraint`` gives its metric and limit)
PENALTY_REWARDS = ("mnasnet", "abs")
REWARD_NAMES = ("valid_acc", "normalized", *PENALTY_REWARDS)


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


class PenaltyReward:
    """A soft resource constraint: the quality ``Q`` (validation accuracy / 100) of an architecture
    combined with ``T / T0``, its resource ``T`` over the target ``T0``.

    :param metric: the resource metric (a key of the metrics dict, e.g. ``"flops"``).
    :param limit: the target ``T0`` (> 0), in the metric's units.
    :param beta: the penalty exponent or weight (negative penalises exceeding the target).
    """

    name: str

    def __init__(self, metric: str, limit: float, beta: float) -> None:
        if not isinstance(metric, str):
            raise TypeError(f"metric must be a resource metric name, got {metric!r}")
        for argument, value in (("limit", limit), ("beta", beta)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"{argument} must be a real number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{argument} must be finite, got {value!r}")
        if not limit > 0:
            raise ValueError(f"limit must be a positive target resource, got {limit!r}")
        self.metric = metric
        self.limit = float(limit)
        self.beta = float(beta)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(metric={self.metric!r}, limit={self.limit!r}, beta={self.beta!r})"


class MnasNetReward(PenaltyReward):
    """MnasNet's reward (Tan et al., 2019) ``Q * (T / T0) ** beta``; see :class:`PenaltyReward`.

    It scales the quality, so it needs ``Q >= 0``: for a negative ``Q`` (a negated loss) a larger
    resource would raise the reward where it should lower it, so a negative ``valid_acc`` is a
    ``ValueError`` rather than a reward of the wrong sign. No positive transform of a loss is made
    up here: use ``reward="abs"``, whose additive penalty works with any quality, or a callable.
    """

    name = "mnasnet"

    def __call__(self, metrics: Mapping[str, float]) -> float:
        quality = metrics["valid_acc"] / 100.0
        if quality < 0:
            raise ValueError(
                f"reward 'mnasnet' needs a quality valid_acc >= 0 (it multiplies Q by (T / T0) ** beta, which "
                f"penalises the wrong way for Q < 0), got valid_acc {metrics['valid_acc']!r}; use reward='abs'"
            )
        return quality * (metrics[self.metric] / self.limit) ** self.beta


class AbsReward(PenaltyReward):
    """TuNAS's absolute-value reward (Bender et al., 2020) ``Q + beta * |T / T0 - 1|``; see
    :class:`PenaltyReward`."""

    name = "abs"

    def __call__(self, metrics: Mapping[str, float]) -> float:
        return metrics["valid_acc"] / 100.0 + self.beta * abs(metrics[self.metric] / self.limit - 1.0)


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


def check_penalty_arguments(reward: object, reward_beta: object, limits: Mapping[str, float] | None) -> None:
    """Raise a clear error unless ``reward_beta`` and the constraint's ``limits`` fit ``reward``:
    a penalty reward (:data:`PENALTY_REWARDS`) needs both, with exactly one constrained metric (its
    ``T`` and ``T0``); other rewards take no ``reward_beta``.

    :param reward: the env's ``reward`` argument (already checked by :func:`check_reward`).
    :param reward_beta: the env's ``reward_beta`` argument.
    :param limits: the env's checked ``constraint`` (``None``: unconstrained).
    """
    if reward not in PENALTY_REWARDS:
        if reward_beta is not None:
            raise ValueError(
                f"reward_beta is for the penalty rewards {list(PENALTY_REWARDS)}, not reward={reward!r}; drop it"
            )
        return
    if (
        isinstance(reward_beta, bool)
        or not isinstance(reward_beta, (int, float, np.integer, np.floating))
        or not math.isfinite(reward_beta)
    ):
        raise ValueError(
            f"reward {reward!r} needs reward_beta, its penalty weight as a finite real number (e.g. -0.07 "
            f"or -1.0); got {reward_beta!r}"
        )
    if limits is None or len(limits) != 1:
        raise ValueError(
            f"reward {reward!r} needs constraint with exactly one metric, its resource and target "
            f"(e.g. constraint={{'flops': 100.0}}); got constraint={limits!r}"
        )


def make_reward(
    reward: str | RewardFn,
    best_valid_acc: float,
    limits: Mapping[str, float] | None = None,
    reward_beta: float | None = None,
    valid_acc_is_accuracy: bool = True,
) -> RewardFn:
    """Resolve the env's ``reward`` argument: a name from :data:`REWARD_NAMES` or a callable (whose
    answers are checked by :class:`CheckedReward`).

    :param best_valid_acc: the dataset's best validation accuracy (for ``"normalized"``).
    :param limits: the env's constraint, whose one metric and limit a penalty reward uses.
    :param reward_beta: the penalty rewards' ``beta``.
    :param valid_acc_is_accuracy: whether ``valid_acc`` is an accuracy (never negative); where it is
        not (FCNet's negated loss), ``"mnasnet"`` is refused (see :class:`MnasNetReward`).
    """
    check_reward(reward)
    check_penalty_arguments(reward, reward_beta, limits)
    if reward == "mnasnet" and not valid_acc_is_accuracy:
        raise ValueError(
            "reward 'mnasnet' (Q * (T / T0) ** reward_beta) needs a quality Q >= 0, and this space's valid_acc "
            "is a negated loss (Q <= 0), for which the factor would reward exceeding the limit; use "
            "reward='abs' (Q + reward_beta * |T / T0 - 1|) or a callable on the metrics dict"
        )
    if callable(reward):
        return CheckedReward(reward)
    if reward in PENALTY_REWARDS:
        ((metric, limit),) = limits.items()
        return (MnasNetReward if reward == "mnasnet" else AbsReward)(metric, limit, reward_beta)
    if reward == "normalized":
        if math.isnan(best_valid_acc):
            raise ValueError(
                "reward 'normalized' needs the best validation accuracy of the dataset, which this evaluator "
                "does not know (live evaluation has never trained the whole space); use reward='valid_acc', "
                "a callable on the metrics dict, or a table built with 'nasgym data build'"
            )
        return NormalizedReward(best_valid_acc)
    return valid_acc_reward
