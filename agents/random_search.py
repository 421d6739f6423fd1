"""Random search: sample architectures uniformly (with replacement) until the budget is spent."""

from __future__ import annotations

import gymnasium as gym

from nasgym.agents._utils import agent_rng
from nasgym.agents.base import SearchAgent


class RandomSearch(SearchAgent):
    """Uniform random search, the baseline of every NAS benchmark.

    Works on every flavour: each step takes a uniform sample of the env's action space, which for
    Global and Sequential is a uniform architecture and for Continuous (argmax per edge of
    i.i.d. uniform values) is one too. The result is the best-validation architecture among all
    queries, never the last one.

    The action space is seeded from the agent's own stream (:func:`~nasgym.agents._utils.agent_rng`),
    not with ``seed`` itself: the env's ``reset(seed=seed)`` generator would otherwise hold the very
    same numbers, tying the sampled architectures to the seed noise of their queries.
    """

    name = "random"

    def search(self, env: gym.Env, seed: int) -> None:
        env.reset(seed=seed)
        env.action_space.seed(int(agent_rng(seed).integers(0, 2**62)))
        truncated = terminated = False
        while not (truncated or terminated):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
