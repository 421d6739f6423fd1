"""REINFORCE with a factorised categorical policy, as the NAS-Bench-201 / NATS-Bench baseline."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import EMABaseline, agent_rng, check_float, check_int, policy_details, sample_categorical
from nasgym.agents.base import TorchSearchAgent


class Reinforce(TorchSearchAgent):
    """REINFORCE (Williams, 1992) as NAS-Bench-201 (Dong & Yang, 2020) and NATS-Bench run it.

    The policy is one softmax per decision over its choices, with free logits (6 x 5 for
    NAS-Bench-201, all 0 at the start: the uniform distribution). Each step samples one whole
    architecture, queries it on the Global env and makes one Adam step on the loss
    ``-(R - b) * sum_d log p(a_d)``, with ``R`` the env's reward and ``b`` an exponential moving
    average of the rewards (``b <- momentum * b + (1 - momentum) * R``, bias-corrected and updated
    with ``R`` before the advantage is taken, exactly as the reference code's
    ``ExponentialMovingAverage``; so the very first update has zero advantage).

    :param lr: Adam learning rate (default 0.01, the NATS-Bench setting).
    :param momentum: EMA momentum of the baseline (default 0.9, the NATS-Bench setting).
    :param init_std: standard deviation of the initial logits (default 0: all zero; the reference
        code draws ``1e-3 * randn``, whose probabilities differ from uniform by about 0.1% of their
        value).
    :param torch_threads: torch CPU threads during the search (default 1; the previous setting is
        restored afterwards); ``None`` leaves it alone.

    After a search, :attr:`logits` holds the final logits as a numpy array (decisions x choices;
    ``-inf`` marks the padding of decisions with fewer choices), and :meth:`stats` the policy's
    most likely architecture (:func:`~nasgym.agents._utils.policy_details`).
    """

    name = "reinforce"
    flavours = ("Global",)

    def __init__(
        self, lr: float = 0.01, momentum: float = 0.9, init_std: float = 0.0, torch_threads: int | None = 1
    ) -> None:
        self.lr = check_float("lr", lr, 0.0, low_open=True)
        self.momentum = check_float("momentum", momentum, 0.0, 1.0, high_open=True)
        self.init_std = check_float("init_std", init_std, 0.0)
        self.torch_threads = None if torch_threads is None else check_int("torch_threads", torch_threads, 1)
        self.logits: np.ndarray | None = None
        self._policy: dict[str, Any] = {}

    def stats(self) -> dict[str, Any]:
        """The final policy's most likely architecture (``policy_arch``, ...; on a constrained env also
        whether it is feasible and its resources); ``{}`` before a search."""
        return dict(self._policy)

    def _init_policy(self, env: gym.Env, rng: np.random.Generator) -> tuple[Any, Any]:
        """The policy's free logits (decisions x most choices, a leaf tensor) and the mask of the
        padding of decisions with fewer choices, which is never sampled."""
        import torch

        space = env.unwrapped.search_space
        n_choices = np.asarray(space.n_choices, dtype=np.int64)
        shape = (space.n_decisions, space.max_choices)
        mask = torch.as_tensor(np.arange(space.max_choices) >= n_choices[:, None])
        init = rng.normal(0.0, self.init_std, shape) if self.init_std > 0 else np.zeros(shape)
        return torch.tensor(init, dtype=torch.float32, requires_grad=True), mask

    def _finish(self, env: gym.Env, logits: Any, mask: Any) -> None:
        """Keep the final logits and the policy's most likely architecture."""
        import torch

        self.logits = logits.detach().masked_fill(mask, -torch.inf).numpy().copy()
        self._policy = policy_details(env, self.logits)

    def _begin(self, env: gym.Env) -> None:
        """Prepare a search of ``env`` (a subclass reads what its hooks need from it)."""

    def _accepts(self, choices: np.ndarray) -> bool:
        """Whether a sampled architecture is queried (every one here)."""
        return True

    def _log_prob(self, log_probs: Any, probs: np.ndarray, choices: np.ndarray, rng: np.random.Generator) -> Any:
        """The term the advantage multiplies: the log-probability of the queried architecture."""
        import torch

        return log_probs[torch.arange(log_probs.shape[0]), torch.as_tensor(choices)].sum()

    def _search(self, env: gym.Env, seed: int) -> None:
        import torch

        rng = agent_rng(seed)
        logits, mask = self._init_policy(env, rng)
        optimizer = torch.optim.Adam([logits], lr=self.lr)
        baseline = EMABaseline(self.momentum)
        self._begin(env)
        env.reset(seed=seed)
        try:
            while True:
                log_probs = torch.log_softmax(logits.masked_fill(mask, -torch.inf), dim=1)
                probs = log_probs.detach().exp().double().numpy()
                choices = sample_categorical(rng, probs)
                if not self._accepts(choices):
                    continue
                _, reward, terminated, truncated, _ = env.step(choices)
                baseline.update(reward)
                advantage = float(reward) - baseline.value
                loss = -advantage * self._log_prob(log_probs, probs, choices, rng)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if terminated or truncated:
                    return
        finally:
            self._finish(env, logits, mask)
