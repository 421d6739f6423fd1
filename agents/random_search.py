"""Random search: sample architectures uniformly (with replacement) until the budget is spent."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import agent_rng, check_bool, reject_infeasible_reason, sample_feasible
from nasgym.agents.base import SearchAgent, env_flavour, valid_actions_mask


class RandomSearch(SearchAgent):
    """Uniform random search, the baseline of every NAS benchmark.

    Works on every flavour: each step takes a uniform sample of the env's action space, which on a
    plain product space is a uniform architecture for Global and Sequential and for Continuous
    (argmax per decision of i.i.d. uniform values) too. On a Sequential env with ``action_masks()``
    each step samples among the actions its mask allows (the valid ones; on DARTS the canonical
    input tokens, so that every cell is equally likely). The result is the best-validation architecture among all
    queries, never the last one.

    The action space is seeded from the agent's own stream (:func:`~nasgym.agents._utils.agent_rng`),
    not with ``seed`` itself: the env's ``reset(seed=seed)`` generator would otherwise hold the very
    same numbers, tying the sampled architectures to the seed noise of their queries.

    :param reject_infeasible: constrained random search (Global envs made with a ``constraint``):
        a sample the env's constraint rejects (``is_feasible``) is drawn again without a query, so
        every query is a uniform draw of the feasible architectures.
    """

    name = "random"

    def __init__(self, reject_infeasible: bool = False) -> None:
        self.reject_infeasible = check_bool("reject_infeasible", reject_infeasible)

    def unsupported_reason(self, env: gym.Env) -> str | None:
        if not self.reject_infeasible:
            return None
        if env_flavour(env) != "Global":
            return "reject_infeasible=True checks whole architectures before querying them: Global envs only"
        return reject_infeasible_reason(env)

    def search(self, env: gym.Env, seed: int) -> None:
        self.check_env(env)
        env.reset(seed=seed)
        env.action_space.seed(int(agent_rng(seed).integers(0, 2**62)))
        masked = env_flavour(env) == "Sequential"  # follow action_masks(), where the env has them
        truncated = terminated = False
        while not (truncated or terminated):
            mask = valid_actions_mask(env) if masked else None
            if self.reject_infeasible:
                action = sample_feasible(env, env.action_space.sample)
            else:
                action = env.action_space.sample() if mask is None else env.action_space.sample(mask.astype(np.int8))
            _, _, terminated, truncated, _ = env.step(action)
