"""Local search, White et al. 2021: "Local search is state of the art for NAS benchmarks"."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import agent_rng
from nasgym.agents.base import SearchAgent
from nasgym.spaces import SearchSpace


class _BudgetSpent(Exception):
    """The env truncated: the search is over."""


class LocalSearch(SearchAgent):
    """Local search (White, Nolen, Ravi, Mohan, Hutter and Hosseini, 2021) on the Global env.

    Start from a uniformly random architecture; query all its neighbours (every architecture one
    decision away, :meth:`~nasgym.spaces.SearchSpace.neighbours`: for NAS-Bench-201, 6 edges x 4
    other ops = 24) in a random order; if the best of them has a higher observed validation
    accuracy than the current architecture, move there and repeat; otherwise the current one is a
    local optimum and the search restarts from a uniformly random architecture not queried yet.
    This is the paper's Algorithm 1 (full neighbourhood, best improvement) with restarts until the
    budget is spent.

    Nothing is queried twice while unqueried architectures remain: a neighbour queried before
    takes part in the comparison with its recorded accuracy (its first observation) without a new
    query. Once every architecture has been queried, restarts re-query random ones.

    The method has no hyperparameters; the comparison uses ``info["valid_acc"]``, seed noise
    included.
    """

    name = "local"
    flavours = ("Global",)

    def search(self, env: gym.Env, seed: int) -> None:
        self.check_env(env)
        space = env.unwrapped.search_space
        rng = agent_rng(seed)
        env.reset(seed=seed)
        seen: dict[int, float] = {}

        def query(choices: np.ndarray) -> float:
            _, _, terminated, truncated, info = env.step(choices)
            value = float(info["valid_acc"])
            seen.setdefault(int(info["index"]), value)
            if terminated or truncated:
                raise _BudgetSpent
            return value

        try:
            while True:
                current = self._random_start(rng, space, seen)
                current_value = query(current)
                while True:
                    candidates = space.neighbours(current)
                    candidates = candidates[rng.permutation(len(candidates))]
                    best, best_value = None, -np.inf
                    for candidate, index in zip(candidates, space.index_of(candidates).tolist(), strict=True):
                        known = seen.get(index)
                        value = known if known is not None else query(candidate)
                        if value > best_value:
                            best, best_value = candidate, value
                    if best is None or best_value <= current_value:
                        break  # local optimum: restart
                    current, current_value = best, best_value
        except _BudgetSpent:
            return

    @staticmethod
    def _random_start(rng: np.random.Generator, space: SearchSpace, seen: dict[int, float]) -> np.ndarray:
        """A uniformly random unqueried architecture: rejection sampling, then, where the space is
        :attr:`~nasgym.spaces.SearchSpace.enumerable`, a draw among the unqueried ones (any random
        one once all are queried); a space too large to enumerate is never exhausted by a search, so
        there the last draw is taken."""
        for _ in range(64):
            choices = space.sample(rng)
            if int(space.index_of(choices)) not in seen:
                return choices
        if not space.enumerable:
            return space.sample(rng)
        unqueried = np.setdiff1d(np.arange(space.size, dtype=np.int64), np.fromiter(seen, np.int64, len(seen)))
        index = int(unqueried[rng.integers(unqueried.size)]) if unqueried.size else int(rng.integers(space.size))
        return space.choices_of(index)
