"""TabNAS: REINFORCE with a rejection-based reward for searches under a resource constraint."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import check_int, sample_categorical
from nasgym.agents.reinforce import Reinforce


def feasible_probability_estimate(log_probs: Any, samples: np.ndarray, feasible: np.ndarray) -> Any:
    """TabNAS's Monte-Carlo estimate ``P_hat(V) = (1/N) sum_k p(z_k) / q(z_k) 1[z_k in V]`` of the
    probability that the policy samples a feasible architecture, with ``q = stop_grad(p)``: its
    value is the feasible share of the samples, and its gradient ``(1/N) sum_k 1[z_k in V] grad log
    p(z_k)`` reaches the logits (an estimate built from plain numbers, with ``torch.tensor``, would
    carry none).

    :param log_probs: the policy's log-probabilities, a (decisions x choices) torch tensor.
    :param samples: ``N`` architectures drawn from the policy, an (N x decisions) int array.
    :param feasible: whether each sample meets the constraint, a bool array of length N.
    :returns: a scalar torch tensor.
    """
    import torch

    rows = torch.arange(log_probs.shape[0])
    log_p = log_probs[rows, torch.as_tensor(samples)].sum(dim=1)  # log p(z_k), one per sample
    importance = torch.exp(log_p - log_p.detach())  # p / q: 1 in value, grad log p in gradient
    return (importance * torch.as_tensor(feasible, dtype=log_p.dtype)).mean()


def log_conditional_estimate(log_probs: Any, choices: np.ndarray, samples: np.ndarray, feasible: np.ndarray) -> Any:
    """``log(P(y) / P_hat(V))``, TabNAS's estimate of ``log P(y | y in V)``, the log-probability of
    ``y`` under the policy restricted to the feasible set (:func:`feasible_probability_estimate`).

    :param log_probs: the policy's log-probabilities, a (decisions x choices) torch tensor.
    :param choices: the feasible architecture ``y``, one choice per decision.
    :param samples: ``N`` architectures drawn from the policy (N x decisions).
    :param feasible: whether each sample meets the constraint (length N); at least one must.
    :raises ValueError: no sample is feasible (``P_hat(V)`` is 0, its log undefined).
    """
    import torch

    if not np.any(feasible):
        raise ValueError("feasible holds no True: P_hat(V) is 0 and log(P(y) / P_hat(V)) is undefined")
    rows = torch.arange(log_probs.shape[0])
    log_p_y = log_probs[rows, torch.as_tensor(choices)].sum()
    return log_p_y - torch.log(feasible_probability_estimate(log_probs, samples, feasible))


class TabNAS(Reinforce):
    """TabNAS (Yang et al., 2022): REINFORCE on the feasible set only, for searches under a constraint.

    The policy is REINFORCE's: one softmax per decision with free logits (Global flavour). Each step
    samples an architecture ``y``. If the env's constraint rejects it (``is_feasible``: no query,
    no simulated time) the step ends there, without an evaluation or an update. A feasible ``y`` is
    queried, its reward ``Q(y)`` (the env's reward: validation accuracy / 100 by default) updates
    the moving average ``Q_avg`` (:class:`~nasgym.agents._utils.EMABaseline`, as REINFORCE's), and
    one Adam step descends ``-J(y)`` with

        ``J(y) = stop_grad(Q(y) - Q_avg) * log(P(y) / P_hat(V))``,

    ``P_hat(V)`` the Monte-Carlo estimate of the policy's feasible probability from ``n_samples``
    fresh samples of the current policy (:func:`feasible_probability_estimate`), differentiable
    through the policy. ``log(P(y) / P_hat(V))`` estimates ``log P(y | y in V)``, so the policy
    learns the distribution of the best architectures among the feasible ones, rather than being
    pulled away from the limit by a penalty. In the rare step where none of the samples is
    feasible, the update uses ``log P(y)`` alone (``P_hat(V) = 0`` has no log).

    The search runs until the env's query budget is spent: rejected samples cost no query. On an
    env without a constraint every architecture is feasible and ``P_hat(V)`` is 1 in value.

    :param lr: Adam learning rate (default 0.01).
    :param momentum: momentum of ``Q_avg`` (default 0.9).
    :param n_samples: samples ``N`` of ``P_hat(V)`` per update (default 200, the paper's).
    :param init_std: standard deviation of the initial logits (default 0: uniform policy).
    :param torch_threads: torch CPU threads during the search (default 1); ``None`` leaves it alone.

    After a search, :attr:`logits` holds the final logits, :attr:`n_rejected` the samples the
    constraint rejected, and :meth:`stats` the final policy's most likely architecture
    (``policy_arch``, whether it is feasible, its resources: what the TabNAS tables report) with
    ``n_rejected``; the result's ``best_arch`` is the best feasible architecture queried.
    """

    name = "tabnas"
    flavours = ("Global",)

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.9,
        n_samples: int = 200,
        init_std: float = 0.0,
        torch_threads: int | None = 1,
    ) -> None:
        super().__init__(lr=lr, momentum=momentum, init_std=init_std, torch_threads=torch_threads)
        self.n_samples = check_int("n_samples", n_samples, 1)
        self.n_rejected = 0

    def stats(self) -> dict[str, Any]:
        """The final policy's most likely architecture (:meth:`Reinforce.stats`) and ``n_rejected``."""
        return {**super().stats(), "n_rejected": self.n_rejected} if self.logits is not None else {}

    def _begin(self, env: gym.Env) -> None:
        self._is_feasible = env.unwrapped.is_feasible
        self._constrained = env.unwrapped.constraint is not None  # else every architecture is feasible
        self.n_rejected = 0

    def _accepts(self, choices: np.ndarray) -> bool:
        """An infeasible sample is skipped without a query."""
        if self._constrained and not self._is_feasible(choices):
            self.n_rejected += 1
            return False
        return True

    def _log_prob(self, log_probs: Any, probs: np.ndarray, choices: np.ndarray, rng: np.random.Generator) -> Any:
        """log(P(y) / P_hat(V)) from N fresh samples of the current policy (log P(y) if none is feasible)."""
        # one draw per row of the repeated probabilities
        samples = sample_categorical(rng, np.tile(probs, (self.n_samples, 1))).reshape(self.n_samples, -1)
        feasible = self._is_feasible(samples) if self._constrained else np.ones(self.n_samples, dtype=bool)
        if feasible.any():
            return log_conditional_estimate(log_probs, choices, samples, feasible)
        return super()._log_prob(log_probs, probs, choices, rng)
