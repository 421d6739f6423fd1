"""Local search, White et al. 2021: "Local search is state of the art for NAS benchmarks"."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import agent_rng
from nasgym.agents.base import SearchAgent

#: spaces up to this size are enumerated to draw an unqueried start when rejection sampling fails.
_ENUMERATE_LIMIT = 2_000_000


def neighbours(choices: np.ndarray, n_choices: np.ndarray) -> np.ndarray:
    """All architectures at Hamming distance 1: shape (sum(n_choices - 1), n_decisions).

    :param choices: the centre's choice vector.
    :param n_choices: choices of each decision.
    """
    rows = []
    for decision, n in enumerate(n_choices):
        for choice in range(int(n)):
            if choice != choices[decision]:
                row = np.array(choices, dtype=np.int64)
                row[decision] = choice
                rows.append(row)
    return np.array(rows, dtype=np.int64).reshape(-1, len(n_choices))


class _BudgetSpent(Exception):
    """The env truncated: the search is over."""


class LocalSearch(SearchAgent):
    """Local search (White, Nolen, Ravi, Mohan, Hutter and Hosseini, 2021) on the Global env.

    Start from a uniformly random architecture; query all its neighbours (every architecture at
    Hamming distance 1 of its choice vector: for NAS-Bench-201, 6 edges x 4 other ops = 24) in a
    random order; if the best of them has a higher observed validation accuracy than the current
    architecture, move there and repeat; otherwise the current one is a local optimum and the
    search restarts from a uniformly random architecture not queried yet. This is the paper's
    Algorithm 1 (full neighbourhood, best improvement) with restarts until the budget is spent.

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
        n_choices = np.asarray(space.n_choices, dtype=np.int64)
        weights = np.asarray(space._radix_weights, dtype=np.int64)
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
                current = self._random_start(rng, n_choices, weights, space.size, seen)
                current_value = query(current)
                while True:
                    candidates = neighbours(current, n_choices)
                    candidates = candidates[rng.permutation(len(candidates))]
                    best, best_value = None, -np.inf
                    for candidate in candidates:
                        known = seen.get(int(candidate @ weights))
                        value = known if known is not None else query(candidate)
                        if value > best_value:
                            best, best_value = candidate, value
                    if best is None or best_value <= current_value:
                        break  # local optimum: restart
                    current, current_value = best, best_value
        except _BudgetSpent:
            return

    @staticmethod
    def _random_start(
        rng: np.random.Generator, n_choices: np.ndarray, weights: np.ndarray, size: int, seen: dict[int, float]
    ) -> np.ndarray:
        """A uniformly random unqueried architecture (any random one once all are queried)."""
        for _ in range(64):
            choices = rng.integers(0, n_choices)
            if int(choices @ weights) not in seen:
                return choices
        if size <= _ENUMERATE_LIMIT:
            unqueried = np.setdiff1d(np.arange(size, dtype=np.int64), np.fromiter(seen, np.int64, len(seen)))
            index = int(unqueried[rng.integers(unqueried.size)]) if unqueried.size else int(rng.integers(size))
            return (index // weights) % n_choices
        return rng.integers(0, n_choices)
