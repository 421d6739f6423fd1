"""What every search agent shares: the run call, and the record of every query it made."""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from nasgym.selection import Incumbent

#: info keys kept for every query in a :class:`SearchResult`.
QUERY_KEYS = ("arch", "index", "valid_acc", "test_acc", "flops", "params", "latency", "cost", "sim_time")
#: info keys kept too where the env has a constraint (see :mod:`nasgym.constraints`).
CONSTRAINT_KEYS = ("feasible", "resource")


@dataclass
class SearchResult:
    """The whole query history of one search run, and its summary.

    :param agent: agent name.
    :param env_id: env id searched.
    :param seed: the run's seed (env reset and agent).
    :param queries: one dict per query with :data:`QUERY_KEYS` (and :data:`CONSTRAINT_KEYS` on a
        constrained env), in query order.
    :param wall_time: seconds the run took.
    :param agent_stats: what the agent reports of its own run (:meth:`SearchAgent.stats`; ``{}``: nothing).
    """

    agent: str
    env_id: str
    seed: int
    queries: list[dict[str, Any]] = field(default_factory=list)
    wall_time: float = 0.0
    agent_stats: dict[str, Any] = field(default_factory=dict)

    def selected(self) -> tuple[dict[str, Any], float] | None:
        """The architecture the search returns, by :class:`~nasgym.selection.Incumbent`'s rule (the best
        mean of its observed validation accuracies; ties: the one queried first) among the feasible
        ones on a constrained env: its latest query and that mean. ``None`` before any (feasible) query."""
        incumbent = Incumbent()
        for query in self.queries:
            if query.get("feasible", True):
                incumbent.observe(query["index"], query["valid_acc"])
        if incumbent.index < 0:
            return None
        latest = next(q for q in reversed(self.queries) if q["index"] == incumbent.index)
        return latest, incumbent.mean

    def summary(self) -> dict[str, Any]:
        """The selected architecture (:meth:`selected`): ``best_valid_acc`` (the mean of its observed
        validation accuracies), ``best_test_acc``, ``best_arch``, ``queries_to_best`` (the number of
        queries made when it was first queried), and the run's ``n_queries``, ``sim_time``, ``wall_time``,
        ``agent_stats``;
        on a constrained env also ``best_resource`` (the selected architecture's constrained metrics,
        ``None`` without a feasible query) and ``n_feasible_queries``."""
        selected = self.selected()
        best, best_valid_acc = selected if selected else (None, math.nan)
        first = next(n for n, q in enumerate(self.queries, 1) if q["index"] == best["index"]) if best else 0
        constrained = {}
        if self.queries and "feasible" in self.queries[0]:
            constrained = {
                "best_resource": best["resource"] if best else None,
                "n_feasible_queries": sum(bool(q["feasible"]) for q in self.queries),
            }
        return {
            "agent": self.agent,
            "env": self.env_id,
            "seed": self.seed,
            "best_valid_acc": best_valid_acc,
            "best_test_acc": best["test_acc"] if best else math.nan,
            "best_arch": best["arch"] if best else None,
            "queries_to_best": first,
            "n_queries": len(self.queries),
            "sim_time": self.queries[-1]["sim_time"] if self.queries else 0.0,
            "wall_time": self.wall_time,
            "agent_stats": self.agent_stats,
            **constrained,
        }


#: env flavour -> the action space type that identifies it.
FLAVOUR_ACTION_SPACES: dict[str, type[spaces.Space]] = {
    "Continuous": spaces.Box,
    "Global": spaces.MultiDiscrete,
    "Sequential": spaces.Discrete,
}


def env_flavour(env: gym.Env) -> str | None:
    """The flavour of a nasgym env, read from its action space type (``None`` if none matches)."""
    for flavour, space_type in FLAVOUR_ACTION_SPACES.items():
        if isinstance(env.action_space, space_type):
            return flavour
    return None


def env_id_flavour(env_id: str) -> str | None:
    """The flavour named by an env id of the form ``<Space>-<Flavour>-v<N>`` (``None`` otherwise)."""
    parts = env_id.split(":")[-1].rsplit("-", 2)
    return parts[1] if len(parts) == 3 and parts[1] in FLAVOUR_ACTION_SPACES else None


def env_name(env: gym.Env) -> str:
    """The env's registered id, else its class name (for messages)."""
    return env.spec.id if env.spec is not None else type(env.unwrapped).__name__


def invalid_actions_possible(env: gym.Env) -> bool:
    """Whether a Sequential env refuses some action of its ``Discrete(n)`` at some step: an agent that
    samples the whole ``Discrete(n)`` would then send actions the env refuses, and must follow its
    ``action_masks()`` instead.

    An env without ``action_masks()`` accepts every action (ConvNet-Sequential). One with them asks
    its space: each step of a sequence of first tokens (0) is checked with the space's
    ``sequence_valid(prefix, token)``, so a mask that only steers towards canonical tokens, where
    every token is accepted (DARTS's inputs), does not count.
    """
    unwrapped = env.unwrapped
    if env_flavour(env) != "Sequential" or not callable(getattr(unwrapped, "action_masks", None)):
        return False
    space = unwrapped.search_space
    steps, width = int(unwrapped.max_query_steps), int(env.action_space.n)
    return not all(space.sequence_valid([0] * step, token) for step in range(steps) for token in range(width))


def valid_actions_mask(env: gym.Env) -> np.ndarray | None:
    """The mask of valid actions of a Sequential env's current step (``action_masks()``), or ``None``
    where every action of its ``Discrete(n)`` is valid (no mask, or one that excludes nothing)."""
    action_masks = getattr(env.unwrapped, "action_masks", None)
    if action_masks is None:
        return None
    mask = np.asarray(action_masks(), dtype=bool)
    return None if mask.all() else mask


class QueryRecorder(gym.Wrapper):
    """Records the info of every step that made a query, and reports it to an optional callback."""

    def __init__(self, env: gym.Env, on_query: Callable[[dict[str, Any]], None] | None = None) -> None:
        super().__init__(env)
        self.queries: list[dict[str, Any]] = []
        self._on_query = on_query

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if "arch" in info:
            query = {key: info[key] for key in QUERY_KEYS}
            if "feasible" in info:
                query.update((key, info[key]) for key in CONSTRAINT_KEYS)
            self.queries.append(query)
            if self._on_query is not None:
                self._on_query(query)
        return obs, reward, terminated, truncated, info


class SearchAgent(ABC):
    """A search agent: given an env, query architectures until the env truncates its episode.

    Subclasses implement :meth:`search`; :meth:`run` wraps it with the recording every agent
    shares, so all agents report the same :class:`SearchResult`.
    """

    #: agent name; a class attribute, or set per instance where one class serves several names
    #: (``sb3:<Algorithm>``).
    name: str
    #: env flavours the agent can search (see :data:`FLAVOUR_ACTION_SPACES`); a class attribute,
    #: or set per instance where they depend on the agent's arguments.
    flavours: tuple[str, ...] = tuple(FLAVOUR_ACTION_SPACES)

    def check_flavour(self, flavour: str | None, what: str = "") -> None:
        """Raise a ``ValueError`` naming the agent and its flavours unless it supports ``flavour``.

        :param flavour: ``"Continuous"``, ``"Global"`` or ``"Sequential"`` (``None``: unknown).
        :param what: how the env was named, for the message.
        """
        if flavour not in self.flavours:
            got = f"{what} is a {flavour} env" if flavour else f"{what or 'the env'} is of no known flavour"
            raise ValueError(
                f"agent {self.name!r} searches {' or '.join(self.flavours)} envs only; {got} "
                f"(accepted flavours for {self.name!r}: {list(self.flavours)})"
            )

    def check_env(self, env: gym.Env) -> None:
        """Raise a ``ValueError`` unless the agent supports ``env``'s flavour (by its action space) and
        can drive its search space (:meth:`unsupported_reason`)."""
        self.check_flavour(env_flavour(env), f"the env (action space {env.action_space})")
        reason = self.unsupported_reason(env)
        if reason is not None:
            raise ValueError(f"agent {self.name!r} cannot search {env_name(env)}: {reason}")

    def unsupported_reason(self, env: gym.Env) -> str | None:
        """Why the agent cannot drive ``env``, an env of a flavour it searches (``None``: it can).

        :meth:`run` and :meth:`search` raise a ``ValueError`` with this reason before any query.
        """
        return None

    def stats(self) -> dict[str, Any]:
        """What the agent reports of its last search beside its queries (JSON-able values; LaNAS:
        its sampler's fallbacks), kept in :attr:`SearchResult.agent_stats`. ``{}`` by default."""
        return {}

    def run(
        self,
        env: gym.Env,
        seed: int,
        env_id: str | None = None,
        on_query: Callable[[dict[str, Any]], None] | None = None,
    ) -> SearchResult:
        """Search ``env`` for one episode (its whole query budget) with the given seed.

        :param env: a nasgym env (any flavour the agent supports).
        :param seed: seeds the env reset and the agent's own randomness.
        :param env_id: id recorded in the result; defaults to ``env.spec.id``.
        :param on_query: called with each query's record as it happens (progress bars, logs).
        """
        self.check_env(env)
        recorder = QueryRecorder(env, on_query)
        start = time.perf_counter()
        self.search(recorder, seed)
        wall_time = time.perf_counter() - start
        return SearchResult(self.name, env_id or env_name(env), seed, recorder.queries, wall_time, self.stats())

    @abstractmethod
    def search(self, env: gym.Env, seed: int) -> None:
        """Reset ``env`` with ``seed`` and step it until its episode is truncated."""


class TorchSearchAgent(SearchAgent):
    """A search agent with torch networks: :meth:`search` runs :meth:`_search` with the agent's
    ``torch_threads`` (the previous setting is restored)."""

    #: torch CPU threads during the search; ``None`` leaves torch's setting alone.
    torch_threads: int | None = 1

    def search(self, env: gym.Env, seed: int) -> None:
        from nasgym.agents._utils import torch_threads

        self.check_env(env)
        with torch_threads(self.torch_threads):
            self._search(env, seed)

    @abstractmethod
    def _search(self, env: gym.Env, seed: int) -> None:
        """The search itself (see :meth:`SearchAgent.search`)."""
