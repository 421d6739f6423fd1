"""What the weight-sharing agents (ENAS, RSPS) share: a supernet env, a training phase, then the
final candidates scored under the trained shared weights, the best of which the search returns."""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import check_int
from nasgym.agents.base import SearchResult, TorchSearchAgent

#: final candidates by default, as NAS-Bench-201's ENAS samples them (at most half the budget).
DEFAULT_CANDIDATES = 100


@dataclasses.dataclass
class SharedWeightsResult(SearchResult):
    """A search whose first queries trained the shared weights and whose last ones scored its final
    candidates under them: the returned architecture is chosen among those candidates only (by the
    same rule as every search, :meth:`SearchResult.selected`), since the training queries were scored
    under weights that have moved since.

    :param candidates_from: position of the first candidate query.
    """

    candidates_from: int = 0

    def selected(self) -> tuple[dict[str, Any], float] | None:
        candidates = dataclasses.replace(self, queries=self.queries[self.candidates_from :], candidates_from=0)
        return SearchResult.selected(candidates)


class SharedWeightsAgent(TorchSearchAgent):
    """A search on a supernet env (``evaluator="supernet"``) of the Global flavour, in two phases.

    The first ``budget - candidates`` queries train the shared weights (each query trains them for the
    evaluator's ``steps``) while the agent learns or samples; the last ``candidates`` queries score
    the final candidates with the shared weights frozen (their cost is the scoring alone), and the
    search returns the best of them (:class:`SharedWeightsResult`).

    :param candidates: final candidates; ``None``: 100 (NAS-Bench-201's ENAS), or half the budget
        where that is less.
    :param torch_threads: torch CPU threads during the search (default 1; restored afterwards).
    """

    flavours = ("Global",)

    def __init__(self, candidates: int | None = None, torch_threads: int | None = 1) -> None:
        self.candidates = None if candidates is None else check_int("candidates", candidates, 1)
        self.torch_threads = None if torch_threads is None else check_int("torch_threads", torch_threads, 1)
        self.candidates_from = 0

    def n_candidates(self, budget: int) -> int:
        """The final candidates of a search with ``budget`` queries."""
        return min(DEFAULT_CANDIDATES, budget // 2) if self.candidates is None else self.candidates

    def unsupported_reason(self, env: gym.Env) -> str | None:
        from nasgym.evaluators.supernet import SharedWeightsEvaluator

        unwrapped = env.unwrapped
        if not isinstance(getattr(unwrapped, "evaluator", None), SharedWeightsEvaluator):
            return "it scores architectures with shared weights: make the env with evaluator='supernet'"
        budget = int(unwrapped.budget)
        if not 1 <= self.n_candidates(budget) < budget:
            return (
                f"its budget of {budget} queries must exceed candidates={self.n_candidates(budget)} (the last "
                "candidates queries score the final candidates, the ones before train the shared weights)"
            )
        return None

    def run(
        self,
        env: gym.Env,
        seed: int,
        env_id: str | None = None,
        on_query: Callable[[dict[str, Any]], None] | None = None,
    ) -> SharedWeightsResult:
        result = super().run(env, seed, env_id, on_query)
        fields = {field.name: getattr(result, field.name) for field in dataclasses.fields(result)}
        return SharedWeightsResult(**fields, candidates_from=self.candidates_from)

    def _search(self, env: gym.Env, seed: int) -> None:
        unwrapped = env.unwrapped
        budget = int(unwrapped.budget)
        n_candidates = self.n_candidates(budget)
        self.candidates_from = budget - n_candidates
        env.reset(seed=seed)
        self._train_phase(env, seed, self.candidates_from)
        with unwrapped.evaluator.frozen():
            for choices in self._candidates(n_candidates):
                env.step(choices)

    @abstractmethod
    def _train_phase(self, env: gym.Env, seed: int, n_queries: int) -> None:
        """Make ``n_queries`` queries (``env.step`` with a choice vector), each training the shared weights."""

    @abstractmethod
    def _candidates(self, n: int) -> list[np.ndarray]:
        """The ``n`` final candidates, as choice vectors."""
