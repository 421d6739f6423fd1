"""Regularized evolution (aging evolution), Real et al. 2019, as NATS-Bench runs it."""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import agent_rng, check_bool, check_int, reject_infeasible_reason, sample_feasible
from nasgym.agents.base import SearchAgent
from nasgym.spaces import SearchSpace


#: tournaments (each with its mutation) a constrained REA tries for a feasible child before it
#: draws a uniformly random feasible architecture instead (a population whose every neighbour is
#: infeasible would otherwise loop forever)
MAX_CHILD_DRAWS = 100


class Individual(NamedTuple):
    """One member of the population: the architecture's choice vector and its observed accuracy."""

    choices: tuple[int, ...]
    index: int
    valid_acc: float


def mutate(choices: np.ndarray, n_choices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Change one uniformly chosen decision to a uniformly chosen *different* choice.

    Decisions with a single choice cannot change and are never picked; if no decision can change
    (a space of size 1) the child is the parent.

    :param choices: the parent's choice vector.
    :param n_choices: choices of each decision.
    :param rng: the agent's generator.
    """
    child = np.array(choices, dtype=np.int64)
    mutable = np.flatnonzero(n_choices > 1)
    if mutable.size == 0:
        return child
    decision = int(mutable[rng.integers(mutable.size)])
    offset = int(rng.integers(1, n_choices[decision]))  # 1..n-1: never the current choice
    child[decision] = (child[decision] + offset) % n_choices[decision]
    return child


class RegularizedEvolution(SearchAgent):
    """Regularized ("aging") evolution (Real et al., AAAI 2019) on the Global env.

    The population starts as ``population_size`` uniformly random architectures
    (:meth:`~nasgym.spaces.SearchSpace.sample`). Each cycle draws a tournament of ``sample_size``
    distinct members uniformly at random, mutates the one with the best observed validation
    accuracy (``info["valid_acc"]``, seed noise included, as the reference code does; first on
    ties) by changing one uniformly chosen decision to a different choice (on a space whose
    architectures may ignore some choices: a uniformly random neighbour), queries the child,
    appends it to the population and removes the *oldest* member, whatever its accuracy. The
    search stops when the env truncates (its query budget); the best architecture is the best over
    all queries, which :class:`~nasgym.agents.base.SearchResult` reports.

    :param population_size: members of the population (default 10, the NATS-Bench setting).
    :param sample_size: tournament size, 1..population_size (default 3, the NATS-Bench setting).
    :param reject_infeasible: constrained REA (envs made with a ``constraint``): an initial
        architecture or a child the env's constraint rejects (``is_feasible``) is never queried; the
        initial one is drawn again, the child comes from a new tournament and mutation (after
        :data:`MAX_CHILD_DRAWS` infeasible children in a row: a uniformly random feasible architecture).

    After a search, :attr:`population` holds the final population, oldest first.
    """

    name = "rea"
    flavours = ("Global",)

    def __init__(self, population_size: int = 10, sample_size: int = 3, reject_infeasible: bool = False) -> None:
        self.population_size = check_int("population_size", population_size, 1)
        self.sample_size = check_int(
            "sample_size", sample_size, 1, self.population_size, hint=" (at most population_size)"
        )
        self.reject_infeasible = check_bool("reject_infeasible", reject_infeasible)
        self.population: deque[Individual] = deque()

    def unsupported_reason(self, env: gym.Env) -> str | None:
        return reject_infeasible_reason(env) if self.reject_infeasible else None

    def search(self, env: gym.Env, seed: int) -> None:
        self.check_env(env)
        space = env.unwrapped.search_space
        n_choices = np.asarray(space.n_choices, dtype=np.int64)
        rng = agent_rng(seed)
        env.reset(seed=seed)
        self.population = population = deque()

        def query(choices: np.ndarray) -> bool:
            _, _, terminated, truncated, info = env.step(choices)
            population.append(Individual(tuple(int(c) for c in choices), int(info["index"]), float(info["valid_acc"])))
            return terminated or truncated

        def draw() -> np.ndarray:
            return space.sample(rng)

        while len(population) < self.population_size:
            if query(sample_feasible(env, draw) if self.reject_infeasible else draw()):
                return
        while True:
            for _ in range(MAX_CHILD_DRAWS if self.reject_infeasible else 1):
                members = rng.choice(len(population), size=self.sample_size, replace=False)
                parent = max((population[int(i)] for i in members), key=lambda m: m.valid_acc)
                child = self._child(space, np.asarray(parent.choices), n_choices, rng)
                if not self.reject_infeasible or env.unwrapped.is_feasible(child):
                    break
            else:
                child = sample_feasible(env, draw)
            done = query(child)
            population.popleft()  # aging: the oldest goes, not the worst
            if done:
                return

    @staticmethod
    def _child(space: SearchSpace, parent: np.ndarray, n_choices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The parent mutated: :func:`mutate` on a plain product space; elsewhere (choices that an
        architecture may ignore) a uniformly random one of its
        :meth:`~nasgym.spaces.SearchSpace.neighbours`, so that the child is another architecture."""
        if space.is_product:
            return mutate(parent, n_choices, rng)
        candidates = space.neighbours(parent)
        return candidates[rng.integers(len(candidates))] if len(candidates) else parent
