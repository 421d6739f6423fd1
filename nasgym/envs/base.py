"""What every NAS env shares: the evaluator, the reward, the budget and the search history."""

from __future__ import annotations

import heapq
import math
from pathlib import Path
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from nasgym.evaluators import Evaluator, TabularEvaluator
from nasgym.rewards import RewardFn, make_reward


def make_evaluator(
    evaluator: str | Evaluator,
    space: str,
    dataset: str,
    noise: str,
    fidelity: int,
    cache_dir: Path | str | None,
) -> Evaluator:
    """Resolve the env's ``evaluator`` argument: ``"tabular"`` or an :class:`Evaluator` instance."""
    if evaluator == "tabular":
        return TabularEvaluator(space, dataset, noise=noise, fidelity=fidelity, cache_dir=cache_dir)
    if isinstance(evaluator, Evaluator):
        if evaluator.space.name != space:
            raise ValueError(f"evaluator is for space {evaluator.space.name!r} but this env searches {space!r}")
        return evaluator
    raise ValueError(f"evaluator {evaluator!r} is unknown; accepted: 'tabular' or an Evaluator instance")


class SearchHistory:
    """Query count, simulated time, best-so-far and the top-K architectures of one episode.

    The top-K holds distinct architectures ranked by the best validation accuracy observed for
    each; ``onehot_sum`` is the sum of their one-hot encodings, kept up to date incrementally so
    the observation costs one division per step.
    """

    def __init__(self, top_k: int, onehots: np.ndarray, arch_string: Callable[[int], str]) -> None:
        self.top_k = top_k
        self._onehots = onehots
        self._arch_string = arch_string
        self.n_queries = 0
        self.sim_time = 0.0
        self.best_valid_acc = -math.inf
        self.best_index = -1
        self.best_test_acc = math.nan
        self.best_arch = ""
        self._heap: list[tuple[float, int]] = []  # (valid_acc, index), smallest on top
        self._members: dict[int, float] = {}
        self.onehot_sum = np.zeros(onehots.shape[1], dtype=np.float32)

    def record(self, index: int, valid_acc: float, test_acc: float, cost: float) -> None:
        self.n_queries += 1
        self.sim_time += cost
        if valid_acc > self.best_valid_acc:
            self.best_valid_acc, self.best_index, self.best_test_acc = valid_acc, index, test_acc
            self.best_arch = self._arch_string(index)
        self._update_top_k(index, valid_acc)

    def _update_top_k(self, index: int, valid_acc: float) -> None:
        known = self._members.get(index)
        if known is not None:  # already a member: keep its best observation
            if valid_acc > known:
                self._members[index] = valid_acc
                self._heap = [(v, i) for i, v in self._members.items()]
                heapq.heapify(self._heap)
            return
        if len(self._heap) < self.top_k:
            heapq.heappush(self._heap, (valid_acc, index))
        elif valid_acc > self._heap[0][0]:
            _, evicted = heapq.heapreplace(self._heap, (valid_acc, index))
            del self._members[evicted]
            self.onehot_sum -= self._onehots[evicted]
        else:
            return
        self._members[index] = valid_acc
        self.onehot_sum += self._onehots[index]

    @property
    def top_k_indices(self) -> list[int]:
        """Members of the top-K, best first."""
        return [i for _, i in sorted(self._heap, reverse=True)]

    def __len__(self) -> int:
        return len(self._heap)


class NASEnv(gym.Env):
    """Base class of the NAS envs: builds the evaluator and reward, runs queries, keeps the history.

    Subclasses define the action and observation spaces and turn actions into architectures; they
    call :meth:`_query` once per complete architecture.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        space: str = "nb201",
        dataset: str = "cifar10",
        budget: int = 500,
        reward: str | RewardFn = "valid_acc",
        noise: str = "seed",
        top_k: int = 10,
        evaluator: str | Evaluator = "tabular",
        fidelity: int = 200,
        cache_dir: Path | str | None = None,
    ) -> None:
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
            raise ValueError(f"budget must be an integer number of queries >= 1, got {budget!r}")
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        self.evaluator = make_evaluator(evaluator, space, dataset, noise, fidelity, cache_dir)
        self.search_space = self.evaluator.space
        self.dataset = dataset
        self.budget = int(budget)
        self.top_k = int(top_k)
        self.reward_fn = make_reward(reward, self.evaluator.best_valid_acc)
        self._onehots = self.search_space.one_hot(self.search_space.enumerate()).reshape(self.search_space.size, -1)
        self._history = SearchHistory(self.top_k, self._onehots, self.search_space.arch_string)
        self._needs_reset = True
        space = self.search_space
        uniform = np.where(np.arange(space.max_choices) < space.n_choices[:, None], 1.0 / space.n_choices[:, None], 0)
        self._uniform_observation = uniform.astype(np.float32).reshape(-1)

    # --- shared behaviour ---------------------------------------------------------------------
    @property
    def history(self) -> SearchHistory:
        return self._history

    def _start_episode(self, seed: int | None) -> None:
        super().reset(seed=seed)
        self._history = SearchHistory(self.top_k, self._onehots, self.search_space.arch_string)
        self._needs_reset = False

    def _check_running(self) -> None:
        if self._needs_reset:
            raise RuntimeError("the episode is over (or never started): call reset() before step()")

    def _query(self, index: int) -> tuple[float, bool, dict[str, Any]]:
        """Evaluate one architecture, record it, and return (reward, truncated, info)."""
        metrics = self.evaluator.evaluate_one(index, self.np_random)
        history = self._history
        history.record(index, metrics["valid_acc"], metrics["test_acc"], metrics["cost"])
        truncated = history.n_queries >= self.budget
        self._needs_reset = truncated
        info = {
            "arch": self.search_space.arch_string(index),
            "index": index,
            **metrics,
            "n_queries": history.n_queries,
            "sim_time": history.sim_time,
            **self._best_info(),
        }
        return float(self.reward_fn(metrics)), truncated, info

    def _best_info(self) -> dict[str, Any]:
        """``best_valid_acc``, ``best_arch``, ``best_test_acc`` so far; empty before the first query."""
        history = self._history
        if history.best_index < 0:
            return {}
        return {
            "best_valid_acc": history.best_valid_acc,
            "best_arch": history.best_arch,
            "best_test_acc": history.best_test_acc,
        }

    def _progress_info(self) -> dict[str, Any]:
        """Info of a step that completed no query (Sequential env mid-architecture, reset)."""
        return {"n_queries": self._history.n_queries, "sim_time": self._history.sim_time, **self._best_info()}

    def _top_k_observation(self) -> np.ndarray:
        """Channel-wise mean of the one-hot encodings of the top-K so far (uniform before any)."""
        history = self._history
        if len(history) == 0:
            return self._uniform_observation.copy()
        return history.onehot_sum / np.float32(len(history))
