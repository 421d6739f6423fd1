"""Search agents, installed as ``nasgym.agents``. Each runs against a nasgym env::

    result = make_agent("random").run(gym.make("NAS-Bench-201-Global-v0", budget=100), seed=0)
    result.summary()["best_valid_acc"]
"""

from __future__ import annotations

from typing import Any

from nasgym.agents.base import QUERY_KEYS, QueryRecorder, SearchAgent, SearchResult
from nasgym.agents.random_search import RandomSearch

AGENTS: dict[str, type[SearchAgent]] = {RandomSearch.name: RandomSearch}


def make_agent(name: str, **kwargs: Any) -> SearchAgent:
    """Instantiate the agent registered under ``name`` with its keyword arguments."""
    try:
        agent_class = AGENTS[name]
    except KeyError:
        raise ValueError(f"agent {name!r} is unknown; accepted: {sorted(AGENTS)}") from None
    return agent_class(**kwargs)


__all__ = ["AGENTS", "QUERY_KEYS", "QueryRecorder", "RandomSearch", "SearchAgent", "SearchResult", "make_agent"]
