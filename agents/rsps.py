"""Random search with parameter sharing (Li & Talwalkar, 2019) on a supernet env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import agent_rng
from nasgym.agents.weight_sharing import SharedWeightsAgent


class RSPS(SharedWeightsAgent):
    """Random search with parameter sharing (Li & Talwalkar, "Random search and reproducibility for
    neural architecture search", UAI 2019): train the supernet on uniformly sampled paths, then rank
    random candidates with it.

    On a Global env with ``evaluator="supernet"``: the first ``budget - candidates`` queries are
    uniformly drawn architectures, each training the shared weights for the evaluator's ``steps``
    (with ``sampling="uniform"`` each of those steps draws its own path, as Li & Talwalkar do; with
    the default ``sampling="architecture"`` they train the queried, uniformly drawn architecture);
    the last ``candidates`` queries score further uniform draws under the frozen shared weights, and
    the search returns the best of them.

    :param candidates: final candidates; ``None``: 100, or half the budget where that is less.
    :param torch_threads: torch CPU threads during the search (default 1; restored afterwards).
    """

    name = "rsps"

    def _train_phase(self, env: gym.Env, seed: int, n_queries: int) -> None:
        self._space = env.unwrapped.search_space
        self._rng = agent_rng(seed)
        for _ in range(n_queries):
            env.step(self._space.sample(self._rng))

    def _candidates(self, n: int) -> list[np.ndarray]:
        return list(self._space.sample(self._rng, n))
